"""Backup and restore of edahub's data: both databases and every user's home volume.

    python3 scripts/backup.py create [--output-dir backups]
    python3 scripts/backup.py restore backups/20261125T201500Z

A backup is a folder named after its UTC time, holding:

- ``mariadb/<database>.sql.gz``: mariadb-dump of each user's database (``u_*``) and of
  ``datasets``, one file each, each in one transaction (``--single-transaction``: a
  consistent snapshot of its InnoDB tables). Backups of edahub 0.2.0 (format 1) hold one
  ``mariadb.sql.gz`` for all of them instead;
- ``mongodb.jsonl.gz``: every document of the same databases in MongoDB's canonical
  Extended JSON (types kept exactly), with their indexes, read while the server is
  write-locked (``fsyncLock``) so all collections are from one moment;
- ``homes/<volume>.tar.gz``: each user's home volume;
- ``hub.sqlite.gz``: the hub's own state (accounts and passwords of the built-in login,
  approvals, API tokens, server records, the record of users' database names), an online
  copy through SQLite's backup API;
- ``manifest.json``: what is inside, with the SHA-256 of every file.

Database accounts are not in the backup: users' database passwords are derived from
EDAHUB_DB_PASSWORD_KEY and their accounts are re-created at their next spawn. Restoring
on a new host needs the same .env (its keys decrypt and derive what the backup holds).

Restore checks the whole backup first (manifest, checksums, every archive readable, each
dump naming only its own database) and that the stack runs with no user server running;
only then it replaces the databases,
the home volumes and the hub's state (with the hub stopped meanwhile) with the backup's
content. Each user's dump is loaded logged in as that user (root gives the account a
one-time password for it, and another, never shown, afterwards; the next spawn sets the
derived one): whatever a dump holds, it can touch nothing but that user's database.
``datasets``, which only the operator writes, is loaded as root. Backups made before the
hub's state was included restore without it. A backup is written to a ``.partial`` folder
and renamed when complete, so a folder without that suffix is always whole.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from edahub_core.names import (COMPOSE_PROJECT_LABEL, COMPOSE_VOLUME_LABEL, SAFE_DATABASE_NAME,
                               SHARED_DATASETS, home_volume_template)
from edahub_core.settings import load_settings

from . import envfile
from .console import UserError, format_duration, progress, run, setup_logging
from .installer import ROOT, Installation
from .operator import user_servers

FORMAT = 2  # 2: a MariaDB dump per database; 1 (edahub 0.2.0): one for all
FORMATS = (1, 2)
# The databases a backup holds: users' (exactly the names the hub makes, nothing a user
# could create beside them) and the shared datasets. The same rule in SQL and JavaScript.
DATABASE_REGEX = f"^({SAFE_DATABASE_NAME.pattern}|{SHARED_DATASETS})$"
MARIADB_ROOT = 'export MYSQL_PWD="$MARIADB_ROOT_PASSWORD"; exec mariadb -uroot'
MARIADB_LIST = (MARIADB_ROOT + " -N -e \"SELECT schema_name FROM information_schema.schemata "
                f"WHERE BINARY schema_name REGEXP '{DATABASE_REGEX}'\"")
MARIADB_DUMP = (
    'export MYSQL_PWD="$MARIADB_ROOT_PASSWORD"; '
    'exec mariadb-dump -uroot --single-transaction --routines --triggers --events '
    '--hex-blob --add-drop-database --databases "$EDAHUB_DATABASE"'
)
MARIADB_LOAD = MARIADB_ROOT
# Logged in as the user whose dump it is: the first line of the input is the one-time
# password (read byte by byte from the pipe, so the dump after it reaches mariadb whole).
MARIADB_LOAD_AS_USER = ('IFS= read -r MYSQL_PWD && export MYSQL_PWD && exec mariadb '
                        '--protocol=TCP -h 127.0.0.1 -u "$EDAHUB_DATABASE"')
MONGOSH = ('exec mongosh --quiet --host 127.0.0.1 -u "${MONGO_INITDB_ROOT_USERNAME:-root}" '
           '-p "$MONGO_INITDB_ROOT_PASSWORD" --authenticationDatabase admin --eval "$EDAHUB_JS"')
MONGODB_DUMP_JS = r"""
// An arrow function: mongosh --eval prints the value of a last expression, which must
// not end up in the dump.
(() => {
const wanted = db.adminCommand({listDatabases: 1, nameOnly: true}).databases
  .map(d => d.name).filter(n => new RegExp(process.env.EDAHUB_DATABASES).test(n));
db.fsyncLock();
try {
  for (const name of wanted) {
    const target = db.getSiblingDB(name);
    for (const info of target.getCollectionInfos({type: "collection"})) {
      if (info.name.startsWith("system.")) continue;
      const coll = target.getCollection(info.name);
      print(EJSON.stringify({db: name, collection: info.name,
                             indexes: coll.getIndexes().filter(i => i.name !== "_id_")},
                            {relaxed: false}));
      coll.find().forEach(doc => print(EJSON.stringify({db: name, collection: info.name, doc},
                                                       {relaxed: false})));
    }
  }
} finally {
  db.fsyncUnlock();
}
})();
"""
MONGODB_LOAD_JS = r"""
const fs = require("fs");
const lines = fs.readFileSync(process.env.EDAHUB_RESTORE_FILE, "utf8").split("\n")
  .filter(line => line.startsWith('{"db":'));
// Only users' databases and the shared datasets: never admin, config or anything else.
const allowed = new RegExp(process.env.EDAHUB_DATABASES);
const all = lines.map(line => EJSON.parse(line, {relaxed: false}));
const records = all.filter(r => allowed.test(r.db));
if (records.length !== all.length) {
  throw new Error("the backup names databases edahub does not restore: " +
                  [...new Set(all.filter(r => !allowed.test(r.db)).map(r => r.db))].join(", "));
}
const names = new Set(records.map(r => r.db));
const existing = db.adminCommand({listDatabases: 1, nameOnly: true}).databases.map(d => d.name)
  .filter(n => allowed.test(n));
for (const name of new Set([...existing, ...names])) db.getSiblingDB(name).dropDatabase();
for (const r of records) {
  const coll = db.getSiblingDB(r.db).getCollection(r.collection);
  if (r.doc !== undefined) coll.insertOne(r.doc);
  else if (r.indexes.length) db.getSiblingDB(r.db).runCommand(
    {createIndexes: r.collection, indexes: r.indexes.map(({v, ns, ...spec}) => spec)});
  else db.getSiblingDB(r.db).createCollection(r.collection);
}
print("restored " + records.length + " records in " + names.size + " databases");
"""


HUB_STATE = "hub.sqlite.gz"
# Run in the hub container: a consistent copy of the live database (SQLite's backup
# API), written to stdout.
HUB_STATE_DUMP = """
import os, shutil, sqlite3, sys, tempfile
from edahub_hub import HUB_DB_URL
source = sqlite3.connect("file:" + HUB_DB_URL.removeprefix("sqlite:///") + "?mode=ro", uri=True)
with tempfile.NamedTemporaryFile(suffix=".sqlite") as copy:
    target = sqlite3.connect(copy.name)
    source.backup(target)
    target.close()
    with open(copy.name, "rb") as f:
        shutil.copyfileobj(f, sys.stdout.buffer)
"""
# Run as root in a helper with the hub's volume at /data and the hub stopped: the copy
# replaces the database in one rename, owned like the volume (the hub's user).
HUB_STATE_LOAD = ("gzip -dc > /data/.jupyterhub.sqlite.restoring "
                  "&& chown --reference=/data /data/.jupyterhub.sqlite.restoring "
                  "&& chmod 600 /data/.jupyterhub.sqlite.restoring "
                  "&& rm -f /data/jupyterhub.sqlite-journal /data/jupyterhub.sqlite-wal "
                  "/data/jupyterhub.sqlite-shm "
                  "&& mv /data/.jupyterhub.sqlite.restoring /data/jupyterhub.sqlite")


def is_home_volume(volume, user_prefix):
    """True for a name DockerSpawner gives a user's home in the stack with ``user_prefix``."""
    start = home_volume_template(user_prefix).format(username="")
    return (volume.startswith(start) and len(volume) > len(start)
            and re.fullmatch(r"[a-z0-9-]+", volume[len(start):]) is not None)


def utc_stamp():
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


STAMP = re.compile(r"[0-9]{8}T[0-9]{6}Z")


def prune_backups(output_dir, keep):
    """Remove the oldest complete backups in ``output_dir`` beyond the newest ``keep``.

    Only folders named as `create` names them and holding a manifest count; anything
    else in the folder (an unfinished ``.partial``, an operator's file) is left alone.
    Returns the removed folders.
    """
    backups = sorted(p for p in Path(output_dir).iterdir()
                     if p.is_dir() and STAMP.fullmatch(p.name) and (p / "manifest.json").is_file())
    removed = backups[:-keep] if keep > 0 else []
    for folder in removed:
        shutil.rmtree(folder)
    return removed


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Stack:
    """The running installation a backup is taken from or restored into."""

    def __init__(self, inst):
        self.inst = inst
        values = envfile.read_env_file(inst.env_path) if inst.env_path.exists() else {}
        self.settings = load_settings(values)

    def exec_to_file(self, service, script, out_path, env=None):
        """Run ``sh -c script`` in ``service``, gzip its output into ``out_path``."""
        cmd = self.inst.compose("exec", "-T", *(f"--env={k}={v}" for k, v in (env or {}).items()),
                                service, "sh", "-c", script)
        with gzip.open(out_path, "wb") as out:
            proc = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for block in iter(lambda: proc.stdout.read(1 << 20), b""):
                out.write(block)
            err = proc.stderr.read().decode(errors="replace")
        if proc.wait() != 0:
            raise UserError(f"reading {service}'s data failed: {err.strip()[-1500:]}")

    def exec_with_input(self, service, script, stream=None, env=None, first=b""):
        """Run ``sh -c script`` in ``service`` with ``first``, then ``stream`` (a binary
        file), as its input; its output.

        The input is copied in blocks, so a dump of any size never sits in memory.
        """
        cmd = self.inst.compose("exec", "-T", *(f"--env={k}={v}" for k, v in (env or {}).items()),
                                service, "sh", "-c", script)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.PIPE, stdout=out,
                                    stderr=err)
            try:
                proc.stdin.write(first)
                if stream is not None:
                    shutil.copyfileobj(stream, proc.stdin, 1 << 20)
            except BrokenPipeError:
                pass  # the command ended early; its exit status and stderr say why
            finally:
                proc.stdin.close()
            returncode = proc.wait()
            err.seek(0)
            out.seek(0)
            if returncode != 0:
                raise UserError(f"loading {service}'s data failed: "
                                f"{err.read().decode(errors='replace').strip()[-1500:]}")
            return out.read().decode(errors="replace")

    def copy_into(self, service, local, remote):
        run(self.inst.compose("cp", local, f"{service}:{remote}"))

    def require_running(self, hub=False):
        """The databases (and the hub, if ``hub``) run; else an error naming the fix."""
        states = self.inst.project.services()
        needed = ("mariadb", "mongodb", "hub") if hub else ("mariadb", "mongodb")
        down = [s for s in needed if s not in states or not states[s].running]
        if down:
            raise UserError(
                f"the stack is not running ({', '.join(down)} not up)",
                "start it with `docker compose up -d` (or `python3 scripts/bootstrap.py`) "
                "and try again",
            )

    def home_volumes(self):
        result = run(["docker", "volume", "ls", "--format", "{{.Name}}"])
        return sorted(v for v in result.stdout.split()
                      if is_home_volume(v, self.settings.user_prefix))

    def running_user_servers(self):
        return user_servers(self.settings.user_prefix, running_only=True)

    def hub_state_volume(self):
        """The hub's state volume of this Compose project (compose.yaml's hub-data)."""
        project = self.inst.project_name or "edahub"
        result = run(["docker", "volume", "ls", "--format", "{{.Name}}",
                      "--filter", f"label={COMPOSE_PROJECT_LABEL}={project}",
                      "--filter", f"label={COMPOSE_VOLUME_LABEL}=hub-data"])
        names = result.stdout.split()
        if len(names) != 1:
            raise UserError(f"cannot tell the hub's state volume of project {project} "
                            f"(found {names or 'none'})",
                            "start the stack with `docker compose up -d` and try again")
        return names[0]

    def helper(self, *args, volume, read_only, stdin=None, stdout=None):
        """Run the singleuser image with ``volume`` at /data (for tar), as root, offline."""
        mode = ":ro" if read_only else ""
        cmd = ["docker", "run", "--rm", "-i", "--network", "none", "--user", "0",
               "--entrypoint", "sh", "-v", f"{volume}:/data{mode}",
               self.settings.singleuser_image, "-c", *args]
        return subprocess.run(cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)


def create_backup(inst, output_dir):
    """Take a backup into a new timestamped folder under ``output_dir``; return its path."""
    stack = Stack(inst)
    steps = 5
    with progress(1, steps, "Checking the stack") as status:
        stack.require_running(hub=True)
        volumes = stack.home_volumes()
        status.text = f"running; {len(volumes)} home volume(s)"
    final = Path(output_dir) / utc_stamp()
    if final.exists():
        raise UserError(f"{final} already exists", "wait a second and try again")
    partial = final.with_name(final.name + ".partial")
    # Owner only: a backup holds every user's data and home (their ~/.my.cnf included).
    previous_umask = os.umask(0o077)
    try:
        return _write_backup(stack, inst, final, partial, volumes, steps)
    finally:
        os.umask(previous_umask)


def _write_backup(stack, inst, final, partial, volumes, steps):
    (partial / "homes").mkdir(parents=True)
    manifest = {"format": FORMAT, "created": final.name, "project": inst.project_name or "edahub",
                "user_prefix": stack.settings.user_prefix, "files": {}}
    with progress(2, steps, "MariaDB: dumping users' databases") as status:
        (partial / "mariadb").mkdir()
        names = stack.exec_with_input("mariadb", MARIADB_LIST).split()
        for name in names:
            if not re.fullmatch(DATABASE_REGEX, name):  # the query selected by this regex
                raise UserError(f"MariaDB listed an unexpected database name {name!r}")
            stack.exec_to_file("mariadb", MARIADB_DUMP, partial / "mariadb" / f"{name}.sql.gz",
                               env={"EDAHUB_DATABASE": name})
        status.text = f"{len(names)} database(s), one file each"
    with progress(3, steps, "MongoDB: exporting users' databases (write-locked)"):
        stack.exec_to_file("mongodb", MONGOSH, partial / "mongodb.jsonl.gz",
                           env={"EDAHUB_JS": MONGODB_DUMP_JS, "EDAHUB_DATABASES": DATABASE_REGEX})
    with progress(4, steps, f"Home volumes ({len(volumes)})"):
        for volume in volumes:
            with open(partial / "homes" / f"{volume}.tar.gz", "wb") as out:
                result = stack.helper("tar -C /data -czf - --numeric-owner .", volume=volume,
                                      read_only=True, stdout=out)
            if result.returncode != 0:
                raise UserError(f"archiving volume {volume} failed: {result.stderr.decode()[-500:]}")
    with progress(5, steps, "The hub's state (accounts, tokens, server records)"):
        stack.exec_to_file("hub", 'exec python3 -c "$EDAHUB_PY"', partial / HUB_STATE,
                           env={"EDAHUB_PY": HUB_STATE_DUMP})
    for path in sorted(partial.rglob("*.gz")):
        manifest["files"][str(path.relative_to(partial))] = {
            "sha256": sha256_of(path), "bytes": path.stat().st_size}
    (partial / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    partial.rename(final)
    return final


def verify_backup(folder):
    """Check a backup folder completely; return its manifest or raise UserError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"backup folder {folder} does not exist",
                        "give the path of a folder made by `scripts/backup.py create`")
    if folder.name.endswith(".partial"):
        raise UserError(f"{folder} is an unfinished backup", "use a complete backup folder")
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{folder}/manifest.json is missing or unreadable ({e})",
                        "give the path of a folder made by `scripts/backup.py create`") from None
    if manifest.get("format") not in FORMATS:
        raise UserError(f"unknown backup format {manifest.get('format')!r}",
                        "restore it with the edahub version that made it")
    required = ["mongodb.jsonl.gz"] + (["mariadb.sql.gz"] if manifest["format"] == 1 else [])
    for name in required:
        if name not in manifest.get("files", {}):
            raise UserError(f"the manifest does not list {name}", "the backup is incomplete")
    for name, entry in manifest["files"].items():
        own = mariadb_dump_database(name)
        if not (name in ("mongodb.jsonl.gz", HUB_STATE)
                or (name == "mariadb.sql.gz" and manifest["format"] == 1)
                or (own and manifest["format"] == 2)
                or re.fullmatch(r"homes/[a-z0-9][a-z0-9_.-]*\.tar\.gz", name)):
            raise UserError(f"the manifest lists {name!r}, which no edahub backup holds",
                            "use a backup made by `scripts/backup.py create`; nothing was changed")
        path = folder / name
        if not path.is_file():
            raise UserError(f"{path} is missing", "the backup is incomplete; use another one")
        if sha256_of(path) != entry["sha256"]:
            raise UserError(f"{path} is corrupt (its checksum does not match the manifest)",
                            "use another backup; nothing was changed")
        try:
            if name.endswith(".tar.gz"):
                with tarfile.open(path, "r:gz") as archive:
                    archive.getmembers()
            elif name == HUB_STATE:
                check_hub_state(path)
            else:
                foreign = sorted(databases_named_in(path, name) - {""})
                foreign = [db for db in foreign
                           if not re.fullmatch(DATABASE_REGEX, db) or (own and db != own)]
                if foreign:
                    what = (f"databases other than its own ({own})" if own
                            else "databases edahub never backs up")
                    raise UserError(
                        f"{path} names {what}: {', '.join(foreign)}",
                        "use a backup made by `scripts/backup.py create`; nothing was changed")
        except (OSError, EOFError, tarfile.TarError, ValueError) as e:
            raise UserError(f"{path} cannot be read ({e})", "use another backup") from None
    return manifest


def check_hub_state(path):
    """The hub's state in a backup is an intact SQLite database of a JupyterHub."""
    import sqlite3

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "hub.sqlite"
        with gzip.open(path, "rb") as src, open(copy, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        try:
            db = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
            try:
                intact = db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            finally:
                db.close()
        except sqlite3.DatabaseError as e:
            raise UserError(f"{path} is not a readable SQLite database ({e})",
                            "use another backup; nothing was changed") from None
    if not intact or not {"users", "api_tokens", "servers"} <= tables:
        raise UserError(f"{path} is not an intact copy of the hub's database",
                        "use another backup; nothing was changed")


def mariadb_dump_database(name):
    """The database whose dump ``name`` is in a backup (``mariadb/<database>.sql.gz``), or
    None for any other file."""
    match = re.fullmatch(r"mariadb/([a-z0-9_]+)\.sql\.gz", name)
    return match[1] if match and re.fullmatch(DATABASE_REGEX, match[1]) else None


_SQL_DATABASE = re.compile(rb"^(?:CREATE DATABASE (?:/\*!\d+ IF NOT EXISTS\*/ )?|USE )`([^`]*)`",
                           re.MULTILINE)


def databases_named_in(path, name):
    """The database names a dump selects or creates, read in blocks (whole file checked)."""
    found = set()
    with gzip.open(path, "rb") as f:
        if name == "mongodb.jsonl.gz":
            for line in f:
                if line.startswith(b'{"db":'):
                    found.add(json.loads(line)["db"])
        else:
            tail = b""
            for block in iter(lambda: f.read(1 << 20), b""):
                chunk = tail + block
                cut = chunk.rfind(b"\n") + 1
                found.update(m.decode() for m in _SQL_DATABASE.findall(chunk[:cut]))
                tail = chunk[cut:]
            found.update(m.decode() for m in _SQL_DATABASE.findall(tail))
    return found


def _accounts_sql(passwords):
    """Root's SQL giving each user's account ``passwords[name]`` through the hub's own
    procedure (mariadb/initdb.d/05-edahub-provisioning.sql), which also makes a missing
    account and grants exactly its own database. Names match DATABASE_REGEX and
    passwords are hex, so quoting them is plain. ``datasets`` access comes back at the
    user's next spawn, as their password does."""
    return "".join(f"CALL `edahub_admin`.`ensure_account`('{name}', '{password}', FALSE);\n"
                   for name, password in passwords.items()).encode()


def load_mariadb_dumps(stack, dumps):
    """Load each of ``dumps`` ({database: path}) with the least rights that can.

    A user's dump runs logged in as that user, so nothing in it (a statement on another
    database, a definer, a grant) can reach beyond their own database. Their account gets
    a one-time password for it and, afterwards, another that nobody is shown; the next
    spawn sets the derived one. ``datasets`` (only the operator writes it) is root's.
    """
    users = sorted(name for name in dumps if SAFE_DATABASE_NAME.fullmatch(name))
    once = {name: secrets.token_hex(32) for name in users}
    stack.exec_with_input("mariadb", MARIADB_ROOT, io.BytesIO(_accounts_sql(once)))
    try:
        for name in users:
            with gzip.open(dumps[name], "rb") as dump:
                try:
                    stack.exec_with_input("mariadb", MARIADB_LOAD_AS_USER, dump,
                                          env={"EDAHUB_DATABASE": name},
                                          first=once[name].encode() + b"\n")
                except UserError as error:
                    raise UserError(f"{name}'s dump was refused ({error.what})",
                                    "use another backup; databases loaded before it were "
                                    "replaced, the others are as they were") from None
    finally:
        after = {name: secrets.token_hex(32) for name in users}
        stack.exec_with_input("mariadb", MARIADB_ROOT, io.BytesIO(_accounts_sql(after)))
    for name in sorted(set(dumps) - set(users)):  # datasets
        with gzip.open(dumps[name], "rb") as dump:
            stack.exec_with_input("mariadb", MARIADB_LOAD, dump)


def restore_backup(inst, folder):
    """Replace the databases and home volumes with the backup in ``folder``."""
    folder = Path(folder)
    steps = 5
    with progress(1, steps, "Checking the backup and the stack") as status:
        manifest = verify_backup(folder)
        stack = Stack(inst)
        stack.require_running()
        foreign = [n for n in manifest["files"] if n.startswith("homes/") and not is_home_volume(
            Path(n).name.removesuffix(".tar.gz"), stack.settings.user_prefix)]
        if foreign:
            raise UserError(
                f"the backup holds volumes that are not users' homes of this stack "
                f"(EDAHUB_USER_PREFIX={stack.settings.user_prefix}): {', '.join(foreign)}",
                "restore only backups of this installation; nothing was changed")
        running = stack.running_user_servers()
        if running:
            raise UserError(
                f"users' servers are running ({', '.join(running)}); their files would change "
                "under them",
                "stop them first (hub admin panel: Stop All) and run restore again",
            )
        status.text = f"backup {manifest['created']} is complete and readable"
    with progress(2, steps, "MariaDB: loading users' databases") as status:
        if manifest["format"] == 1:
            with gzip.open(folder / "mariadb.sql.gz", "rb") as f:
                stack.exec_with_input("mariadb", MARIADB_LOAD, f)
            status.text = "one dump for all databases (a backup of edahub 0.2.0), loaded as root"
        else:
            dumps = {mariadb_dump_database(n): folder / n for n in manifest["files"]
                     if mariadb_dump_database(n)}
            load_mariadb_dumps(stack, dumps)
            status.text = f"{len(dumps)} database(s), each user's loaded as that user"
    with progress(3, steps, "MongoDB: loading users' databases") as status:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "restore.jsonl"
            with gzip.open(folder / "mongodb.jsonl.gz", "rb") as src, open(data, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            data.chmod(0o644)  # docker cp keeps the mode; mongosh runs as the mongodb user
            stack.copy_into("mongodb", data, "/tmp/edahub-restore.jsonl")
        try:
            output = stack.exec_with_input(
                "mongodb", MONGOSH,
                env={"EDAHUB_JS": MONGODB_LOAD_JS, "EDAHUB_DATABASES": DATABASE_REGEX,
                     "EDAHUB_RESTORE_FILE": "/tmp/edahub-restore.jsonl"},
            )
        finally:
            run(inst.compose("exec", "-T", "--user", "root", "mongodb", "rm", "-f",
                             "/tmp/edahub-restore.jsonl"), check=False)
        status.text = output.strip().splitlines()[-1] if output.strip() else "done"
    homes = sorted(n for n in manifest["files"] if n.startswith("homes/"))
    with progress(4, steps, f"Home volumes ({len(homes)})"):
        for name in homes:
            volume = Path(name).name.removesuffix(".tar.gz")
            run(["docker", "volume", "create", volume])
            with open(folder / name, "rb") as archive:
                result = stack.helper(
                    # No setuid or setgid file comes back from an archive.
                    "find /data -mindepth 1 -delete && tar -C /data -xzpf - --numeric-owner "
                    "&& find /data -xdev -perm /6000 -exec chmod ug-s {} +",
                    volume=volume, read_only=False, stdin=archive,
                )
            if result.returncode != 0:
                raise UserError(f"restoring volume {volume} failed: {result.stderr.decode()[-500:]}")
    with progress(5, steps, "The hub's state (accounts, tokens, server records)") as status:
        if HUB_STATE not in manifest["files"]:
            status.text = "not in this backup (made before edahub 0.2): the hub's is kept"
            return
        volume = stack.hub_state_volume()
        run(inst.compose("stop", "hub"), timeout=180)
        try:
            with open(folder / HUB_STATE, "rb") as archive:
                result = stack.helper(HUB_STATE_LOAD, volume=volume, read_only=False,
                                      stdin=archive)
            if result.returncode != 0:
                raise UserError(f"restoring the hub's state failed: "
                                f"{result.stderr.decode()[-500:]}")
        finally:
            run(inst.compose("start", "hub"), timeout=180)
        inst.project.wait_until_ready(["hub"], timeout=180)
        status.text = "restored; the hub is back"


def main(argv=None):
    """Command line of scripts/backup.py."""
    parser = argparse.ArgumentParser(prog="backup.py", description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, default=ROOT / ".env")
    parser.add_argument("--project-name")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="take a backup into a new timestamped folder")
    create.add_argument("--output-dir", type=Path, default=ROOT / "backups")
    create.add_argument("--keep", type=int, default=0, metavar="N",
                        help="then remove the oldest backups in the output folder beyond the "
                        "newest N (default: keep all)")
    restore = sub.add_parser("restore", help="replace all data with a backup's")
    restore.add_argument("folder", type=Path)
    restore.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    setup_logging(None)
    inst = Installation(env_path=args.env_file.resolve(), project_name=args.project_name)
    started = time.monotonic()
    try:
        if args.command == "create":
            if args.keep < 0:
                raise UserError(f"--keep {args.keep}: give a number of backups, 1 or more")
            folder = create_backup(inst, args.output_dir)
            print(f"Backup written to {folder} ({format_duration(time.monotonic() - started)})")
            for old in prune_backups(args.output_dir, args.keep):
                print(f"Removed the older backup {old} (--keep {args.keep})")
        else:
            if not args.yes:
                if not sys.stdin.isatty():
                    raise UserError("restore replaces all users' data", "add --yes to confirm")
                answer = input(f"Replace all users' databases and home files with {args.folder}? [y/N] ")
                if answer.strip().lower() not in ("y", "yes"):
                    print("Nothing changed.")
                    return 1
            restore_backup(inst, args.folder)
            print(f"Restored {args.folder} ({format_duration(time.monotonic() - started)}); "
                  "users get their database accounts back at their next server start")
        return 0
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
