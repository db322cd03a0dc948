"""Make a Debian base image from Debian packages (debootstrap + docker import).

This is the optional workaround for hosts that cannot pull from a container registry;
see scripts/build_base_image.py.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .console import UserError, format_duration, run

DEFAULT_SUITE = "trixie"


def image_exists(tag):
    """Return True when the local Docker engine has an image called ``tag``."""
    result = subprocess.run(["docker", "image", "inspect", tag], capture_output=True)
    return result.returncode == 0


def build_base_image(suite, tag, mirror=None):
    """debootstrap a minimal ``suite`` into a temporary folder and import it as ``tag``."""
    if shutil.which("debootstrap") is None:
        raise UserError(
            "debootstrap is not installed",
            "install it (Debian/Ubuntu: apt-get install debootstrap) or pull the image instead",
        )
    with tempfile.TemporaryDirectory(prefix="edahub-rootfs-") as rootfs:
        cmd = ["debootstrap", "--variant=minbase", suite, rootfs]
        if mirror:
            cmd.append(mirror)
        run(cmd, timeout=1800)
        # Keep the image small, like the official -slim images.
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            path = Path(rootfs, leftover)
            for child in path.glob("*"):
                if child.is_file():
                    child.unlink()
        import_rootfs(rootfs, tag, suite)


def import_rootfs(rootfs, tag, suite):
    """Stream ``rootfs`` as a tar archive into ``docker import``, labelled as a local build."""
    label = (
        f'LABEL org.opencontainers.image.description="Debian {suite} minbase, built locally '
        'by edahub scripts/build_base_image.py (not the official image)"'
    )
    tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
    result = subprocess.run(
        ["docker", "import", "--change", 'CMD ["bash"]', "--change", label, "-", tag],
        stdin=tar.stdout,
        capture_output=True,
        text=True,
    )
    tar.stdout.close()
    if tar.wait() != 0 or result.returncode != 0:
        raise UserError(f"docker import of {tag} failed: {result.stderr.strip()}")


def main(argv=None):
    """Command-line entry point of scripts/build_base_image.py."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--suite", default=DEFAULT_SUITE, help="Debian suite (default: trixie)")
    parser.add_argument("--tag", help="image tag (default: debian:<suite>-slim)")
    parser.add_argument("--mirror", help="Debian mirror URL (default: debootstrap's)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    args = parser.parse_args(argv)
    tag = args.tag or f"debian:{args.suite}-slim"
    try:
        if image_exists(tag) and not args.force:
            print(f"{tag} already exists; nothing to do (use --force to rebuild)")
            return 0
        started = time.monotonic()
        print(f"Building {tag} from Debian packages (debootstrap {args.suite}) ...", flush=True)
        build_base_image(args.suite, tag, args.mirror)
        print(f"Built {tag} in {format_duration(time.monotonic() - started)}")
        return 0
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
