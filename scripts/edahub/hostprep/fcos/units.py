"""The host's systemd units, rendered from a ``HostConfig``.

- edahub.service: ``docker compose up --wait`` on start (and boot), ``docker compose
  down`` on stop, with time for the hub to stop users' servers;
- edahub-install-packages.service: on the first boot, layers Compose v2, buildx and
  Python with rpm-ostree and reboots once, as Fedora CoreOS documents for OS extensions;
- edahub-backup.timer and edahub-backup.service: ``scripts/backup.py create`` every
  night, keeping the newest backups;
- var-lib-docker.mount, with separate storage: the unit Butane generates for the
  filesystem's ``with_mount_unit``, needed as a file for an existing host.
"""

from typing import NamedTuple

from .layout import (BACKUP_DIR, BACKUP_KEEP, BACKUP_SCHEDULE, BACKUP_SERVICE, BACKUP_TIMER,
                     DEPLOY_DIR, DOCKER_MOUNT_OPTIONS, DOCKER_ROOT, LAYERED_PACKAGES, MOUNT_UNIT,
                     PACKAGES_UNIT, STACK_UNIT)

# The programs the units run, at the paths where Fedora CoreOS has them: the units call
# nothing else (tests/unit checks), and systemd-analyze checks the units in a root that
# holds just these (tests/hosttools).
# /usr/bin/python3 is layered (LAYERED_PACKAGES), like the docker compose plugin.
FCOS_EXECUTABLES = frozenset({"/usr/bin/docker", "/usr/bin/sh", "/usr/bin/rpm-ostree",
                              "/usr/bin/touch", "/usr/bin/systemctl", "/usr/bin/python3"})


class Unit(NamedTuple):
    """A systemd unit the host gets.

    ``enabled`` False marks a unit that another unit starts (the backup service, started
    by its timer): it has no [Install] section, and both configs leave its ``enabled``
    key out. ``from_butane`` marks a unit that Butane generates itself (the mount unit),
    so the Butane config does not list it but the Ignition config does.
    """

    name: str
    contents: str
    from_butane: bool = False
    enabled: bool = True


def render_units(host):
    """The units of ``host``, in the order the Ignition config lists them."""
    units = [Unit(PACKAGES_UNIT, packages_unit(host.layered_packages)),
             Unit(STACK_UNIT, stack_unit()),
             Unit(BACKUP_SERVICE, backup_service(), enabled=False),
             Unit(BACKUP_TIMER, backup_timer())]
    if host.storage:
        units.append(Unit(MOUNT_UNIT, mount_unit(host.storage), from_butane=True))
    return tuple(units)


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
# Users' servers outlive the hub, so they are stopped first, then the stack
# (scripts/edahub/lifecycle.py); a plain `docker compose down` would leave them on the
# network.
ExecStop=/usr/bin/python3 {DEPLOY_DIR}/scripts/bootstrap.py stop
# The first start builds images and pulls the databases: allow for a slow network.
TimeoutStartSec=45min
TimeoutStopSec=5min

[Install]
WantedBy=multi-user.target
"""


# What the backup service runs; the options are scripts/edahub/backup.py's (tests/unit
# parses them with its parser).
BACKUP_COMMAND = (f"/usr/bin/python3 {DEPLOY_DIR}/scripts/backup.py create "
                  f"--output-dir {BACKUP_DIR} --keep {BACKUP_KEEP}")


def backup_service():
    """edahub-backup.service: one backup with scripts/backup.py, then the oldest removed."""
    return f"""\
# edahub: a backup of users' databases, homes and the hub's state (docs/databases.md).
# Written by scripts/bootstrap.py prepare-host fcos-config (docs/atomic-host.md).
# {BACKUP_TIMER} starts it every night; `systemctl start {BACKUP_SERVICE}` takes one now.
[Unit]
Description=edahub backup into {BACKUP_DIR} (keeps the newest {BACKUP_KEEP})
# Backs up the running stack (starting it if it is stopped); stopping the stack stops
# a backup too.
Requires={STACK_UNIT}
After={STACK_UNIT}
ConditionPathExists={DEPLOY_DIR}/.env

[Service]
Type=oneshot
WorkingDirectory={DEPLOY_DIR}
# Fedora's python3 with its docker, dotenv and bcrypt modules (layered), so backup.py
# installs nothing. --keep removes only complete backups beyond the newest {BACKUP_KEEP}.
ExecStart={BACKUP_COMMAND}
"""


def backup_timer():
    """edahub-backup.timer: starts the backup service every night."""
    return f"""\
# edahub: a backup every night (docs/databases.md). Another time:
# `systemctl edit {BACKUP_TIMER}`, with an empty OnCalendar= line before the new one.
# Written by scripts/bootstrap.py prepare-host fcos-config (docs/atomic-host.md).
[Unit]
Description=edahub: a backup every night ({BACKUP_SERVICE})

[Timer]
OnCalendar={BACKUP_SCHEDULE}
# Hosts provisioned from one config do not all back up at the same moment.
RandomizedDelaySec=30min
# A backup missed while the host was off runs when it is back.
Persistent=true

[Install]
WantedBy=timers.target
"""


def packages_unit(packages=LAYERED_PACKAGES):
    """The first-boot unit that layers ``packages`` (Compose v2, buildx, Python), then
    reboots once."""
    packages = " ".join(packages)
    return f"""\
# edahub: Fedora CoreOS has Docker but no Compose plugin and no Python; add Fedora's packages.
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
    """The mount unit Butane generates for ``with_mount_unit: true`` and the mount options
    of ``DOCKER_MOUNT_OPTIONS`` (its exact text)."""
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
        f"Options={','.join(DOCKER_MOUNT_OPTIONS)}\n"
        "\n"
        "[Install]\n"
        "RequiredBy=local-fs.target"
    )
