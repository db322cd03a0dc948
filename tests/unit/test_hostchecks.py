"""bootstrap's host checks and the errors they give."""

import socket
import subprocess
from types import SimpleNamespace

import pytest

from edahub import hostchecks
from edahub.console import UserError


def test_port_in_use_is_reported_with_the_fix():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(UserError) as raised:
            hostchecks.check_port_free("127.0.0.1", port)
    assert f"port {port} on 127.0.0.1 is already in use" in str(raised.value)
    assert "EDAHUB_HUB_PORT" in raised.value.fix


def test_free_port_passes():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert hostchecks.check_port_free("127.0.0.1", port) == f"port {port} is free"


def test_port_held_by_our_own_hub_passes():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert "already" in hostchecks.check_port_free("127.0.0.1", port, already_ours=True)


def test_foreign_address_is_reported():
    with pytest.raises(UserError, match="not an address of this host"):
        hostchecks.check_port_free("192.0.2.77", 8000)


def test_too_little_disk_space(tmp_path):
    with pytest.raises(UserError, match="GiB free") as raised:
        hostchecks.check_disk_space(tmp_path, min_free_gib=10**9)
    assert "docker system prune" in raised.value.fix


def test_enough_disk_space(tmp_path):
    assert "GiB free" in hostchecks.check_disk_space(tmp_path, min_free_gib=0)


def test_unreachable_engine_says_how_to_start_it():
    def factory():
        raise ConnectionError("Error while fetching server API version: Connection refused")

    with pytest.raises(UserError, match="cannot reach the Docker engine") as raised:
        hostchecks.check_docker_engine(factory)
    assert "systemctl start docker" in raised.value.fix


def test_socket_permission_denied_says_to_use_the_docker_group():
    def factory():
        raise PermissionError("Permission denied")

    with pytest.raises(UserError) as raised:
        hostchecks.check_docker_engine(factory)
    assert "docker` group" in raised.value.fix


def _runner(returncode, stdout):
    def run(cmd, check=True):
        return subprocess.CompletedProcess(cmd, returncode, stdout=stdout)

    return run


@pytest.mark.parametrize("text, expected", [
    ("2.26.1-4\n", (2, 26, 1)), ("v2.29.7", (2, 29, 7)), ("garbage", None), ("", None),
])
def test_compose_version_parsing(text, expected):
    assert hostchecks.parse_compose_version(text) == expected


def test_compose_v1_or_missing_is_an_error():
    with pytest.raises(UserError, match="Compose v2"):
        hostchecks.check_compose_v2(_runner(1, "docker: 'compose' is not a docker command."))


def test_old_compose_is_an_error():
    with pytest.raises(UserError, match="too old"):
        hostchecks.check_compose_v2(_runner(0, "2.5.0"))


def test_recent_compose_passes():
    assert hostchecks.check_compose_v2(_runner(0, "2.26.1")) == "Compose 2.26.1"


def test_a_port_whose_last_connection_is_in_time_wait_counts_as_free():
    # A stack that just stopped: its listener (the engine's docker-proxy, which like every
    # Go listener sets SO_REUSEADDR) is gone, but a connection it closed first lingers in
    # TIME_WAIT on the port. The engine can bind the port again, so bootstrap must agree.
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    accepted.close()  # the server side closes first: its end goes to TIME_WAIT
    client.recv(1)
    client.close()
    listener.close()
    assert hostchecks.check_port_free("127.0.0.1", port) == f"port {port} is free"


def test_users_limits_that_fit_the_host_say_how_many_users_fit():
    text = hostchecks.check_user_limits("2G", 1.0, host_memory=16 * 2**30, host_cores=4)
    assert text == "4 cores, 16.0 GiB: 7 users fit at their full 2G memory limit"
    assert "no memory limit" in hostchecks.check_user_limits(None, 0, 8 * 2**30, 2)


@pytest.mark.parametrize("mem, cpu, expected", [
    ("7G", 1.0, "EDAHUB_USER_MEM_LIMIT=7G leaves less than 2 GiB of this host's 8.0 GiB"),
    ("2G", 4.0, "EDAHUB_USER_CPU_LIMIT=4 cores is more than this host's 2"),
])
def test_users_limits_that_do_not_fit_the_host_are_refused_with_the_rule(mem, cpu, expected):
    with pytest.raises(UserError, match="docs/operations.md") as error:
        hostchecks.check_user_limits(mem, cpu, host_memory=8 * 2**30, host_cores=2)
    assert expected in str(error.value)


def test_every_profile_must_fit_the_host_too():
    from edahub_core.settings import Profile

    with pytest.raises(UserError) as error:
        hostchecks.check_user_limits("1G", 1.0, 8 * 2**30, 2,
                                     profiles=[Profile("ok", "2G", 1.0), Profile("xl", "16G", 8.0)])
    assert "EDAHUB_USER_PROFILES xl: 16G leaves less than 2 GiB" in str(error.value)
    assert "EDAHUB_USER_PROFILES xl: 8 cores is more than this host's 2" in str(error.value)
    assert "EDAHUB_USER_PROFILES ok" not in str(error.value)


class VolumeEngine:
    """The slice of docker.DockerClient that check_home_size uses."""

    def __init__(self, refusal=None):
        self.refusal = refusal
        self.created = {}
        self.removed = []
        self.volumes = self

    def create(self, name, driver, driver_opts):
        import docker.errors

        if self.refusal:
            raise docker.errors.APIError("500 Server Error", explanation=self.refusal)
        self.created[name] = (driver, driver_opts)

    def get(self, name):
        return SimpleNamespace(remove=lambda: self.removed.append(name))


def test_a_home_size_the_engine_applies_is_accepted_and_the_probe_removed():
    engine = VolumeEngine()
    assert hostchecks.check_home_size("5G", lambda: engine) == "homes limited to 5G (project quotas)"
    [(name, opts)] = engine.created.items()
    assert name.startswith("edahub-home-size-probe-") and opts == ("local", {"size": "5G"})
    assert engine.removed == [name]


def test_a_home_size_the_engine_cannot_apply_is_refused_with_the_fix():
    engine = VolumeEngine(refusal="create x: quota size requested but no quota support")
    with pytest.raises(UserError) as raised:
        hostchecks.check_home_size("5G", lambda: engine)
    assert "EDAHUB_USER_HOME_SIZE=5G" in str(raised.value)
    assert "no quota support" in str(raised.value)
    assert "prjquota" in raised.value.fix and "empty EDAHUB_USER_HOME_SIZE" in raised.value.fix
    assert engine.created == {}
