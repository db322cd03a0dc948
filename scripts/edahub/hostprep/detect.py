"""Which kind of host this is, told from the host's own files.

Everything is read below a root directory (normally ``/``; ``/host`` when the command
runs in a privileged container with the host mounted there), so tests use fake roots.

The kinds, and the files that tell them apart:

- CentOS / RHEL / Fedora **Atomic Host**: ``VARIANT_ID=atomic.host`` in os-release. CentOS
  Atomic Host 7 kept plain CentOS os-release, so an EL7 host (``ID=centos`` or ``rhel``,
  ``VERSION_ID=7...``) booted from OSTree (``/run/ostree-booted``) counts too. These
  hosts prepare Docker's storage with docker-storage-setup.
- **Fedora CoreOS**: ``ID=fedora`` and ``VARIANT_ID=coreos``. Provisioned by Ignition.
- **another rpm-ostree host** (RHEL CoreOS, Fedora IoT, Silverblue, ...): booted from
  OSTree, but none of the above. edahub has no host preparation for these.
- **not atomic**: everything else.
"""

import os
import shlex
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ..console import UserError

OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")
OSTREE_BOOTED = "run/ostree-booted"
STORAGE_SETUP_CONFIG = "etc/sysconfig/docker-storage-setup"
# docker-storage-setup became a wrapper of container-storage-setup; either does the job.
STORAGE_SETUP_COMMANDS = ("usr/bin/docker-storage-setup", "usr/bin/container-storage-setup")


class HostKind(Enum):
    """The kinds of host edahub's host preparation tells apart."""

    ATOMIC_HOST = "atomic-host"
    FEDORA_COREOS = "fedora-coreos"
    RPM_OSTREE = "rpm-ostree"
    NOT_ATOMIC = "not-atomic"


@dataclass(frozen=True)
class Host:
    """What detection found: the kind, a name for people, and the evidence."""

    root: Path
    kind: HostKind
    name: str
    os_release: dict
    evidence: tuple
    storage_setup_command: str | None  # absolute path on the host, if installed

    @property
    def is_atomic(self):
        """True for every rpm-ostree based host (Atomic Host, CoreOS and the rest)."""
        return self.kind is not HostKind.NOT_ATOMIC


def parse_os_release(text):
    """Parse os-release(5) text: KEY=value lines, values shell-quoted."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            words = shlex.split(raw, comments=False, posix=True)
        except ValueError:
            words = [raw.strip("\"'")]
        values[key.strip()] = " ".join(words)
    return values


def read_os_release(root):
    """The host's os-release values, and the file they came from (relative to root)."""
    for relative in OS_RELEASE_PATHS:
        path = resolve_in_root(root, relative)
        try:
            return parse_os_release(path.read_text(encoding="utf-8", errors="replace")), relative
        except FileNotFoundError:
            continue
        except OSError as e:
            raise UserError(
                f"cannot read {path}: {e.strerror}",
                "run the command as root, or point --root at the host's root directory",
            ) from None
    return {}, None


def resolve_in_root(root, relative, max_links=8):
    """``root/relative`` with symlinks followed inside ``root``, as the host sees them.

    /etc/os-release is usually a symlink; an absolute target must not escape into the
    system this command runs on (e.g. a container with the host at /host).
    """
    root = Path(root)
    path = root / relative
    for _ in range(max_links):
        if not path.is_symlink():
            return path
        target = os.readlink(path)
        path = root / target.lstrip("/") if target.startswith("/") else path.parent / target
    return path


def detect_host(root="/"):
    """Detect the kind of host below ``root`` (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root} is not a directory",
                        "give --root the directory where the host's root is mounted")
    os_release, source = read_os_release(root)
    evidence = []
    if source:
        shown = " ".join(f"{k}={os_release[k]}" for k in ("ID", "VARIANT_ID", "VERSION_ID")
                         if os_release.get(k))
        evidence.append(f"/{source}: {shown or '(no ID)'}")
    else:
        evidence.append("no /etc/os-release or /usr/lib/os-release")
    ostree = (root / OSTREE_BOOTED).exists()
    evidence.append(f"/{OSTREE_BOOTED} {'present' if ostree else 'absent'}")
    command = next((c for c in STORAGE_SETUP_COMMANDS if (root / c).is_file()), None)
    if command:
        evidence.append(f"/{command} present")
    if (root / STORAGE_SETUP_CONFIG).is_file():
        evidence.append(f"/{STORAGE_SETUP_CONFIG} present")

    os_id = os_release.get("ID", "")
    variant = os_release.get("VARIANT_ID", "")
    pretty = os_release.get("PRETTY_NAME") or os_release.get("NAME") or "unknown OS"
    if os_id == "fedora" and variant == "coreos":
        kind, name = HostKind.FEDORA_COREOS, pretty
    elif variant == "coreos":
        kind, name = HostKind.RPM_OSTREE, f"{pretty} (a CoreOS, but not Fedora CoreOS)"
    elif variant == "atomic.host":
        kind, name = HostKind.ATOMIC_HOST, pretty
    elif ostree and os_id in ("centos", "rhel") and os_release.get("VERSION_ID", "").startswith("7"):
        # CentOS Atomic Host 7 ships CentOS Linux's os-release; only OSTree tells it apart.
        kind, name = HostKind.ATOMIC_HOST, f"{pretty} Atomic Host"
    elif ostree:
        kind, name = HostKind.RPM_OSTREE, pretty
    else:
        kind, name = HostKind.NOT_ATOMIC, pretty
    return Host(
        root=root, kind=kind, name=name, os_release=os_release, evidence=tuple(evidence),
        storage_setup_command=f"/{command}" if command else None,
    )


NEXT_STEPS = {
    HostKind.ATOMIC_HOST: (
        "Give Docker's storage room with `prepare-host storage --root-size SIZE` "
        "(add --dry-run to see the plan), then run bootstrap."
    ),
    HostKind.FEDORA_COREOS: (
        "Fedora CoreOS is set up by Ignition: on your workstation run `prepare-host "
        "fcos-config` and boot a new host with the result, or follow the steps it writes "
        "for an existing host (existing-host.md)."
    ),
    HostKind.RPM_OSTREE: (
        "edahub has no host preparation for this rpm-ostree host. Install Docker and "
        "Compose v2 by its own means, then run bootstrap as on any Docker host."
    ),
    HostKind.NOT_ATOMIC: (
        "This is not an Atomic host: it needs no host preparation. Install Docker and "
        "Compose v2, then run bootstrap."
    ),
}


def describe(host):
    """A short report of ``host`` for the console."""
    lines = [f"Host: {host.name}", f"Kind: {host.kind.value}", "Evidence:"]
    lines += [f"  - {item}" for item in host.evidence]
    lines.append("Next: " + NEXT_STEPS[host.kind])
    return "\n".join(lines)
