"""EDAHUB_USER_HOME_SIZE against the real engine here, whose volumes have no project quotas.

A home size limit needs Docker's data root on XFS mounted with prjquota; this machine's
kernel has no XFS quota support, so what can be proved here is the refusal. The spawner's
part (each new home created with the option) is in tests/unit/hub/test_hub_spawner.py.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



def test_a_home_size_this_engine_cannot_apply_stops_bootstrap_before_anything_changes(tmp_path):
    # This engine's volumes are not on XFS with project quotas (the check below asks it),
    # so EDAHUB_USER_HOME_SIZE cannot be honoured: bootstrap must say so and stop.
    probe = subprocess.run(["docker", "volume", "create", "--opt", "size=1M",
                            "edahub-test-quota-probe"], capture_output=True, text=True)
    subprocess.run(["docker", "volume", "rm", "edahub-test-quota-probe"], capture_output=True)
    if probe.returncode == 0:
        pytest.skip("this engine applies volume sizes (XFS with prjquota): nothing to refuse")
    env_file = tmp_path / ".env"
    settings = (f"EDAHUB_HUB_PORT={free_port()}\nEDAHUB_HTTP_REDIRECT_PORT={free_port()}\n"
                "EDAHUB_USER_HOME_SIZE=1G\n")
    env_file.write_text(settings)
    result = subprocess.run(
        [sys.executable, ROOT / "scripts" / "bootstrap.py", "--yes", "--env-file", env_file,
         "--log-file", tmp_path / "b.log"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ),
        stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert "[3/8]" in result.stdout and "failed" in result.stdout
    assert "EDAHUB_USER_HOME_SIZE=1G, but the Docker engine cannot limit" in result.stderr
    assert "prjquota" in result.stderr
    assert env_file.read_text() == settings
    volumes = subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True, text=True)
    assert "edahub-home-size-probe" not in volumes.stdout
