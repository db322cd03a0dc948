"""The one model of a Fedora CoreOS host's configuration, and the checks that build it.

``HostChoices`` is what the operator asked for on the command line; ``HostConfig`` is
everything the host gets, built once from those choices, the edahub checkout and the
operator's .env. The renderers (``units``, ``butane``, ``ignition``, ``existing_host``,
``output``) only read a ``HostConfig``; none of them looks at options or files.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from ...console import UserError
from ..atomic import parse_size
from .layout import BOOT_DISK, DEFAULT_ROOT_SIZE, LAYERED_PACKAGES, MIN_ROOT_MIB, STORAGE_LABEL

_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
              "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
              "sk-ecdsa-sha2-nistp256@openssh.com")


class FileContent(NamedTuple):
    """A file's bytes and its mode (0644, 0755 or 0600)."""

    data: bytes
    mode: int


class Partition(NamedTuple):
    """A GPT partition for Ignition to create (or reuse); None leaves a field out."""

    number: int | None
    label: str
    start_mib: int | None = None
    size_mib: int | None = None  # 0: the rest of the disk
    resize: bool | None = None


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

    def partitions(self):
        """The partitions of ``device`` (the table is never wiped)."""
        if self.on_boot_disk:
            # As Fedora CoreOS documents: fix the root (partition 4) to a size, Docker after it.
            return (Partition(4, "root", size_mib=self.root_size_mib, resize=True),
                    Partition(None, STORAGE_LABEL, size_mib=0))
        # Kept (not wiped) when re-provisioned: Ignition reuses a matching partition.
        return (Partition(1, STORAGE_LABEL, start_mib=0, size_mib=0),)


@dataclass(frozen=True)
class HostChoices:
    """What the operator chose: who may log in, where Docker's data goes, which .env.

    ``storage`` None keeps Docker's data on the root filesystem. ``env_file`` is the
    operator's .env to embed; without it fcos-config generates one (or keeps the one of
    an earlier run). ``embed_env`` False (--without-env) embeds none.
    """

    ssh_keys: tuple
    storage: Storage | None
    embed_env: bool = True
    env_file: Path | None = None


@dataclass(frozen=True)
class HostConfig:
    """Everything a Fedora CoreOS host gets from edahub.

    ``env`` is the .env embedded in the Ignition config (None: the operator places it);
    ``deployment`` the files of /var/srv/edahub by their path there, sorted.
    """

    ssh_keys: tuple
    storage: Storage | None
    env: bytes | None
    deployment: Mapping[str, FileContent]
    layered_packages: tuple = LAYERED_PACKAGES


def build_host_config(choices, deployment, env):
    """The ``HostConfig`` for ``choices``, the checkout's ``deployment`` files and ``env``."""
    if choices.embed_env != (env is not None):
        raise ValueError("the .env must be given exactly when it is to be embedded")
    return HostConfig(ssh_keys=tuple(choices.ssh_keys), storage=choices.storage, env=env,
                      deployment=MappingProxyType(dict(sorted(deployment.items()))))


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
