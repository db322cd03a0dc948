"""What restore accepts as a backup, checked before anything changes (the real backup and
restore run in tests/integration/test_backup.py)."""

import gzip
import hashlib
import json
import sqlite3

import pytest

from edahub.backup import HUB_STATE, verify_backup
from edahub.console import UserError


def write_backup(folder, files, format=2):
    """A backup folder holding ``files`` ({name: bytes}), with a matching manifest."""
    folder.mkdir()
    manifest = {"format": format, "created": folder.name, "files": {}}
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def hub_database(tmp_path, tables=("users", "api_tokens", "servers")):
    path = tmp_path / "made.sqlite"
    db = sqlite3.connect(path)
    for table in tables:
        db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute(f"INSERT INTO {tables[0]} (name) VALUES ('erin')")
    db.commit()
    db.close()
    return gzip.compress(path.read_bytes())


USER_DB = "u_erin_0123456789abcdef01234567"


def dump_of(*names):
    """A mariadb-dump's lines that create and select ``names``."""
    return gzip.compress(b"".join(
        b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `%s`;\nUSE `%s`;\n" % (n.encode(), n.encode())
        for n in names))


DUMPS = {f"mariadb/{USER_DB}.sql.gz": dump_of(USER_DB),
         "mariadb/datasets.sql.gz": dump_of("datasets"),
         "mongodb.jsonl.gz": gzip.compress(b"")}


def test_a_backup_of_edahub_0_2_0_with_one_mariadb_dump_is_still_accepted(tmp_path):
    old = {"mariadb.sql.gz": dump_of(USER_DB, "datasets"), "mongodb.jsonl.gz": gzip.compress(b"")}
    assert verify_backup(write_backup(tmp_path / "b", old, format=1))["format"] == 1


def test_a_users_dump_that_names_another_database_is_refused(tmp_path):
    other = "u_oscar_0123456789abcdef01234567"
    folder = write_backup(tmp_path / "b", {**DUMPS,
                                           f"mariadb/{USER_DB}.sql.gz": dump_of(USER_DB, other)})
    with pytest.raises(UserError, match=f"names databases other than its own .{USER_DB}.: {other}"):
        verify_backup(folder)


@pytest.mark.parametrize("name", ["mariadb/mysql.sql.gz", "mariadb/u_erin.sql.gz",
                                  "mariadb.sql.gz", "mariadb/../x.sql.gz"])
def test_a_dump_of_a_database_edahub_never_backs_up_is_refused(tmp_path, name):
    folder = write_backup(tmp_path / "b", {**DUMPS, name: dump_of("mysql")})
    with pytest.raises(UserError, match="which no edahub backup holds"):
        verify_backup(folder)


def test_a_backup_with_the_hubs_state_is_accepted(tmp_path):
    folder = write_backup(tmp_path / "b", {**DUMPS, HUB_STATE: hub_database(tmp_path)})
    assert HUB_STATE in verify_backup(folder)["files"]


def test_a_backup_from_before_the_hubs_state_is_still_accepted(tmp_path):
    assert HUB_STATE not in verify_backup(write_backup(tmp_path / "b", DUMPS))["files"]


@pytest.mark.parametrize("state, message", [
    (gzip.compress(b"not a database at all" * 100), "not a readable SQLite database"),
    (None, "not an intact copy of the hub's database"),
])
def test_a_hub_state_that_is_no_hubs_database_is_refused(tmp_path, state, message):
    state = state or hub_database(tmp_path, tables=("something_else",))
    folder = write_backup(tmp_path / "b", {**DUMPS, HUB_STATE: state})
    with pytest.raises(UserError, match=message):
        verify_backup(folder)


def test_pruning_keeps_the_newest_complete_backups_and_nothing_else_is_touched(tmp_path):
    from edahub.backup import prune_backups

    for stamp in ("20261201T030000Z", "20261202T030000Z", "20261203T030000Z"):
        write_backup(tmp_path / stamp, DUMPS)
    (tmp_path / "20261130T030000Z.partial").mkdir()  # unfinished: not a backup
    (tmp_path / "20261129T030000Z").mkdir()  # no manifest: not one of ours
    (tmp_path / "notes.txt").write_text("the operator's")
    removed = prune_backups(tmp_path, keep=2)
    assert [p.name for p in removed] == ["20261201T030000Z"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "20261129T030000Z", "20261130T030000Z.partial", "20261202T030000Z", "20261203T030000Z",
        "notes.txt"]
    assert prune_backups(tmp_path, keep=0) == []  # 0: keep all
