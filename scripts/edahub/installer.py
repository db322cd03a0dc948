"""bootstrap's first-run setup: an ordered list of idempotent ``ensure_*`` steps.

Each step checks before it acts and returns a short status for its progress line. A
step never overwrites what it did not create: existing ``.env`` values are kept, images
that exist are rebuilt only through Docker's cache, a running stack is left running.
"""

import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import bitbucket, envfile, hostchecks
from .compose import ComposeProject
from .console import UserError, format_duration, log, progress, run
from edahub_core.settings import SETTINGS, load_settings

SECRET_KEYS = {s.key for s in SETTINGS if s.secret}

ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass
class Installation:
    """Where and how this edahub is installed, and what the steps found out."""

    root: Path = ROOT
    env_path: Path = ROOT / ".env"
    project_name: str | None = None
    min_free_gib: int = 10
    hub_timeout: int = 300
    settings: object = None
    admin_password: str | None = None  # set only in the run that generated it
    # Values for settings .env lacks (--set, Bitbucket credentials); may hold a secret.
    requested: dict = field(default_factory=dict, repr=False)

    @property
    def project(self):
        """This installation's Compose project."""
        return ComposeProject(self.env_path, self.project_name, self.root)

    def compose(self, *args):
        """The ``docker compose`` command line for this installation."""
        return self.project.command(*args)


# --- the steps -------------------------------------------------------------------


def ensure_docker_engine(inst):
    """Docker engine reachable."""
    return hostchecks.check_docker_engine()


def ensure_compose_v2(inst):
    """Compose v2 available."""
    return hostchecks.check_compose_v2()


def ensure_host_resources(inst):
    """Settings readable, port free, disk space available, users' limits fit the host."""
    existing = envfile.read_env_file(inst.env_path) if inst.env_path.exists() else {}
    placement = load_settings({**inst.requested, **existing},
                              keys=["EDAHUB_HUB_PORT", "EDAHUB_HUB_BIND_ADDRESS",
                                    "EDAHUB_HTTP_REDIRECT_PORT"])
    ours = proxy_is_running(inst)
    found = [
        hostchecks.check_port_free(placement.hub_bind_address, placement.hub_port,
                                   already_ours=ours),
        hostchecks.check_port_free(placement.hub_bind_address, placement.http_redirect_port,
                                   already_ours=ours, setting="EDAHUB_HTTP_REDIRECT_PORT"),
    ]
    path = hostchecks.docker_root_dir() or str(inst.root)
    found.append(hostchecks.check_disk_space(path, inst.min_free_gib))
    limits = load_settings({**inst.requested, **existing},
                           keys=["EDAHUB_USER_MEM_LIMIT", "EDAHUB_USER_CPU_LIMIT",
                                 "EDAHUB_USER_PROFILES", "EDAHUB_USER_HOME_SIZE"])
    found.append(hostchecks.check_user_limits(limits.user_mem_limit, limits.user_cpu_limit,
                                              *hostchecks.engine_resources(),
                                              profiles=limits.user_profiles or ()))
    if limits.user_home_size:
        found.append(hostchecks.check_home_size(limits.user_home_size))
    return "; ".join(found)


def ensure_env_file(inst):
    """Settings file .env complete (mode 0600, generated secrets, existing values kept)."""
    existing = envfile.read_env_file(inst.env_path) if inst.env_path.exists() else {}
    for key, value in inst.requested.items():
        if existing.get(key) and existing[key] != value:
            shown = "" if key.removesuffix("_FILE") in SECRET_KEYS else f" ({existing[key]!r})"
            raise UserError(
                f"{key} is already set in {inst.env_path}{shown}; bootstrap never changes "
                "an existing value",
                f"edit {inst.env_path.name} yourself to change it, or drop that option",
            )
    overrides = dict(inst.requested)
    password = None
    auth = existing.get("EDAHUB_AUTH") or overrides.get("EDAHUB_AUTH") or "native"
    if auth == "native" and not existing.get("EDAHUB_ADMIN_PASSWORD_HASH"):
        password = generate_admin_password()
        overrides["EDAHUB_ADMIN_PASSWORD_HASH"] = hash_password(password)
    gid = hostchecks.docker_socket_gid()
    if gid is not None:
        overrides["EDAHUB_DOCKER_GID"] = str(gid)
    values, added = envfile.ensure_env_file(inst.env_path, overrides, validate=load_settings)
    inst.settings = load_settings(values)
    if password and "EDAHUB_ADMIN_PASSWORD_HASH" in added:
        inst.admin_password = password
        print_admin_password_once(inst)
    if not added:
        return "complete, nothing to add"
    return f"added {len(added)} value(s): {', '.join(added)}"


def ensure_images_built(inst):
    """Images built (hub, singleuser)."""
    stream_build(inst.compose("--progress", "plain", "build", "hub", "singleuser"))
    return "up to date"


def ensure_database_images(inst):
    """Database images present (pulled if missing)."""
    missing = [
        image for image in (inst.settings.mariadb_image, inst.settings.mongodb_image)
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode
    ]
    if not missing:
        return "already present"
    result = run(inst.compose("pull", "mariadb", "mongodb"), check=False, timeout=1800)
    if result.returncode != 0:
        raise UserError(
            f"cannot pull {', '.join(missing)}:\n" + "\n".join(result.stdout.splitlines()[-5:]),
            "check this host's access to the registry (or a mirror), or point "
            "EDAHUB_MARIADB_IMAGE / EDAHUB_MONGODB_IMAGE in .env at images you have",
        )
    return f"pulled {', '.join(missing)}"


def ensure_stack_running(inst):
    """Stack started (docker compose up -d)."""
    result = run(inst.compose("up", "--detach", "--no-build"), timeout=900, check=False)
    if result.returncode == 0:
        return "started"
    policy = inst.project.services().get("netpolicy")
    if policy and policy.health == "unhealthy":
        # The hub waits for the network policy; say what keeps it from being installed.
        logs = inst.project.logs("netpolicy", tail=10)
        raise UserError(
            "the network policy that fences users' servers in could not be installed, so "
            "the hub was not started. The netpolicy service's last log lines:\n" + logs,
            "apply the fix the log names (docs/security.md, \"Network policy\"), then run "
            "bootstrap again",
        )
    tail = "\n".join(result.stdout.splitlines()[-25:])
    raise UserError(f"`docker compose up` failed (exit {result.returncode}):\n{tail}",
                    "read the services' logs (`docker compose logs`)")


def ensure_hub_healthy(inst):
    """Hub answering."""
    scheme = "https" if inst.settings.tls_cert else "http"
    host = inst.settings.hub_bind_address
    if host in ("0.0.0.0", "127.0.0.1"):
        host = "127.0.0.1"
    url = f"{scheme}://{host}:{inst.settings.hub_port}/hub/health"
    waited = wait_for_http(url, inst.hub_timeout)
    if waited is None:
        logs = run(inst.compose("logs", "--tail", "30", "hub"), check=False).stdout
        raise UserError(
            f"the hub did not answer at {url} within {inst.hub_timeout}s. Its last log lines:\n"
            + logs,
            "read the hub's log (`docker compose logs hub`); a settings error there names "
            "the setting to fix in .env",
        )
    return f"healthy at {url}"


STEPS = [
    ensure_docker_engine,
    ensure_compose_v2,
    ensure_host_resources,
    ensure_env_file,
    ensure_images_built,
    ensure_database_images,
    ensure_stack_running,
    ensure_hub_healthy,
]


# --- helpers ---------------------------------------------------------------------


def generate_admin_password():
    """A random password for the first admin: 20 letters and digits."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(20))


def hash_password(password):
    """bcrypt hash of ``password``, in the form NativeAuthenticator stores."""
    import bcrypt

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


def print_admin_password_once(inst):
    user = inst.settings.admin_user
    print(
        "\n"
        f"    Admin login created: user {user!r}, password {inst.admin_password}\n"
        "    It is shown only now and stored nowhere in clear: save it in a password manager.\n",
        flush=True,
    )


def proxy_is_running(inst):
    """True when this installation's proxy is up (it holds the published ports itself)."""
    proxy = inst.project.services().get("proxy")
    return bool(proxy and proxy.running)


def stream_build(cmd):
    """Run a BuildKit build, showing one console line per build step started."""
    log.debug("running: %s", " ".join(map(str, cmd)))
    proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    tail = []
    shown = set()
    print(flush=True)
    for line in proc.stdout:
        log.debug("build: %s", line.rstrip())
        tail = (tail + [line.rstrip()])[-30:]
        # BuildKit's plain progress announces each step as "#N [service stage i/n] ..."
        if line.startswith("#") and " [" in line and "] " in line:
            step = line.split(" ", 1)[1].strip()
            if step not in shown and "internal]" not in step:
                shown.add(step)
                print(f"      {step[:110]}", flush=True)
    if proc.wait() != 0:
        raise UserError(
            "building the images failed; the last lines were:\n" + "\n".join(tail),
            "fix the cause above and run bootstrap again (it resumes from Docker's cache); "
            "behind a TLS-intercepting proxy set EDAHUB_CA_BUNDLE in .env",
        )


def wait_for_http(url, timeout):
    """Poll ``url`` until it answers 200; return seconds waited, or None on timeout.

    An https:// URL is not checked against its certificate: this asks whether the local
    hub answers, and the certificate names the public host, not this address.
    """
    import ssl

    context = ssl._create_unverified_context() if url.startswith("https://") else None
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=5, context=context) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    return None


def public_url(inst):
    """The URL to give users."""
    s = inst.settings
    if s.public_url:
        return s.public_url
    host = "localhost" if s.hub_bind_address in ("0.0.0.0", "127.0.0.1") else s.hub_bind_address
    return f"http://{host}:{s.hub_port}"


def plan(inst):
    """The steps as text, for --dry-run."""
    lines = [f"Plan for {inst.root} (settings file {inst.env_path}):"]
    for index, step in enumerate(STEPS, start=1):
        lines.append(f"  [{index}/{len(STEPS)}] {step.__doc__.strip().rstrip('.')}")
    if inst.env_path.exists():
        values = envfile.read_env_file(inst.env_path)
        additions = envfile.missing_values(values, inst.requested)
        lines.append(f"  .env exists; bootstrap would add: {', '.join(sorted(additions)) or 'nothing'}")
    else:
        lines.append("  .env does not exist; bootstrap would create it with generated secrets")
    return "\n".join(lines)


def install(inst):
    """Run every step in order, printing a progress line for each."""
    started = time.monotonic()
    for index, step in enumerate(STEPS, start=1):
        with progress(index, len(STEPS), step.__doc__.strip().rstrip(".")) as status:
            status.text = step(inst)
    url = public_url(inst)
    print(f"\nedahub is up at {url}  (took {format_duration(time.monotonic() - started)})")
    if inst.settings.auth == "native":
        if inst.admin_password:
            print(f"Log in as {inst.settings.admin_user!r} with the password shown above.")
        else:
            print(f"Log in as {inst.settings.admin_user!r} with the password shown at first run.")
        print(f"People ask for an account at {url}/hub/signup; approve them at {url}/hub/authorize.")
    elif inst.settings.auth == "bitbucket":
        print(f"People log in at {url} with 'Sign in with Bitbucket' (docs/login.md).\n"
              + bitbucket.consumer_form(url))
    if not url.startswith("https://"):
        print("Warning: plain HTTP. Fine for a local trial; for real use serve HTTPS "
              "(docs/https.md).", file=sys.stderr)
