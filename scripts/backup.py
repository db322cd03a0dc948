#!/usr/bin/env python3
"""Back up or restore edahub's data (both databases, every home volume).

    python3 scripts/backup.py create [--output-dir backups]
    python3 scripts/backup.py restore backups/<timestamp> [--yes]

See scripts/edahub/backup.py and docs/databases.md.
"""

import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

from edahub.selfinstall import ensure_dependencies  # noqa: E402

if __name__ == "__main__":
    ensure_dependencies(SCRIPTS / "requirements.txt", SCRIPTS.parent / ".venv", ("docker", "dotenv", "bcrypt"))

    from edahub.backup import main

    sys.exit(main())
