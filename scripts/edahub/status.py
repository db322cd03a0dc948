"""`python3 scripts/bootstrap.py status`: the platform on one screen.

Versions, the health of every service, users' running servers with their memory and
CPU, home and database sizes, free disk, and, last, what an operator should act on.
Gathering (Docker calls) and rendering are apart, so the rules for what needs acting on
are tested without a stack.
"""

import argparse
import json
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import hostchecks
from .backup import DATABASE_REGEX, MONGOSH, is_home_volume
from .compose import ComposeProject
from .console import UserError, run, setup_logging
from .operator import add_installation_arguments, image_version, read_settings, user_servers
from edahub_core.settings import keys_for_service

SERVICES = ("hub", "proxy", "netpolicy", "mariadb", "mongodb", "mongodb-accounts")
DISK_WARN_FRACTION = 0.10
MEMORY_WARN_FRACTION = 0.90
_UNITS = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_size(text):
    """Bytes in a size as Docker prints it ("135.3MiB", "12.3kB", "0B")."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", text or "")
    if not match:
        return 0
    return int(float(match.group(1)) * _UNITS.get(match.group(2).upper() or "B", 1))


def human(size):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


@dataclass
class Server:
    name: str
    memory: int
    memory_limit: int
    cpu_percent: float


@dataclass
class Status:
    """What `status` found; ``warnings`` derives what needs acting on."""

    versions: dict
    services: dict  # service -> "running/healthy", "exited", "missing", ...
    servers: list = field(default_factory=list)
    homes: dict = field(default_factory=dict)  # volume -> bytes
    databases: dict = field(default_factory=dict)  # "mariadb u_x" -> bytes
    disk_free: int | None = None
    disk_total: int | None = None
    network_policy: bool = True

    def warnings(self):
        found = []
        for service, state in self.services.items():
            if service == "netpolicy" and not self.network_policy:
                continue
            if state != "running" and state != "running/healthy":
                found.append(f"{service} is {state}: read `docker compose logs {service}`")
        if self.network_policy and self.services.get("netpolicy") != "running/healthy":
            found.append("the network policy is not in place, so users' servers are not fenced "
                         "in: `docker compose logs netpolicy` names the fix")
        if self.disk_total and self.disk_free is not None and \
                self.disk_free < DISK_WARN_FRACTION * self.disk_total:
            found.append(f"Docker's disk is nearly full ({human(self.disk_free)} free of "
                         f"{human(self.disk_total)}): prune old images (`docker image prune`) "
                         "or grow the disk")
        for server in self.servers:
            if server.memory_limit and server.memory >= MEMORY_WARN_FRACTION * server.memory_limit:
                found.append(f"{server.name} uses {server.memory / server.memory_limit:.0%} of its "
                             "memory limit: its kernels may be killed")
        return found

    def render(self):
        lines = ["edahub status", "",
                 "Versions: " + ", ".join(f"{k} {v}" for k, v in self.versions.items()), "",
                 "Services:"]
        lines += [f"  {service:<16} {state}" for service, state in self.services.items()]
        lines += ["", f"Users' servers running: {len(self.servers)}"]
        for s in sorted(self.servers, key=lambda s: s.name):
            limit = f" of {human(s.memory_limit)}" if s.memory_limit else ""
            lines.append(f"  {s.name:<40} memory {human(s.memory)}{limit}, CPU {s.cpu_percent:.0f}%")
        lines += ["", f"Home volumes: {len(self.homes)}, {human(sum(self.homes.values()))} in all"]
        for name, size in sorted(self.homes.items(), key=lambda item: -item[1])[:10]:
            lines.append(f"  {name:<40} {human(size)}")
        lines += ["", f"Databases: {len(self.databases)}, "
                      f"{human(sum(self.databases.values()))} in all"]
        for name, size in sorted(self.databases.items(), key=lambda item: -item[1])[:10]:
            lines.append(f"  {name:<40} {human(size)}")
        if self.disk_total:
            lines += ["", f"Disk (Docker's data): {human(self.disk_free)} free of "
                          f"{human(self.disk_total)}"]
        warnings = self.warnings()
        lines += ["", "To act on:" if warnings else "Nothing to act on."]
        lines += [f"  - {w}" for w in warnings]
        return "\n".join(lines) + "\n"


def _service_states(project):
    states = project.services()
    found = {}
    for service in SERVICES:
        state = states.get(service)
        if state is None:
            found[service] = "missing"
        else:
            found[service] = state.state + (f"/{state.health}" if state.health else "")
    return found


def _servers(user_prefix):
    names = user_servers(user_prefix, running_only=True)
    if not names:
        return []
    result = run(["docker", "stats", "--no-stream", "--format", "{{json .}}", *names],
                 timeout=120, check=False)
    servers = []
    for line in result.stdout.splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        used, _, limit = entry.get("MemUsage", "").partition("/")
        servers.append(Server(entry["Name"], parse_size(used), parse_size(limit),
                              float(entry.get("CPUPerc", "0").rstrip("%") or 0)))
    return servers


def _homes(user_prefix):
    result = run(["docker", "system", "df", "-v", "--format", "{{json .Volumes}}"],
                 timeout=300, check=False)
    try:
        volumes = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}
    return {v["Name"]: parse_size(v.get("Size", "0B")) for v in volumes or []
            if is_home_volume(v["Name"], user_prefix)}


MARIADB_SIZES = ('export MYSQL_PWD="$MARIADB_ROOT_PASSWORD"; exec mariadb -uroot -N -e '
                 '"SELECT s.schema_name, COALESCE(SUM(t.data_length + t.index_length), 0) '
                 'FROM information_schema.schemata s LEFT JOIN information_schema.tables t '
                 'ON t.table_schema = s.schema_name WHERE BINARY s.schema_name REGEXP '
                 f"'{DATABASE_REGEX}' GROUP BY s.schema_name\"")
# Data and index sizes (what users stored, current at once; the size on disk follows only
# at the storage engine's next checkpoint).
MONGODB_SIZES_JS = ("db.adminCommand({listDatabases: 1, nameOnly: true}).databases"
                    ".filter(d => new RegExp(process.env.EDAHUB_DATABASES).test(d.name))"
                    ".forEach(d => { const s = db.getSiblingDB(d.name).stats(); "
                    "print(d.name + ' ' + Math.round(s.dataSize + s.indexSize)); })")


def _databases(project):
    sizes = {}
    for engine, cmd in (
            ("mariadb", ["exec", "-T", "mariadb", "sh", "-c", MARIADB_SIZES]),
            ("mongodb", ["exec", "-T", "--env", f"EDAHUB_JS={MONGODB_SIZES_JS}", "--env",
                         f"EDAHUB_DATABASES={DATABASE_REGEX}", "mongodb", "sh", "-c", MONGOSH])):
        result = project.run(*cmd, timeout=120, check=False)
        if result.returncode != 0:
            continue
        for line in result.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                sizes[f"{engine} {parts[0]}"] = int(parts[1])
    return sizes


def _versions(settings):
    hub = image_version(settings.hub_image)
    engine = run(["docker", "version", "--format", "{{.Server.Version}}"], timeout=60,
                 check=False).stdout.strip() or "unknown"
    compose = run(["docker", "compose", "version", "--short"], timeout=60,
                  check=False).stdout.strip() or "unknown"
    return {"edahub": hub, "Docker engine": engine, "Compose": compose}


def gather(project, settings):
    root = run(["docker", "info", "--format", "{{.DockerRootDir}}"], timeout=60,
               check=False).stdout.strip()
    free = total = None
    if root and Path(root).exists():
        usage = shutil.disk_usage(root)
        free, total = usage.free, usage.total
    return Status(versions=_versions(settings), services=_service_states(project),
                  servers=_servers(settings.user_prefix), homes=_homes(settings.user_prefix),
                  databases=_databases(project), disk_free=free, disk_total=total,
                  network_policy=settings.network_policy)


def main(argv=None):
    """Command line of `bootstrap.py status`: exit 0, or 1 when something needs acting on."""
    parser = argparse.ArgumentParser(
        prog="bootstrap.py status",
        description="The platform on one screen: versions, services, users' servers with "
        "memory and CPU, home and database sizes, free disk, and what needs acting on. "
        "Exits 1 when something does.")
    add_installation_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(None)
    try:
        settings = read_settings(args.env_file, ["EDAHUB_USER_PREFIX", "EDAHUB_HUB_IMAGE",
                                                 *keys_for_service("netpolicy")])
        hostchecks.check_docker_engine()
        status = gather(ComposeProject(args.env_file.resolve(), args.project_name), settings)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(status.render(), end="")
    return 1 if status.warnings() else 0
