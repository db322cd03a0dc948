"""prepare-host detect: the kind of host, told from fake host roots (tests/unit/hostroots)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from edahub.console import UserError
from edahub.hostprep.detect import HostKind, describe, detect_host, parse_os_release

ROOT = Path(__file__).resolve().parents[2]
HOSTROOTS = Path(__file__).resolve().parent / "hostroots"


@pytest.mark.parametrize("name, kind, storage_tool", [
    ("centos-atomic-7", HostKind.ATOMIC_HOST, "/usr/bin/docker-storage-setup"),
    ("rhel-atomic-7", HostKind.ATOMIC_HOST, "/usr/bin/container-storage-setup"),
    ("fedora-atomic-29", HostKind.ATOMIC_HOST, None),
    ("fedora-coreos-44", HostKind.FEDORA_COREOS, None),
    ("rhcos-4", HostKind.RPM_OSTREE, None),
    ("fedora-silverblue-42", HostKind.RPM_OSTREE, None),
    ("rhel-9-edge", HostKind.RPM_OSTREE, None),
    ("debian-12", HostKind.NOT_ATOMIC, None),
])
def test_each_kind_of_host_is_told_apart(name, kind, storage_tool):
    host = detect_host(HOSTROOTS / name)
    assert host.kind is kind
    assert host.storage_setup_command == storage_tool
    assert host.is_atomic is (kind is not HostKind.NOT_ATOMIC)


def test_centos_atomic_host_is_recognised_by_ostree_not_by_its_os_release():
    host = detect_host(HOSTROOTS / "centos-atomic-7")
    assert "VARIANT_ID" not in host.os_release
    assert "/run/ostree-booted present" in host.evidence
    assert host.name == "CentOS Linux 7 (Core) Atomic Host"


def test_the_same_os_release_without_ostree_is_plain_centos(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(
        (HOSTROOTS / "centos-atomic-7/usr/lib/os-release").read_text())
    assert detect_host(tmp_path).kind is HostKind.NOT_ATOMIC


def test_an_absolute_os_release_link_is_followed_inside_the_root():
    # fedora-coreos-44/etc/os-release -> /usr/lib/os-release: the fake root's, not this machine's.
    link = HOSTROOTS / "fedora-coreos-44/etc/os-release"
    assert os.readlink(link) == "/usr/lib/os-release"
    host = detect_host(HOSTROOTS / "fedora-coreos-44")
    assert host.os_release["PRETTY_NAME"] == "Fedora CoreOS 44.20260802.3.1"


def test_no_os_release_at_all_is_not_atomic_and_says_so(tmp_path):
    host = detect_host(tmp_path)
    assert host.kind is HostKind.NOT_ATOMIC
    assert "no /etc/os-release or /usr/lib/os-release" in host.evidence


def test_a_missing_root_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="is not a directory") as raised:
        detect_host(tmp_path / "nowhere")
    assert "--root" in raised.value.fix


def test_os_release_quoting_is_read_like_a_shell_does():
    values = parse_os_release('A="x y"\nB=\'q\'\nC=plain\n# comment\nbroken line\nD="unterminated\n')
    assert values == {"A": "x y", "B": "q", "C": "plain", "D": "unterminated"}


@pytest.mark.parametrize("name, advice", [
    ("centos-atomic-7", "prepare-host storage --root-size"),
    ("fedora-coreos-44", "prepare-host fcos-config"),
    ("rhcos-4", "no host preparation for this rpm-ostree host"),
    ("debian-12", "This is not an Atomic host"),
])
def test_the_report_names_the_next_step(name, advice):
    assert advice in describe(detect_host(HOSTROOTS / name))


def test_detect_through_bootstrap_prints_the_report_and_changes_nothing():
    before = sorted(p.relative_to(HOSTROOTS) for p in HOSTROOTS.rglob("*"))
    result = subprocess.run(
        [sys.executable, ROOT / "scripts" / "bootstrap.py", "prepare-host", "detect",
         "--root", HOSTROOTS / "fedora-coreos-44"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert "Kind: fedora-coreos" in result.stdout
    assert "/run/ostree-booted present" in result.stdout
    assert sorted(p.relative_to(HOSTROOTS) for p in HOSTROOTS.rglob("*")) == before
