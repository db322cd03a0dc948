"""EdahubSpawner (hub/edahub_hub/spawner.py): the user's databases around DockerSpawner.

The provisioners and DockerSpawner.start are stubbed (conftest.py); nothing reaches Docker
or a database.
"""

import asyncio
import http.server
import logging
import socket
import threading
import time

import pymysql
import pytest
from tornado.web import HTTPError
from dockerspawner import DockerSpawner

from edahub_core.names import database_name, home_volume_name
from edahub_hub.databases import credentials_for, derive_password

USERNAME = "O'Brien.Data"


class AnsweringServer:
    """An HTTP server on 127.0.0.1 (a started user's server), answering 200 to anything."""

    def __init__(self, port=0):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                AnsweringServer.paths.append(self.path)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    paths = []

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def docker_start(monkeypatch):
    """DockerSpawner.start replaced: records its call (and the loop's thread) and returns
    the address of a local server that answers, as a started container's would."""
    calls = []
    server = AnsweringServer()

    async def start(spawner):
        calls.append(threading.get_ident())
        return ("127.0.0.1", server.port)

    monkeypatch.setattr(DockerSpawner, "start", start)
    yield calls
    server.close()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("user_host", ["", "http://alice.eda.example.org"])
def test_start_returns_as_soon_as_the_server_answers(make_spawner, fake_provisioners,
                                                     monkeypatch, user_host):
    # The server comes up 0.6 s after its container started; JupyterHub's own back-off
    # waits up to 0.2, 0.4, 0.8, 1.6 ... s between looks (random within each bound).
    port = free_port()
    servers = []

    async def start(spawner):
        asyncio.get_running_loop().call_later(0.6, lambda: servers.append(AnsweringServer(port)))
        return ("127.0.0.1", port)

    monkeypatch.setattr(DockerSpawner, "start", start)
    # With user subdomains, alice's URL names her host; the check still goes to ip:port.
    spawner = make_spawner("alice", user_host=user_host)

    async def timed():
        began = asyncio.get_running_loop().time()
        result = await spawner.start()
        return result, asyncio.get_running_loop().time() - began

    AnsweringServer.paths.clear()
    (ip, answered_port), took = asyncio.run(timed())
    servers[0].close()
    assert (ip, answered_port) == ("127.0.0.1", port)
    assert 0.6 <= took < 1.2, took  # noticed within a poll or two of coming up
    assert AnsweringServer.paths[-1] == "/user/alice/api"  # where JupyterHub looks


def test_a_server_that_never_answers_is_left_to_jupyterhubs_own_check(make_spawner):
    spawner = make_spawner("alice", http_timeout=1)
    began = time.monotonic()
    assert asyncio.run(spawner.wait_until_answering(f"http://127.0.0.1:{free_port()}/x")) is False
    assert 0.9 <= time.monotonic() - began < 3


def test_a_server_that_accepts_but_does_not_answer_yet_is_not_an_error(make_spawner):
    # As a server's port looks from a hub whose cores are busy with a burst of spawns:
    # the connection is taken, no answer comes within the check's time.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        spawner = make_spawner("alice", http_timeout=2)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/x"
        began = time.monotonic()
        assert asyncio.run(spawner.wait_until_answering(url)) is False
    assert 1.9 <= time.monotonic() - began < 5


def test_the_environment_holds_the_users_database_credentials(make_spawner):
    spawner = make_spawner(USERNAME)
    env = spawner.get_env()
    name = database_name(USERNAME)
    key = spawner.db_password_key
    mariadb_password = derive_password(key, "mariadb", USERNAME)
    mongodb_password = derive_password(key, "mongodb", USERNAME)

    assert env["MARIADB_HOST"] == "mariadb" and env["MARIADB_PORT"] == "3306"
    assert env["MARIADB_USER"] == env["MARIADB_DATABASE"] == name
    assert env["MARIADB_PASSWORD"] == mariadb_password
    assert env["DATABASE_URL"] == env["MARIADB_URL"] == (
        f"mysql+pymysql://{name}:{mariadb_password}@mariadb:3306/{name}")
    assert env["MONGODB_HOST"] == "mongodb" and env["MONGODB_PORT"] == "27017"
    assert env["MONGODB_USER"] == env["MONGODB_DATABASE"] == name
    assert env["MONGODB_PASSWORD"] == mongodb_password
    assert env["MONGODB_URI"] == (
        f"mongodb://{name}:{mongodb_password}@mongodb:27017/{name}?authSource={name}")
    # DockerSpawner's own environment is still there.
    assert env["JUPYTERHUB_USER"] == USERNAME
    assert "JUPYTERHUB_API_TOKEN" in env


def test_users_get_different_passwords(make_spawner):
    alice, bob = make_spawner("alice").get_env(), make_spawner("bob").get_env()
    assert alice["MARIADB_PASSWORD"] != bob["MARIADB_PASSWORD"]
    assert alice["MONGODB_PASSWORD"] != bob["MONGODB_PASSWORD"]


def test_nothing_is_run_in_a_started_container(make_spawner):
    # ~/.my.cnf is the container's own work (singleuser/edahub-start): no docker exec
    # joins the queue of Docker calls at each spawn.
    assert not make_spawner(USERNAME).post_start_cmd


def test_docker_calls_of_all_spawners_share_a_pool_of_several_threads(make_spawner):
    first, second = make_spawner("alice"), make_spawner("bob")
    assert first.executor is second.executor
    assert first.executor._max_workers == first.docker_threads == 4


@pytest.mark.parametrize("shared_datasets", [False, True])
def test_start_provisions_both_databases_off_the_event_loop(
        make_spawner, fake_provisioners, docker_start, shared_datasets):
    spawner = make_spawner(USERNAME, shared_datasets=shared_datasets)

    ip, port = asyncio.run(spawner.start())
    assert ip == "127.0.0.1" and port > 0  # what DockerSpawner.start returned

    assert fake_provisioners.summary() == [("mariadb", "ensure"), ("mongodb", "ensure")]
    [loop_thread] = docker_start  # DockerSpawner.start ran once, meanwhile
    mariadb, mongodb = fake_provisioners.calls
    for call in (mariadb, mongodb):
        assert call.thread != loop_thread
        assert call.argument == credentials_for(USERNAME, spawner.db_password_key)
        assert call.shared_datasets is shared_datasets
    assert mariadb.password == "mariadb-provisioner-pw"
    assert mongodb.password == "mongodb-provisioner-pw"


def test_no_server_starts_when_provisioning_is_refused(make_spawner, fake_provisioners,
                                                       docker_start):
    refused = pymysql.err.OperationalError(1045, "Access denied for user 'edahub_provisioner'")
    fake_provisioners.failures[("mariadb", "ensure")] = [refused]

    spawner = make_spawner(USERNAME)
    stopped = []

    async def stop(now=False):
        stopped.append(now)

    spawner.stop = stop
    with pytest.raises(pymysql.err.OperationalError):
        asyncio.run(spawner.start())
    assert fake_provisioners.summary() == [("mariadb", "ensure")]  # no retry, no MongoDB
    # The container was started meanwhile; it is stopped (and removed) again.
    assert len(docker_start) == 1 and stopped == [False]


def test_start_waits_for_a_database_that_is_still_starting(make_spawner, fake_provisioners,
                                                           docker_start, no_sleep):
    unreachable = pymysql.err.OperationalError(2003, "Can't connect to MySQL server")
    fake_provisioners.failures[("mariadb", "ensure")] = [unreachable, unreachable]

    asyncio.run(make_spawner(USERNAME).start())
    assert fake_provisioners.summary() == [("mariadb", "ensure")] * 3 + [("mongodb", "ensure")]
    assert len(no_sleep) == 2
    assert len(docker_start) == 1


def test_deleting_a_user_keeps_their_data_by_default(make_spawner, fake_provisioners,
                                                     fake_docker, caplog):
    fake_docker.existing.add(home_volume_name("edahub", USERNAME))
    with caplog.at_level(logging.INFO):
        asyncio.run(make_spawner(USERNAME).delete_forever())

    assert fake_provisioners.calls == []
    assert fake_docker.clients_made == 0 and fake_docker.removed == []
    assert "Keeping the data of deleted user" in caplog.text


def test_deleting_a_user_drops_their_data_when_configured(make_spawner, fake_provisioners,
                                                          fake_docker, caplog):
    volume = home_volume_name("lab", USERNAME)
    fake_docker.existing.add(volume)
    spawner = make_spawner(USERNAME, prefix="lab", delete_user_data=True)

    with caplog.at_level(logging.INFO):
        asyncio.run(spawner.delete_forever())

    assert fake_provisioners.summary() == [("mariadb", "drop"), ("mongodb", "drop")]
    assert {c.argument for c in fake_provisioners.calls} == {database_name(USERNAME)}
    assert [c.password for c in fake_provisioners.calls] == [
        "mariadb-provisioner-pw", "mongodb-provisioner-pw"]
    assert fake_provisioners.calls[0].thread != threading.get_ident()  # not on the loop
    assert fake_docker.removed == [volume]
    assert "Dropped the databases and home volume" in caplog.text


def test_a_volume_in_use_at_deletion_is_logged_not_raised(make_spawner, fake_provisioners,
                                                          fake_docker, caplog):
    # The real drop_user_data runs, against a Docker that refuses: the volume is in use.
    volume = home_volume_name("edahub", USERNAME)
    fake_docker.in_use.add(volume)
    spawner = make_spawner(USERNAME, delete_user_data=True)

    with caplog.at_level(logging.INFO):
        assert asyncio.run(spawner.delete_forever()) is None

    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert f"Could not drop all data of deleted user {USERNAME}" in error.getMessage()
    assert "volume is in use" in error.getMessage()
    assert "stop the user's server first" in error.getMessage()
    assert "Dropped the databases" not in caplog.text


PROFILES = [{"name": "large", "mem_limit": "4G", "cpu_limit": 2.0}]


def test_the_form_offers_the_standard_limits_and_the_admins_profiles(make_spawner):
    form = make_spawner("alice", profiles=PROFILES).options_form
    assert '<option value="standard">Standard</option>' in form
    assert '<option value="large">large (4G memory, 2 cores)</option>' in form
    assert make_spawner("bob").options_form == ""  # no profiles: no form
    assert make_spawner("bob").options_from_form({"profile": ["large"]}) == {"profile": "large"}


def test_a_chosen_profile_sets_the_limits_of_that_start_only(make_spawner):
    spawner = make_spawner("alice", profiles=PROFILES, mem_limit="1G", cpu_limit=1.0)
    spawner.user_options = {"profile": "large"}
    spawner.apply_profile()
    assert (spawner.mem_limit, spawner.cpu_limit) == (4 * 2**30, 2.0)
    spawner.user_options = {}
    spawner.apply_profile()
    assert (spawner.mem_limit, spawner.cpu_limit) == (2**30, 1.0)


@pytest.mark.parametrize("options, message", [
    ({"profile": "huge"}, "There is no profile 'huge' here; choose one of: standard, large."),
    ({"profile": "large", "mem_limit": "64G"}, "Unknown server options: mem_limit."),
    ({"image": "evil:latest"}, "Unknown server options: image."),
])
def test_nothing_but_an_admins_profile_can_be_asked_for(make_spawner, fake_provisioners,
                                                        options, message):
    spawner = make_spawner("alice", profiles=PROFILES, mem_limit="1G")
    spawner.user_options = options
    with pytest.raises(HTTPError) as error:
        asyncio.run(spawner.start())
    assert error.value.status_code == 400 and error.value.log_message.startswith(message)
    assert spawner.mem_limit == 2**30 and fake_provisioners.calls == []  # nothing started


class SpawnerDocker:
    """The Docker calls EdahubSpawner makes itself (``self.docker``), answered from a dict
    of volumes and a list of this stack's healthy netpolicy containers."""

    def __init__(self, volumes=(), healthy_policy=True, create_error=None):
        self.volumes = dict.fromkeys(volumes, {})
        self.healthy_policy = healthy_policy
        self.create_error = create_error
        self.calls = []

    async def __call__(self, method, *args, **kwargs):
        import docker.errors

        self.calls.append((method, args, kwargs))
        if method == "inspect_container":
            return {"Config": {"Labels": {"com.docker.compose.project": "lab"}}}
        if method == "containers":
            return [{"Id": "netpolicy"}] if self.healthy_policy else []
        if method == "inspect_volume":
            if args[0] not in self.volumes:
                raise docker.errors.NotFound("no such volume")
            return self.volumes[args[0]]
        if method == "create_volume":
            if self.create_error:
                raise docker.errors.APIError(self.create_error)
            self.volumes[kwargs["name"]] = kwargs
            return kwargs
        raise AssertionError(f"unexpected Docker call {method}")


def test_a_new_home_is_created_with_its_size_limit(make_spawner):
    spawner = make_spawner(USERNAME, home_size="10G")
    spawner.docker = SpawnerDocker()
    asyncio.run(spawner.ensure_home_volume())

    volume = home_volume_name("edahub", USERNAME)
    assert spawner.docker.volumes[volume] == {"name": volume, "driver": "local",
                                              "driver_opts": {"size": "10G"}}


def test_an_existing_home_is_left_as_it_was_created(make_spawner):
    volume = home_volume_name("edahub", USERNAME)
    spawner = make_spawner(USERNAME, home_size="10G")
    spawner.docker = SpawnerDocker(volumes=[volume])
    asyncio.run(spawner.ensure_home_volume())

    assert [call[0] for call in spawner.docker.calls] == ["inspect_volume"]


def test_without_a_home_size_docker_makes_the_home_as_before(make_spawner):
    spawner = make_spawner(USERNAME)
    spawner.docker = SpawnerDocker()
    asyncio.run(spawner.ensure_home_volume())

    assert spawner.docker.calls == []


def test_a_home_the_engine_cannot_limit_stops_the_start_with_a_message(make_spawner, caplog):
    spawner = make_spawner(USERNAME, home_size="10G")
    spawner.docker = SpawnerDocker(create_error="quota size requested but no quota support")
    with caplog.at_level(logging.ERROR), pytest.raises(RuntimeError, match="tell the admin"):
        asyncio.run(spawner.ensure_home_volume())

    assert "no quota support" in caplog.text and "EDAHUB_USER_HOME_SIZE=10G" in caplog.text


def test_no_server_starts_while_the_network_policy_is_not_healthy(make_spawner,
                                                                  fake_provisioners, caplog):
    spawner = make_spawner(USERNAME, network_policy=True)
    spawner.docker = SpawnerDocker(healthy_policy=False)
    with caplog.at_level(logging.ERROR), pytest.raises(HTTPError, match="network protection") as refused:
        asyncio.run(spawner.start())
    assert refused.value.status_code == 503

    assert fake_provisioners.calls == []  # nothing was done for the user
    [(method, _, kwargs)] = [c for c in spawner.docker.calls if c[0] == "containers"]
    assert kwargs["filters"] == {"label": ["com.docker.compose.project=lab",
                                           "com.docker.compose.service=netpolicy"],
                                 "health": "healthy"}
    assert "netpolicy service of lab is not running and healthy" in caplog.text


def test_servers_start_once_the_network_policy_is_healthy(make_spawner, fake_provisioners,
                                                          docker_start):
    spawner = make_spawner(USERNAME, network_policy=True)
    spawner.docker = SpawnerDocker(healthy_policy=True)
    asyncio.run(spawner.start())

    assert fake_provisioners.summary() == [("mariadb", "ensure"), ("mongodb", "ensure")]


def test_without_the_network_policy_setting_docker_is_not_asked(make_spawner, fake_provisioners,
                                                                docker_start):
    spawner = make_spawner(USERNAME)
    spawner.docker = SpawnerDocker(healthy_policy=False)
    asyncio.run(spawner.start())

    assert spawner.docker.calls == []


def test_the_databases_are_made_while_the_container_starts(make_spawner, monkeypatch):
    container_started = threading.Event()
    server = AnsweringServer()

    async def start(spawner):
        container_started.set()
        return ("127.0.0.1", server.port)

    monkeypatch.setattr(DockerSpawner, "start", start)
    spawner = make_spawner(USERNAME)

    def provision():  # returns only once Docker is starting the container
        assert container_started.wait(10), "provisioning ran before the container started"

    spawner.provision_user_databases = provision
    try:
        assert asyncio.run(asyncio.wait_for(spawner.start(), 30)) == ("127.0.0.1", server.port)
    finally:
        server.close()
