"""The provisioners and their retry (hub/edahub_hub/databases.py), on recording drivers.

pymysql.connect and pymongo.MongoClient are replaced (conftest.py): every statement and
command is recorded, and no connection leaves the process.
"""

import logging
from types import SimpleNamespace

import pymongo.errors
import pymysql
import pytest

from edahub_core.names import PROVISIONER, UnsafeName
from edahub_hub.databases import (Credentials, MariaDBProvisioner, MongoDBProvisioner,
                                  credentials_for, grant_pattern, is_connection_error, retry)

CREDS = credentials_for("alice", "cd" * 32)
NAME = CREDS.name

# --- is_connection_error ---------------------------------------------------------------------


@pytest.mark.parametrize("error", [
    pymysql.err.OperationalError(2002, "Can't connect to local server through socket"),
    pymysql.err.OperationalError(2003, "Can't connect to MySQL server on 'mariadb'"),
    pymysql.err.OperationalError(2006, "MySQL server has gone away"),
    pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"),
    pymongo.errors.ConnectionFailure("mongodb:27017: connection refused"),
    pymongo.errors.AutoReconnect("mongodb:27017: connection reset"),
    pymongo.errors.ServerSelectionTimeoutError("mongodb:27017: timed out"),
], ids=repr)
def test_unreachable_servers_are_connection_errors(error):
    assert is_connection_error(error)


@pytest.mark.parametrize("error", [
    pymysql.err.OperationalError(1045, "Access denied for user 'edahub_provisioner'"),
    pymysql.err.OperationalError(1044, "Access denied to database 'mysql'"),
    pymysql.err.ProgrammingError(1064, "You have an error in your SQL syntax"),
    pymongo.errors.OperationFailure("Authentication failed.", code=18),
    pymysql.err.OperationalError(),  # no args at all
    pymysql.err.OperationalError("2003"),  # a code as text is not a driver's code
    Exception(),
    RuntimeError(None),
    OSError(2003, "the number of a MariaDB code, but not from pymysql"),
    ValueError(),
], ids=repr)
def test_refusals_and_other_errors_are_not(error):
    assert not is_connection_error(error)


# --- retry -------------------------------------------------------------------------------------


class Flaky:
    """An action that raises ``errors`` one per call, then returns "done"."""

    def __init__(self, *errors):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


UNREACHABLE = pymysql.err.OperationalError(2003, "Can't connect to MySQL server")


def test_retry_returns_at_once_when_the_action_succeeds(no_sleep):
    action = Flaky()
    assert retry(action, "test") == "done"
    assert action.calls == 1 and no_sleep == []


def test_retry_waits_out_connection_errors(no_sleep, caplog):
    action = Flaky(UNREACHABLE, pymongo.errors.ServerSelectionTimeoutError("timed out"))
    with caplog.at_level(logging.WARNING):
        assert retry(action, "MariaDB provisioning", delay=0.25,
                     log=logging.getLogger("edahub.test")) == "done"
    assert action.calls == 3
    assert no_sleep == [0.25, 0.25]
    assert "MariaDB provisioning: cannot connect yet" in caplog.text


def test_retry_raises_a_refusal_at_once(no_sleep):
    refused = pymysql.err.OperationalError(1045, "Access denied")
    action = Flaky(refused)
    with pytest.raises(pymysql.err.OperationalError) as raised:
        retry(action, "test")
    assert raised.value is refused
    assert action.calls == 1 and no_sleep == []


def test_retry_gives_up_after_its_attempts(no_sleep):
    errors = [pymysql.err.OperationalError(2003, f"attempt {n}") for n in range(1, 10)]
    action = Flaky(*errors)
    with pytest.raises(pymysql.err.OperationalError) as raised:
        retry(action, "test", attempts=4, delay=2)
    assert action.calls == 4
    assert raised.value is errors[3]  # the last attempt's error
    assert no_sleep == [2, 2, 2]


# --- names the provisioners refuse -----------------------------------------------------------

UNSAFE = [
    "datasets", "mysql", "admin", "root", "", "u_", "u_alice",
    f"{NAME}\n", f" {NAME}", NAME.upper(), f"{NAME}`; DROP DATABASE mysql; -- ",
    "u_alice_0123456789'@'%", "u_a.b_0123456789", "u_alice_012345678", "u_alice_0123456789a",
]


def provisioning_actions():
    return {
        "mariadb ensure": lambda name: MariaDBProvisioner("pw").ensure(
            Credentials(name, "mariadb-pw", "mongodb-pw")),
        "mariadb drop": lambda name: MariaDBProvisioner("pw").drop(name),
        "mongodb ensure": lambda name: MongoDBProvisioner("pw").ensure(
            Credentials(name, "mariadb-pw", "mongodb-pw")),
        "mongodb drop": lambda name: MongoDBProvisioner("pw").drop(name),
    }


@pytest.mark.parametrize("action", sorted(provisioning_actions()))
@pytest.mark.parametrize("name", UNSAFE, ids=repr)
def test_provisioners_refuse_a_name_that_is_not_a_user_database_before_connecting(
        fake_mariadb, fake_mongodb, action, name):
    with pytest.raises(UnsafeName):
        provisioning_actions()[action](name)
    assert fake_mariadb.connections == [] and fake_mongodb.clients == []


# --- MariaDB ---------------------------------------------------------------------------------


def test_mariadb_ensure_only_calls_edahubs_procedure_as_the_provisioner(fake_mariadb):
    provisioner = MariaDBProvisioner("provisioner-pw")
    provisioner.ensure(CREDS, shared_datasets=True)

    [connection] = fake_mariadb.connections
    assert connection["user"] == PROVISIONER and connection["password"] == "provisioner-pw"
    assert (connection["host"], connection["port"]) == ("mariadb", 3306)
    # The password travels as a parameter, never spliced into SQL text.
    assert fake_mariadb.statements == [
        ("CALL `edahub_admin`.`ensure_account`(%s, %s, %s)", (NAME, CREDS.mariadb_password, True))]
    assert provisioner.legacy is False


def test_mariadb_drop_only_calls_edahubs_procedure(fake_mariadb):
    MariaDBProvisioner("pw").drop(NAME)
    assert fake_mariadb.statements == [("CALL `edahub_admin`.`drop_account`(%s)", (NAME,))]


@pytest.fixture
def legacy_mariadb(fake_mariadb):
    """A MariaDB whose volume predates the procedures (edahub 0.2.0 and earlier): the call
    fails as MariaDB answers it, and the provisioner falls back to its own statements."""
    fake_mariadb.errors["CALL"] = pymysql.err.OperationalError(
        1305, "PROCEDURE edahub_admin.ensure_account does not exist")
    return fake_mariadb


def test_a_call_refused_for_another_reason_is_raised(fake_mariadb):
    error = pymysql.err.OperationalError(1370, "execute command denied")
    fake_mariadb.errors["CALL"] = error
    with pytest.raises(pymysql.err.OperationalError) as raised:
        MariaDBProvisioner("pw").ensure(CREDS)
    assert raised.value is error and len(fake_mariadb.statements) == 1


def test_without_procedures_ensure_creates_the_database_and_account_itself(legacy_mariadb):
    provisioner = MariaDBProvisioner("provisioner-pw")
    provisioner.ensure(CREDS, shared_datasets=False)
    assert provisioner.legacy is True
    legacy_mariadb.statements.pop(0)  # the refused call

    [connection] = legacy_mariadb.connections
    assert connection["user"] == PROVISIONER and connection["password"] == "provisioner-pw"
    assert (connection["host"], connection["port"]) == ("mariadb", 3306)
    statements = dict(legacy_mariadb.statements)
    assert f"CREATE DATABASE IF NOT EXISTS `{NAME}`" in statements
    # The grant names exactly this database ('_' escaped: it is a wildcard in grants),
    # and an unescaped grant from an earlier version is taken back first.
    escaped = NAME.replace("_", "\\_")
    assert f"GRANT ALL PRIVILEGES ON `{escaped}`.* TO %s@'%%'" in statements
    assert f"GRANT ALL PRIVILEGES ON `{NAME}`.* TO %s@'%%'" not in statements
    sql = legacy_mariadb.sql()
    assert sql.index(f"REVOKE ALL PRIVILEGES ON `{NAME}`.* FROM %s@'%%'") < \
        sql.index(f"GRANT ALL PRIVILEGES ON `{escaped}`.* TO %s@'%%'")
    created = [args for sql, args in legacy_mariadb.statements if sql.startswith("CREATE USER")]
    altered = [args for sql, args in legacy_mariadb.statements if sql.startswith("ALTER USER")]
    assert created == altered == [(NAME, CREDS.mariadb_password)]
    # The password travels as a parameter, never spliced into SQL text.
    assert not any(CREDS.mariadb_password in sql for sql in legacy_mariadb.sql())


def test_without_procedures_ensure_revokes_datasets_when_sharing_is_off(legacy_mariadb):
    MariaDBProvisioner("pw").ensure(CREDS, shared_datasets=False)
    assert ("REVOKE SELECT ON `datasets`.* FROM %s@'%%'", (NAME,)) in legacy_mariadb.statements
    assert not any("GRANT SELECT" in sql for sql in legacy_mariadb.sql())


def test_without_procedures_ensure_grants_datasets_when_sharing_is_on(legacy_mariadb):
    MariaDBProvisioner("pw").ensure(CREDS, shared_datasets=True)
    assert ("GRANT SELECT ON `datasets`.* TO %s@'%%'", (NAME,)) in legacy_mariadb.statements
    assert not any(sql.startswith("REVOKE") and "datasets" in sql for sql in legacy_mariadb.sql())


def test_a_grant_pattern_matches_only_its_own_name():
    assert grant_pattern("u_a_b_0123456789") == "u\\_a\\_b\\_0123456789"
    assert grant_pattern("50%\\x") == "50\\%\\\\x"


def test_mariadb_ensure_ignores_revoking_a_grant_never_made(legacy_mariadb):
    # What MariaDB answers (ER_NONEXISTING_GRANT), as pymysql raises it.
    legacy_mariadb.errors["REVOKE"] = pymysql.err.OperationalError(
        1141, f"There is no such grant defined for user '{NAME}' on host '%'")
    MariaDBProvisioner("pw").ensure(CREDS, shared_datasets=False)
    assert legacy_mariadb.sql()[-1].startswith("REVOKE")


@pytest.mark.parametrize("error", [
    pymysql.err.OperationalError(1044, "Access denied for user 'edahub_provisioner'"),
    pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"),
    pymysql.err.OperationalError(),
], ids=repr)
def test_mariadb_ensure_raises_other_errors_of_the_revoke(legacy_mariadb, error):
    legacy_mariadb.errors["REVOKE"] = error
    with pytest.raises(pymysql.err.OperationalError) as raised:
        MariaDBProvisioner("pw").ensure(CREDS, shared_datasets=False)
    assert raised.value is error


def test_without_procedures_drop_drops_the_database_and_the_account(legacy_mariadb):
    MariaDBProvisioner("pw").drop(NAME)
    assert legacy_mariadb.statements[1:] == [(f"DROP DATABASE IF EXISTS `{NAME}`", None),
                                       ("DROP USER IF EXISTS %s@'%%'", (NAME,))]


# --- MongoDB: the accounts service and the hub's client ----------------------------------------


@pytest.fixture
def accounts_service(fake_mongodb):
    """mongodb_accounts' real HTTP handler on 127.0.0.1, with root's client recorded by
    FakeMongoDB; yields a provisioner that talks to it with the right key."""
    import threading
    from http.server import ThreadingHTTPServer

    from edahub_hub.mongodb_accounts import Accounts, make_handler

    root = fake_mongodb.client(host="127.0.0.1", username="root", password="root-pw")
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(Accounts(root), "provisioner-pw"))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield SimpleNamespace(port=server.server_address[1], provisioner=MongoDBProvisioner(
        "provisioner-pw", host="127.0.0.1", port=server.server_address[1]))
    server.shutdown()
    server.server_close()


def roles_given(fake_mongodb, command):
    [roles] = [kw["roles"] for _, cmd, _, kw in fake_mongodb.commands if cmd == command]
    return roles


@pytest.mark.parametrize("shared_datasets", [False, True])
def test_mongodb_ensure_creates_a_new_account_in_its_own_database(fake_mongodb, accounts_service,
                                                                  shared_datasets):
    accounts_service.provisioner.ensure(CREDS, shared_datasets=shared_datasets)

    [(database, _, name, kw)] = [c for c in fake_mongodb.commands if c[1] == "createUser"]
    assert database == name == NAME and kw["pwd"] == CREDS.mongodb_password
    expected = [{"role": "readWrite", "db": NAME}, {"role": "dbAdmin", "db": NAME}]
    if shared_datasets:
        expected.append({"role": "read", "db": "datasets"})
    assert kw["roles"] == expected  # never dbOwner or userAdmin


def test_mongodb_ensure_updates_an_existing_account(fake_mongodb, accounts_service):
    fake_mongodb.users.add(NAME)
    accounts_service.provisioner.ensure(CREDS, shared_datasets=False)
    commands = [cmd for _, cmd, _, _ in fake_mongodb.commands]
    assert commands == ["usersInfo", "updateUser"]
    # Switching sharing off takes the read role on datasets away.
    assert {"role": "read", "db": "datasets"} not in roles_given(fake_mongodb, "updateUser")


def test_mongodb_drop_drops_the_account_and_the_database(fake_mongodb, accounts_service):
    fake_mongodb.users.add(NAME)
    accounts_service.provisioner.drop(NAME)
    assert [(db, cmd, arg) for db, cmd, arg, _ in fake_mongodb.commands] == [
        (NAME, "usersInfo", NAME), (NAME, "dropUser", NAME)]
    assert fake_mongodb.dropped == [NAME]


def test_the_accounts_service_refuses_a_wrong_key(fake_mongodb, accounts_service):
    intruder = MongoDBProvisioner("guessed", host="127.0.0.1", port=accounts_service.port)
    with pytest.raises(RuntimeError, match="HTTP 403 not authorized"):
        intruder.ensure(CREDS)
    with pytest.raises(RuntimeError, match="HTTP 403"):
        intruder.drop(NAME)
    assert fake_mongodb.commands == [] and fake_mongodb.dropped == []


@pytest.mark.parametrize("method, path, body, status", [
    ("PUT", "/accounts/admin", {"password": "ab" * 32}, 404),
    ("DELETE", "/accounts/admin", None, 404),
    ("PUT", f"/accounts/{NAME}/../admin", {"password": "ab" * 32}, 404),
    ("PUT", f"/accounts/{NAME}%0A", {"password": "ab" * 32}, 404),
    ("PUT", f"/accounts/{NAME}", {"password": "secret', roles: ['root']"}, 400),
    ("PUT", f"/accounts/{NAME}", {"password": "ab" * 32, "datasets": "yes"}, 400),
    ("PUT", f"/accounts/{NAME}", {"pwd": "ab" * 32}, 400),
], ids=lambda v: str(v)[:40])
def test_the_accounts_service_does_nothing_outside_its_one_job(fake_mongodb, accounts_service,
                                                               method, path, body, status):
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{accounts_service.port}{path}", method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer provisioner-pw"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == status
    assert fake_mongodb.commands == [] and fake_mongodb.dropped == []


def test_an_accounts_service_that_is_not_up_is_worth_retrying():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(ConnectionError) as raised:
        MongoDBProvisioner("pw", host="127.0.0.1", port=port).ensure(CREDS)
    assert is_connection_error(raised.value)


def test_a_mongodb_that_fails_is_a_503_the_hub_retries(fake_mongodb, accounts_service,
                                                       monkeypatch):
    from edahub_hub.mongodb_accounts import Accounts

    def down(self, name, password, datasets):
        raise pymongo.errors.AutoReconnect("mongodb:27017: connection refused")

    reconnected = []
    monkeypatch.setattr(Accounts, "ensure", down)
    monkeypatch.setattr(Accounts, "reconnect", lambda self: reconnected.append(True))
    with pytest.raises(ConnectionError, match="MongoDB: AutoReconnect") as raised:
        accounts_service.provisioner.ensure(CREDS)
    assert is_connection_error(raised.value)
    assert reconnected == [True]  # the next try logs in anew


def test_reconnecting_replaces_the_client_with_a_new_one():
    from edahub_hub.mongodb_accounts import Accounts

    closed = []
    old = SimpleNamespace(close=lambda: closed.append("old"))
    accounts = Accounts(old, connect=lambda: "new client")
    accounts.reconnect()
    assert accounts.client == "new client" and closed == ["old"]
