"""Run a script from a private virtual environment holding its pinned dependencies.

Standard library only: this runs before any dependency exists.
"""

import importlib.util
import os
import subprocess
import sys
import venv


def ensure_dependencies(requirements, venv_dir, modules):
    """Return if ``modules`` import; otherwise install ``requirements`` into ``venv_dir``
    (creating it) and re-run the current command with that environment's Python."""
    if all(importlib.util.find_spec(name) for name in modules):
        return
    python = venv_dir / "bin" / "python"
    if os.environ.get("EDAHUB_SELFINSTALL_DONE"):
        sys.exit(f"error: {', '.join(modules)} still missing in {venv_dir} after installing; "
                 f"remove {venv_dir} and try again")
    print(f"Installing Python dependencies into {venv_dir} (once) ...", flush=True)
    if not python.exists():
        try:
            venv.create(venv_dir, with_pip=True)
        except Exception as e:
            sys.exit(f"error: cannot create a virtual environment in {venv_dir}: {e}\n"
                     "  How to fix: install Python's venv module (Debian/Ubuntu: apt-get "
                     "install python3-venv; Fedora: it is part of python3)")
    result = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", requirements],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        sys.exit(f"error: installing {requirements} failed:\n{result.stdout[-2000:]}"
                 f"{result.stderr[-2000:]}\n  How to fix: check this host's access to PyPI "
                 "(behind a proxy, set PIP_CERT / PIP_INDEX_URL) and try again")
    env = dict(os.environ, EDAHUB_SELFINSTALL_DONE="1")
    os.execve(python, [str(python), *sys.argv], env)
