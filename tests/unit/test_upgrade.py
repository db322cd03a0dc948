"""`bootstrap.py upgrade` and the version everything carries (the upgrade of a running
stack is tested in tests/integration/test_restarts.py)."""

import re
from pathlib import Path

import pytest

from edahub import __version__, cli, envfile, operator, upgrade
from edahub.installer import Installation
from edahub_core.settings import SETTINGS_BY_KEY

ROOT = Path(__file__).resolve().parents[2]


def test_every_place_that_names_the_version_names_the_same():
    assert re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M)[1] \
        == __version__
    for dockerfile in ("hub/Dockerfile", "singleuser/Dockerfile"):
        assert f"ARG EDAHUB_VERSION={__version__}\n" in (ROOT / dockerfile).read_text()
    for key in ("EDAHUB_HUB_IMAGE", "EDAHUB_SINGLEUSER_IMAGE"):
        assert SETTINGS_BY_KEY[key].default.endswith(f":{__version__}"), key


def test_version_is_printed(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"edahub {__version__}")


@pytest.fixture
def no_engine_calls(monkeypatch):
    calls = []
    monkeypatch.setattr(upgrade.hostchecks, "check_docker_engine", lambda: "Docker engine x")
    def no_command(cmd, **kwargs):
        calls.append(cmd)
        pytest.fail(f"ran {cmd}")

    monkeypatch.setattr(upgrade, "run", no_command)
    monkeypatch.setattr(operator, "run", no_command)
    monkeypatch.setattr(upgrade, "create_backup", lambda *a: pytest.fail("backed up"))
    return calls


def test_a_setting_this_version_does_not_know_stops_it_before_anything_changes(
        tmp_path, no_engine_calls):
    env = tmp_path / ".env"
    envfile.ensure_env_file(env)
    text = env.read_text() + "EDAHUB_USER_MEMORY=2G\n"  # a misspelt or renamed setting
    env.write_text(text)
    with pytest.raises(upgrade.UserError, match="(?s)EDAHUB_USER_MEMORY.*did you mean EDAHUB_USER_MEM_LIMIT.*nothing was changed"):
        upgrade.upgrade(Installation(env_path=env), tmp_path / "backups")
    assert env.read_text() == text
    assert not (tmp_path / "backups").exists()


def test_an_installation_without_env_is_sent_to_the_first_run(tmp_path, no_engine_calls):
    with pytest.raises(upgrade.UserError, match="(?s)does not exist.*first installation"):
        upgrade.upgrade(Installation(env_path=tmp_path / ".env"), tmp_path / "backups")
