#!/usr/bin/env python3
"""Build a Debian base image locally from Debian packages, for hosts with no registry access.

edahub's Dockerfiles start ``FROM debian:trixie-slim``. On a normal host Docker pulls
that image. Where no container registry is reachable (an air-gapped lab, a CI machine
that only reaches package mirrors) this script makes an equivalent image with
``debootstrap --variant=minbase`` and ``docker import``, tagged with the same name, so
the Dockerfiles build unchanged.

It is optional and explicit: it never runs on its own, refuses to replace an image that
already exists unless ``--force`` is given, and labels what it makes as a local build.

Usage: python3 scripts/build_base_image.py [--suite trixie] [--tag debian:trixie-slim]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from edahub.base_image import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
