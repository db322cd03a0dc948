"""scripts/backup.py: a backup, a wipe and a restore give back exactly what was there.

Disruptive by design: restore needs every user's server stopped and replaces every
user's databases, so tests/conftest.py runs this module with the last ones.

One backup is taken for the module (``erin_backup``); each test that tampers with a
backup or restores one works on a copy of it, so no test depends on another's leftovers.
"""

import gzip
import hashlib
import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from edahub_core.names import database_name
from hubclient import HubSession, stop_every_server

pytestmark = [pytest.mark.integration, pytest.mark.disruptive]
ROOT = Path(__file__).resolve().parents[2]

# Runs in the real hub container with the hub's provisioning code and erin's derived
# credentials: write, wipe or read her rows and documents.
AS_ERIN = """
import json, os, sys
import pymysql, pymongo
from edahub_hub.databases import MariaDBProvisioner, MongoDBProvisioner, credentials_for
creds = credentials_for("erin", os.environ["EDAHUB_DB_PASSWORD_KEY"])
action = sys.argv[1]
if action == "wipe":
    MariaDBProvisioner(os.environ["EDAHUB_MARIADB_PROVISIONER_PASSWORD"]).drop(creds.name)
    MongoDBProvisioner(os.environ["EDAHUB_MONGODB_PROVISIONER_PASSWORD"]).drop(creds.name)
    sys.exit(0)
MariaDBProvisioner(os.environ["EDAHUB_MARIADB_PROVISIONER_PASSWORD"]).ensure(creds)
MongoDBProvisioner(os.environ["EDAHUB_MONGODB_PROVISIONER_PASSWORD"]).ensure(creds)
conn = pymysql.connect(host="mariadb", user=creds.name, password=creds.mariadb_password,
                       database=creds.name, autocommit=True)
cur = conn.cursor()
mongo = pymongo.MongoClient(creds.environment()["MONGODB_URI"]).get_default_database()
if action == "write":  # from scratch, so every test starts from the same data
    cur.execute("DROP TABLE IF EXISTS measurements")
    mongo.samples.drop()
    cur.execute("CREATE TABLE measurements (id INT PRIMARY KEY, value DOUBLE, note TEXT, raw BLOB)")
    cur.executemany("INSERT INTO measurements VALUES (%s, %s, %s, %s)",
                    [(i, i / 3, f"n{i} 'quoted' ü", bytes([i % 256, 0, 255])) for i in range(500)])
    mongo.samples.insert_many([{"_id": i, "v": i * 1.5, "tags": ["a", str(i)],
                                "big": 2**40 + i} for i in range(300)])
    mongo.samples.create_index("v")
try:
    cur.execute("SELECT COUNT(*), SUM(value), MD5(GROUP_CONCAT(note, HEX(raw) ORDER BY id)) "
                "FROM measurements")
    rows = [str(x) for x in cur.fetchone()]
except pymysql.err.ProgrammingError:  # no such table: wiped
    rows = ["missing"]
docs = list(mongo.samples.find().sort("_id", 1))
indexes = sorted(i["name"] for i in mongo.samples.list_indexes())
print(json.dumps({"rows": rows, "docs": len(docs), "types": sorted({type(d["big"]).__name__ for d in docs}),
                  "checksum": sum(d["big"] for d in docs), "indexes": indexes}))
"""


def backup(stack, *args):
    return subprocess.run(
        [sys.executable, ROOT / "scripts" / "backup.py", "--env-file", stack.env_file,
         "--project-name", stack.project, *map(str, args)],
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def erin_backup(stack, docker_client, admin, make_user, tmp_path_factory):
    """A backup holding erin's rows, documents and home files, taken with every server
    stopped, beside a look-alike database no backup may hold; what was written."""
    erin = make_user("erin")
    erin.start_server()
    erin.stop_server()
    stop_every_server(admin)  # restore refuses while any user's server runs
    volume = f"{stack.prefix}-home-erin"
    # A setuid file in a home must not come back setuid (a user cannot make one; an
    # archive can hold one).
    in_volume(stack, docker_client, volume,
              "rm -rf /data/results && mkdir /data/results && printf 'r1\\n' > /data/results/a.csv"
              " && cp /bin/true /data/results/suid && chown -R 1000:1000 /data/results"
              " && chmod 4755 /data/results/suid")
    written = as_erin(stack, docker_client, "write")
    # What a user's grant could let them create beside their own name ('_' is a wildcard
    # in grants): a space in such a name split the old unquoted list and failed backups.
    stack.as_mariadb_root(docker_client, f"CREATE DATABASE `{LOOK_ALIKE}`")
    try:
        result = backup(stack, "create", "--output-dir", tmp_path_factory.mktemp("out") / "b")
    finally:
        stack.as_mariadb_root(docker_client, f"DROP DATABASE `{LOOK_ALIKE}`")
    assert result.returncode == 0, result.stdout + result.stderr
    folder = Path(result.stdout.strip().splitlines()[-1].split("Backup written to ")[1].split(" (")[0])
    return {"folder": folder, "written": written, "session": erin, "volume": volume,
            "output": result.stdout + result.stderr}


LOOK_ALIKE = "u_erin x_0123456789"


def as_erin(stack, docker_client, action):
    """Write, wipe or read erin's rows and documents (AS_ERIN, in the hub container)."""
    result = stack.container(docker_client, "hub").exec_run(["python3", "-c", AS_ERIN, action])
    assert result.exit_code == 0, result.output.decode()[-2000:]
    return json.loads(result.output.decode().strip().splitlines()[-1]) if action != "wipe" else None


@pytest.fixture
def a_copy(erin_backup, tmp_path):
    """A copy of the module's backup, for a test to tamper with or restore."""
    return Path(shutil.copytree(erin_backup["folder"], tmp_path / erin_backup["folder"].name))


def rewrite_in_backup(folder, name, data):
    """Replace ``name`` in the backup (or add it) with ``data``, manifest checksum included:
    what someone who can write the backup folder could do."""
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def in_volume(stack, docker_client, volume, script):
    """Run ``script`` as root with ``volume`` at /data; its output."""
    return docker_client.containers.run(
        stack.values["EDAHUB_SINGLEUSER_IMAGE"], ["sh", "-c", script], remove=True,
        entrypoint="", user="0", network_mode="none",
        volumes={volume: {"bind": "/data", "mode": "rw"}}).decode()


def test_backup_wipe_restore_gives_back_the_exact_data(stack, docker_client, admin,
                                                       erin_backup, a_copy):
    manifest = json.loads((a_copy / "manifest.json").read_text())
    assert f"homes/{erin_backup['volume']}.tar.gz" in manifest["files"]
    for secret in ("EDAHUB_MARIADB_ROOT_PASSWORD", "EDAHUB_MONGODB_ROOT_PASSWORD"):
        assert stack.values[secret] not in erin_backup["output"]
    erins = gzip.decompress((a_copy / "mariadb" / f"{database_name('erin')}.sql.gz").read_bytes())
    assert f"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `{database_name('erin')}`".encode() in erins

    as_erin(stack, docker_client, "wipe")
    in_volume(stack, docker_client, erin_backup["volume"], "rm -rf /data/results")
    wiped = as_erin(stack, docker_client, "read")
    assert wiped["docs"] == 0 and wiped["rows"] == ["missing"]

    stop_every_server(admin)
    result = backup(stack, "restore", a_copy, "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert as_erin(stack, docker_client, "read") == erin_backup["written"]
    # 64-bit integers stay 64-bit (canonical Extended JSON), indexes come back
    assert erin_backup["written"]["types"] == ["Int64"]
    assert erin_backup["written"]["indexes"] == ["_id_", "v_1"]
    assert in_volume(stack, docker_client, erin_backup["volume"],
                     "cat /data/results/a.csv; stat -c %a /data/results/suid") == "r1\n755\n"


def test_restore_of_a_missing_folder_is_refused(stack, tmp_path):
    result = backup(stack, "restore", tmp_path / "nope", "--yes")
    assert result.returncode == 1
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def wiped_erin(stack, docker_client):
    """erin's data wiped: a state that a refused restore must leave as it is."""
    as_erin(stack, docker_client, "wipe")
    return as_erin(stack, docker_client, "read")


def test_restore_of_a_corrupt_archive_changes_nothing(stack, docker_client, admin, a_copy):
    wiped = wiped_erin(stack, docker_client)
    dump = a_copy / "mongodb.jsonl.gz"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    stop_every_server(admin)
    result = backup(stack, "restore", a_copy, "--yes")
    assert result.returncode == 1
    assert "is corrupt" in result.stderr and "nothing was changed" in result.stderr
    assert as_erin(stack, docker_client, "read") == wiped


def test_backup_of_a_stack_that_is_not_running_is_refused(stack, tmp_path):
    result = subprocess.run(
        [sys.executable, ROOT / "scripts" / "backup.py", "--env-file", stack.env_file,
         "--project-name", "edahub-not-running", "create", "--output-dir", tmp_path],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert "the stack is not running" in result.stderr and "docker compose up -d" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_restore_refuses_while_users_servers_run(stack, erin_backup, a_copy):
    erin_backup["session"].start_server()
    try:
        result = backup(stack, "restore", a_copy, "--yes")
        assert result.returncode == 1
        assert "users' servers are running" in result.stderr
    finally:
        erin_backup["session"].stop_server()


def test_backups_are_readable_by_their_owner_only(erin_backup):
    folder = erin_backup["folder"]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in [folder, *folder.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path, oct(path.stat().st_mode))


def test_a_database_named_like_a_users_is_left_out_and_breaks_nothing(erin_backup):
    dumps = {p.name: gzip.decompress(p.read_bytes())
             for p in (erin_backup["folder"] / "mariadb").iterdir()}
    assert f"{database_name('erin')}.sql.gz" in dumps and "datasets.sql.gz" in dumps
    assert not any(LOOK_ALIKE.encode() in dump for dump in dumps.values())


def test_a_users_dump_is_loaded_with_that_users_rights_only(stack, docker_client, admin,
                                                            erin_backup, a_copy):
    # Whatever ends up in a user's dump (a routine's text is dumped verbatim, say) runs
    # as that user at restore: a statement on another database is refused, not run as root.
    name = f"mariadb/{database_name('erin')}.sql.gz"
    hostile = gzip.decompress((a_copy / name).read_bytes()) + (
        b"\nCREATE TABLE `datasets`.`intruder` (x INT);\n")
    rewrite_in_backup(a_copy, name, gzip.compress(hostile))
    stop_every_server(admin)
    result = backup(stack, "restore", a_copy, "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{database_name('erin')}'s dump was refused" in result.stderr
    assert "denied" in result.stderr
    assert "intruder" not in stack.as_mariadb_root(docker_client, "SHOW TABLES IN datasets")
    # Her account is left with a password nobody was shown; her next start sets hers.
    erin = HubSession(stack.base_url, "erin")
    assert erin.log_in(erin_backup["session"].password)
    erin.start_server()
    erin.stop_server()
    assert as_erin(stack, docker_client, "read")["rows"]  # she reaches her database again


def test_restore_touches_no_volume_but_users_homes(stack, docker_client, admin, erin_backup,
                                                  a_copy):
    hub_state = f"{stack.project}_hub-data"
    before = {v.name for v in docker_client.volumes.list()}
    rewrite_in_backup(a_copy, f"homes/{hub_state}.tar.gz", (a_copy / "homes" /
                      f"{erin_backup['volume']}.tar.gz").read_bytes())
    stop_every_server(admin)
    result = backup(stack, "restore", a_copy, "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not users' homes of this stack" in result.stderr and hub_state in result.stderr
    assert {v.name for v in docker_client.volumes.list()} == before
    hub = stack.container(docker_client, "hub")
    assert hub.exec_run(["test", "-s", "/srv/jupyterhub/jupyterhub.sqlite"]).exit_code == 0


def test_restore_writes_no_database_but_users_and_datasets(stack, docker_client, admin, a_copy):
    evil = gzip.decompress((a_copy / "mongodb.jsonl.gz").read_bytes()) + (
        b'{"db":"admin","collection":"intruders","doc":{"_id":{"$numberInt":"1"}}}\n')
    rewrite_in_backup(a_copy, "mongodb.jsonl.gz", gzip.compress(evil))
    wiped = wiped_erin(stack, docker_client)
    stop_every_server(admin)
    result = backup(stack, "restore", a_copy, "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "names databases edahub never backs up: admin" in result.stderr
    assert as_erin(stack, docker_client, "read") == wiped  # nothing was loaded


def test_a_restore_into_a_wiped_stack_gives_back_logins_files_and_data(
        stack, docker_client, admin, erin_backup, a_copy):
    """What a new host with the same .env goes through: empty hub, empty databases."""
    from edahub.lifecycle import stop_platform

    erin = erin_backup["session"]
    stop_every_server(admin)
    # Everything of the stack's own goes: the hub's state and both databases (homes stay
    # here; the restore replaces them anyway).
    stop_platform(stack.compose, stack.prefix, timeout=30, volumes=True, stream=sys.stderr)
    stack.run_compose("up", "--detach", "--wait", "--no-build", timeout=600)
    fresh = HubSession(stack.base_url, "erin")
    assert not fresh.log_in(erin.password), "the wiped hub still knows erin"

    result = backup(stack, "restore", a_copy, "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The hub's state" in result.stdout and "restored; the hub is back" in result.stdout
    again = HubSession(stack.base_url, "erin")
    assert again.log_in(erin.password), "erin's login did not come back with the restore"
    again.start_server()
    assert again.open_server().status_code == 200
    assert again.execute("print(open('results/a.csv').read())").stdout == "r1\n\n"
    assert as_erin(stack, docker_client, "read") == erin_backup["written"]
    again.stop_server()
