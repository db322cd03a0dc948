"""`bootstrap.py stop`: the order it stops things in, and its refusals (the real stack's
behaviour is in tests/integration/test_restarts.py)."""

import io

import pytest

from edahub import envfile, lifecycle, operator
from edahub.compose import ServiceState
from edahub.console import UserError
from edahub_core.names import USER_PREFIX_LABEL


class FakeProject:
    """A Compose project that records the commands it is given."""

    def __init__(self, calls, hub_state="running"):
        self.calls = calls
        self.hub_state = hub_state

    def services(self):
        return {"hub": ServiceState("hub", "edahub-hub-1", self.hub_state, "healthy")}

    def run(self, *args, **kwargs):
        self.calls.append(("compose", *args))


@pytest.fixture
def calls(monkeypatch):
    recorded = []

    class Result:
        def __init__(self, stdout=""):
            self.stdout = stdout

    def fake_run(cmd, **kwargs):
        recorded.append(tuple(cmd))
        removed = any(call[:2] == ("docker", "rm") for call in recorded)
        # Users' servers are listed until they are removed.
        return Result("" if removed else "edahub-user-bob\nedahub-user-alice\n")

    monkeypatch.setattr(lifecycle, "run", fake_run)
    monkeypatch.setattr(operator, "run", fake_run)  # users' servers are listed there
    return recorded


def test_the_hub_stops_first_then_users_servers_then_the_rest(calls):
    stopped = lifecycle.stop_platform(FakeProject(calls), "edahub", timeout=20,
                                      stream=io.StringIO())
    assert stopped == ["edahub-user-alice", "edahub-user-bob"]
    assert calls[0] == ("compose", "stop", "--timeout", "20", "hub")
    assert calls[1][:2] == ("docker", "ps") and f"label={USER_PREFIX_LABEL}=edahub" in calls[1]
    assert calls[2] == ("docker", "stop", "--time", "20", "edahub-user-alice", "edahub-user-bob")
    assert calls[3] == ("docker", "rm", "--force", "edahub-user-alice", "edahub-user-bob")
    assert calls[4][:2] == ("docker", "ps")  # none left
    assert calls[5] == ("compose", "down", "--timeout", "20")


def test_a_server_the_hub_is_removing_already_is_waited_for(monkeypatch):
    # The hub removes the container of a failed spawn; `docker rm` of it fails with
    # "removal ... is already in progress", and the container is gone a moment later.
    calls, listings = [], iter(["edahub-user-bob\n", "edahub-user-bob\n", ""])

    class Result:
        def __init__(self, stdout="", returncode=0):
            self.stdout, self.returncode = stdout, returncode

    def fake_run(cmd, check=True, **kwargs):
        calls.append(tuple(cmd))
        if cmd[:2] == ["docker", "ps"]:
            return Result(next(listings))
        assert not check, "failures of stop and rm are judged by what is left"
        return Result("removal of container edahub-user-bob is already in progress", 1)

    monkeypatch.setattr(lifecycle, "run", fake_run)
    monkeypatch.setattr(operator, "run", fake_run)
    monkeypatch.setattr(lifecycle.time, "sleep", lambda seconds: None)
    assert lifecycle.stop_platform(FakeProject(calls), "edahub", stream=io.StringIO()) == [
        "edahub-user-bob"]
    assert calls[-1][:2] == ("compose", "down")


def test_a_server_that_cannot_be_removed_is_named(monkeypatch):
    class Result:
        stdout, returncode = "edahub-user-bob\n", 1

    monkeypatch.setattr(lifecycle, "run", lambda cmd, **kwargs: Result())
    monkeypatch.setattr(operator, "run", lambda cmd, **kwargs: Result())
    monkeypatch.setattr(lifecycle.time, "sleep", lambda seconds: None)
    with pytest.raises(UserError, match="could not be removed: edahub-user-bob"):
        lifecycle.stop_platform(FakeProject([]), "edahub", stream=io.StringIO())


def test_volumes_are_removed_only_when_asked(calls):
    lifecycle.stop_platform(FakeProject(calls, hub_state="exited"), "edahub", volumes=True,
                            stream=io.StringIO())
    assert calls[0][:2] == ("docker", "ps"), "a stopped hub is not stopped again"
    assert calls[-1] == ("compose", "down", "--timeout", "60", "--volumes")


def test_a_missing_env_file_is_refused_with_the_fix(tmp_path, capsys):
    assert lifecycle.main(["--env-file", str(tmp_path / "absent.env")]) == 1
    err = capsys.readouterr().err
    assert "absent.env does not exist" in err and "--env-file" in err


def test_a_malformed_env_file_is_refused_before_anything_is_stopped(tmp_path, capsys, calls):
    env = tmp_path / ".env"
    envfile.atomic_write(env, "EDAHUB_USER_PREFIX=Not A Prefix!\n")
    assert lifecycle.main(["--env-file", str(env)]) == 1
    assert "EDAHUB_USER_PREFIX" in capsys.readouterr().err
    assert calls == []


def test_a_docker_engine_that_is_down_is_reported_with_the_fix(tmp_path, capsys, calls,
                                                               monkeypatch):
    env = tmp_path / ".env"
    envfile.atomic_write(env, "EDAHUB_USER_PREFIX=edahub\n")

    def engine_down():
        raise UserError("cannot reach the Docker engine at unix:///var/run/docker.sock",
                        "start it")

    monkeypatch.setattr(lifecycle.hostchecks, "check_docker_engine", engine_down)
    assert lifecycle.main(["--env-file", str(env)]) == 1
    assert "cannot reach the Docker engine" in capsys.readouterr().err
    assert calls == []


def test_the_network_policy_is_removed_before_the_network_when_asked(calls):
    lifecycle.stop_platform(FakeProject(calls), "edahub", remove_policy=True,
                            stream=io.StringIO())
    # The service stops first (it would put the rules back); `compose run` comes before
    # `down`, which it would otherwise undo by creating the network again.
    assert calls[-3:] == [
        ("compose", "stop", "netpolicy"),
        ("compose", "run", "--rm", "--no-deps", "netpolicy", "python3", "-m",
         "edahub_core.netpolicy", "remove"),
        ("compose", "down", "--timeout", "60")]
