"""prepare-host storage on a fake CentOS Atomic Host: plan, fit checks, idempotence, refusals.

Nothing here runs LVM: ``FakeAtomicHost`` answers lvs/vgs/pvs/lsblk/systemctl the way
the real tools print, and applies /etc/sysconfig/docker-storage-setup when
docker-storage-setup "runs", so a run can be checked end to end.
"""

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from edahub.console import UserError
from edahub.hostprep import atomic
from edahub.hostprep import main as prepare_host

HOSTROOTS = Path(__file__).resolve().parent / "hostroots"
GiB = 2**30
MiB = 2**20
CONFIG = "etc/sysconfig/docker-storage-setup"


class FakeAtomicHost:
    """LVM on one Atomic Host: a root LV in a volume group, free space, spare disks."""

    def __init__(self, root, root_lv=3 * GiB, vg_free=17 * GiB, disks=None, vgs=None):
        self.root = Path(root)
        self.root_vg = "atomicos"
        self.root_lv = root_lv
        self.vgs = {self.root_vg: vg_free, **(vgs or {})}
        self.pvs = {"/dev/vda2": self.root_vg}
        self.disks = {name: dict(size=size, fstype="", children=[]) for name, size in (disks or {}).items()}
        self.calls = []
        self.setup_exit = 0  # docker-storage-setup's exit status
        self.lvextend_works = True  # False: it fails, and docker-storage-setup ignores that
        self.docker_active = True
        self.as_root = True

    # What commands were run, without the chroot prefix.
    def ran(self, name):
        return [c for c in self.calls if c[0] == name]

    def __call__(self, cmd, check=True, timeout=None, **kwargs):
        assert cmd[:2] == ["chroot", str(self.root)], cmd
        cmd = [str(c) for c in cmd[2:]]
        self.calls.append(cmd)
        rc, out = getattr(self, "_" + cmd[0].rsplit("/", 1)[-1].replace("-", "_"))(cmd)
        if check and rc != 0:
            raise UserError(f"command failed (exit {rc}): {shlex.join(cmd)}\n{out}")
        return subprocess.CompletedProcess(cmd, rc, stdout=out)

    def _lvs(self, cmd):
        if cmd[-1] != "/dev/mapper/atomicos-root":
            return 5, f'  Failed to find logical volume "{cmd[-1]}"\n'
        return 0, f"  {self.root_vg}:{self.root_lv}\n"

    def _vgs(self, cmd):
        if not self.as_root:
            return 5, "  WARNING: Running as a non-root user. Functionality may be unavailable.\n" \
                      "  /run/lock/lvm/P_global:aux: open failed: Permission denied\n"
        return 0, "".join(f"  {vg}:{free}\n" for vg, free in self.vgs.items())

    def _pvs(self, cmd):
        return 0, "".join(f"  {pv}:{vg}\n" for pv, vg in self.pvs.items())

    def _lsblk(self, cmd):
        disk = self.disks.get(cmd[-1])
        if disk is None:
            return 32, f"lsblk: {cmd[-1]}: not a block device\n"
        name = cmd[-1].rsplit("/", 1)[-1]
        lines = [f'NAME="{name}" SIZE="{disk["size"]}" TYPE="disk" FSTYPE="{disk["fstype"]}" MOUNTPOINT=""']
        lines += [f'NAME="{c}" SIZE="{disk["size"] - MiB}" TYPE="part" FSTYPE="LVM2_member" MOUNTPOINT=""'
                  for c in disk["children"]]
        return 0, "\n".join(lines) + "\n"

    def _systemctl(self, cmd):
        if cmd[1] == "is-active":
            return (0 if self.docker_active else 3), ""
        self.docker_active = cmd[1] == "start"
        return 0, ""

    def _docker_storage_setup(self, cmd):
        if self.setup_exit:
            return self.setup_exit, "ERROR: something went wrong\n"
        settings = atomic.parse_config((self.root / CONFIG).read_text()).settings
        vg = settings.get("VG") or self.root_vg
        for dev in settings.get("DEVS", "").split():
            disk = self.disks[dev]
            if not disk["children"]:
                disk["children"] = [dev.rsplit("/", 1)[-1] + "1"]
                self.pvs[dev + "1"] = vg
                self.vgs[vg] = self.vgs.get(vg, 0) + disk["size"] - 4 * MiB
        if "ROOT_SIZE" in settings:  # lvextend -r -L ROOT_SIZE ... || true
            grow = atomic.parse_size(settings["ROOT_SIZE"], "ROOT_SIZE").bytes - self.root_lv
            if self.lvextend_works and 0 < grow <= self.vgs[self.root_vg]:
                self.root_lv += grow
                self.vgs[self.root_vg] -= grow
        if "CONTAINER_ROOT_LV_SIZE" in settings:
            size = atomic.parse_size(settings["CONTAINER_ROOT_LV_SIZE"], "CONTAINER_ROOT_LV_SIZE")
            take = (int(self.vgs[vg] * size.percent_free / 100) if size.percent_free is not None
                    else size.bytes)
            self.vgs[vg] -= take
            with open(self.root / "proc/1/mounts", "a") as mounts:
                mounts.write(f"/dev/mapper/{vg}-docker--root--lv /var/lib/docker xfs rw 0 0\n")
        (self.root / "etc/sysconfig/docker-storage").write_text(
            'DOCKER_STORAGE_OPTIONS="--storage-driver overlay2"\n')
        return 0, "INFO: done\n"


@pytest.fixture
def root(tmp_path):
    """A writable copy of the fake CentOS Atomic Host 7."""
    copy = tmp_path / "host"
    shutil.copytree(HOSTROOTS / "centos-atomic-7", copy, symlinks=True)
    return copy


def storage(root, fake, *args, capsys=None):
    """Run `prepare-host storage` against the fake host; return (exit code, out, err)."""
    code = prepare_host(["storage", "--root", str(root), "--yes", "--log-file",
                         str(root.parent / "prepare-host.log"), *args], runner=fake)
    if capsys is None:
        return code, "", ""
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- sizes -------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("20G", atomic.Size("20G", bytes=20 * GiB)),
    ("20g", atomic.Size("20g", bytes=20 * GiB)),
    ("512", atomic.Size("512", bytes=512 * MiB)),
    ("1.5T", atomic.Size("1.5T", bytes=int(1.5 * 2**40))),
    ("+10G", atomic.Size("+10G", grow=True, bytes=10 * GiB)),
    ("60%FREE", atomic.Size("60%FREE", percent_free=60)),
    ("+100%FREE", atomic.Size("+100%FREE", grow=True, percent_free=100)),
])
def test_sizes_are_read_as_lvm_reads_them(text, expected):
    assert atomic.parse_size(text, "--root-size") == expected


@pytest.mark.parametrize("text", ["", "20 G", "20GB", "-5G", "0", "150%FREE", "0%FREE", "50%VG", "big"])
def test_malformed_sizes_are_refused_with_examples(text):
    with pytest.raises(UserError) as raised:
        atomic.parse_size(text, "--root-size")
    assert "--root-size" in str(raised.value)


# --- a run -------------------------------------------------------------------------


def test_dry_run_shows_the_plan_and_changes_nothing(root, capsys):
    fake = FakeAtomicHost(root)
    before = (root / CONFIG).read_text()
    code, out, err = storage(root, fake, "--root-size", "20G", "--dry-run", capsys=capsys)
    assert code == 0, err
    assert "[2/5] Sizes checked against the volume group ... root LV 3.0 GiB -> 20.0 GiB" in out
    assert "would write it (dry run)" in out
    assert "would run `/usr/bin/docker-storage-setup` (dry run)" in out
    assert "ROOT_SIZE=20G" in out  # the file it would write
    assert (root / CONFIG).read_text() == before
    assert {c[0] for c in fake.calls} <= {"lvs", "vgs", "pvs"}  # read-only probes only


def test_a_run_writes_the_file_runs_the_tool_once_and_checks_the_result(root, capsys):
    fake = FakeAtomicHost(root)
    code, out, err = storage(root, fake, "--root-size", "20G", capsys=capsys)
    assert code == 0, err
    text = (root / CONFIG).read_text()
    assert text.startswith(atomic.CONFIG_MARKER)
    assert atomic.parse_config(text).settings == {"STORAGE_DRIVER": "overlay2", "ROOT_SIZE": "20G"}
    assert len(fake.ran("/usr/bin/docker-storage-setup")) == 1
    assert fake.root_lv == 20 * GiB
    assert "[5/5] Result checked ... root LV is 20.0 GiB" in out
    # The distribution's stock file only set what edahub sets too: taken over, kept aside.
    backup = root / (CONFIG + atomic.BACKUP_SUFFIX)
    assert "man docker-storage-setup" in backup.read_text()
    assert (root / CONFIG).stat().st_mode & 0o777 == 0o644


def test_running_again_with_the_same_options_changes_nothing(root, capsys):
    fake = FakeAtomicHost(root)
    assert storage(root, fake, "--root-size", "20G")[0] == 0
    written = (root / CONFIG).stat().st_mtime_ns
    fake.calls.clear()
    code, out, err = storage(root, fake, "--root-size", "20G", capsys=capsys)
    assert code == 0, err
    assert "already says the same; unchanged" in out
    assert "skipped: the configuration did not change" in out
    assert fake.ran("/usr/bin/docker-storage-setup") == []
    assert (root / CONFIG).stat().st_mtime_ns == written


def test_other_options_rewrite_our_own_file_and_run_again(root):
    fake = FakeAtomicHost(root)
    assert storage(root, fake, "--root-size", "10G")[0] == 0
    assert storage(root, fake, "--root-size", "15G")[0] == 0
    assert "ROOT_SIZE=15G" in (root / CONFIG).read_text()
    assert len(fake.ran("/usr/bin/docker-storage-setup")) == 2
    assert fake.root_lv == 15 * GiB


def test_an_added_disk_extends_the_root_volume_group(root):
    fake = FakeAtomicHost(root, vg_free=1 * GiB, disks={"/dev/vdb": 50 * GiB})
    assert storage(root, fake, "--root-size", "40G", "--devs", "/dev/vdb")[0] == 0
    assert 'DEVS=/dev/vdb' in (root / CONFIG).read_text()
    assert fake.root_lv == 40 * GiB
    # Re-run: the disk is now a PV of the group; that is fine and adds no space twice.
    assert storage(root, fake, "--root-size", "40G", "--devs", "/dev/vdb")[0] == 0


def test_a_container_volume_of_its_own_is_created_and_docker_restarted(root, capsys):
    fake = FakeAtomicHost(root, disks={"/dev/vdb": 100 * GiB})
    code, out, err = storage(root, fake, "--root-size", "10G", "--devs", "/dev/vdb",
                             "--vg", "docker", "--container-lv-size", "60%FREE", capsys=capsys)
    assert code == 0, err
    settings = atomic.parse_config((root / CONFIG).read_text()).settings
    assert settings["CONTAINER_ROOT_LV_MOUNT_PATH"] == "/var/lib/docker"
    assert settings["VG"] == "docker"
    assert [c[1] for c in fake.ran("systemctl")] == ["is-active", "stop", "start"]
    assert "/var/lib/docker is mounted" in out


def test_a_volume_group_filled_by_an_earlier_run_does_not_fail_the_same_run_again(root, capsys):
    fake = FakeAtomicHost(root)
    args = ("--root-size", "10G", "--container-lv-size", "100%FREE")
    assert storage(root, fake, *args)[0] == 0
    assert fake.vgs["atomicos"] == 0
    code, out, err = storage(root, fake, *args, capsys=capsys)
    assert code == 0, err
    assert "asks for this already; nothing new to check" in out


def test_commands_run_in_chroot_when_the_host_root_is_mounted_elsewhere(root):
    fake = FakeAtomicHost(root)
    storage(root, fake, "--root-size", "20G")
    assert fake.calls  # FakeAtomicHost asserts the chroot prefix on every call


# --- refusals ----------------------------------------------------------------------


def refused(root, fake, capsys, *args):
    before = (root / CONFIG).read_text()
    code, out, err = storage(root, fake, *args, capsys=capsys)
    assert code == 1
    assert "Traceback" not in err
    assert "How to fix:" in err
    assert (root / CONFIG).read_text() == before
    assert fake.ran("/usr/bin/docker-storage-setup") == []
    return re.sub(r"\s+", " ", err)


def test_a_size_that_does_not_fit_is_refused_with_the_numbers(root, capsys):
    err = refused(root, FakeAtomicHost(root, vg_free=17 * GiB), capsys, "--root-size", "50G")
    assert "ROOT_SIZE=50G does not fit: the root LV is 3.0 GiB and would need 47.0 GiB more" in err
    assert "volume group atomicos has only 17.0 GiB free" in err
    assert "at most 20G" in err


@pytest.mark.parametrize("size, why", [
    ("+10G", "'+' would grow the root again at each boot"),
    ("60%FREE", "a share of the free space would mean another size at each boot"),
])
def test_root_sizes_that_change_from_boot_to_boot_are_refused(root, capsys, size, why):
    err = refused(root, FakeAtomicHost(root), capsys, "--root-size", size)
    assert f"ROOT_SIZE={size}: docker-storage-setup applies ROOT_SIZE at every boot, so {why}" in err
    assert "--root-size 20G (the most that fits now)" in err


def test_shrinking_the_root_is_refused(root, capsys):
    err = refused(root, FakeAtomicHost(root, root_lv=30 * GiB), capsys, "--root-size", "20G")
    assert "smaller than the root LV already is (30.0 GiB)" in err


def test_a_disk_that_holds_data_is_refused(root, capsys):
    fake = FakeAtomicHost(root, disks={"/dev/vdb": 50 * GiB})
    fake.disks["/dev/vdb"]["fstype"] = "ext4"
    err = refused(root, fake, capsys, "--root-size", "40G", "--devs", "/dev/vdb")
    assert "/dev/vdb holds a ext4 signature" in err


def test_a_missing_disk_is_refused(root, capsys):
    err = refused(root, FakeAtomicHost(root), capsys, "--root-size", "10G", "--devs", "/dev/vdz")
    assert "/dev/vdz not found" in err


def test_a_new_volume_group_needs_disks(root, capsys):
    err = refused(root, FakeAtomicHost(root), capsys, "--root-size", "10G", "--vg", "docker",
                  "--container-lv-size", "10G")
    assert "volume group docker does not exist, and no --devs were given" in err


def test_a_separate_volume_group_without_a_container_volume_is_refused(root, capsys):
    fake = FakeAtomicHost(root, disks={"/dev/vdb": 50 * GiB})
    err = refused(root, fake, capsys, "--root-size", "10G", "--devs", "/dev/vdb", "--vg", "docker")
    assert "space added to volume group docker would not reach it" in err


def test_a_container_volume_that_does_not_fit_after_the_root_grows_is_refused(root, capsys):
    err = refused(root, FakeAtomicHost(root, vg_free=17 * GiB), capsys, "--root-size", "10G",
                  "--container-lv-size", "12G")
    assert ("--container-lv-size 12G does not fit: volume group atomicos has 10.0 GiB free after "
            "the root LV grows") in err


def test_a_container_volume_over_existing_docker_data_is_refused(root, capsys):
    (root / "var/lib/docker/image/overlay2/imagedb/content/sha256").mkdir(parents=True)
    (root / "var/lib/docker/image/overlay2/imagedb/content/sha256/0123abcd").write_text("{}")
    err = refused(root, FakeAtomicHost(root), capsys, "--container-lv-size", "5G")
    assert "/var/lib/docker already holds Docker's data" in err


def test_the_empty_folders_of_an_engine_that_ran_once_are_not_data(root):
    docker = root / "var/lib/docker"
    for folder in ("containers", "image/overlay2/imagedb/content/sha256", "network/files",
                   "overlay2", "volumes"):
        (docker / folder).mkdir(parents=True)
    (docker / "volumes/metadata.db").write_bytes(b"")
    assert not atomic.docker_has_data(docker)
    assert storage(root, FakeAtomicHost(root), "--container-lv-size", "5G")[0] == 0
    (docker / "containers/4f1e").mkdir()
    assert atomic.docker_has_data(docker)


def test_switching_from_devicemapper_with_data_is_refused(root, capsys):
    (root / "etc/sysconfig/docker-storage").write_text(
        'DOCKER_STORAGE_OPTIONS="--storage-driver devicemapper --storage-opt dm.fs=xfs"\n')
    (root / "var/lib/docker/volumes/edahub_hub-data").mkdir(parents=True)
    err = refused(root, FakeAtomicHost(root), capsys, "--root-size", "10G")
    assert "Docker is set up with the devicemapper storage driver and has data" in err


def test_nothing_asked_is_refused(root, capsys):
    err = refused(root, FakeAtomicHost(root), capsys)
    assert "neither --root-size nor --container-lv-size" in err


def test_lvm_that_cannot_be_read_is_reported_not_guessed(root, capsys):
    fake = FakeAtomicHost(root)
    fake.as_root = False
    err = refused(root, fake, capsys, "--root-size", "10G")
    assert "cannot read the volume groups (`vgs` failed): WARNING: Running as a non-root user" in err
    assert "run the command as root" in err


def test_a_root_not_on_lvm_is_refused(root, capsys):
    mounts = root / "proc/1/mounts"
    mounts.write_text(mounts.read_text().replace("/dev/mapper/atomicos-root / ", "/dev/vda3 / "))
    err = refused(root, FakeAtomicHost(root), capsys, "--root-size", "10G")
    assert "is not on an LVM logical volume" in err


def test_a_file_edahub_did_not_write_is_kept_unless_forced(root, capsys):
    (root / CONFIG).write_text("STORAGE_DRIVER=overlay2\nDATA_SIZE=40%FREE\n")
    err = refused(root, FakeAtomicHost(root), capsys, "--root-size", "10G")
    assert "was not written by edahub and sets something else: DATA_SIZE=40%FREE" in err
    fake = FakeAtomicHost(root)
    code, out, _ = storage(root, fake, "--root-size", "10G", "--force", capsys=capsys)
    assert code == 0
    backup = root / (CONFIG + atomic.BACKUP_SUFFIX)
    assert backup.read_text() == "STORAGE_DRIVER=overlay2\nDATA_SIZE=40%FREE\n"
    assert "previous file kept as docker-storage-setup.before-edahub" in out


@pytest.mark.parametrize("name, what", [
    ("fedora-coreos-44", "this is Fedora CoreOS"),
    ("debian-12", "this is not an Atomic host"),
    ("rhcos-4", "not a CentOS/RHEL Atomic Host"),
])
def test_other_hosts_are_refused(tmp_path, capsys, name, what):
    host = tmp_path / name
    shutil.copytree(HOSTROOTS / name, host, symlinks=True)
    fake = FakeAtomicHost(host)
    code, out, err = storage(host, fake, "--root-size", "10G", capsys=capsys)
    assert code == 1
    assert what in err and "How to fix:" in err
    assert fake.calls == []


def test_force_on_a_host_without_docker_storage_setup_still_stops(tmp_path, capsys):
    host = tmp_path / "debian"
    shutil.copytree(HOSTROOTS / "debian-12", host)
    code, out, err = storage(host, FakeAtomicHost(host), "--root-size", "10G", "--force",
                             capsys=capsys)
    assert code == 1
    assert "is not an Atomic Host; going on because of --force" in err
    assert "docker-storage-setup is not installed on this host" in err


def test_a_failing_docker_storage_setup_puts_the_old_file_back(root, capsys):
    fake = FakeAtomicHost(root)
    fake.setup_exit = 1
    before = (root / CONFIG).read_text()
    code, out, err = storage(root, fake, "--root-size", "10G", capsys=capsys)
    assert code == 1
    assert "docker-storage-setup failed; /etc/sysconfig/docker-storage-setup is back as it was" in err
    assert "ERROR: something went wrong" in err
    assert (root / CONFIG).read_text() == before
    # A second try runs it again (the file did not stay "the same").
    fake.setup_exit = 0
    assert storage(root, fake, "--root-size", "10G")[0] == 0
    assert fake.root_lv == 10 * GiB


def test_a_silently_failed_lvextend_is_caught_by_the_result_check(root, capsys):
    fake = FakeAtomicHost(root)
    fake.lvextend_works = False
    code, out, err = storage(root, fake, "--root-size", "10G", capsys=capsys)
    assert code == 1
    assert "but the root LV is still 3.0 GiB (it ignores lvextend's errors)" in err


def test_bad_device_and_group_names_are_refused_before_anything_runs(root, capsys):
    fake = FakeAtomicHost(root)
    code, _, err = storage(root, fake, "--root-size", "10G", "--devs", "/dev/vdb;rm", capsys=capsys)
    assert code == 1 and "is not a device name" in err
    code, _, err = storage(root, fake, "--root-size", "10G", "--vg", "my vg", capsys=capsys)
    assert code == 1 and "is not a volume group name" in err
    assert fake.calls == []


def test_the_written_file_reads_back_as_shell_assignments(root):
    fake = FakeAtomicHost(root, disks={"/dev/vdb": 50 * GiB, "/dev/vdc": 50 * GiB})
    assert storage(root, fake, "--root-size", "40G", "--devs", "/dev/vdb", "/dev/vdc")[0] == 0
    script = f"set -e; . {root / CONFIG}; printf '%s|%s|%s' \"$STORAGE_DRIVER\" \"$ROOT_SIZE\" \"$DEVS\""
    shell = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert shell.stdout == "overlay2|40G|/dev/vdb /dev/vdc"


def test_without_yes_it_asks_after_the_checks_and_no_changes_nothing(root, capsys, monkeypatch):
    class Terminal:
        def isatty(self):
            return True

    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "n")
    fake = FakeAtomicHost(root)
    before = (root / CONFIG).read_text()
    code = prepare_host(["storage", "--root", str(root), "--root-size", "20G", "--log-file",
                         str(root.parent / "log")], runner=fake, stdin=Terminal())
    out = capsys.readouterr().out
    assert code == 1
    assert asked == ["Change Docker's storage on CentOS Linux 7 (Core) Atomic Host as above? [y/N] "]
    assert "[2/5] Sizes checked against the volume group ... root LV 3.0 GiB -> 20.0 GiB" in out
    assert "[3/5]" not in out and "Nothing changed." in out
    assert (root / CONFIG).read_text() == before and fake.ran("/usr/bin/docker-storage-setup") == []
