"""Each user's own MariaDB and MongoDB database: provisioning, isolation, persistence."""

import ast
import json
import textwrap

import pytest

from edahub_core.names import database_name

pytestmark = pytest.mark.integration

MARIADB_ROUND_TRIP = """
import os, sqlalchemy as sa
engine = sa.create_engine(os.environ["DATABASE_URL"])
with engine.begin() as conn:
    conn.execute(sa.text("CREATE TABLE IF NOT EXISTS notes (id INT PRIMARY KEY, body TEXT)"))
    conn.execute(sa.text("REPLACE INTO notes VALUES (1, :body)"), {"body": "{owner}'s row"})
with engine.connect() as conn:
    print(conn.execute(sa.text("SELECT body FROM notes WHERE id = 1")).scalar())
"""

MONGODB_ROUND_TRIP = """
import os, pymongo
db = pymongo.MongoClient(os.environ["MONGODB_URI"]).get_default_database()
db.notes.replace_one({"_id": 1}, {"_id": 1, "body": "{owner}'s document"}, upsert=True)
print(db.notes.find_one({"_id": 1})["body"])
"""

# Each attempt on another user's data prints the error the server gave, or "ALLOWED".
MARIADB_TRESPASS = """
import os, pymysql
conn = pymysql.connect(host=os.environ["MARIADB_HOST"], user=os.environ["MARIADB_USER"],
                       password=os.environ["MARIADB_PASSWORD"], autocommit=True)
cur = conn.cursor()
cur.execute("SHOW DATABASES")
print("visible", sorted(r[0] for r in cur.fetchall()))
for statement in [
    "SELECT * FROM `{victim}`.notes",
    "INSERT INTO `{victim}`.notes VALUES (2, 'intruder')",
    "DROP TABLE `{victim}`.notes",
    "DROP DATABASE `{victim}`",
    "CREATE DATABASE u_squatter_0000000000",
    # Look-alikes of the user's own name ('_' is a wildcard in grants): they broke backups.
    "CREATE DATABASE `" + os.environ["MARIADB_DATABASE"].replace("_", " ") + "`",
    "CREATE DATABASE `" + os.environ["MARIADB_DATABASE"].replace("_", "-", 1) + "`",
    "CREATE USER 'sneaky'@'%' IDENTIFIED BY 'pw'",
    "GRANT ALL ON `{victim}`.* TO CURRENT_USER",
    "SELECT user, host FROM mysql.user",
]:
    try:
        cur.execute(statement)
        print("ALLOWED", statement)
    except pymysql.err.MySQLError as e:
        print("denied", e.args[0])
"""

MONGODB_TRESPASS = """
import os, pymongo
from pymongo.errors import OperationFailure
client = pymongo.MongoClient(os.environ["MONGODB_URI"])
listed = client.admin.command("listDatabases", nameOnly=True, authorizedDatabases=True)
print("visible", sorted(d["name"] for d in listed["databases"]))
victim = client["{victim}"]
for label, attempt in [
    ("find", lambda: victim.notes.find_one()),
    ("insert", lambda: victim.notes.insert_one({"intruder": True})),
    ("drop collection", lambda: victim.notes.drop()),
    ("drop database", lambda: client.drop_database("{victim}")),
    ("list users", lambda: victim.command("usersInfo")),
    ("create user", lambda: client.get_default_database().command(
        "createUser", "sneaky", pwd="pw", roles=["readWrite"])),
    ("create user elsewhere", lambda: client.admin.command(
        "createUser", "sneaky", pwd="pw", roles=["readWriteAnyDatabase"])),
    ("grant role", lambda: client.get_default_database().command(
        "grantRolesToUser", os.environ["MONGODB_USER"], roles=[{"role": "root", "db": "admin"}])),
]:
    try:
        attempt()
        print("ALLOWED", label)
    except OperationFailure as e:
        print("denied", e.code)
"""


def run_ok(session, code):
    result = session.execute(textwrap.dedent(code))
    assert result.reply["status"] == "ok", result.error
    return result.stdout


@pytest.fixture(scope="module")
def bob_server(running_server):
    return running_server("bob")


def test_credentials_are_injected_with_conventional_names(alice_server):
    out = run_ok(alice_server, """
        import json, os
        keys = ["MARIADB_HOST", "MARIADB_PORT", "MARIADB_DATABASE", "MARIADB_USER",
                "MARIADB_PASSWORD", "DATABASE_URL", "MONGODB_HOST", "MONGODB_PORT",
                "MONGODB_DATABASE", "MONGODB_USER", "MONGODB_PASSWORD", "MONGODB_URI"]
        print(json.dumps({k: os.environ.get(k, "") for k in keys}))
        print(oct(os.stat(os.path.expanduser("~/.my.cnf")).st_mode & 0o777))
    """).splitlines()
    env = json.loads(out[0])
    name = database_name("alice")
    assert env["MARIADB_USER"] == env["MARIADB_DATABASE"] == env["MONGODB_DATABASE"] == name
    assert env["MARIADB_HOST"] == "mariadb" and env["MONGODB_HOST"] == "mongodb"
    assert all(env.values()), env
    assert out[1] == "0o600"  # ~/.my.cnf holds the password: readable by the owner only


def test_my_cnf_lets_clients_connect_without_arguments(alice_server):
    out = run_ok(alice_server, """
        import os, pymysql
        conn = pymysql.connect(read_default_file=os.path.expanduser("~/.my.cnf"))
        print(conn.cursor().execute("SELECT 1") and conn.db.decode())
    """)
    assert out.strip() == database_name("alice")


def test_each_user_reads_and_writes_their_own_databases(alice_server, bob_server):
    for session, owner in ((alice_server, "alice"), (bob_server, "bob")):
        assert run_ok(session, MARIADB_ROUND_TRIP.replace("{owner}", owner)) == f"{owner}'s row\n"
        assert run_ok(session, MONGODB_ROUND_TRIP.replace("{owner}", owner)) == f"{owner}'s document\n"


def test_a_user_cannot_touch_another_users_mariadb(alice_server, bob_server):
    run_ok(alice_server, MARIADB_ROUND_TRIP.replace("{owner}", "alice"))
    lines = run_ok(bob_server, MARIADB_TRESPASS.replace("{victim}", database_name("alice")))
    lines = lines.splitlines()
    # Only his own database (and the shared read-only `datasets`, on in the test stack).
    visible = set(ast.literal_eval(lines[0].removeprefix("visible ")))
    assert visible - {"datasets"} == {"information_schema", database_name("bob")}
    assert lines[1:] and not [line for line in lines[1:] if not line.startswith("denied")], lines
    # alice's row is still there, unchanged
    assert run_ok(alice_server, MARIADB_ROUND_TRIP.replace("{owner}", "alice")) == "alice's row\n"


def test_a_user_cannot_touch_another_users_mongodb(alice_server, bob_server):
    run_ok(alice_server, MONGODB_ROUND_TRIP.replace("{owner}", "alice"))
    run_ok(bob_server, MONGODB_ROUND_TRIP.replace("{owner}", "bob"))  # MongoDB lists only databases with data
    lines = run_ok(bob_server, MONGODB_TRESPASS.replace("{victim}", database_name("alice")))
    lines = lines.splitlines()
    visible = set(ast.literal_eval(lines[0].removeprefix("visible ")))
    assert visible - {"datasets"} == {database_name("bob")}
    assert lines[1:] and all(line == "denied 13" for line in lines[1:]), lines
    assert run_ok(alice_server, MONGODB_ROUND_TRIP.replace("{owner}", "alice")) == "alice's document\n"


def test_root_accounts_are_unreachable_from_users_containers(stack, bob_server):
    # Even with the right passwords: root may only connect from inside the database containers.
    out = run_ok(bob_server, f"""
        import pymysql, pymongo
        try:
            pymysql.connect(host="mariadb", user="root",
                            password={stack.values["EDAHUB_MARIADB_ROOT_PASSWORD"]!r})
            print("mariadb ALLOWED")
        except pymysql.err.MySQLError as e:
            print("mariadb denied", e.args[0])
        try:
            pymongo.MongoClient(host="mongodb", username="root", authSource="admin",
                                password={stack.values["EDAHUB_MONGODB_ROOT_PASSWORD"]!r},
                                serverSelectionTimeoutMS=5000).admin.command("listDatabases")
            print("mongodb ALLOWED")
        except pymongo.errors.OperationFailure as e:
            print("mongodb denied", e.code)
    """)
    assert out.splitlines() == ["mariadb denied 1045", "mongodb denied 18"]


HOSTILE_USERNAMES = ["o'brien", "semi;colon", "dollar$sign", "dot.ted", "back\\slash",
                     "x" * 200, "ünïcödé", "' or '1'='1", "u_alice_0123456789"]

PROVISION_IN_HUB = """
import json, os, sys
import pymysql, pymongo
from edahub_hub.databases import MariaDBProvisioner, MongoDBProvisioner, credentials_for
key = os.environ["EDAHUB_DB_PASSWORD_KEY"]
mariadb = MariaDBProvisioner(os.environ["EDAHUB_MARIADB_PROVISIONER_PASSWORD"])
mongodb = MongoDBProvisioner(os.environ["EDAHUB_MONGODB_PROVISIONER_PASSWORD"])
report = {}
for username in json.loads(sys.argv[1]):
    creds = credentials_for(username, key)
    mariadb.ensure(creds)
    mongodb.ensure(creds)
    conn = pymysql.connect(host="mariadb", user=creds.name, password=creds.mariadb_password,
                           database=creds.name, autocommit=True)
    conn.cursor().execute("CREATE TABLE t (v TEXT)")
    conn.cursor().execute("INSERT INTO t VALUES (%s)", (username,))
    cur = conn.cursor(); cur.execute("SELECT v FROM t"); stored = cur.fetchone()[0]
    db = pymongo.MongoClient(creds.environment()["MONGODB_URI"]).get_default_database()
    db.t.insert_one({"v": username})
    report[username] = [creds.name, stored, db.t.find_one()["v"]]
    mariadb.drop(creds.name)
    mongodb.drop(creds.name)
print(json.dumps(report))
"""


def test_hostile_usernames_are_provisioned_safely(stack, docker_client):
    """The hub's provisioning code, in the real hub container, against the real servers."""
    hub = docker_client.containers.get(f"{stack.project}-hub-1")
    result = hub.exec_run(["python3", "-c", PROVISION_IN_HUB, json.dumps(HOSTILE_USERNAMES)])
    assert result.exit_code == 0, result.output.decode()[-3000:]
    report = json.loads(result.output.decode().strip().splitlines()[-1])
    for username in HOSTILE_USERNAMES:
        name, mariadb_value, mongodb_value = report[username]
        assert name == database_name(username)
        assert mariadb_value == username and mongodb_value == username
    assert len({entry[0] for entry in report.values()}) == len(HOSTILE_USERNAMES)


ABUSE_IN_HUB = """
import json, os, urllib.error, urllib.request
import pymysql
from edahub_core.names import MONGODB_ACCOUNTS_PORT
out = {}
conn = pymysql.connect(host="mariadb", user="edahub_provisioner", autocommit=True,
                       password=os.environ["EDAHUB_MARIADB_PROVISIONER_PASSWORD"])
attempts = {
    "rename root": "RENAME USER 'root'@'localhost' TO 'gone'@'localhost'",
    "create an account": "CREATE USER 'intruder'@'%' IDENTIFIED BY 'x'",
    "grant itself more": "GRANT ALL PRIVILEGES ON *.* TO 'edahub_provisioner'@'%'",
    "read mysql.user": "SELECT authentication_string FROM mysql.user",
    "read a user's data": f"SELECT * FROM `{os.environ['VICTIM']}`.`t`",
    "make root a user's account": "CALL edahub_admin.ensure_account('root', REPEAT('a', 64), 0)",
    "inject through the name": "CALL edahub_admin.ensure_account('u_a_0123456789`.* TO root; --', REPEAT('a', 64), 0)",
    "inject through the password": f"CALL edahub_admin.ensure_account('{os.environ['VICTIM']}', 'x'' OR ''1', 0)",
    "drop the datasets": "CALL edahub_admin.drop_account('datasets')",
}
for what, sql in attempts.items():
    try:
        conn.cursor().execute(sql)
        out[what] = "done"
    except pymysql.err.MySQLError as error:
        out[what] = error.args[0]
# MongoDB: the hub has no account; the accounts service takes users' names only.
def put(name):
    request = urllib.request.Request(
        f"http://mongodb-accounts:{MONGODB_ACCOUNTS_PORT}/accounts/{name}", method="PUT",
        data=json.dumps({"password": "a" * 64}).encode(),
        headers={"Authorization": "Bearer " + os.environ["EDAHUB_MONGODB_PROVISIONER_PASSWORD"]})
    try:
        urllib.request.urlopen(request, timeout=10)
        return "done"
    except urllib.error.HTTPError as error:
        return error.code
out["mongodb admin account"] = put("admin")
out["mongodb root"] = put("root")
print(json.dumps(out))
"""


def test_the_provisioning_secrets_can_do_nothing_but_provision(stack, docker_client, alice_server):
    # From the hub's own address, with both secrets: what a leak of them would allow.
    victim = database_name("alice")
    alice_server.execute("import pymysql, os\n"
                         "c = pymysql.connect(read_default_file=os.path.expanduser('~/.my.cnf'))\n"
                         "c.cursor().execute('CREATE TABLE IF NOT EXISTS t (v INT)')")
    hub = docker_client.containers.get(f"{stack.project}-hub-1")
    result = hub.exec_run(["python3", "-c", ABUSE_IN_HUB], environment={"VICTIM": victim})
    assert result.exit_code == 0, result.output.decode()[-3000:]
    out = json.loads(result.output.decode().strip().splitlines()[-1])
    assert out == {
        "rename root": 1227, "create an account": 1227, "grant itself more": 1045,
        "read mysql.user": 1142, "read a user's data": 1142,
        "make root a user's account": 1644, "inject through the name": 1644,
        "inject through the password": 1644, "drop the datasets": 1644,
        "mongodb admin account": 404, "mongodb root": 404}, out


def test_a_username_at_the_edge_of_the_policy_spawns_with_working_databases(make_user):
    # Hostile names never get an account (tests/integration/test_attacks_web.py); the
    # provisioning code handles them anyway (above). This is the oddest name allowed.
    mallory = make_user("o.mal-ley_9." + "x" * 52)
    mallory.start_server()
    assert mallory.open_server().status_code == 200
    assert run_ok(mallory, MARIADB_ROUND_TRIP.replace("{owner}", "m")) == "m's row\n"
    assert run_ok(mallory, MONGODB_ROUND_TRIP.replace("{owner}", "m")) == "m's document\n"
    mallory.stop_server()


def test_shared_datasets_are_readable_but_not_writable(stack, docker_client, alice_server):
    """EDAHUB_SHARED_DATASETS=true in the test stack: admins fill `datasets` as root."""
    mariadb = docker_client.containers.get(f"{stack.project}-mariadb-1")
    filled = mariadb.exec_run(["sh", "-c", 'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" mariadb -uroot datasets -e '
                               '"CREATE TABLE IF NOT EXISTS iris (id INT PRIMARY KEY, species TEXT); '
                               "REPLACE INTO iris VALUES (1, 'setosa')\""])
    assert filled.exit_code == 0, filled.output
    mongodb = docker_client.containers.get(f"{stack.project}-mongodb-1")
    filled = mongodb.exec_run(["sh", "-c", 'mongosh --quiet -u root -p "$MONGO_INITDB_ROOT_PASSWORD" '
                               '--authenticationDatabase admin --eval \'db.getSiblingDB("datasets")'
                               '.iris.replaceOne({_id: 1}, {_id: 1, species: "setosa"}, {upsert: true})\''])
    assert filled.exit_code == 0, filled.output
    out = run_ok(alice_server, """
        import os, pymysql, pymongo
        conn = pymysql.connect(read_default_file=os.path.expanduser("~/.my.cnf"), autocommit=True)
        cur = conn.cursor(); cur.execute("SELECT species FROM datasets.iris"); print(cur.fetchone()[0])
        try:
            cur.execute("INSERT INTO datasets.iris VALUES (2, 'x')"); print("ALLOWED")
        except pymysql.err.MySQLError as e:
            print("denied", e.args[0])
        client = pymongo.MongoClient(os.environ["MONGODB_URI"])
        print(client.datasets.iris.find_one({"_id": 1})["species"])
        try:
            client.datasets.iris.insert_one({"_id": 2}); print("ALLOWED")
        except pymongo.errors.OperationFailure as e:
            print("denied", e.code)
    """)
    assert out.splitlines() == ["setosa", "denied 1142", "setosa", "denied 13"]


# The hub's provisioning code in the real hub container: datasets access follows the
# setting at every spawn, granted when on and taken back when switched off.
DATASETS_SWITCH_IN_HUB = """
import json, os, pymysql
from edahub_hub.databases import MariaDBProvisioner, credentials_for
creds = credentials_for("datasets-switch", os.environ["EDAHUB_DB_PASSWORD_KEY"])
mariadb = MariaDBProvisioner(os.environ["EDAHUB_MARIADB_PROVISIONER_PASSWORD"])

def can_use_datasets():
    conn = pymysql.connect(host="mariadb", user=creds.name, password=creds.mariadb_password)
    try:
        conn.select_db("datasets")
        return True
    except pymysql.err.OperationalError as e:
        assert e.args[0] == 1044, e  # access denied to the database
        return False
    finally:
        conn.close()

seen = []
for shared in (False, True, False, False):
    mariadb.ensure(creds, shared_datasets=shared)
    seen.append(can_use_datasets())
mariadb.drop(creds.name)
print(json.dumps(seen))
"""


def test_switching_shared_datasets_off_revokes_access_at_the_next_spawn(stack, docker_client):
    hub = stack.container(docker_client, "hub")
    result = hub.exec_run(["python3", "-c", DATASETS_SWITCH_IN_HUB])
    assert result.exit_code == 0, result.output.decode()[-3000:]
    # never granted, granted, revoked, and revoking again when there is nothing to revoke
    assert json.loads(result.output.decode().strip().splitlines()[-1]) == [False, True, False, False]


# The record of database names in the hub's own database (hub/edahub_hub/dbnames.py).
RECORD_IN_HUB = """
import sys
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from edahub_hub import HUB_DB_URL
from edahub_hub.dbnames import NAMES, DatabaseNames
db = sessionmaker(bind=create_engine(HUB_DB_URL))()
DatabaseNames(db)
if sys.argv[1] == "claim":
    db.execute(NAMES.insert().values(username=sys.argv[2], name=sys.argv[3]))
else:
    db.execute(NAMES.delete().where(NAMES.c.username == sys.argv[2]))
db.commit()
"""


def test_a_database_name_that_belongs_to_someone_else_is_never_handed_over(
        stack, docker_client, make_user):
    # A simulated collision: the record says bruno's database name belongs to another
    # user (whose data it would be). bruno must get no server and no access to it.
    import time

    hub = stack.container(docker_client, "hub")
    claimed = hub.exec_run(["python3", "-c", RECORD_IN_HUB, "claim", "owner-of-bruno",
                            database_name("bruno")])
    assert claimed.exit_code == 0, claimed.output.decode()
    try:
        bruno = make_user("bruno")
        bruno.api("POST", "/users/bruno/server")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            model = bruno.api("GET", "/users/bruno").json()
            if not model.get("pending"):
                break
            time.sleep(0.5)
        assert not model.get("servers"), "bruno got a server"
        assert not docker_client.containers.list(all=True,
                                                 filters={"name": f"{stack.prefix}-user-bruno"})
        assert "already belongs to user 'owner-of-bruno'" in stack.logs("hub", tail=300)
    finally:
        hub.exec_run(["python3", "-c", RECORD_IN_HUB, "forget", "owner-of-bruno"])
