"""The deployment: the parts of the edahub checkout that the host needs in /var/srv/edahub."""

import os
from pathlib import Path

from ...console import UserError
from .hostconfig import FileContent

# compose.yaml, its build contexts and bind mounts, and the operator's commands:
# backup.py for the backup timer, bootstrap.py for status, stop and upgrade on the host
# (tests/unit/test_hostprep_fcos.py checks this against compose.yaml and runs both).
DEPLOYMENT_PATHS = ("compose.yaml", ".dockerignore", "hub", "singleuser", "mariadb", "mongodb",
                    "scripts/edahub", "scripts/edahub_core", "scripts/backup.py",
                    "scripts/bootstrap.py", "scripts/requirements.txt")
# Host preparation runs on the workstation; the host (and the hub image) never use it.
DEPLOYMENT_EXCLUDED = ("scripts/edahub/hostprep",)
_SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo", ".log", ".swp")


def deployment_files(source_root):
    """The deployment's files below ``source_root``: {relative path: FileContent}, sorted.

    Modes are 0755 for files executable here and 0644 otherwise, as Butane gives files
    of a tree.
    """
    source_root = Path(source_root)
    found = {}
    for entry in DEPLOYMENT_PATHS:
        path = source_root / entry
        if path.is_file():
            found[entry] = _content_and_mode(path)
            continue
        if not path.is_dir():
            raise UserError(f"{path} is missing; the edahub checkout looks incomplete",
                            "run the command from a complete edahub checkout")
        for directory, dirnames, filenames in os.walk(path):
            here = Path(directory).relative_to(source_root)
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS
                                 and (here / d).as_posix() not in DEPLOYMENT_EXCLUDED)
            for name in sorted(filenames):
                # .env files hold secrets: only the one fcos-config chose is embedded.
                if name.endswith(_SKIPPED_SUFFIXES) or name.startswith(".env"):
                    continue
                file = Path(directory) / name
                if file.is_file() and not file.is_symlink():
                    found[file.relative_to(source_root).as_posix()] = _content_and_mode(file)
    return dict(sorted(found.items()))


def _content_and_mode(path):
    return FileContent(path.read_bytes(), 0o755 if path.stat().st_mode & 0o111 else 0o644)
