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
# Fedora's packages for the Compose v2 CLI plugin and buildx (FCOS ships neither).
LAYERED_PACKAGES = ("docker-compose", "docker-buildx")
STACK_UNIT = "edahub.service"
PACKAGES_UNIT = "edahub-install-packages.service"
MOUNT_UNIT = "var-lib-docker.mount"

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
