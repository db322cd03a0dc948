#!/usr/bin/env python3
"""Run edahub's test suite: `python3 scripts/run_tests.py [pytest arguments]`.

Installs the pinned test dependencies into .venv (once; quick afterwards) and runs
pytest from there. The integration tests need a running Docker engine with Compose v2;
see README.md.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"


def main():
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"Creating {VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    print("Installing test dependencies (pinned in pyproject.toml) ...", flush=True)
    result = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-e", f"{ROOT}[test]"],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:], file=sys.stderr)
        print("error: installing the test dependencies failed", file=sys.stderr)
        return 1
    return subprocess.call([python, "-m", "pytest", *sys.argv[1:]], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
