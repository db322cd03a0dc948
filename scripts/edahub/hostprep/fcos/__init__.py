"""Fedora CoreOS: a Butane config (and the Ignition config it stands for) that turns a
new FCOS machine into an edahub host, and the same steps for an existing machine.

What the host gets, and why:

- **Engine: Docker (moby-engine), which FCOS ships.** edahub's hub starts users' servers
  through the Docker API (DockerSpawner on /var/run/docker.sock) and the stack is a
  Compose project, so it uses Docker, not Podman. ``docker.socket`` is enabled on FCOS;
  the stack's unit starts ``docker.service`` itself.
- **Compose v2 and Python: layered with rpm-ostree.** FCOS has no Compose plugin and
  no Python. A first-boot unit runs ``rpm-ostree install docker-compose docker-buildx
  python3 python3-docker python3-dotenv python3-bcrypt`` (Fedora's packages, GPG-signed,
  updated with the OS) and reboots once, as Fedora CoreOS documents for OS extensions.
  No binary is downloaded by hand, and edahub's scripts find their modules without pip.
- **Storage: /var/lib/docker on its own filesystem**, on a second disk or on a partition
  after a fixed-size root on the boot disk (FCOS wants at least 8 GiB of root), mounted
  with XFS project quotas (``prjquota``) so that EDAHUB_USER_HOME_SIZE can limit homes.
- **The deployment in /var/srv/edahub** (/srv is a link to it; /var is the writable,
  persistent part of an FCOS host): compose.yaml and what its builds need, backup.py and
  bootstrap.py, and ``.env`` with mode 0600. The images are built on the host at the
  first start.
- **A systemd unit, edahub.service**: ``docker compose up --wait`` on start (and boot),
  ``docker compose down`` on stop, with time for the hub to stop users' servers.
- **Nightly backups, edahub-backup.timer**: ``scripts/backup.py create`` into
  /var/srv/edahub-backups, keeping the newest 14.

How it is built: the command line's options become ``HostChoices``; with the checkout's
files and the .env they become one ``HostConfig`` (``hostconfig.py``), and renderers turn
that into each output: the units (``units.py``), the Butane config (``butane.py``), the
Ignition config (``ignition.py``), existing-host.md (``existing_host.py``) and the output
folder that holds them all (``output.py``). Paths and names live in ``layout.py``.

The Butane config references local files (``--files-dir``), so it holds no secrets; the
Ignition config embeds them and is written with mode 0600. Both are generated here
without Butane installed; tests/hosttools proves that the real Butane translates the
Butane config into the same Ignition config, and validates both with the real tools.
"""

from .butane import butane_config, butane_text
from .deployment import DEPLOYMENT_EXCLUDED, DEPLOYMENT_PATHS, deployment_files
from .existing_host import existing_host_steps
from .hostconfig import (FileContent, HostChoices, HostConfig, Partition, Storage,
                         build_host_config, read_ssh_keys, storage_from_options)
from .hostenv import check_env_for_fcos
from .ignition import data_url, ignition_config, ignition_text
from .layout import (BACKUP_DIR, BACKUP_KEEP, BACKUP_SCHEDULE, BACKUP_SERVICE, BACKUP_TIMER,
                     BOOT_DISK, BUTANE_FILE, DEFAULT_ROOT_SIZE, DEPLOY_DIR, DOCKER_MOUNT_OPTIONS,
                     DOCKER_ROOT, ENV_FILE, FCOS_SPEC, IGNITION_FILE, IGNITION_SPEC,
                     LAYERED_PACKAGES, MIN_ROOT_MIB, MOUNT_UNIT, OUTPUT_MARKER, PACKAGES_UNIT,
                     SECRETS_DIR, STACK_UNIT, STEPS_FILE, STORAGE_LABEL, TREE_DIR, UNITS_DIR)
from .output import FcosResult, listing, render_output_folder, write_output
from .units import (BACKUP_COMMAND, FCOS_EXECUTABLES, Unit, backup_service, backup_timer,
                    mount_unit, packages_unit, render_units, stack_unit, systemd_escape_path)

__all__ = [
    "BACKUP_COMMAND", "BACKUP_DIR", "BACKUP_KEEP", "BACKUP_SCHEDULE", "BACKUP_SERVICE",
    "BACKUP_TIMER", "BOOT_DISK", "BUTANE_FILE", "DEFAULT_ROOT_SIZE", "DEPLOYMENT_EXCLUDED",
    "DEPLOYMENT_PATHS", "DEPLOY_DIR", "DOCKER_MOUNT_OPTIONS", "DOCKER_ROOT", "ENV_FILE",
    "FCOS_EXECUTABLES", "FCOS_SPEC", "FcosResult", "FileContent", "HostChoices", "HostConfig",
    "IGNITION_FILE", "IGNITION_SPEC", "LAYERED_PACKAGES", "MIN_ROOT_MIB", "MOUNT_UNIT",
    "OUTPUT_MARKER", "PACKAGES_UNIT", "Partition", "SECRETS_DIR", "STACK_UNIT", "STEPS_FILE",
    "STORAGE_LABEL", "Storage", "TREE_DIR", "UNITS_DIR", "Unit", "backup_service",
    "backup_timer", "build_host_config", "butane_config", "butane_text", "check_env_for_fcos",
    "data_url", "deployment_files", "existing_host_steps", "ignition_config", "ignition_text",
    "listing", "mount_unit", "packages_unit", "read_ssh_keys", "render_output_folder",
    "render_units", "stack_unit", "storage_from_options", "systemd_escape_path", "write_output",
]
