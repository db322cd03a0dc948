"""The platform end to end: stack, login, spawn, kernel, persistence, isolation."""

import subprocess
import sys
from pathlib import Path

import pytest

from hubclient import HubSession

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_stack_is_healthy_and_only_the_hub_is_published(stack):
    services = stack.compose.services()
    expected = {"hub", "proxy", "netpolicy", "mariadb", "mongodb", "mongodb-accounts"}
    assert set(services) == expected, "singleuser must never be started"
    for name in expected:
        assert services[name].health == "healthy", services[name]
    published = {name for name, state in services.items() if state.published_ports}
    assert published == {"proxy"}


def test_admin_logs_in_through_the_form_and_wrong_passwords_fail(stack):
    assert not HubSession(stack.base_url, stack.admin_user).log_in("wrong-password")
    assert HubSession(stack.base_url, stack.admin_user).log_in(stack.admin_password)


def test_nobody_can_claim_the_admin_account_by_signing_up(stack):
    intruder = HubSession(stack.base_url, stack.admin_user)
    intruder.sign_up("intruder-password-1")
    assert not intruder.log_in("intruder-password-1")


def test_signup_needs_an_admins_approval(stack, admin):
    carol = HubSession(stack.base_url, "carol")
    carol.sign_up("carol-password-123")
    assert not carol.log_in("carol-password-123")
    page = carol.post_form("/hub/login", {"username": "carol", "password": "carol-password-123"})
    assert "not been approved" in page.text
    admin.authorize("carol")
    assert carol.log_in("carol-password-123")


def test_admin_panel_is_for_admins_only(admin, make_user):
    assert admin.api("GET", "/users").status_code == 200
    assert make_user("dave").api("GET", "/users").status_code == 403


def test_server_runs_in_its_own_container_on_the_network(stack, alice_server, docker_client):
    container = docker_client.containers.get(f"{stack.prefix}-user-alice")
    assert container.status == "running"
    assert list(container.attrs["NetworkSettings"]["Networks"]) == [stack.network]
    mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
    assert mounts["/home/jovyan"]["Type"] == "volume"
    assert mounts["/home/jovyan"]["Name"] == f"{stack.prefix}-home-alice"
    assert container.attrs["HostConfig"]["Memory"] == 2**30
    uid = container.exec_run(["id", "-u"]).output.decode().strip()
    assert uid != "0", "users' servers must not run as root"


def test_singleuser_server_matches_the_hubs_major_version(stack, alice_server, docker_client):
    def version(container_name):
        container = docker_client.containers.get(container_name)
        result = container.exec_run(["python3", "-c", "import jupyterhub; print(jupyterhub.__version__)"])
        assert result.exit_code == 0, result.output
        return result.output.decode().strip()

    hub = version(f"{stack.project}-hub-1")
    user = version(f"{stack.prefix}-user-alice")
    assert hub.split(".")[0] == user.split(".")[0], (hub, user)


def test_python_kernel_executes_code_over_the_websocket(alice_server):
    result = alice_server.execute("import sys\nprint(6 * 7)\nsys.version_info[0]")
    assert result.reply["status"] == "ok"
    assert result.stdout == "42\n"
    assert result.results == [{"text/plain": "3"}]


def test_kernel_errors_come_back_as_error_replies(alice_server):
    result = alice_server.execute("1 / 0")
    assert result.reply["status"] == "error"
    assert result.error["ename"] == "ZeroDivisionError"


def test_another_user_cannot_open_the_first_users_server(stack, alice_server, make_user):
    bob = make_user("bob")
    assert bob.open_server(owner="alice").status_code == 403
    assert bob.server_api("GET", "/contents", owner="alice").status_code in (302, 403)
    # The hub does not even confirm that alice exists to bob.
    assert bob.api("POST", "/users/alice/server").status_code in (403, 404)
    assert bob.api("GET", "/users/alice").status_code in (403, 404)


def test_home_files_survive_a_server_stop_and_start(stack, make_user, docker_client):
    import docker.errors

    paula = make_user("paula")  # stops her server: a user of this test's own
    paula.start_server()
    assert paula.open_server().status_code == 200
    write = paula.execute("open('notes.txt', 'w').write('kept across restarts')")
    assert write.reply["status"] == "ok"
    paula.stop_server()
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(f"{stack.prefix}-user-paula")  # removed after stop
    paula.start_server()
    assert paula.open_server().status_code == 200
    read = paula.execute("print(open('notes.txt').read())")
    assert read.stdout == "kept across restarts\n"
    paula.stop_server()


def test_bootstrap_on_a_running_stack_changes_nothing(stack):
    before = stack.env_file.read_bytes()
    result = subprocess.run(
        [sys.executable, ROOT / "scripts" / "bootstrap.py", "--yes", "--env-file", stack.env_file,
         "--project-name", stack.project, "--log-file", stack.env_file.parent / "bootstrap.log",
         "--min-free-gib", "1"],
        capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[3/8] Settings readable, port free, disk space available, users' limits fit the " \
        "host ... " in result.stdout
    assert "users fit at their full 1G memory limit" in result.stdout
    assert "served by edahub's proxy already" in result.stdout
    assert "complete, nothing to add" in result.stdout
    assert f"edahub is up at http://localhost:{stack.values['EDAHUB_HUB_PORT']}" in result.stdout
    assert "password" not in result.stdout.replace("password shown at first run", "")
    assert stack.env_file.read_bytes() == before
