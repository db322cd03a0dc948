"""The provisioners and their retry (hub/edahub_hub/databases.py), on recording drivers.

pymysql.connect and pymongo.MongoClient are replaced (conftest.py): every statement and
command is recorded, and no connection leaves the process.
"""

import logging

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


def test_mariadb_ensure_creates_the_database_and_account_as_the_provisioner(fake_mariadb):
    MariaDBProvisioner("provisioner-pw").ensure(CREDS, shared_datasets=False)

    [connection] = fake_mariadb.connections
    assert connection["user"] == PROVISIONER and connection["password"] == "provisioner-pw"
    assert (connection["host"], connection["port"]) == ("mariadb", 3306)
    statements = dict(fake_mariadb.statements)
    assert f"CREATE DATABASE IF NOT EXISTS `{NAME}`" in statements
    # The grant names exactly this database ('_' escaped: it is a wildcard in grants),
    # and an unescaped grant from an earlier version is taken back first.
    escaped = NAME.replace("_", "\\_")
    assert f"GRANT ALL PRIVILEGES ON `{escaped}`.* TO %s@'%%'" in statements
    assert f"GRANT ALL PRIVILEGES ON `{NAME}`.* TO %s@'%%'" not in statements
    sql = fake_mariadb.sql()
    assert sql.index(f"REVOKE ALL PRIVILEGES ON `{NAME}`.* FROM %s@'%%'") < \
        sql.index(f"GRANT ALL PRIVILEGES ON `{escaped}`.* TO %s@'%%'")
    created = [args for sql, args in fake_mariadb.statements if sql.startswith("CREATE USER")]
    altered = [args for sql, args in fake_mariadb.statements if sql.startswith("ALTER USER")]
    assert created == altered == [(NAME, CREDS.mariadb_password)]
    # The password travels as a parameter, never spliced into SQL text.
    assert not any(CREDS.mariadb_password in sql for sql in fake_mariadb.sql())


def test_mariadb_ensure_revokes_datasets_when_sharing_is_off(fake_mariadb):
    MariaDBProvisioner("pw").ensure(CREDS, shared_datasets=False)
    assert ("REVOKE SELECT ON `datasets`.* FROM %s@'%%'", (NAME,)) in fake_mariadb.statements
    assert not any("GRANT SELECT" in sql for sql in fake_mariadb.sql())


def test_mariadb_ensure_grants_datasets_when_sharing_is_on(fake_mariadb):
    MariaDBProvisioner("pw").ensure(CREDS, shared_datasets=True)
    assert ("GRANT SELECT ON `datasets`.* TO %s@'%%'", (NAME,)) in fake_mariadb.statements
    assert not any(sql.startswith("REVOKE") and "datasets" in sql for sql in fake_mariadb.sql())


def test_a_grant_pattern_matches_only_its_own_name():
    assert grant_pattern("u_a_b_0123456789") == "u\\_a\\_b\\_0123456789"
    assert grant_pattern("50%\\x") == "50\\%\\\\x"


def test_mariadb_ensure_ignores_revoking_a_grant_never_made(fake_mariadb):
    # What MariaDB answers (ER_NONEXISTING_GRANT), as pymysql raises it.
    fake_mariadb.errors["REVOKE"] = pymysql.err.OperationalError(
        1141, f"There is no such grant defined for user '{NAME}' on host '%'")
    MariaDBProvisioner("pw").ensure(CREDS, shared_datasets=False)
    assert fake_mariadb.sql()[-1].startswith("REVOKE")


@pytest.mark.parametrize("error", [
    pymysql.err.OperationalError(1044, "Access denied for user 'edahub_provisioner'"),
    pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"),
    pymysql.err.OperationalError(),
], ids=repr)
def test_mariadb_ensure_raises_other_errors_of_the_revoke(fake_mariadb, error):
    fake_mariadb.errors["REVOKE"] = error
    with pytest.raises(pymysql.err.OperationalError) as raised:
        MariaDBProvisioner("pw").ensure(CREDS, shared_datasets=False)
    assert raised.value is error


def test_mariadb_drop_drops_the_database_and_the_account(fake_mariadb):
    MariaDBProvisioner("pw").drop(NAME)
    assert fake_mariadb.statements == [(f"DROP DATABASE IF EXISTS `{NAME}`", None),
                                       ("DROP USER IF EXISTS %s@'%%'", (NAME,))]


# --- MongoDB ---------------------------------------------------------------------------------


def roles_given(fake_mongodb, command):
    [roles] = [kw["roles"] for _, cmd, _, kw in fake_mongodb.commands if cmd == command]
    return roles


@pytest.mark.parametrize("shared_datasets", [False, True])
def test_mongodb_ensure_creates_a_new_account_in_its_own_database(fake_mongodb, shared_datasets):
    MongoDBProvisioner("provisioner-pw").ensure(CREDS, shared_datasets=shared_datasets)

    [client] = fake_mongodb.clients
    assert client["username"] == PROVISIONER and client["password"] == "provisioner-pw"
    assert client["authSource"] == "admin"
    [(database, _, name, kw)] = [c for c in fake_mongodb.commands if c[1] == "createUser"]
    assert database == name == NAME and kw["pwd"] == CREDS.mongodb_password
    expected = [{"role": "readWrite", "db": NAME}, {"role": "dbAdmin", "db": NAME}]
    if shared_datasets:
        expected.append({"role": "read", "db": "datasets"})
    assert kw["roles"] == expected  # never dbOwner or userAdmin


def test_mongodb_ensure_updates_an_existing_account(fake_mongodb):
    fake_mongodb.users.add(NAME)
    MongoDBProvisioner("pw").ensure(CREDS, shared_datasets=False)
    commands = [cmd for _, cmd, _, _ in fake_mongodb.commands]
    assert commands == ["usersInfo", "updateUser"]
    # Switching sharing off takes the read role on datasets away.
    assert {"role": "read", "db": "datasets"} not in roles_given(fake_mongodb, "updateUser")


def test_mongodb_drop_drops_the_account_and_the_database(fake_mongodb):
    fake_mongodb.users.add(NAME)
    MongoDBProvisioner("pw").drop(NAME)
    assert [(db, cmd, arg) for db, cmd, arg, _ in fake_mongodb.commands] == [
        (NAME, "usersInfo", NAME), (NAME, "dropUser", NAME)]
    assert fake_mongodb.dropped == [NAME]
