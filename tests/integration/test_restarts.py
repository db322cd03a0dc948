"""Restarts lose nothing: the hub's restarts keep users' servers and running kernels;
restarts of the databases and of the whole stack lose no file, account or row.

Disruptive by design: these tests restart services of the shared stack, so
tests/conftest.py runs this module last. Each test uses users of its own.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import websocket

from edahub_core.netpolicy import Layout
from hubclient import HubError, HubSession, escaped
from test_databases import MARIADB_ROUND_TRIP, MONGODB_ROUND_TRIP

pytestmark = [pytest.mark.integration, pytest.mark.disruptive]

READ_BACK = """
import os, pymysql, pymongo
conn = pymysql.connect(read_default_file=os.path.expanduser("~/.my.cnf"))
cur = conn.cursor(); cur.execute("SELECT body FROM notes"); print(cur.fetchall())
db = pymongo.MongoClient(os.environ["MONGODB_URI"]).get_default_database()
print(list(db.notes.find()))
"""


def write_rows(session, owner):
    for code in (MARIADB_ROUND_TRIP, MONGODB_ROUND_TRIP):
        result = session.execute(code.replace("{owner}", owner))
        assert result.reply["status"] == "ok", result.error


def read_rows(session, timeout=60):
    """The user's rows and documents; retried while a just-restarted server refuses."""
    deadline = time.monotonic() + timeout
    while True:
        result = session.execute(textwrap.dedent(READ_BACK))
        if result.reply["status"] == "ok" or time.monotonic() > deadline:
            assert result.reply["status"] == "ok", result.error
            return result.stdout.splitlines()
        time.sleep(1)


def test_data_survives_a_restart_of_both_databases(stack, make_user):
    rita = make_user("rita")
    rita.start_server()
    assert rita.open_server().status_code == 200
    write_rows(rita, "rita")
    stack.run_compose("restart", "mariadb", "mongodb", timeout=300)
    stack.compose.wait_until_ready(["mariadb", "mongodb", "hub"], timeout=180)
    # Her running kernel reconnects to both restarted servers and finds everything.
    assert read_rows(rita) == ["((\"rita's row\",),)", "[{'_id': 1, 'body': \"rita's document\"}]"]
    rita.stop_server()


# A computation that outlives the hub: state in the kernel, and a file it keeps writing.
START_WORK = """
import os, threading, time
state = "set before the restart"
def work():
    with open("progress.log", "a") as out:
        while True:
            out.write("."); out.flush(); time.sleep(0.2)
threading.Thread(target=work, daemon=True).start()
"""
CHECK_WORK = 'import os; print(state, os.path.getsize("progress.log"))'
ROOT = Path(__file__).resolve().parents[2]


def start_kernel(session):
    response = session.server_api("POST", "/kernels", json={"name": "python3"})
    assert response.status_code == 201, response.text[:300]
    return response.json()["id"]


def run_on(session, kernel_id, code, timeout=90):
    """Run ``code`` on a kernel that already exists; retried while the hub comes back."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = session._execute_on(kernel_id, code, timeout=30)
            assert result.reply["status"] == "ok", result.error
            return result.stdout
        except (HubError, OSError, ValueError, websocket.WebSocketException) as error:
            # The proxy restarts with the hub: the route is back once the hub found the server.
            if time.monotonic() > deadline:
                raise AssertionError(f"{session.username}'s kernel unreachable: {error!r}")
            time.sleep(1)


def written_so_far(session, kernel_id):
    state, size = run_on(session, kernel_id, CHECK_WORK).rsplit(" ", 1)
    assert state == "set before the restart"
    return int(size)


def container_id(docker_client, stack, name):
    return docker_client.containers.get(f"{stack.prefix}-user-{escaped(name)}").id


def wait_for_hub_back(stack):
    stack.compose.wait_until_ready(["hub"], timeout=180)


def test_users_kernels_and_files_survive_every_kind_of_hub_restart(stack, make_user,
                                                                    docker_client):
    users = [make_user("ursula"), make_user("victor")]
    kernels, containers, written = {}, {}, {}
    for user in users:
        user.start_server()
        assert user.open_server().status_code == 200
        kernels[user.username] = start_kernel(user)
        assert run_on(user, kernels[user.username], START_WORK) == ""
        containers[user.username] = container_id(docker_client, stack, user.username)
        written[user.username] = written_so_far(user, kernels[user.username])

    def hub_pid():
        return stack.container(docker_client, "hub").attrs["State"]["Pid"]

    def kill_hub_process():
        # The hub's own process, by its PID, as a crash would end it; Docker restarts it.
        before = stack.container(docker_client, "hub").attrs["State"]["StartedAt"]
        os.kill(hub_pid(), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while stack.container(docker_client, "hub").attrs["State"]["StartedAt"] == before:
            assert time.monotonic() < deadline, "Docker did not restart the killed hub"
            time.sleep(0.5)

    original = stack.values["EDAHUB_ANNOUNCEMENT"]
    changed = "Maintenance on Friday (changed setting)"

    def change_a_setting():
        from edahub import envfile

        envfile.set_values(stack.env_file, {"EDAHUB_ANNOUNCEMENT": changed})
        hub_before = stack.container(docker_client, "hub").id
        stack.run_compose("up", "--detach", "--no-build", timeout=300)
        assert stack.container(docker_client, "hub").id != hub_before, "the hub was not recreated"

    restarts = {
        "docker compose restart hub": lambda: stack.run_compose("restart", "hub", timeout=300),
        "docker compose up -d after a settings change": change_a_setting,
        "the hub's process killed": kill_hub_process,
    }
    try:
        for what, restart in restarts.items():
            restart()
            wait_for_hub_back(stack)
            for user in users:
                name = user.username
                assert container_id(docker_client, stack, name) == containers[name], \
                    f"{what}: {name}'s container was replaced"
                now = written_so_far(user, kernels[name])
                assert now > written[name], f"{what}: {name}'s computation stopped writing"
                written[name] = now
                model = user.server_model()
                assert model and model["ready"], f"{what}: the hub lost {name}'s server: {model}"
                assert user.open_server().status_code == 200, what
        assert changed in users[0].get("/hub/home").text
    finally:
        from edahub import envfile

        envfile.set_values(stack.env_file, {"EDAHUB_ANNOUNCEMENT": original})
        stack.run_compose("up", "--detach", "--no-build", "--wait", timeout=300)
    for user in users:
        user.stop_server()


def test_a_server_that_died_while_the_hub_was_down_is_shown_stopped(stack, make_user,
                                                                    docker_client):
    wendy = make_user("wendy")
    wendy.start_server()
    assert wendy.open_server().status_code == 200
    assert wendy.execute("open('kept.txt', 'w').write('still here')").reply["status"] == "ok"
    stack.run_compose("stop", "hub", timeout=120)
    try:
        docker_client.containers.get(f"{stack.prefix}-user-wendy").remove(force=True)
    finally:
        stack.run_compose("start", "hub", timeout=120)
    wait_for_hub_back(stack)
    assert wendy.server_model() is None, "a server whose container is gone still shows"
    wendy.start_server()
    assert wendy.open_server().status_code == 200
    assert wendy.execute("print(open('kept.txt').read())").stdout == "still here\n"
    wendy.stop_server()


def test_compose_down_alone_leaves_servers_that_the_next_up_takes_back(stack, make_user,
                                                                       docker_client):
    xena = make_user("xena")
    xena.start_server()
    assert xena.open_server().status_code == 200
    kernel = start_kernel(xena)
    assert run_on(xena, kernel, "state = 'set before down'") == ""
    before = container_id(docker_client, stack, "xena")
    stack.run_compose("down", "--timeout", "30", timeout=300, check=False)
    stack.run_compose("up", "--detach", "--wait", "--no-build", timeout=600)
    assert container_id(docker_client, stack, "xena") == before
    assert run_on(xena, kernel, "print(state)") == "set before down\n"
    xena.stop_server()


def test_the_stop_command_stops_everything_and_up_starts_with_files_accounts_and_data(stack, make_user,
                                                                  docker_client):
    yara = make_user("yara")
    yara.start_server()
    assert yara.open_server().status_code == 200
    write_rows(yara, "yara")
    assert yara.execute("open('kept.txt', 'w').write('kept across stop')").reply["status"] == "ok"
    stop = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bootstrap.py"), "stop", "--env-file",
         str(stack.env_file), "--project-name", stack.project, "--timeout", "30"],
        capture_output=True, text=True, timeout=600)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert "Stopping users' servers ... " in stop.stdout, stop.stdout
    left = docker_client.containers.list(all=True, filters={"label": [
        f"com.docker.compose.project={stack.project}"]})
    users_left = docker_client.containers.list(all=True, filters={"name": stack.prefix})
    assert not left and not users_left, (left, users_left)
    assert not docker_client.networks.list(names=[stack.network]), "the network was left"

    stack.run_compose("up", "--detach", "--wait", "--no-build", timeout=600)
    again = HubSession(stack.base_url, "yara")
    assert again.log_in(yara.password)
    assert again.server_model() is None, "the stopped server still shows as running"
    again.start_server()
    assert again.open_server().status_code == 200
    assert again.execute("print(open('kept.txt').read())").stdout == "kept across stop\n"
    assert read_rows(again) == ["((\"yara's row\",),)", "[{'_id': 1, 'body': \"yara's document\"}]"]
    again.stop_server()


def test_an_upgrade_of_a_running_stack_keeps_servers_and_adds_new_settings(
        stack, make_user, docker_client, tmp_path):
    from edahub import envfile

    zara = make_user("zara")
    zara.start_server()
    assert zara.open_server().status_code == 200
    kernel = start_kernel(zara)
    assert run_on(zara, kernel, "state = 'set before the upgrade'") == ""
    before = container_id(docker_client, stack, "zara")
    # A MariaDB volume from edahub 0.2.0: no procedures, the provisioning account with its
    # first rights. The running hub falls back to its own statements meanwhile.
    hub_account = f"edahub_provisioner@'{Layout(stack.values['EDAHUB_NETWORK_PREFIX']).hub}'"
    stack.as_mariadb_root(docker_client, f"""
        DROP DATABASE edahub_admin;
        REVOKE ALL PRIVILEGES, GRANT OPTION FROM {hub_account};
        GRANT CREATE USER ON *.* TO {hub_account};
        GRANT ALL PRIVILEGES ON `u_%`.* TO {hub_account} WITH GRANT OPTION;
        GRANT SELECT ON `datasets`.* TO {hub_account} WITH GRANT OPTION;""")
    # ...and MongoDB's provisioning account, which could grant itself root, with root
    # accepting its own container's loopback only (so mongodb-accounts cannot log in yet).
    stack.as_mongodb_root(docker_client, """
        const admin = db.getSiblingDB("admin");
        admin.updateUser("root", {authenticationRestrictions: [
          {clientSource: ["127.0.0.1", "::1"]}]});
        admin.createRole({role: "edahubProvisioner", roles: [], privileges: [
          {resource: {db: "", collection: ""}, actions: ["createUser", "grantRole"]}]});
        admin.createUser({user: "edahub_provisioner", pwd: "old-password-0123",
                          roles: ["edahubProvisioner"]});""")
    # A .env that predates a setting this version generates (the metrics token).
    old_token = stack.values["EDAHUB_METRICS_TOKEN"]
    lines = stack.env_file.read_text().splitlines()
    stack.env_file.write_text("\n".join(l for l in lines
                                        if not l.startswith("EDAHUB_METRICS_TOKEN=")) + "\n")
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "bootstrap.py"), "upgrade", "--yes",
             "--env-file", str(stack.env_file), "--project-name", stack.project,
             "--backup-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL)
    finally:
        # Whatever happened, the stack's .env stays usable (Compose needs the token).
        if "EDAHUB_METRICS_TOKEN" not in envfile.read_env_file(stack.env_file):
            envfile.set_values(stack.env_file, {"EDAHUB_METRICS_TOKEN": old_token})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "added EDAHUB_METRICS_TOKEN" in result.stdout, result.stdout
    backups = list(tmp_path.iterdir())
    assert len(backups) == 1 and (backups[0] / "hub.sqlite.gz").is_file()
    token = envfile.read_env_file(stack.env_file)["EDAHUB_METRICS_TOKEN"]
    assert token and token != old_token
    stack.values["EDAHUB_METRICS_TOKEN"] = token
    # The hub took the new setting, and zara's server and kernel went on as they were.
    metrics = zara.http.get(f"{stack.base_url}/hub/metrics",
                            headers={"Authorization": f"token {token}"}, timeout=30)
    assert metrics.status_code == 200
    assert container_id(docker_client, stack, "zara") == before
    assert run_on(zara, kernel, "print(state)") == "set before the upgrade\n"
    # The provisioning account may now only call the procedures, and spawns use them;
    # MongoDB's is gone.
    assert "may only call edahub's procedures" in result.stdout
    assert "MongoDB's old account: dropped its account and role" in result.stdout
    assert "MongoDB's root accepts mongodb-accounts" in result.stdout
    assert stack.as_mongodb_root(docker_client, """
        const admin = db.getSiblingDB("admin");
        print(JSON.stringify([admin.getUser("edahub_provisioner"),
                              admin.getRole("edahubProvisioner")]));""").strip() == "[null,null]"
    grants = stack.as_mariadb_root(docker_client, f"SHOW GRANTS FOR {hub_account}")
    assert sorted(g.split(" TO ")[0] for g in grants.splitlines()) == [
        "GRANT EXECUTE ON PROCEDURE `edahub_admin`.`drop_account`",
        "GRANT EXECUTE ON PROCEDURE `edahub_admin`.`ensure_account`",
        "GRANT USAGE ON *.*"]
    zara.stop_server()
    zara.start_server()
    assert "wide rights of edahub 0.2.0" not in stack.logs("hub", tail=100)
    zara.stop_server()
