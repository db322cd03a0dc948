"""The host's .env: the operator's, the one of an earlier run, or a new one.

Every .env is read, filled in and written by ``edahub.envfile`` (the same rules as
bootstrap's: single-quoted values, generated secrets, mode 0600), so a host's .env is
one bootstrap would have written; this module only chooses where it comes from.
"""

from dataclasses import dataclass
from pathlib import Path

from edahub_core.settings import load_settings

from ... import envfile, installer
from ...console import UserError

ADMIN_HASH = "EDAHUB_ADMIN_PASSWORD_HASH"


def check_env_for_fcos(values, source):
    """Refuse settings that point at files on this machine, which the host will not have."""
    local = [key for key, value in values.items()
             if value and (key == "EDAHUB_CA_BUNDLE" or key.endswith("_FILE"))]
    if local:
        raise UserError(
            f"{source} sets {', '.join(sorted(local))}, a path on this machine that the Fedora "
            "CoreOS host will not have",
            "remove those settings (or give the secret itself) before generating the host's "
            "config; a CA bundle is only needed for builds behind a TLS-intercepting proxy",
        )


@dataclass(frozen=True)
class EnvSource:
    """Where the host's .env comes from: the operator's file (--env-file), else the .env
    of an earlier run (kept, so the host's secrets do not change), else a new one."""

    operator_file: Path | None = None
    earlier_file: Path | None = None

    @property
    def state(self):
        """What happens to the .env, for the summary line."""
        if self.operator_file is not None:
            return f"copied from {self.operator_file}"
        if self.earlier_file is not None:
            return "kept from the earlier run (missing values added)"
        return "created with generated secrets"


@dataclass(frozen=True)
class HostEnv:
    """The .env to embed, and the admin login when this run created it."""

    data: bytes
    admin_password: str | None = None  # shown once, stored nowhere in clear
    admin_user: str = "admin"


def choose_env_source(operator_file, earlier_file, force=False):
    """The ``EnvSource``, after checking the operator's file: it exists, its settings are
    valid and local to the host, and it does not silently replace an earlier run's secrets.

    ``earlier_file`` is the .env an earlier run left in the output folder, or None.
    """
    if operator_file is None:
        return EnvSource(earlier_file=earlier_file)
    operator_file = Path(operator_file)
    if not operator_file.is_file():
        raise UserError(f"--env-file {operator_file} does not exist",
                        "give the path of an edahub .env, or leave --env-file out")
    values = envfile.read_env_file(operator_file)
    check_env_for_fcos(values, str(operator_file))
    load_settings(values)
    if (earlier_file is not None and earlier_file.read_bytes() != operator_file.read_bytes()
            and not force):
        raise UserError(
            f"{earlier_file} from an earlier run holds other settings than {operator_file}",
            "re-run with --force to replace them (the host's secrets change), or leave "
            "--env-file out to keep them",
        )
    return EnvSource(operator_file=operator_file)


def make_host_env(source, scratch_dir):
    """The ``HostEnv`` from ``source``; a kept or new .env is completed in ``scratch_dir``
    (a private folder) with generated secrets and, for native logins, an admin password."""
    if source.operator_file is not None:
        return HostEnv(data=source.operator_file.read_bytes())
    path = Path(scratch_dir) / "edahub.env"
    if source.earlier_file is not None:
        envfile.read_env_file(source.earlier_file)  # an unreadable one is reported by its name
        # Byte for byte (no newline translation), so the kept .env is the earlier one.
        envfile.atomic_write(path, source.earlier_file.read_bytes().decode("utf-8"),
                             mode=envfile.ENV_MODE)
    existing = envfile.read_env_file(path) if path.exists() else {}
    overrides = {}
    admin_password = None
    if (existing.get("EDAHUB_AUTH") or "native") == "native" and not existing.get(ADMIN_HASH):
        admin_password = installer.generate_admin_password()
        overrides[ADMIN_HASH] = installer.hash_password(admin_password)
    values, added = envfile.ensure_env_file(path, overrides, validate=load_settings)
    if ADMIN_HASH not in added:
        admin_password = None
    check_env_for_fcos(values, "the generated .env")
    return HostEnv(data=path.read_bytes(), admin_password=admin_password,
                   admin_user=values.get("EDAHUB_ADMIN_USER") or "admin")
