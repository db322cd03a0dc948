"""Where things are: on the Fedora CoreOS host, and in the output folder of `fcos-config`.

Every renderer takes its paths and names from here, so the Butane config, the Ignition
config, the units and the steps for an existing host cannot disagree about them.
"""

FCOS_SPEC = "1.7.0"  # Butane's fcos spec; FCOS stable has accepted it since early 2026
IGNITION_SPEC = "3.6.0"  # what that Butane spec translates to

# --- on the host -------------------------------------------------------------------

DEPLOY_DIR = "/var/srv/edahub"
DOCKER_ROOT = "/var/lib/docker"
STORAGE_LABEL = "edahub-docker"
BOOT_DISK = "/dev/disk/by-id/coreos-boot-disk"
MIN_ROOT_MIB = 8192  # FCOS refuses to boot with a smaller root followed by a partition
DEFAULT_ROOT_SIZE = "16G"
# XFS turns project quotas on only when it mounts a filesystem, and Docker's local volume
# driver needs them to limit a volume's size (EDAHUB_USER_HOME_SIZE limits users' homes so).
DOCKER_MOUNT_OPTIONS = ("prjquota",)
# Fedora's packages (FCOS ships none of them): the Compose v2 CLI plugin and buildx, and
# Python with the modules scripts/backup.py and bootstrap.py import, so that these run
# on the host without pip.
LAYERED_PACKAGES = ("docker-compose", "docker-buildx",
                    "python3", "python3-docker", "python3-dotenv", "python3-bcrypt")
STACK_UNIT = "edahub.service"
PACKAGES_UNIT = "edahub-install-packages.service"
MOUNT_UNIT = "var-lib-docker.mount"
BACKUP_SERVICE = "edahub-backup.service"
BACKUP_TIMER = "edahub-backup.timer"
# Nightly backups (edahub-backup.timer): where they go, how many stay, and when.
BACKUP_DIR = "/var/srv/edahub-backups"
BACKUP_KEEP = 14  # two weeks of nightly backups
BACKUP_SCHEDULE = "*-*-* 03:00:00"

# --- the output folder -------------------------------------------------------------

OUTPUT_MARKER = ".edahub-fcos-config"
BUTANE_FILE = "edahub.bu"
IGNITION_FILE = "edahub.ign"
STEPS_FILE = "existing-host.md"
SECRETS_DIR = "secrets"
ENV_FILE = SECRETS_DIR + "/edahub.env"
# The host's files, at their paths on the host: Butane's `trees` and the steps for an
# existing host copy them from here.
TREE_DIR = "host" + DEPLOY_DIR
UNITS_DIR = "host/etc/systemd/system"
