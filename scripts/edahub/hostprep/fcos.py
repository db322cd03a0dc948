"""Fedora CoreOS: a Butane config (and the Ignition config it stands for) that turns a
new FCOS machine into an edahub host, and the same steps for an existing machine.

What the host gets, and why:

- **Engine: Docker (moby-engine), which FCOS ships.** edahub's hub starts users' servers
  through the Docker API (DockerSpawner on /var/run/docker.sock) and the stack is a
  Compose project, so it uses Docker, not Podman. ``docker.socket`` is enabled on FCOS;
  the stack's unit starts ``docker.service`` itself.
- **Compose v2: layered with rpm-ostree.** FCOS has no Compose plugin. A first-boot unit
  runs ``rpm-ostree install docker-compose docker-buildx`` (Fedora's packages: the
  Compose v2 CLI plugin and buildx, GPG-signed, updated with the OS) and reboots once,
  as Fedora CoreOS documents for OS extensions. No binary is downloaded by hand.
- **Storage: /var/lib/docker on its own filesystem**, on a second disk or on a partition
  after a fixed-size root on the boot disk (FCOS wants at least 8 GiB of root).
- **The deployment in /var/srv/edahub** (/srv is a link to it; /var is the writable,
  persistent part of an FCOS host): compose.yaml and what its builds need, and ``.env``
  with mode 0600. The images are built on the host at the first start.
- **A systemd unit, edahub.service**: ``docker compose up --wait`` on start (and boot),
  ``docker compose down`` on stop, with time for the hub to stop users' servers.

The Butane config references local files (``--files-dir``), so it holds no secrets; the
Ignition config embeds them and is written with mode 0600. Both are generated here
without Butane installed; the test suite proves that the real Butane translates the
Butane config into the same Ignition config, and validates both with the real tools.
"""

import base64
import gzip
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import envfile
from ..console import UserError
from . import yaml_text
from .atomic import parse_size

FCOS_SPEC = "1.7.0"  # Butane's fcos spec; FCOS stable has accepted it since early 2026
IGNITION_SPEC = "3.6.0"  # what that Butane spec translates to
DEPLOY_DIR = "/var/srv/edahub"
DOCKER_ROOT = "/var/lib/docker"
STORAGE_LABEL = "edahub-docker"
BOOT_DISK = "/dev/disk/by-id/coreos-boot-disk"
MIN_ROOT_MIB = 8192  # FCOS refuses to boot with a smaller root followed by a partition
DEFAULT_ROOT_SIZE = "16G"
LAYERED_PACKAGES = ("docker-compose", "docker-buildx")
STACK_UNIT = "edahub.service"
PACKAGES_UNIT = "edahub-install-packages.service"
MOUNT_UNIT = "var-lib-docker.mount"
# The parts of the repository the host needs: compose.yaml, its build contexts and
# bind mounts (tests/unit/test_hostprep_fcos.py checks this against compose.yaml).
DEPLOYMENT_PATHS = ("compose.yaml", ".dockerignore", "hub", "singleuser", "mariadb", "mongodb",
                    "scripts/edahub", "scripts/edahub_core")
# Host preparation runs on the workstation; the host (and the hub image) never use it.
DEPLOYMENT_EXCLUDED = ("scripts/edahub/hostprep",)
_SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo", ".log", ".swp")

# The output folder.
OUTPUT_MARKER = ".edahub-fcos-config"
BUTANE_FILE = "edahub.bu"
IGNITION_FILE = "edahub.ign"
STEPS_FILE = "existing-host.md"
ENV_FILE = "secrets/edahub.env"
TREE_DIR = "host" + DEPLOY_DIR
UNITS_DIR = "host/etc/systemd/system"

_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
              "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
              "sk-ecdsa-sha2-nistp256@openssh.com")


# --- what to provision -------------------------------------------------------------


@dataclass(frozen=True)
class Storage:
    """Where Docker's data goes: a whole second disk, or the boot disk after the root."""

    device: str
    root_size_mib: int | None = None  # only for the boot disk

    @property
    def on_boot_disk(self):
        """True when the storage is a partition after the root on the boot disk."""
        return self.device == BOOT_DISK

    @property
    def partition(self):
        """The storage partition, by its GPT label."""
        return f"/dev/disk/by-partlabel/{STORAGE_LABEL}"


@dataclass(frozen=True)
class Provision:
    """One FCOS host: who may log in, where Docker's data goes, whether .env is embedded."""

    ssh_keys: tuple
    storage: Storage | None
    with_env: bool = True


def storage_from_options(device=None, on_boot_disk=False, root_size=None, keep_on_root=False):
    """Check the storage options and return a ``Storage`` (or None to keep Docker's data
    on the root filesystem)."""
    chosen = [bool(device), bool(on_boot_disk), bool(keep_on_root)]
    if sum(chosen) != 1:
        raise UserError(
            "say where Docker's data goes: exactly one of --storage-device, "
            "--storage-on-boot-disk or --docker-on-root",
            "--storage-device /dev/disk/by-id/... gives Docker a whole second disk; "
            "--storage-on-boot-disk [--root-size 16G] a partition after the root on the boot "
            "disk; --docker-on-root keeps it on the root filesystem",
        )
    if root_size and not on_boot_disk:
        raise UserError("--root-size applies only with --storage-on-boot-disk",
                        "add --storage-on-boot-disk, or leave --root-size out")
    if keep_on_root:
        return None
    if on_boot_disk:
        size = parse_size(root_size or DEFAULT_ROOT_SIZE, "--root-size")
        if size.bytes is None or size.grow:
            raise UserError(f"--root-size {size.text}: give a fixed size such as 16G",
                            "the root partition gets exactly this size; the rest goes to Docker")
        mib = -(-size.bytes // 2**20)
        if mib < MIN_ROOT_MIB:
            raise UserError(
                f"--root-size {size.text} is below Fedora CoreOS's minimum of 8 GiB for the root "
                "filesystem (it refuses to boot with a smaller root followed by a partition)",
                "give --root-size 8G or more (16G leaves room for OS updates)",
            )
        return Storage(device=BOOT_DISK, root_size_mib=mib)
    if device == BOOT_DISK:
        raise UserError(f"{BOOT_DISK} is the boot disk",
                        "use --storage-on-boot-disk to put Docker's data on a partition there")
    if not re.match(r"^/dev/[A-Za-z0-9/_.:+@-]+$", device) or device.endswith("/"):
        raise UserError(f"--storage-device {device!r} is not a device path",
                        "give the disk as /dev/disk/by-id/... (stable) or /dev/vdb")
    return Storage(device=device)


def read_ssh_keys(paths):
    """The public keys in ``paths`` (one per line); refuses private keys and junk."""
    keys = []
    for path in paths:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"cannot read the SSH key file {path}: {getattr(e, 'strerror', e)}",
                            "give the path of a public key, e.g. ~/.ssh/id_ed25519.pub") from None
        if "PRIVATE KEY" in text:
            raise UserError(f"{path} is a private key; it must never leave your machine",
                            f"give the public key instead ({path}.pub)")
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.split()[0] not in _KEY_TYPES or len(line.split()) < 2:
                raise UserError(f"{path} line {number} is not an SSH public key",
                                "give a file like ~/.ssh/id_ed25519.pub (one key per line)")
            keys.append(line)
    if not keys:
        raise UserError(
            "no SSH public key given; Fedora CoreOS has no password login, so nobody could "
            "log in to the host",
            "add --ssh-key-file ~/.ssh/id_ed25519.pub",
        )
    return tuple(dict.fromkeys(keys))


# --- systemd units -----------------------------------------------------------------


def systemd_escape_path(path):
    """``systemd-escape --path``: the name of a unit for ``path``."""
    trimmed = path.strip("/")
    out = []
    for index, char in enumerate(trimmed):
        if char == "/":
            out.append("-")
        elif char.isascii() and (char.isalnum() or char in ":_" or (char == "." and index)):
            out.append(char)
        else:
            out.extend(f"\\x{byte:02x}" for byte in char.encode())
    return "".join(out) or "-"


# `docker compose up` with EDAHUB_DOCKER_GID from the socket (overriding .env); systemd
# turns $$ and %% into the $ and % that the shell and stat see.
_UP_WITH_SOCKET_GROUP = ("/usr/bin/sh -c 'EDAHUB_DOCKER_GID=$$(stat -c %%g /run/docker.sock) "
                         "exec /usr/bin/docker compose up --detach --no-build --wait'")


def stack_unit():
    """edahub.service: the Compose project as a system service."""
    return f"""\
# edahub: the JupyterHub stack, a Docker Compose project in {DEPLOY_DIR}.
# Written by scripts/bootstrap.py prepare-host fcos-config (docs/atomic-host.md).
[Unit]
Description=edahub JupyterHub stack (Docker Compose project in {DEPLOY_DIR})
Requires=docker.service
After=docker.service network-online.target {PACKAGES_UNIT}
Wants=network-online.target
# .env holds the secrets; without it (--without-env) the stack waits for it.
ConditionPathExists={DEPLOY_DIR}/.env

[Service]
Type=oneshot
RemainAfterExit=yes
WorkingDirectory={DEPLOY_DIR}
# Skip, rather than fail, until Compose v2 is installed: on the first boot
# {PACKAGES_UNIT} layers it and reboots.
ExecCondition=/usr/bin/docker compose version
# Builds the hub and user images at the first start; later starts use the cache.
ExecStartPre=/usr/bin/docker compose build hub singleuser
# The hub joins the group owning the Docker socket, whose id differs between hosts.
ExecStart={_UP_WITH_SOCKET_GROUP}
ExecReload={_UP_WITH_SOCKET_GROUP}
# The hub stops every user's server first (stop_grace_period in compose.yaml).
ExecStop=/usr/bin/docker compose down
# The first start builds images and pulls the databases: allow for a slow network.
TimeoutStartSec=45min
TimeoutStopSec=5min

[Install]
WantedBy=multi-user.target
"""


def packages_unit():
    """The first-boot unit that layers Compose v2 and buildx, then reboots once."""
    packages = " ".join(LAYERED_PACKAGES)
    return f"""\
# edahub: Fedora CoreOS has Docker but no Compose plugin; add Fedora's packages.
# Written by scripts/bootstrap.py prepare-host fcos-config (docs/atomic-host.md).
[Unit]
Description=edahub: layer {packages} with rpm-ostree, then reboot
Wants=network-online.target
After=network-online.target
# One rpm-ostree transaction at a time: run before the update agent.
Before=zincati.service
ConditionPathExists=!/var/lib/%N.stamp

[Service]
Type=oneshot
RemainAfterExit=yes
# --allow-inactive: no error if a later Fedora CoreOS ships these packages itself.
ExecStart=/usr/bin/rpm-ostree install --assumeyes --idempotent --allow-inactive {packages}
ExecStart=/usr/bin/touch /var/lib/%N.stamp
ExecStart=/usr/bin/systemctl --no-block reboot

[Install]
WantedBy=multi-user.target
"""


def mount_unit(storage):
    """The mount unit Butane generates for ``with_mount_unit: true`` (its exact text)."""
    escaped = systemd_escape_path(storage.partition)
    return (
        "# Generated by Butane\n"
        "[Unit]\n"
        f"Requires=systemd-fsck@{escaped}.service\n"
        f"After=systemd-fsck@{escaped}.service\n"
        "\n"
        "[Mount]\n"
        f"Where={DOCKER_ROOT}\n"
        f"What={storage.partition}\n"
        "Type=xfs\n"
        "\n"
        "[Install]\n"
        "RequiredBy=local-fs.target"
    )


# --- the files of the output folder ------------------------------------------------


def deployment_files(source_root):
    """The deployment's files below ``source_root``: {relative path: (bytes, mode)}, sorted.

    Modes are 0755 for files executable here and 0644 otherwise, as Butane gives files
    of a tree.
    """
    source_root = Path(source_root)
    found = {}
    for entry in DEPLOYMENT_PATHS:
        path = source_root / entry
        if path.is_file():
            found[entry] = _content_and_mode(path)
            continue
        if not path.is_dir():
            raise UserError(f"{path} is missing; the edahub checkout looks incomplete",
                            "run the command from a complete edahub checkout")
        for directory, dirnames, filenames in os.walk(path):
            here = Path(directory).relative_to(source_root)
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS
                                 and (here / d).as_posix() not in DEPLOYMENT_EXCLUDED)
            for name in sorted(filenames):
                if name.endswith(_SKIPPED_SUFFIXES) or name.startswith(".env"):
                    continue
                file = Path(directory) / name
                if file.is_file() and not file.is_symlink():
                    found[file.relative_to(source_root).as_posix()] = _content_and_mode(file)
    return dict(sorted(found.items()))


def _content_and_mode(path):
    return path.read_bytes(), 0o755 if path.stat().st_mode & 0o111 else 0o644


def output_files(provision, deployment):
    """The output folder's generated files except .env and the configs: {path: (bytes, mode)}."""
    files = {f"{TREE_DIR}/{rel}": entry for rel, entry in deployment.items()}
    files[f"{UNITS_DIR}/{STACK_UNIT}"] = (stack_unit().encode(), 0o644)
    files[f"{UNITS_DIR}/{PACKAGES_UNIT}"] = (packages_unit().encode(), 0o644)
    if provision.storage:
        files[f"{UNITS_DIR}/{MOUNT_UNIT}"] = (mount_unit(provision.storage).encode(), 0o644)
    return files


# --- Butane and Ignition -----------------------------------------------------------


def _disks(storage, butane):
    if storage is None:
        return []
    size_key, start_key, wipe_key = (("size_mib", "start_mib", "wipe_table") if butane
                                     else ("sizeMiB", "startMiB", "wipeTable"))
    if storage.on_boot_disk:
        # As Fedora CoreOS documents: fix the root (partition 4) to a size, Docker after it.
        partitions = [
            {"number": 4, "label": "root", size_key: storage.root_size_mib, "resize": True},
            {"label": STORAGE_LABEL, size_key: 0},
        ]
    else:
        # Kept (not wiped) when re-provisioned: Ignition reuses a matching partition.
        partitions = [{"number": 1, "label": STORAGE_LABEL, start_key: 0, size_key: 0}]
    return [{"device": storage.device, wipe_key: False, "partitions": partitions}]


def butane_config(provision):
    """The Butane config (a dict) for ``provision``; local files are under the output folder."""
    storage = {}
    if provision.storage:
        storage["disks"] = _disks(provision.storage, butane=True)
        storage["filesystems"] = [{
            "device": provision.storage.partition,
            "path": DOCKER_ROOT,
            "format": "xfs",
            "with_mount_unit": True,
        }]
    if provision.with_env:
        storage["files"] = [{
            "path": f"{DEPLOY_DIR}/.env",
            "mode": yaml_text.Octal(0o600),
            "contents": {"local": ENV_FILE},
        }]
    # Butane gives each file of the tree mode 0755 if it is executable in the folder, else 0644.
    storage["trees"] = [{"local": TREE_DIR, "path": DEPLOY_DIR}]
    return {
        "variant": "fcos",
        "version": FCOS_SPEC,
        "passwd": {"users": [{"name": "core", "ssh_authorized_keys": list(provision.ssh_keys)}]},
        "storage": storage,
        "systemd": {"units": [
            {"name": PACKAGES_UNIT, "enabled": True,
             "contents_local": f"{UNITS_DIR}/{PACKAGES_UNIT}"},
            {"name": STACK_UNIT, "enabled": True, "contents_local": f"{UNITS_DIR}/{STACK_UNIT}"},
        ]},
    }


def butane_text(provision):
    """The Butane config as the YAML file people read."""
    header = (
        "# edahub host on Fedora CoreOS (Butane config). Generated by\n"
        "#   python3 scripts/bootstrap.py prepare-host fcos-config\n"
        "# (docs/atomic-host.md); generate it again rather than editing it. It refers to\n"
        "# files in this folder; translate it from here with\n"
        f"#   butane --strict --pretty --files-dir . {BUTANE_FILE} > {IGNITION_FILE}\n"
    )
    return header + yaml_text.dump(butane_config(provision))


def data_url(contents):
    """An Ignition ``contents`` object embedding ``contents`` (gzip when it is smaller)."""
    plain = ";base64," + base64.b64encode(contents).decode()
    packed = ";base64," + base64.b64encode(gzip.compress(contents, 9, mtime=0)).decode()
    if len(packed) + len("gzip") < len(plain):
        return {"compression": "gzip", "source": "data:" + packed}
    return {"compression": "", "source": "data:" + plain}


def ignition_config(provision, files, env_bytes=None):
    """The Ignition config (a dict) that the Butane config translates to.

    ``files`` is ``output_files()``; ``env_bytes`` the .env to embed.
    """
    storage = {}
    if provision.storage:
        storage["disks"] = _disks(provision.storage, butane=False)
        storage["filesystems"] = [{"device": provision.storage.partition, "format": "xfs",
                                   "path": DOCKER_ROOT}]
    entries = []
    if provision.with_env:
        entries.append({"path": f"{DEPLOY_DIR}/.env", "contents": data_url(env_bytes), "mode": 0o600})
    prefix = TREE_DIR + "/"
    for name, (data, mode) in files.items():
        if name.startswith(prefix):
            entries.append({"path": f"{DEPLOY_DIR}/{name[len(prefix):]}",
                            "contents": data_url(data), "mode": mode})
    storage["files"] = entries
    units = [
        {"contents": files[f"{UNITS_DIR}/{PACKAGES_UNIT}"][0].decode(), "enabled": True,
         "name": PACKAGES_UNIT},
        {"contents": files[f"{UNITS_DIR}/{STACK_UNIT}"][0].decode(), "enabled": True,
         "name": STACK_UNIT},
    ]
    if provision.storage:
        units.append({"contents": mount_unit(provision.storage), "enabled": True, "name": MOUNT_UNIT})
    return {
        "ignition": {"version": IGNITION_SPEC},
        "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": list(provision.ssh_keys)}]},
        "storage": storage,
        "systemd": {"units": units},
    }


# --- an existing host --------------------------------------------------------------


def existing_host_steps(provision, output_dir):
    """The same setup for an FCOS host that is already running, as Markdown steps.

    edahub's tools need Python, which FCOS does not have, so these are commands for a
    person to run; each says whether it needs a reboot.
    """
    out = str(output_dir).rstrip("/") or "."
    packages = " ".join(LAYERED_PACKAGES)
    steps = [
        "# edahub on an existing Fedora CoreOS host",
        "",
        f"Generated by `prepare-host fcos-config` with the files in `{out}/`. Run the commands",
        "as the `core` user; only step 2 needs a reboot, everything else applies live.",
        "",
        "## 1. Copy the files to the host (live)",
        "",
        "```",
        "ssh core@HOST mkdir -p edahub-provision",
        f"scp -r {out}/host {out}/secrets core@HOST:edahub-provision/",
        "```",
        "",
        "## 2. Add Docker Compose v2 and buildx (needs a reboot)",
        "",
        "Fedora CoreOS ships Docker (moby-engine) but no Compose plugin. Layer Fedora's",
        "packages, then reboot into the new deployment:",
        "",
        "```",
        f"sudo rpm-ostree install --idempotent --allow-inactive {packages}",
        "sudo systemctl reboot",
        "```",
        "",
        "After the reboot `docker compose version` must print v2.17 or newer.",
        "",
    ]
    number = 3
    if provision.storage and provision.storage.on_boot_disk:
        steps += [
            f"## {number}. Docker's storage (not possible live)",
            "",
            "A running host cannot shrink its root partition to make room on the boot disk.",
            "Either provision the host anew with the Ignition config, or add a second disk",
            "and run `prepare-host fcos-config --storage-device /dev/disk/by-id/...` for the",
            "commands that give it to Docker.",
            "",
        ]
        number += 1
    if provision.storage and not provision.storage.on_boot_disk:
        disk = provision.storage.device
        steps += [
            f"## {number}. Docker's storage on {disk} (live; Docker stops meanwhile)",
            "",
            f"This erases {disk}. Check with `lsblk {disk}` that it is the empty disk you mean.",
            "",
            "```",
            "sudo systemctl stop docker.socket docker.service",
            f"printf 'label: gpt\\ntype=linux, name=\"{STORAGE_LABEL}\"\\n' | sudo sfdisk {disk}",
            "sudo udevadm settle",
            f"sudo mkfs.xfs {provision.storage.partition}",
            "# Only if Docker already holds data you want to keep:",
            f"sudo mount {provision.storage.partition} /mnt && sudo cp -a {DOCKER_ROOT}/. /mnt/ "
            "&& sudo umount /mnt",
            f"sudo install -m 0644 ~/edahub-provision/{UNITS_DIR}/{MOUNT_UNIT} /etc/systemd/system/",
            f"sudo systemctl daemon-reload && sudo systemctl enable --now {MOUNT_UNIT}",
            f"sudo restorecon -R {DOCKER_ROOT}",
            "sudo systemctl start docker.socket",
            "```",
            "",
        ]
        number += 1
    steps += [
        f"## {number}. Place edahub and its settings (live)",
        "",
        "```",
        f"sudo mkdir -p {DEPLOY_DIR}",
        f"sudo cp -r ~/edahub-provision/{TREE_DIR}/. {DEPLOY_DIR}/",
    ]
    if provision.with_env:
        steps.append(f"sudo install -m 0600 -o root -g root ~/edahub-provision/{ENV_FILE} {DEPLOY_DIR}/.env")
    else:
        steps.append(f"# then create {DEPLOY_DIR}/.env (mode 0600, owner root) with your settings")
    steps += [
        f"sudo restorecon -R {DEPLOY_DIR}",
        "rm -rf ~/edahub-provision/secrets   # the only other copy of the secrets on the host",
        "```",
        "",
        f"## {number + 1}. Start the stack now and at every boot (live)",
        "",
        "```",
        f"sudo install -m 0644 ~/edahub-provision/{UNITS_DIR}/{STACK_UNIT} /etc/systemd/system/",
        "sudo systemctl daemon-reload",
        f"sudo systemctl enable --now {STACK_UNIT}",
        "journalctl -fu edahub   # the first start builds the images: several minutes",
        "```",
        "",
        "`systemctl stop edahub` runs `docker compose down`; users' homes and the databases",
        "stay in their named volumes.",
    ]
    return "\n".join(steps) + "\n"


# --- writing the output folder -----------------------------------------------------


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


@dataclass
class FcosResult:
    """What `fcos-config` wrote or would write."""

    output_dir: Path
    files: list
    env_state: str
    ignition_bytes: int = 0
    admin_password: str | None = None
    admin_user: str = "admin"


def write_output(provision, output_dir, source_root, env_file=None, force=False, dry_run=False):
    """Write the output folder: atomically (built aside, then renamed into place), keeping
    the .env of an earlier run so its secrets do not change."""
    from ..installer import generate_admin_password, hash_password
    from edahub_core.settings import load_settings

    out = Path(output_dir).absolute()
    ours = (out / OUTPUT_MARKER).is_file()
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder", "give --output-dir a folder path")
    if out.is_dir() and any(out.iterdir()) and not ours and not force:
        raise UserError(f"{out} already holds files that fcos-config did not write",
                        "give an empty or new --output-dir, or re-run with --force to replace it")
    deployment = deployment_files(source_root)
    files = output_files(provision, deployment)
    previous_env = out / ENV_FILE if ours else None
    if env_file is not None:
        env_file = Path(env_file)
        if not env_file.is_file():
            raise UserError(f"--env-file {env_file} does not exist",
                            "give the path of an edahub .env, or leave --env-file out")
        values = envfile.read_env_file(env_file)
        check_env_for_fcos(values, str(env_file))
        load_settings(values)
        if (previous_env and previous_env.is_file()
                and previous_env.read_bytes() != env_file.read_bytes() and not force):
            raise UserError(
                f"{previous_env} from an earlier run holds other settings than {env_file}",
                "re-run with --force to replace them (the host's secrets change), or leave "
                "--env-file out to keep them",
            )
    listing = [BUTANE_FILE, IGNITION_FILE, STEPS_FILE, *sorted(files)]
    if provision.with_env:
        listing.insert(3, ENV_FILE)
        if env_file is not None:
            env_state = f"copied from {env_file}"
        elif previous_env and previous_env.is_file():
            env_state = "kept from the earlier run (missing values added)"
        else:
            env_state = "created with generated secrets"
    else:
        env_state = "not embedded (--without-env): place .env on the host yourself"
    if dry_run:
        return FcosResult(output_dir=out, files=listing, env_state="would be " + env_state
                          if provision.with_env else env_state)
    result = FcosResult(output_dir=out, files=listing, env_state=env_state)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, (data, mode) in files.items():
            _write(staging / name, data, mode)
        env_bytes = None
        if provision.with_env:
            env_path = staging / ENV_FILE
            env_path.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(env_path.parent, 0o700)
            if env_file is not None:
                _write(env_path, env_file.read_bytes(), 0o600)
            else:
                if previous_env and previous_env.is_file():
                    _write(env_path, previous_env.read_bytes(), 0o600)
                existing = envfile.read_env_file(env_path) if env_path.exists() else {}
                overrides = {}
                if (existing.get("EDAHUB_AUTH") or "native") == "native" and not existing.get(
                        "EDAHUB_ADMIN_PASSWORD_HASH"):
                    result.admin_password = generate_admin_password()
                    overrides["EDAHUB_ADMIN_PASSWORD_HASH"] = hash_password(result.admin_password)
                values, added = envfile.ensure_env_file(env_path, overrides, validate=load_settings)
                if "EDAHUB_ADMIN_PASSWORD_HASH" not in added:
                    result.admin_password = None
                result.admin_user = values.get("EDAHUB_ADMIN_USER") or "admin"
                check_env_for_fcos(values, "the generated .env")
            env_bytes = env_path.read_bytes()
        _write(staging / BUTANE_FILE, butane_text(provision).encode(), 0o644)
        ignition = json.dumps(ignition_config(provision, files, env_bytes), indent=2) + "\n"
        # The Ignition config embeds .env: as secret as .env itself.
        _write(staging / IGNITION_FILE, ignition.encode(), 0o600)
        result.ignition_bytes = len(ignition.encode())
        _write(staging / STEPS_FILE, existing_host_steps(provision, output_dir).encode(), 0o644)
        _write(staging / OUTPUT_MARKER,
               b"Written by scripts/bootstrap.py prepare-host fcos-config; it may replace this folder.\n",
               0o644)
        _replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def _write(path, data, mode):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def _replace_dir(staging, out):
    """Move ``staging`` to ``out``; an old ``out`` is removed only after the move."""
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        os.rename(out, old / "previous")
        os.rename(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, out)
