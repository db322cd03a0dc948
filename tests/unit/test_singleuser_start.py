"""singleuser/edahub-start, the users' image's entrypoint: ~/.my.cnf from the environment
(the real image's is read by tests/integration/test_databases.py)."""

import os
import stat
import subprocess
import sys
from pathlib import Path

START = Path(__file__).resolve().parents[2] / "singleuser" / "edahub-start"
ENV = {"MARIADB_HOST": "mariadb", "MARIADB_PORT": "3306", "MARIADB_USER": "u_alice_0123456789",
       "MARIADB_PASSWORD": "s3cret$`'\"\\pw", "MARIADB_DATABASE": "u_alice_0123456789"}


def start(home, env, *command):
    return subprocess.run(["sh", START, *command], capture_output=True, text=True, timeout=30,
                          env={"PATH": os.environ["PATH"], "HOME": str(home), **env})


def test_it_writes_an_owner_only_my_cnf_then_runs_the_server(tmp_path):
    result = start(tmp_path, ENV, sys.executable, "-c", "print('server ran')")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "server ran\n" and result.stderr == ""  # the secret is not printed
    my_cnf = tmp_path / ".my.cnf"
    assert stat.S_IMODE(my_cnf.stat().st_mode) == 0o600
    assert my_cnf.read_text() == (
        "[client]\nhost=mariadb\nport=3306\nuser=u_alice_0123456789\n"
        "password=s3cret$`'\"\\pw\ndatabase=u_alice_0123456789\n")


def test_without_database_credentials_it_only_runs_the_command(tmp_path):
    result = start(tmp_path, {}, sys.executable, "-c", "print('server ran')")
    assert result.returncode == 0 and result.stdout == "server ran\n"
    assert not (tmp_path / ".my.cnf").exists()


def test_the_image_runs_it_before_the_server():
    dockerfile = (START.parent / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["tini", "--", "edahub-start"]' in dockerfile
    assert "COPY edahub-start /usr/local/bin/edahub-start" in dockerfile
    assert os.access(START, os.X_OK)


def test_on_a_fenced_swarm_nothing_starts_before_the_node_fenced_the_server(tmp_path):
    from edahub_core.names import SWARM_FENCE_WAIT_VARIABLE, SWARM_FENCED_FILE

    script = START.read_text()
    assert f'${{{SWARM_FENCE_WAIT_VARIABLE}:-}}' in script and f"! -e {SWARM_FENCED_FILE}" in script
    assert not Path(SWARM_FENCED_FILE).exists()  # this machine runs no fenced server
    result = start(tmp_path, {**ENV, SWARM_FENCE_WAIT_VARIABLE: "0"},
                   sys.executable, "-c", "print('server ran')")
    assert result.returncode == 1 and result.stdout == ""
    assert "did not fence this server in within 0 s, so it does not start" in result.stderr
    assert not (tmp_path / ".my.cnf").exists()  # nothing was done
