"""Stand-ins shared by the hub's unit tests: no Docker, no network, no database server.

Each fixture patches one boundary of hub/edahub_hub (the database drivers, the Docker
client, the provisioners) with a recorder that says what would have been sent, and
monkeypatch undoes it after the test. Docker is imported inside fixtures only.
"""

import logging
import threading
from types import SimpleNamespace

import bcrypt
import pytest

from edahub_core.names import container_name_template, home_volume_template

# EDAHUB_DB_PASSWORD_KEY of the spawners made here.
PASSWORD_KEY = "ab" * 32
ADMIN_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def admin_password():
    return ADMIN_PASSWORD


@pytest.fixture(scope="session")
def admin_hash():
    """A real bcrypt hash of ``admin_password`` (4 rounds: fast, still a valid hash)."""
    return bcrypt.hashpw(ADMIN_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()


@pytest.fixture
def hub_db():
    """An in-memory SQLite session, as JupyterHub hands its authenticator.

    Its NativeAuthenticator table exists and is empty, as in a hub's new database.
    """
    from nativeauthenticator.orm import UserInfo
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    engine = create_engine("sqlite://")
    UserInfo.__table__.create(engine)
    session = sessionmaker(bind=engine)()
    yield session
    session.close()
    engine.dispose()


@pytest.fixture
def hub_log():
    """A logger for the hub's objects whose records caplog sees."""
    return logging.getLogger("edahub.test.hub")


# --- the provisioners, as the spawner and the drop command see them ---------------------


class FakeProvisioners:
    """Records every ensure/drop of both engines, with its thread; can fail on demand.

    ``calls`` holds ``(engine, action, password, argument, shared_datasets, thread id)``;
    ``failures[(engine, action)]`` is a list of exceptions raised by the next calls.
    """

    def __init__(self):
        self.calls = []
        self.failures = {}
        self.lock = threading.Lock()

    def record(self, engine, action, password, argument, shared_datasets=None):
        with self.lock:
            self.calls.append(SimpleNamespace(
                engine=engine, action=action, password=password, argument=argument,
                shared_datasets=shared_datasets, thread=threading.get_ident()))
            pending = self.failures.get((engine, action))
            if pending:
                raise pending.pop(0)

    def summary(self):
        """``[(engine, action), ...]`` in call order."""
        return [(c.engine, c.action) for c in self.calls]

    def provisioner_class(self, engine):
        fakes = self

        class FakeProvisioner:
            legacy = False  # MariaDB's: the volume predates the procedures

            def __init__(self, password, host=None, port=None):
                self.password = password

            def ensure(self, creds, shared_datasets=False):
                fakes.record(engine, "ensure", self.password, creds, shared_datasets)

            def drop(self, name):
                fakes.record(engine, "drop", self.password, name)

        FakeProvisioner.__name__ = f"Fake{engine}Provisioner"
        return FakeProvisioner


@pytest.fixture
def fake_provisioners(monkeypatch):
    """Both provisioners replaced, where the spawner and the drop command look them up."""
    fakes = FakeProvisioners()
    for module in ("edahub_hub.spawner", "edahub_hub.userdata"):
        monkeypatch.setattr(f"{module}.MariaDBProvisioner", fakes.provisioner_class("mariadb"))
        monkeypatch.setattr(f"{module}.MongoDBProvisioner", fakes.provisioner_class("mongodb"))
    return fakes


# --- Docker -------------------------------------------------------------------------------


class FakeDocker:
    """The slice of docker.DockerClient that drop_user_data uses: ``volumes.get().remove()``.

    ``existing`` volumes are removed when asked; ``in_use`` ones refuse as the Docker
    engine does (409, an APIError); any other name is NotFound.
    """

    def __init__(self, errors):
        self.errors = errors
        self.existing = set()
        self.in_use = set()
        self.removed = []
        self.clients_made = 0
        self.volumes = self

    def get(self, name):
        if name in self.in_use:
            return SimpleNamespace(remove=lambda: self._refuse(name))
        if name in self.existing:
            return SimpleNamespace(remove=lambda: self._remove(name))
        raise self.errors.NotFound(f"get volume {name}: no such volume")

    def _remove(self, name):
        self.existing.discard(name)
        self.removed.append(name)

    def _refuse(self, name):
        raise self.errors.APIError(
            "409 Client Error: Conflict",
            explanation=f"remove {name}: volume is in use - [0123456789ab]",
        )


@pytest.fixture
def fake_docker(monkeypatch):
    """A FakeDocker that ``docker.from_env()`` returns (the drop command's own client)."""
    import docker
    import docker.errors

    fake = FakeDocker(docker.errors)

    def from_env(*args, **kwargs):
        fake.clients_made += 1
        return fake

    monkeypatch.setattr(docker, "from_env", from_env)
    return fake


# --- the database drivers -------------------------------------------------------------------


class FakeMariaDB:
    """Stands in for pymysql.connect: records connections and each statement with its args.

    ``errors`` maps the start of a statement ("REVOKE") to the exception it raises.
    """

    def __init__(self):
        self.connections = []
        self.statements = []
        self.errors = {}

    def connect(self, **kwargs):
        self.connections.append(kwargs)
        return _FakeMariaDBConnection(self)

    def sql(self):
        """The statements' SQL text only."""
        return [sql for sql, _ in self.statements]


class _FakeMariaDBConnection:
    def __init__(self, server):
        self.server = server

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def cursor(self):
        return self

    def execute(self, sql, args=None):
        self.server.statements.append((sql, args))
        for start, error in self.server.errors.items():
            if sql.startswith(start):
                raise error


@pytest.fixture
def fake_mariadb(monkeypatch):
    """pymysql.connect replaced by a FakeMariaDB (the provisioner imports pymysql lazily)."""
    import pymysql

    fake = FakeMariaDB()
    monkeypatch.setattr(pymysql, "connect", fake.connect)
    return fake


class FakeMongoDB:
    """Stands in for pymongo.MongoClient: records clients, commands and dropped databases.

    ``users`` is the set of accounts that exist (usersInfo finds them).
    """

    def __init__(self):
        self.clients = []
        self.commands = []
        self.dropped = []
        self.users = set()

    def client(self, **kwargs):
        self.clients.append(kwargs)
        return _FakeMongoClient(self)


class _FakeMongoClient:
    def __init__(self, server):
        self.server = server

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __getitem__(self, database):
        return _FakeMongoDatabase(self.server, database)

    def drop_database(self, name):
        self.server.dropped.append(name)


class _FakeMongoDatabase:
    def __init__(self, server, name):
        self.server = server
        self.name = name

    def command(self, command, value, **kwargs):
        self.server.commands.append((self.name, command, value, kwargs))
        if command == "usersInfo":
            return {"users": [{"user": value}] if value in self.server.users else []}
        return {"ok": 1}


@pytest.fixture
def fake_mongodb(monkeypatch):
    """pymongo.MongoClient replaced by a FakeMongoDB."""
    import pymongo

    fake = FakeMongoDB()
    monkeypatch.setattr(pymongo, "MongoClient", fake.client)
    return fake


@pytest.fixture
def no_sleep(monkeypatch):
    """The delays of ``databases.retry``, recorded instead of slept."""
    import edahub_hub.databases

    slept = []
    monkeypatch.setattr(edahub_hub.databases, "time", SimpleNamespace(sleep=slept.append))
    return slept


# --- the spawner ------------------------------------------------------------------------------


@pytest.fixture
def make_spawner(hub_log):
    """Build an EdahubSpawner for a user, configured as jupyterhub_config.py does.

    No Docker client is made: DockerSpawner creates it only when it talks to Docker.
    """
    from jupyterhub.objects import Hub

    from edahub_hub.spawner import EdahubSpawner

    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    hub_db = sessionmaker(bind=create_engine("sqlite://"))()  # the hub's database
    EdahubSpawner._compose_project = None  # what an earlier test's hub found is not kept

    def make(username="alice", prefix="edahub", created=None, user_host="", spawner_class=None,
             **config):
        # As JupyterHub's User: url is the host too when users have subdomains.
        user = SimpleNamespace(name=username, base_url=f"/user/{username}/",
                               url=f"{user_host}/user/{username}/", escaped_name=username,
                               db=hub_db, created=created)
        config = {
            "db_password_key": PASSWORD_KEY,
            "mariadb_provisioner_password": "mariadb-provisioner-pw",
            "mongodb_provisioner_password": "mongodb-provisioner-pw",
            "name_template": container_name_template(prefix),
            "volumes": {home_volume_template(prefix): "/home/jovyan"},
            **config,
        }
        return (spawner_class or EdahubSpawner)(user=user, hub=Hub(), log=hub_log, **config)

    return make
