"""edahub on a real three-node Docker Swarm (tests/swarm/conftest.py builds it and deploys
edahub with `bootstrap.py swarm deploy`): users' servers are Swarm services on the
workers, reach both databases over the overlay network, come back to the node of their
home, and a drained node stops its users' servers instead of moving them silently."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edahub_core.names import SWARM_NODE_LABELS
from stacktools import wait_for_hub

DATABASES = r"""
import os, pymysql, pymongo
conn = pymysql.connect(read_default_file=os.path.expanduser("~/.my.cnf"))
with conn.cursor() as cur:
    cur.execute("CREATE TABLE IF NOT EXISTS notes (v INT)")
    cur.execute("INSERT INTO notes VALUES (42)")
    conn.commit()
    cur.execute("SELECT SUM(v) FROM notes")
    print("mariadb", cur.fetchone()[0])
db = pymongo.MongoClient(os.environ["MONGODB_URI"]).get_default_database()
db.notes.insert_one({"v": 42})
print("mongodb", db.notes.count_documents({}))
"""


ROOT = Path(__file__).resolve().parents[2]


def swarm_command(swarm, *args):
    """`bootstrap.py swarm ...` on the swarm's manager, as its admin runs it."""
    return subprocess.run(
        [sys.executable, ROOT / "scripts" / "bootstrap.py", "swarm", *args,
         "--env-file", swarm.env_file, "--project-name", "edahub"],
        env={**os.environ, "DOCKER_HOST": swarm.docker_host}, capture_output=True, text=True,
        timeout=900)


def start(session):
    """Start ``session``'s server and open JupyterLab as a person does (the server's
    cookies and XSRF token); returns the spawn's seconds."""
    seconds = session.start_server(timeout=300)
    response = session.open_server()
    assert response.status_code == 200, f"JupyterLab: HTTP {response.status_code}"
    return seconds


def service_of(swarm, user):
    """The Swarm service of ``user``'s server (name ends in -user-<name>), or None."""
    names = swarm.manager.docker("service", "ls", "--format", "{{.Name}}").split()
    mine = [name for name in names if name.endswith(f"-user-{user}")]
    assert len(mine) <= 1, names
    return mine[0] if mine else None


def running_task(swarm, service, field="ID"):
    """``field`` (ID, Node) of ``service``'s one running task."""
    tasks = swarm.manager.docker("service", "ps", service, "--filter", "desired-state=running",
                                 "--format", f"{{{{.{field}}}}} {{{{.CurrentState}}}}")
    running = [line.split()[0] for line in tasks.splitlines() if " Running" in line]
    assert len(running) == 1, tasks
    return running[0]


def node_of(swarm, user):
    """The node that runs ``user``'s server."""
    service = service_of(swarm, user)
    assert service, f"{user} has no service"
    return running_task(swarm, service, "Node")


@pytest.fixture(scope="module")
def ann_and_bob(swarm, swarm_user):
    """Two users with servers running; their spawn times are printed."""
    users = {}
    for name in ("ann", "bob"):
        session = swarm_user(name)
        seconds = start(session)
        print(f"{name}'s first spawn on the swarm: {seconds:.2f} s")
        users[name] = session
    return users


def test_the_stack_runs_where_the_deployment_places_it(swarm):
    placed = {}
    for service in ("hub", "proxy", "mariadb", "mongodb", "mongodb-accounts"):
        tasks = swarm.manager.docker("service", "ps", f"edahub_{service}", "--filter",
                                     "desired-state=running", "--format", "{{.Node}}").split()
        assert len(tasks) == 1, (service, tasks)
        placed[service] = tasks[0]
    # The hub and the proxy on the manager; the databases on the labelled node (here the
    # manager too: the workers are for users).
    assert placed["hub"] == placed["proxy"] == swarm.manager.name
    labelled = {label for label in SWARM_NODE_LABELS.values()}
    labels = json.loads(swarm.manager.docker("node", "inspect", swarm.manager.name,
                                             "--format", "{{json .Spec.Labels}}"))
    assert labelled <= {key for key, value in labels.items() if value == "true"}
    assert placed["mariadb"] == placed["mongodb"] == swarm.manager.name


def test_no_secret_of_env_is_in_any_service_spec_only_in_swarm_secrets(swarm, ann_and_bob):
    """What a reader of the managers' API sees (`docker service inspect`, of the platform's
    services and of users' servers): names of Swarm secrets, never .env's secrets."""
    from edahub.swarm import swarm_secret_keys

    services = swarm.manager.docker("service", "ls", "--quiet").split()
    specs = swarm.manager.docker("service", "inspect", *services)
    secrets = [swarm.values[key] for key in swarm_secret_keys() if swarm.values.get(key)]
    assert len(secrets) >= 9  # all but Bitbucket's (unused here)
    leaked = [secret[:6] + "..." for secret in secrets if secret in specs]
    assert leaked == [], leaked
    made = swarm.manager.docker("secret", "ls", "--filter", "label=org.edahub.stack=edahub",
                                "--format", "{{.Name}}").split()
    assert len(made) == len(swarm_secret_keys()), made


def test_users_servers_run_on_different_workers_and_reach_their_databases(swarm, ann_and_bob):
    nodes = {name: node_of(swarm, name) for name in ann_and_bob}
    workers = {worker.name for worker in swarm.workers}
    assert set(nodes.values()) == workers, nodes  # one on each worker, none on the manager
    for name, session in ann_and_bob.items():
        result = session.execute(DATABASES, timeout=120)
        assert result.reply["status"] == "ok", result.error
        assert "mariadb 42" in result.stdout and "mongodb 1" in result.stdout, result.stdout


PROBE = r"""
import socket
def probe(host, port):
    try:
        socket.create_connection((host, port), timeout=5).close()
        return "open"
    except OSError as error:
        return type(error).__name__
"""


def test_users_servers_are_fenced_in_from_each_other_and_the_nodes(swarm, ann_and_bob):
    """The network policy on a swarm (hub/edahub_hub/swarm_netpolicy.py), tried as a hostile
    user would: ann, on one worker, goes for what bob, on the other, serves on a port of his
    own and on a platform port, for his Jupyter server directly, for the proxy's API and for
    the swarm's control port on the manager node."""
    ann, bob = ann_and_bob["ann"], ann_and_bob["bob"]
    serve = PROBE + """
import subprocess, sys, time
for port in (9000, 3306):
    subprocess.Popen([sys.executable, "-m", "http.server", str(port)],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(2)
print("bob itself", [probe("127.0.0.1", port) for port in (9000, 3306)])
"""
    result = bob.execute(serve, timeout=60)
    assert "bob itself ['open', 'open']" in result.stdout, (result.stdout, result.error)
    attack = PROBE + f"""
bob = socket.gethostbyname({service_of(swarm, "bob")!r})
print("bob", [probe(bob, port) for port in (9000, 3306, 8888)])
print("proxy-api", probe("proxy", 8001))
print("manager", probe({swarm.manager.address!r}, 2377))
print("platform", [probe(*where) for where in (("hub", 8081), ("proxy", 8000),
                                                ("mariadb", 3306), ("mongodb", 27017))])
"""
    result = ann.execute(attack, timeout=120)
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines()
                 if line.startswith(("bob ", "proxy-api ", "manager ", "platform ")))
    assert "open" not in lines["bob"], lines  # 9000: ann's fence; 3306: bob's; 8888: both
    assert lines["proxy-api"] != "open", lines
    assert lines["manager"] != "open", lines
    assert lines["platform"] == "['open', 'open', 'open', 'open']", lines


def test_the_limits_apply_to_a_users_service(swarm, ann_and_bob):
    spec = json.loads(swarm.manager.docker("service", "inspect", service_of(swarm, "ann"),
                                           "--format", "{{json .Spec.TaskTemplate}}"))
    resources = spec["Resources"]
    assert resources["Limits"]["MemoryBytes"] == resources["Reservations"]["MemoryBytes"] == 2**30
    assert resources["Limits"]["NanoCPUs"] == resources["Reservations"]["NanoCPUs"] == 5 * 10**8
    assert resources["Limits"]["Pids"] > 0
    assert spec["ContainerSpec"]["CapabilityDrop"] == ["ALL"]
    assert spec["RestartPolicy"]["Condition"] == "none"  # the hub restarts servers, not Swarm


def test_a_home_comes_back_with_its_server_on_the_same_node(swarm, swarm_user):
    carl = swarm_user("carl")
    start(carl)
    first = node_of(swarm, "carl")
    result = carl.execute("open('notes.txt', 'w').write('kept')\nprint('written')")
    assert "written" in result.stdout, result.error
    carl.stop_server()
    assert service_of(swarm, "carl") is None  # a stopped server is no service
    seconds = start(carl)
    print(f"carl's second spawn on the swarm: {seconds:.2f} s")
    assert node_of(swarm, "carl") == first
    result = carl.execute("print(open('notes.txt').read())")
    assert "kept" in result.stdout, result.error


def test_a_drained_node_stops_its_users_and_tells_them_where_their_home_is(swarm, swarm_user):
    dana = swarm_user("dana")
    start(dana)
    home = node_of(swarm, "dana")
    swarm.manager.docker("node", "update", "--availability", "drain", home)
    try:
        # Swarm may not move her server to another node (an empty home there): her
        # service is pinned to the node of her home, so it has nowhere to run.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = swarm.manager.docker("service", "ps", service_of(swarm, "dana"),
                                          "--format", "{{.Node}} {{.CurrentState}}")
            if not any(line.split()[1] == "Running" for line in states.splitlines()
                       if line.split()):
                break
            time.sleep(2)
        running = [line for line in states.splitlines() if " Running" in line]
        assert running == [], states
        dana.stop_server()
        response = dana.api("POST", "/users/dana/server")
        assert response.status_code == 503, response.text[:300]
        assert ("the machine that holds your files is out of service"
                in response.json()["message"])
        assert service_of(swarm, "dana") is None  # nothing was started anywhere else
    finally:
        swarm.manager.docker("node", "update", "--availability", "active", home)
    start(dana)
    assert node_of(swarm, "dana") == home


def test_an_admin_moves_a_home_to_another_node(swarm, swarm_user):
    erin = swarm_user("erin")
    start(erin)
    first = node_of(swarm, "erin")
    [other] = [worker.name for worker in swarm.workers if worker.name != first]
    write = ("import os\nos.makedirs('data', exist_ok=True)\n"
             "open('data/notes.txt', 'w').write('moved')\nos.chmod('data/notes.txt', 0o600)\n"
             "print('written')")
    assert "written" in erin.execute(write).stdout
    # Refused, changing nothing: while her server runs, for a name outside the username
    # policy, and to the node that already holds it.
    running = swarm_command(swarm, "move-home", "erin", other)
    assert running.returncode == 1 and "erin's server runs" in running.stderr, running.stderr
    hostile = swarm_command(swarm, "move-home", "../erin", other)
    assert hostile.returncode == 1 and "is not a username of edahub" in hostile.stderr
    erin.stop_server()
    same = swarm_command(swarm, "move-home", "erin", first)
    assert same.returncode == 1 and f"already on {first}" in same.stderr, same.stderr
    moved = swarm_command(swarm, "move-home", "erin", other)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert f"erin's home is on {other} now" in moved.stdout, moved.stdout
    # The move's own services and network are gone.
    assert "edahub-move-" not in swarm.manager.docker("service", "ls", "--format", "{{.Name}}")
    assert "edahub-move-" not in swarm.manager.docker("network", "ls", "--format", "{{.Name}}")
    start(erin)
    assert node_of(swarm, "erin") == other
    check = ("import os, stat\ninfo = os.stat('data/notes.txt')\n"
             "print(open('data/notes.txt').read(), oct(stat.S_IMODE(info.st_mode)), "
             "info.st_uid == os.getuid())")
    result = erin.execute(check)
    assert result.stdout.strip() == "moved 0o600 True", (result.stdout, result.error)


def test_an_upgrade_keeps_running_servers_and_its_new_culling_settings_apply(swarm,
                                                                             swarm_user):
    """`bootstrap.py swarm deploy` again, with new settings, as an operator upgrades: the hub
    restarts, fay's server runs on untouched, and then the new idle culler stops it.
    Last in this module: after it, every server idle for 45 s is culled."""
    from edahub import envfile

    idle = 45  # longer than the upgrade takes: the culler starts with the new hub
    fay = swarm_user("fay")
    start(fay)
    service = service_of(swarm, "fay")
    task, hub_task = running_task(swarm, service), running_task(swarm, "edahub_hub")
    wrote = fay.execute("open('kept.txt', 'w').write('still here')\nprint('written')")
    assert "written" in wrote.stdout, wrote.error
    envfile.set_values(swarm.env_file, {"EDAHUB_CULL_IDLE_TIMEOUT": str(idle),
                                        "EDAHUB_CULL_EVERY": "2"})
    upgrading = time.monotonic()
    upgraded = swarm_command(swarm, "deploy")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    print(f"the upgrade took {time.monotonic() - upgrading:.0f} s:\n{upgraded.stdout}")
    assert running_task(swarm, "edahub_hub") != hub_task  # the hub did restart
    wait_for_hub(swarm.base_url, timeout=180)
    assert (service_of(swarm, "fay"), running_task(swarm, service)) == (service, task)
    ran = fay.execute("print(open('kept.txt').read())")
    assert ran.stdout == "still here\n", (ran.stdout, ran.error)
    idle_since = time.monotonic()
    while fay.server_model() and time.monotonic() < idle_since + idle + 90:
        time.sleep(1)
    assert fay.server_model() is None, "the idle server was not stopped"
    culled_after = time.monotonic() - idle_since
    assert culled_after >= idle - 5, culled_after  # not early
    assert service_of(swarm, "fay") is None
    print(f"fay's idle server was culled {culled_after:.0f} s after her last code ran")
    start(fay)
    again = fay.execute("print(open('kept.txt').read())")
    assert again.stdout == "still here\n", (again.stdout, again.error)
