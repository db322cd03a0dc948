"""singleuser/edahub-singleuser: jupyterhub-singleuser without the hub's own modules.

Here with the hub's packages (the test environment has no Jupyter server); the real
image's server is checked by tests/integration/test_kernels.py.
"""

import json
import subprocess
import sys
from pathlib import Path

LAUNCHER = Path(__file__).resolve().parents[2] / "singleuser" / "edahub-singleuser"
# What jupyterhub.singleuser imports of JupyterHub's that does not need a Jupyter server.
SERVER_SIDE = ["jupyterhub.log", "jupyterhub.metrics", "jupyterhub.services.auth",
               "jupyterhub.utils", "jupyterhub.httpclient", "jupyterhub.scopes"]
HUB_ONLY = ["alembic", "jupyterhub.handlers.base", "jupyterhub.handlers.login"]


def loaded_after(*, launcher):
    """The hub-only modules loaded after importing SERVER_SIDE, in a fresh interpreter."""
    code = (
        "import importlib, json, runpy, sys\n"
        + (f"runpy.run_path({str(LAUNCHER)!r})['keep_hub_modules_out']()\n" if launcher else "")
        + f"for name in {SERVER_SIDE!r}: importlib.import_module(name)\n"
        f"print(json.dumps([name for name in {HUB_ONLY!r} if name in sys.modules]))\n"
        "print(type(sys.modules['jupyterhub.orm']).__name__)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    modules, orm_type = result.stdout.splitlines()
    return json.loads(modules), orm_type


def test_without_it_the_server_side_imports_load_the_hubs_modules():
    # What the launcher exists for; if JupyterHub stops doing this, the launcher can go.
    modules, orm_type = loaded_after(launcher=False)
    assert modules == HUB_ONLY and orm_type == "module"


def test_with_it_they_load_none_of_the_hubs_modules():
    modules, orm_type = loaded_after(launcher=True)
    assert modules == [] and orm_type == "HubOnlyModule"


def test_anything_else_asked_of_a_placeholder_fails_naming_the_launcher():
    code = (f"import runpy, sys\nrunpy.run_path({str(LAUNCHER)!r})['keep_hub_modules_out']()\n"
            "from jupyterhub import orm\norm.User\n")  # as jupyterhub.metrics does
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert ("AttributeError: jupyterhub.orm.User belongs to the hub and is not loaded in a "
            "user's server (see /usr/local/bin/edahub-singleuser)") in result.stderr


def test_the_image_starts_the_server_with_it():
    from edahub_core.names import SINGLEUSER_COMMAND  # the hub's name for it (on a swarm)

    dockerfile = (LAUNCHER.parent / "Dockerfile").read_text()
    assert "COPY edahub-singleuser /usr/local/bin/edahub-singleuser" in dockerfile
    assert dockerfile.rstrip().endswith(f'CMD ["{SINGLEUSER_COMMAND}"]')
    assert LAUNCHER.stat().st_mode & 0o111
