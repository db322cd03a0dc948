"""scripts/edahub/compose.py: the compose command line and `docker compose ps` parsing."""

import json
from pathlib import Path

import pytest

from edahub import compose
from edahub.compose import ComposeProject, ServiceState, parse_ps

HUB = {"Service": "hub", "Name": "p-hub-1", "State": "running", "Health": "healthy",
       "Publishers": [{"URL": "127.0.0.1", "TargetPort": 8000, "PublishedPort": 8123},
                      {"URL": "127.0.0.1", "TargetPort": 8081, "PublishedPort": 0}]}
DB = {"Service": "mariadb", "Name": "p-mariadb-1", "State": "running", "Health": "starting",
      "Publishers": None}
STOPPED = {"Service": "mongodb", "Name": "p-mongodb-1", "State": "exited", "Health": ""}


@pytest.mark.parametrize("style", ["array", "lines"])
def test_both_output_styles_of_compose_are_read(style):
    entries = [HUB, DB, STOPPED]
    text = (json.dumps(entries) if style == "array"
            else "\n".join(json.dumps(e) for e in entries))
    states = parse_ps("WARN[0000] a warning compose printed\n" + text + "\n")
    assert states == {
        "hub": ServiceState("hub", "p-hub-1", "running", "healthy", (8123,)),
        "mariadb": ServiceState("mariadb", "p-mariadb-1", "running", "starting", ()),
        "mongodb": ServiceState("mongodb", "p-mongodb-1", "exited", "", ()),
    }


def test_ready_means_running_and_healthy_when_there_is_a_check():
    assert ServiceState("a", "c", "running", "healthy").ready
    assert ServiceState("a", "c", "running", "").ready  # no health check
    assert not ServiceState("a", "c", "running", "starting").ready
    assert not ServiceState("a", "c", "running", "unhealthy").ready
    assert not ServiceState("a", "c", "exited", "").ready


def test_the_command_line_names_the_file_env_and_project(tmp_path):
    project = ComposeProject(tmp_path / "x.env", "edahub-x", root=Path("/srv/edahub"))
    assert project.command("up", "--wait") == [
        "docker", "compose", "--project-directory", "/srv/edahub", "-f",
        "/srv/edahub/compose.yaml", "--env-file", str(tmp_path / "x.env"),
        "--project-name", "edahub-x", "up", "--wait"]
    assert "--project-name" not in ComposeProject(tmp_path / "x.env").command("ps")


def test_a_wait_is_bounded_and_names_what_is_not_ready(monkeypatch, tmp_path):
    project = ComposeProject(tmp_path / "x.env", "p")
    monkeypatch.setattr(ComposeProject, "services",
                        lambda self: {"mariadb": ServiceState("mariadb", "c", "running", "starting")})
    monkeypatch.setattr(compose.time, "sleep", lambda seconds: None)
    clock = iter(range(0, 1000, 5))
    monkeypatch.setattr(compose.time, "monotonic", lambda: next(clock))
    with pytest.raises(compose.UserError) as raised:
        project.wait_until_ready(["mariadb", "hub"], timeout=30)
    assert "not ready after 30s: mariadb: running/starting, hub: no container" in str(raised.value)


def test_a_wait_returns_once_everything_is_ready(monkeypatch, tmp_path):
    rounds = iter([{"hub": ServiceState("hub", "c", "running", "starting")},
                   {"hub": ServiceState("hub", "c", "running", "healthy")}])
    monkeypatch.setattr(ComposeProject, "services", lambda self: next(rounds))
    monkeypatch.setattr(compose.time, "sleep", lambda seconds: None)
    states = ComposeProject(tmp_path / "x.env").wait_until_ready(["hub"], timeout=30)
    assert states["hub"].health == "healthy"
