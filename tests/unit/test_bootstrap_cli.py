"""scripts/bootstrap.py as an operator runs it: plan, bad input, engine down."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = ROOT / "scripts" / "bootstrap.py"


def bootstrap(*args, env=None):
    return subprocess.run(
        [sys.executable, BOOTSTRAP, *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
    )


def test_dry_run_prints_the_plan_and_creates_nothing(tmp_path):
    env_file = tmp_path / ".env"
    result = bootstrap("--dry-run", "--env-file", env_file)
    assert result.returncode == 0, result.stderr
    assert "[1/8] Docker engine reachable" in result.stdout
    assert "[8/8] Hub answering" in result.stdout
    assert "would create it with generated secrets" in result.stdout
    assert not env_file.exists()


def test_engine_down_is_a_clear_error_and_changes_nothing(tmp_path):
    env_file = tmp_path / ".env"
    result = bootstrap("--yes", "--env-file", env_file, "--log-file", tmp_path / "b.log",
                       env={"DOCKER_HOST": f"unix://{tmp_path}/no-such-docker.sock"})
    assert result.returncode == 1
    assert "[1/8] Docker engine reachable ... failed" in result.stdout
    assert "cannot reach the Docker engine" in result.stderr
    assert "How to fix:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not env_file.exists()


def test_malformed_env_file_is_reported_and_left_as_it_was(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("EDAHUB_HUB_PORT=8000\nnot a setting line\n")
    before = env_file.read_bytes()
    result = bootstrap("--yes", "--env-file", env_file, "--log-file", tmp_path / "b.log")
    assert result.returncode == 1
    assert "line 2: not KEY=VALUE" in result.stderr
    assert "Traceback" not in result.stderr
    assert env_file.read_bytes() == before


def test_invalid_setting_is_reported_and_left_as_it_was(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("EDAHUB_HUB_PORT=99999\n")
    result = bootstrap("--yes", "--env-file", env_file, "--log-file", tmp_path / "b.log")
    assert result.returncode == 1
    assert "EDAHUB_HUB_PORT='99999': must be between 1 and 65535" in result.stderr
    assert env_file.read_text() == "EDAHUB_HUB_PORT=99999\n"

