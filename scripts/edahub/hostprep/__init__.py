"""Host preparation for Atomic hosts: `scripts/bootstrap.py prepare-host ...`.

- ``detect``: which kind of host this is (CentOS/RHEL Atomic Host, Fedora CoreOS, another
  rpm-ostree host, or none), from the host's own files (``detect.py``);
- ``storage``: Docker's storage on an Atomic Host via docker-storage-setup (``atomic.py``);
- ``fcos-config``: the Butane/Ignition config of a new Fedora CoreOS host, and the same
  steps for an existing one (the ``fcos`` package: one model of the host, one renderer
  per output).

See docs/atomic-host.md.
"""

from .cli import main

__all__ = ["main"]
