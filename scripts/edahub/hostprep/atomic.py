"""Docker's storage on CentOS / RHEL Atomic Host, through docker-storage-setup.

An Atomic Host keeps the OS and ``/var`` on a small root logical volume (3 GiB on
CentOS Atomic Host); the rest of the disk stays free in the volume group. Docker's
images and volumes live in ``/var/lib/docker`` (overlay2), so the root volume has to
grow before edahub's images fit. docker-storage-setup(1) does that at every boot from
``/etc/sysconfig/docker-storage-setup``; these steps write that file and run the tool:

- ``ROOT_SIZE``: the size the root LV grows to (``lvextend -r -L``);
- ``DEVS`` and ``VG``: extra disks, added to the root volume group (or to ``VG``);
- ``CONTAINER_ROOT_LV_*``: optionally a logical volume of its own for /var/lib/docker.

docker-storage-setup ignores a failed ``lvextend`` (``|| true``), so every request is
checked against the volume group's free space first, and the result is checked after.
It also applies the file at every boot, so ROOT_SIZE must be a fixed size: ``+10G``
would grow the root at each boot, and ``N%FREE`` means a different size at each boot.

Commands run through an injectable runner (the tests never run LVM) and, when the
host's root is mounted elsewhere (``--root /host`` in a privileged container), inside
``chroot``.
"""

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .. import envfile
from ..console import UserError, run
from .detect import STORAGE_SETUP_CONFIG, HostKind

CONFIG_MARKER = ("# Written by edahub: scripts/bootstrap.py prepare-host storage "
                 "(docs/atomic-host.md).")
CONFIG_HEADER = (
    CONFIG_MARKER + "\n"
    "# docker-storage-setup(1) reads this file at every boot. edahub rewrites it when that\n"
    "# command runs again with other options; delete the first line to take the file over.\n"
)
BACKUP_SUFFIX = ".before-edahub"
DOCKER_STORAGE_OUTPUT = "etc/sysconfig/docker-storage"
DOCKER_ROOT = "/var/lib/docker"
CONTAINER_LV_NAME = "docker-root-lv"
EXTENT = 4 * 2**20  # LVM's default extent: sizes round up to it
NEW_DEVICE_OVERHEAD = 8 * 2**20  # partition table, PV metadata and alignment on an added disk

# --- sizes -------------------------------------------------------------------------

_UNITS = {"b": 1, "s": 512, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40, "p": 2**50, "e": 2**60}
_ABSOLUTE = re.compile(r"^(\+?)(\d+(?:\.\d+)?)([bBsSkKmMgGtTpPeE]?)$")
_PERCENT = re.compile(r"^(\+?)(\d+(?:\.\d+)?)%FREE$")


@dataclass(frozen=True)
class Size:
    """A size as LVM takes it: ``20G`` (absolute), ``+5G`` (growth) or ``50%FREE``."""

    text: str
    grow: bool = False  # a leading '+': grow by, not grow to
    bytes: int | None = None  # for absolute and growth sizes
    percent_free: float | None = None  # for N%FREE

    def describe(self):
        """The size for people: ``20.0 GiB``, ``+5.0 GiB``, ``50% of the free space``."""
        if self.percent_free is not None:
            return f"{self.percent_free:g}% of the free space"
        return ("+" if self.grow else "") + format_bytes(self.bytes)


def parse_size(text, option):
    """Parse an LVM size (``lvcreate -L`` units, all powers of 1024; no unit means MiB)."""
    text = (text or "").strip()
    match = _ABSOLUTE.match(text)
    if match:
        plus, number, unit = match.groups()
        value = int(float(number) * _UNITS[(unit or "m").lower()])
        if value <= 0:
            raise UserError(f"{option} {text}: a size must be larger than 0",
                            f"give {option} a size such as 20G")
        return Size(text=text, grow=bool(plus), bytes=value)
    match = _PERCENT.match(text)
    if match:
        plus, number = match.groups()
        percent = float(number)
        if not 0 < percent <= 100:
            raise UserError(f"{option} {text}: a percentage of the free space must be 1-100",
                            f"give {option} e.g. 50%FREE or 100%FREE")
        return Size(text=text, grow=bool(plus), percent_free=percent)
    raise UserError(
        f"{option} {text!r} is not a size docker-storage-setup understands",
        f"give {option} a size such as 20G, 512M, +10G or 60%FREE (units b s k m g t p e, "
        "powers of 1024)",
    )


def format_bytes(value):
    """``21474836480`` -> ``20.0 GiB``."""
    for unit, factor in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if abs(value) >= factor:
            return f"{value / factor:.1f} {unit}"
    return f"{value} B"


def _round_up(value, step=EXTENT):
    return -(-value // step) * step


# --- the request and the configuration file ----------------------------------------


@dataclass(frozen=True)
class StorageRequest:
    """What the operator asked for (the command's options)."""

    root_size: Size | None = None
    devs: tuple = ()
    vg: str | None = None
    container_lv_size: Size | None = None

    def settings(self):
        """The docker-storage-setup settings for this request, in file order."""
        values = {"STORAGE_DRIVER": "overlay2"}
        if self.root_size:
            values["ROOT_SIZE"] = self.root_size.text
        if self.devs:
            values["DEVS"] = " ".join(self.devs)
        if self.vg:
            values["VG"] = self.vg
        if self.container_lv_size:
            values["CONTAINER_ROOT_LV_NAME"] = CONTAINER_LV_NAME
            values["CONTAINER_ROOT_LV_SIZE"] = self.container_lv_size.text
            values["CONTAINER_ROOT_LV_MOUNT_PATH"] = DOCKER_ROOT
        return values


def render_config(settings):
    """The text of /etc/sysconfig/docker-storage-setup for ``settings``."""
    lines = [CONFIG_HEADER.rstrip("\n")]
    for key, value in settings.items():
        # Values are sizes, names and device paths (checked by the command line); a list
        # such as DEVS is quoted the way the tool's own sample file quotes it.
        lines.append(f'{key}="{value}"' if " " in value else f"{key}={value}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ConfigFile:
    """An existing docker-storage-setup file as found on the host."""

    text: str
    ours: bool
    settings: dict
    unreadable_lines: tuple


def parse_config(text):
    """Read a sysconfig file: ``KEY=value`` lines (shell quoting), comments, blanks."""
    settings = {}
    unreadable = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, raw = stripped.removeprefix("export ").partition("=")
        if not sep or not re.match(r"^[A-Z_][A-Z0-9_]*$", key.strip()):
            unreadable.append(line)
            continue
        try:
            settings[key.strip()] = " ".join(shlex.split(raw))
        except ValueError:
            unreadable.append(line)
    return ConfigFile(
        text=text, ours=text.startswith(CONFIG_MARKER), settings=settings,
        unreadable_lines=tuple(unreadable),
    )


# --- probing the host --------------------------------------------------------------


class HostCommands:
    """Runs commands on the host: directly, or in ``chroot ROOT`` when the host's root
    is mounted elsewhere. ``runner`` has the signature of ``console.run``."""

    def __init__(self, root, runner=run):
        self.root = Path(root)
        self.runner = runner

    def __call__(self, cmd, **kwargs):
        if self.root != Path("/"):
            cmd = ["chroot", str(self.root), *cmd]
        return self.runner(cmd, **kwargs)


@dataclass(frozen=True)
class Device:
    """A block device named in DEVS, as lsblk sees it."""

    name: str
    size: int
    in_use: str | None  # why it cannot be added, or None
    member_of: str | None = None  # its volume group, when it is an LVM PV already


@dataclass
class LvmState:
    """The host's storage as the checks need it."""

    root_device: str | None
    root_vg: str | None
    root_lv_size: int | None
    vg_free: dict  # volume group -> free bytes
    pv_vg: dict  # physical volume -> volume group
    devices: dict = field(default_factory=dict)  # DEVS entry -> Device
    docker_root_mounted: bool = False
    docker_root_has_data: bool = False
    current_driver: str | None = None


def _lines(output):
    return [line.strip() for line in (output or "").splitlines() if line.strip()]


def read_mounts(root):
    """(source, mount point) of every mount of the host's init, i.e. the host's view."""
    path = Path(root) / "proc/1/mounts"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}",
                        "run the command as root (in a container: --privileged, host at --root)") from None
    mounts = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            mounts.append((parts[0], parts[1].replace("\\040", " ")))
    return mounts


def probe_lvm(root, commands, devs=()):
    """Read the root LV, volume groups, PVs and the DEVS through LVM's own tools."""
    mounts = read_mounts(root)
    # Like docker-storage-setup: the (last) mount on / that is not the initramfs rootfs.
    root_sources = [src for src, point in mounts if point == "/" and src != "rootfs"]
    root_device = root_sources[-1] if root_sources else None
    root_vg = root_size = None
    if root_device and root_device.startswith("/dev/"):
        result = commands(["lvs", "--noheadings", "--nosuffix", "--units", "b", "--separator", ":",
                           "-o", "vg_name,lv_size", root_device], check=False)
        if result.returncode == 0 and _lines(result.stdout):
            vg, size = _lines(result.stdout)[0].split(":")[:2]
            root_vg, root_size = vg.strip(), int(float(size))
    vg_free = {}
    result = commands(["vgs", "--noheadings", "--nosuffix", "--units", "b", "--separator", ":",
                       "-o", "vg_name,vg_free"], check=False)
    if result.returncode != 0:
        raise UserError(
            "cannot read the volume groups (`vgs` failed):\n" + "\n".join(_lines(result.stdout)[-5:]),
            "run the command as root on the Atomic Host (sudo), or in a privileged container "
            "with the host at --root /host",
        )
    for line in _lines(result.stdout):
        name, free = line.split(":")[:2]
        vg_free[name.strip()] = int(float(free))
    pv_vg = {}
    result = commands(["pvs", "--noheadings", "--separator", ":", "-o", "pv_name,vg_name"], check=False)
    for line in _lines(result.stdout) if result.returncode == 0 else ():
        pv, vg = (line.split(":") + [""])[:2]
        pv_vg[pv.strip()] = vg.strip()
    state = LvmState(root_device=root_device, root_vg=root_vg, root_lv_size=root_size,
                     vg_free=vg_free, pv_vg=pv_vg)
    for dev in devs:
        state.devices[dev] = probe_device(commands, dev, pv_vg)
    state.docker_root_mounted = any(point == DOCKER_ROOT for _, point in mounts)
    state.docker_root_has_data = docker_has_data(Path(root) / DOCKER_ROOT.lstrip("/"))
    state.current_driver = read_current_driver(root)
    return state


def docker_has_data(docker_root):
    """True when Docker keeps containers, volumes or images there, not just the empty
    folders every engine start creates."""
    def entries(relative, ignore=()):
        folder = docker_root / relative
        return folder.is_dir() and any(p.name not in ignore for p in folder.iterdir())

    images = docker_root / "image"
    return (entries("containers") or entries("volumes", ignore=("metadata.db", "backingFsBlockDev"))
            or any(entries(f"image/{driver.name}/imagedb/content/sha256")
                   for driver in (images.iterdir() if images.is_dir() else ())))


def probe_device(commands, dev, pv_vg):
    """One device of DEVS: its size, and why it cannot be used (None if it can)."""
    result = commands(["lsblk", "--bytes", "--noheadings", "--pairs",
                       "--output", "NAME,SIZE,TYPE,FSTYPE,MOUNTPOINT", dev], check=False)
    rows = [dict(re.findall(r'(\w+)="([^"]*)"', line)) for line in _lines(result.stdout)]
    if result.returncode != 0 or not rows:
        return Device(dev, 0, "not found (lsblk does not know it)")
    disk = rows[0]
    size = int(disk.get("SIZE") or 0)
    if disk.get("TYPE") not in ("disk", "part", "mpath", "loop"):
        return Device(dev, size, f"is a {disk.get('TYPE') or 'unknown'} device, not a disk")
    # Already an LVM PV (e.g. added by an earlier run): check_request decides.
    for candidate in (dev, f"{dev}1"):
        if candidate in pv_vg:
            return Device(dev, size, None, member_of=pv_vg[candidate] or "(no volume group)")
    if len(rows) > 1:
        return Device(dev, size, f"has partitions ({', '.join(r.get('NAME', '?') for r in rows[1:])})")
    if disk.get("FSTYPE"):
        return Device(dev, size, f"holds a {disk['FSTYPE']} signature")
    if disk.get("MOUNTPOINT"):
        return Device(dev, size, f"is mounted at {disk['MOUNTPOINT']}")
    return Device(dev, size, None)


def read_current_driver(root):
    """The storage driver Docker was set up with (from /etc/sysconfig/docker-storage)."""
    path = Path(root) / DOCKER_STORAGE_OUTPUT
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r"(?:--storage-driver[ =]|-s\s+)([a-z0-9]+)", text)
    return match.group(1) if match else None


# --- the checks --------------------------------------------------------------------


def check_options(request):
    """Refuse a request that asks for nothing."""
    if not request.root_size and not request.container_lv_size:
        raise UserError(
            "nothing to do: neither --root-size nor --container-lv-size was given",
            "give --root-size (e.g. 20G) to grow the root filesystem where Docker keeps "
            "its data, and/or --container-lv-size for a volume of its own",
        )


def check_request(request, state, force=False):
    """Refuse requests that cannot fit or would lose data; return notes for the plan.

    The arithmetic follows docker-storage-setup: the root LV grows first, then the
    container LV is carved from what is left in its volume group.
    """
    notes = []
    target_vg = request.vg or state.root_vg
    for dev in request.devs:
        device = state.devices[dev]
        if device.member_of and device.member_of != target_vg:
            raise UserError(
                f"{dev} already belongs to volume group {device.member_of}",
                f"pick an empty disk (see `lsblk`), or give --vg {device.member_of} if that "
                "group is meant for Docker",
            )
        if device.in_use:
            raise UserError(
                f"{dev} {device.in_use}; docker-storage-setup adds only empty disks",
                f"pick an empty disk (see `lsblk`), or wipe {dev} yourself if its data is "
                "not needed (`wipefs -a` destroys it)",
            )
    # Disks that are PVs of the group already (an earlier run) add nothing new.
    new_space = sum(max(0, state.devices[d].size - NEW_DEVICE_OVERHEAD)
                    for d in request.devs if not state.devices[d].member_of)
    if request.vg and request.vg not in state.vg_free and not request.devs:
        raise UserError(
            f"volume group {request.vg} does not exist, and no --devs were given to create it",
            f"add --devs /dev/DISK to create {request.vg} on an empty disk, or leave --vg "
            "out to use the root volume group",
        )
    if request.vg and request.vg != state.root_vg and not request.container_lv_size:
        raise UserError(
            f"with overlay2, Docker keeps its data on the root filesystem; space added to "
            f"volume group {request.vg} would not reach it",
            f"add --container-lv-size to give /var/lib/docker a volume in {request.vg}, or "
            "leave --vg out so that --devs extend the root volume group",
        )

    root_growth = 0
    if request.root_size:
        if not state.root_vg:
            raise UserError(
                f"the root filesystem ({state.root_device or 'unknown device'}) is not on an "
                "LVM logical volume, so ROOT_SIZE cannot grow it",
                "leave --root-size out; on this host give Docker a volume of its own with "
                "--container-lv-size and --devs",
            )
        from_devs = new_space if target_vg == state.root_vg else 0
        free = state.vg_free.get(state.root_vg, 0) + from_devs
        size, current = request.root_size, state.root_lv_size
        if size.grow or size.percent_free is not None:
            most = (current + free // EXTENT * EXTENT) // 2**30
            raise UserError(
                f"ROOT_SIZE={size.text}: docker-storage-setup applies ROOT_SIZE at every boot, so "
                + ("'+' would grow the root again at each boot" if size.grow else
                   "a share of the free space would mean another size at each boot"),
                f"give a fixed size, e.g. --root-size {max(most, 1)}G (the most that fits now)",
            )
        wanted = _round_up(size.bytes)
        if wanted < current:
            raise UserError(
                f"ROOT_SIZE={size.text} is smaller than the root LV already is "
                f"({format_bytes(current)}); LVM cannot shrink it (xfs)",
                f"give --root-size larger than {format_bytes(current)}, or leave it out",
            )
        root_growth = wanted - current
        if root_growth > free:
            most = current + free // EXTENT * EXTENT
            raise UserError(
                f"ROOT_SIZE={size.text} does not fit: the root LV is {format_bytes(current)} "
                f"and would need {format_bytes(root_growth)} more, but volume group "
                f"{state.root_vg} has only {format_bytes(free)} free"
                + (f" (including {format_bytes(from_devs)} from --devs)" if from_devs else ""),
                f"give --root-size at most {most // 2**30}G, or add an empty "
                "disk to the volume group with --devs /dev/DISK",
            )
        notes.append(
            f"root LV {format_bytes(current)} -> {format_bytes(wanted)}"
            if root_growth else f"root LV is already {format_bytes(current)}"
        )
        notes.append(f"volume group {state.root_vg}: {format_bytes(free)} free"
                     + (f" (with {format_bytes(from_devs)} from --devs)" if from_devs else ""))

    if request.container_lv_size:
        if not target_vg:
            raise UserError("no volume group for the container volume: the root is not on LVM",
                            "give --vg NAME and --devs /dev/DISK to create one on an empty disk")
        free = state.vg_free.get(target_vg, 0) + new_space
        shared = target_vg == state.root_vg and root_growth > 0
        if shared:
            free -= root_growth
        size = request.container_lv_size
        if size.grow:
            raise UserError(f"--container-lv-size {size.text}: a new volume cannot grow by a size",
                            "give its size without '+', e.g. 50G or 60%FREE")
        if size.percent_free is not None:
            if free < EXTENT:
                raise UserError(
                    f"volume group {target_vg} has no free space left for the container volume",
                    "add an empty disk with --devs /dev/DISK, or give --root-size a smaller size",
                )
            notes.append(f"new LV {CONTAINER_LV_NAME} for {DOCKER_ROOT}: {size.describe()} of "
                         f"{format_bytes(free)} in {target_vg}")
        elif _round_up(size.bytes) > free:
            raise UserError(
                f"--container-lv-size {size.text} does not fit: volume group {target_vg} has "
                f"{format_bytes(free)} free" + (" after the root LV grows" if shared else ""),
                f"give at most {free // 2**30}G (or e.g. 60%FREE), or add an empty disk with --devs",
            )
        else:
            notes.append(f"new LV {CONTAINER_LV_NAME} for {DOCKER_ROOT}: {format_bytes(size.bytes)} "
                         f"in {target_vg}")
        if state.docker_root_has_data and not state.docker_root_mounted and not force:
            raise UserError(
                f"{DOCKER_ROOT} already holds Docker's data; a new volume mounted over it would "
                "hide every image, container and volume there",
                "use --container-lv-size only on a fresh host, or move the data yourself "
                "(stop docker, copy it onto the new volume) and re-run with --force",
            )
    if state.current_driver and state.current_driver != "overlay2" and state.docker_root_has_data:
        if not force:
            raise UserError(
                f"Docker is set up with the {state.current_driver} storage driver and has data; "
                "switching to overlay2 leaves its images and containers behind",
                "save what you need (docker save, volume backups), run `atomic storage reset` "
                "or re-run with --force",
            )
        notes.append(f"storage driver changes from {state.current_driver} to overlay2 (--force)")
    return notes


# --- the plan and the steps --------------------------------------------------------


@dataclass
class StorageJob:
    """One run of `prepare-host storage`: inputs, what probing found, what was done."""

    host: object
    request: StorageRequest
    commands: HostCommands
    force: bool = False
    dry_run: bool = False
    state: LvmState | None = None
    notes: list = field(default_factory=list)
    existing: ConfigFile | None = None
    config_text: str = ""
    config_changed: bool = False
    backup: Path | None = None
    restarted_docker: bool = False

    @property
    def unchanged(self):
        """True when the host's file already asks for exactly this (read by the checks)."""
        return bool(self.existing) and _same(self.existing, self.request.settings())

    @property
    def config_path(self):
        """/etc/sysconfig/docker-storage-setup below the host's root."""
        return Path(self.host.root) / STORAGE_SETUP_CONFIG


def ensure_atomic_host(job):
    """Atomic Host with docker-storage-setup."""
    host = job.host
    if host.kind is not HostKind.ATOMIC_HOST and not job.force:
        what = {
            HostKind.FEDORA_COREOS: "this is Fedora CoreOS, which has no docker-storage-setup; "
                                    "its storage is set up by Ignition",
            HostKind.RPM_OSTREE: "this rpm-ostree host is not a CentOS/RHEL Atomic Host",
            HostKind.NOT_ATOMIC: "this is not an Atomic host",
        }[host.kind]
        fix = ("use `prepare-host fcos-config` (docs/atomic-host.md)"
               if host.kind is HostKind.FEDORA_COREOS else
               "nothing to prepare here: run bootstrap directly; or, if this host does use "
               "docker-storage-setup, re-run with --force")
        raise UserError(f"{what} ({host.name})", fix)
    if not host.storage_setup_command:
        raise UserError(
            f"docker-storage-setup is not installed on this host ({host.name})",
            "on CentOS/RHEL 7 it comes with the docker package (docker-storage-setup or "
            "container-storage-setup); install it, or prepare the storage by hand",
        )
    return f"{host.name} ({host.kind.value})"


def ensure_request_fits(job):
    """Sizes checked against the volume group."""
    check_options(job.request)
    path = job.config_path
    if path.exists():
        job.existing = parse_config(path.read_text(encoding="utf-8", errors="replace"))
    if job.unchanged:
        # Nothing will be written or run; after a run, free space has changed anyway.
        return "the configuration asks for this already; nothing new to check"
    job.state = probe_lvm(job.host.root, job.commands, job.request.devs)
    job.notes = check_request(job.request, job.state, force=job.force)
    return "; ".join(job.notes)


def ensure_config_file(job):
    """/etc/sysconfig/docker-storage-setup."""
    wanted = job.request.settings()
    job.config_text = render_config(wanted)
    path = job.config_path
    existing = job.existing
    if existing and _same(existing, wanted):
        if existing.ours:
            return f"{shown_path(path, job)} already says the same; unchanged"
        job.config_changed = False
        return f"{shown_path(path, job)} already has these settings; unchanged"
    if existing and not existing.ours:
        foreign = {k: v for k, v in existing.settings.items() if wanted.get(k) != v}
        if (foreign or existing.unreadable_lines) and not job.force:
            shown = [f"{k}={v}" for k, v in foreign.items()] + list(existing.unreadable_lines)
            raise UserError(
                f"{shown_path(path, job)} was not written by edahub and sets something else: "
                + ", ".join(shown),
                "merge your settings into the command's options, or re-run with --force "
                f"(the current file is kept as {path.name}{BACKUP_SUFFIX})",
            )
    job.config_changed = True
    if job.dry_run:
        return "would write it (dry run)"
    if existing and not existing.ours:
        job.backup = path.with_name(path.name + BACKUP_SUFFIX)
        if not job.backup.exists():
            envfile.atomic_write(job.backup, existing.text, mode=0o644)
    path.parent.mkdir(parents=True, exist_ok=True)
    envfile.atomic_write(path, job.config_text, mode=0o644)
    return f"written{f' (previous file kept as {job.backup.name})' if job.backup else ''}"


def ensure_storage_set_up(job):
    """docker-storage-setup run."""
    if not job.config_changed:
        return "skipped: the configuration did not change (it runs at every boot anyway)"
    command = [job.host.storage_setup_command]
    stop_docker = bool(job.request.container_lv_size) and not job.state.docker_root_mounted
    if job.dry_run:
        return "would run " + (f"`systemctl stop docker`, `{command[0]}`, `systemctl start docker`"
                               if stop_docker else f"`{command[0]}`") + " (dry run)"
    docker_was_active = False
    if stop_docker:
        docker_was_active = job.commands(["systemctl", "is-active", "--quiet", "docker"],
                                         check=False).returncode == 0
        if docker_was_active:
            job.commands(["systemctl", "stop", "docker"], timeout=300)
    try:
        job.commands(command, timeout=1800)
    except UserError as e:
        _restore_config(job)
        raise UserError(
            f"docker-storage-setup failed; {shown_path(job.config_path, job)} is back as it was.\n{e.what}",
            "fix the cause shown above and run the command again",
        ) from None
    finally:
        if docker_was_active:
            job.commands(["systemctl", "start", "docker"], check=False, timeout=300)
            job.restarted_docker = True
    return "done" + (" (docker stopped and started again)" if job.restarted_docker else "")


def ensure_result(job):
    """Result checked."""
    if not job.config_changed or job.dry_run:
        return "nothing new to check" if not job.dry_run else "skipped (dry run)"
    after = probe_lvm(job.host.root, job.commands)
    found = []
    size = job.request.root_size
    if size:
        if (after.root_lv_size or 0) < _round_up(size.bytes) - EXTENT:
            raise UserError(
                f"docker-storage-setup finished, but the root LV is still "
                f"{format_bytes(after.root_lv_size or 0)} (it ignores lvextend's errors)",
                "see `journalctl -u docker-storage-setup` and `lvs`; fix the cause and run "
                "the command again",
            )
        found.append(f"root LV is {format_bytes(after.root_lv_size)}")
    if job.request.container_lv_size:
        if not after.docker_root_mounted:
            raise UserError(
                f"docker-storage-setup finished, but nothing is mounted on {DOCKER_ROOT}",
                f"see `journalctl -u docker-storage-setup` and `lvs`; the volume is named "
                f"{CONTAINER_LV_NAME}",
            )
        found.append(f"{DOCKER_ROOT} is mounted")
    return "; ".join(found) or "done"


# The checks change nothing; the command asks for confirmation between them and the changes.
CHECKS = [ensure_atomic_host, ensure_request_fits]
CHANGES = [ensure_config_file, ensure_storage_set_up, ensure_result]
STEPS = CHECKS + CHANGES


def _same(existing, wanted):
    return existing.settings == wanted and not existing.unreadable_lines


def _restore_config(job):
    path = job.config_path
    if job.existing is not None:
        envfile.atomic_write(path, job.existing.text, mode=0o644)
    else:
        path.unlink(missing_ok=True)


def shown_path(path, job):
    """The path as the host sees it (without a --root prefix)."""
    try:
        return "/" + str(Path(path).relative_to(job.host.root))
    except ValueError:
        return str(path)
