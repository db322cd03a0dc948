#!/usr/bin/env python3
"""Regenerate .env.example and docs/settings.md from scripts/edahub_core/settings.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from edahub.settings_docs import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
