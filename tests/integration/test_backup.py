"""scripts/backup.py: a backup, a wipe and a restore give back exactly what was there.

Disruptive by design: restore needs every user's server stopped and replaces every
user's databases, so tests/conftest.py runs this module with the last ones.
"""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edahub_core.names import database_name
from hubclient import stop_every_server

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
if action == "write":
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
def erin_data(stack, docker_client, admin, make_user, tmp_path_factory):
    """erin's rows, documents and a home file, written for real; no server running."""
    hub = docker_client.containers.get(f"{stack.project}-hub-1")

    def as_erin(action):
        result = hub.exec_run(["python3", "-c", AS_ERIN, action])
        assert result.exit_code == 0, result.output.decode()[-2000:]
        return json.loads(result.output.decode().strip().splitlines()[-1]) if action != "wipe" else None

    erin = make_user("erin")
    erin.start_server()
    home = docker_client.containers.get(f"{stack.prefix}-user-erin")
    assert home.exec_run(["sh", "-c", "mkdir -p results && printf 'r1\\n' > results/a.csv"]).exit_code == 0
    erin.stop_server()
    stop_every_server(admin)  # restore refuses while any user's server runs
    written = as_erin("write")
    return {"as_erin": as_erin, "written": written, "session": erin,
            "volume": f"{stack.prefix}-home-erin", "outdir": tmp_path_factory.mktemp("backups")}


def read_home_file(stack, docker_client, volume):
    image = stack.values["EDAHUB_SINGLEUSER_IMAGE"]
    out = docker_client.containers.run(image, ["cat", "/data/results/a.csv"], remove=True,
                                       entrypoint="", volumes={volume: {"bind": "/data", "mode": "ro"}})
    return out.decode()


def test_backup_wipe_restore_gives_back_the_exact_data(stack, docker_client, erin_data):
    result = backup(stack, "create", "--output-dir", erin_data["outdir"])
    assert result.returncode == 0, result.stdout + result.stderr
    folder = Path(result.stdout.strip().splitlines()[-1].split("Backup written to ")[1].split(" (")[0])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert f"homes/{erin_data['volume']}.tar.gz" in manifest["files"]
    for secret in ("EDAHUB_MARIADB_ROOT_PASSWORD", "EDAHUB_MONGODB_ROOT_PASSWORD"):
        assert stack.values[secret] not in result.stdout + result.stderr
    assert database_name("erin").encode() in gzip.decompress((folder / "mariadb.sql.gz").read_bytes())

    erin_data["as_erin"]("wipe")
    docker_client.containers.run(
        stack.values["EDAHUB_SINGLEUSER_IMAGE"],
        ["sh", "-c", "rm -rf /data/results"], remove=True, entrypoint="", user="0",
        volumes={erin_data["volume"]: {"bind": "/data", "mode": "rw"}})
    wiped = erin_data["as_erin"]("read")
    assert wiped["docs"] == 0 and wiped["rows"] == ["missing"]

    result = backup(stack, "restore", folder, "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert erin_data["as_erin"]("read") == erin_data["written"]
    # 64-bit integers stay 64-bit (canonical Extended JSON), indexes come back
    assert erin_data["written"]["types"] == ["Int64"] and erin_data["written"]["indexes"] == ["_id_", "v_1"]
    assert read_home_file(stack, docker_client, erin_data["volume"]) == "r1\n"


def test_restore_of_a_missing_folder_is_refused(stack, tmp_path):
    result = backup(stack, "restore", tmp_path / "nope", "--yes")
    assert result.returncode == 1
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_restore_of_a_corrupt_archive_changes_nothing(stack, erin_data):
    result = backup(stack, "create", "--output-dir", erin_data["outdir"])
    assert result.returncode == 0, result.stderr
    folder = sorted(p for p in erin_data["outdir"].iterdir() if p.is_dir())[-1]
    before = erin_data["as_erin"]("read")
    erin_data["as_erin"]("wipe")  # a state the failed restore must leave alone
    wiped = erin_data["as_erin"]("read")
    dump = folder / "mongodb.jsonl.gz"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    result = backup(stack, "restore", folder, "--yes")
    assert result.returncode == 1
    assert "is corrupt" in result.stderr and "nothing was changed" in result.stderr
    assert erin_data["as_erin"]("read") == wiped != before


def test_backup_of_a_stack_that_is_not_running_is_refused(stack, tmp_path):
    result = subprocess.run(
        [sys.executable, ROOT / "scripts" / "backup.py", "--env-file", stack.env_file,
         "--project-name", "edahub-not-running", "create", "--output-dir", tmp_path],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert "the stack is not running" in result.stderr and "docker compose up -d" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_restore_refuses_while_users_servers_run(stack, erin_data):
    folder = sorted(p for p in erin_data["outdir"].iterdir() if p.is_dir())[0]
    erin_data["session"].start_server()
    try:
        result = backup(stack, "restore", folder, "--yes")
        assert result.returncode == 1
        assert "users' servers are running" in result.stderr
    finally:
        erin_data["session"].stop_server()
