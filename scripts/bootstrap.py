#!/usr/bin/env python3
"""First-run setup of edahub: `python3 scripts/bootstrap.py` (see --help).

A thin entry point over the edahub package beside it. When its Python dependencies are
missing it installs them into .venv next to compose.yaml and runs itself from there, so
a fresh host needs only Python 3 and Docker.
"""

import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

from edahub.selfinstall import ensure_dependencies  # noqa: E402

if __name__ == "__main__":
    ensure_dependencies(SCRIPTS / "requirements.txt", SCRIPTS.parent / ".venv", ("docker", "dotenv", "bcrypt"))

    from edahub.cli import main

    sys.exit(main())
