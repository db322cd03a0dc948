"""Checks of the host before bootstrap changes anything.

Each check returns a short description of what it found, or raises ``UserError`` with
what is wrong and how to fix it.
"""

import errno
import json
import os
import re
import secrets
import shutil
import socket

from .console import UserError, run

MIN_COMPOSE = (2, 17, 0)


def check_docker_engine(client_factory=None):
    """The Docker engine answers; returns its version."""
    if client_factory is None:
        import docker

        client_factory = docker.from_env
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = client_factory()
        client.ping()
        version = client.version().get("Version", "unknown")
    except Exception as e:  # the SDK raises several types; all mean "not reachable"
        reason = _short_reason(e)
        fix = "start it (e.g. `sudo systemctl start docker`), or set DOCKER_HOST to where it listens"
        if "Permission denied" in reason:
            fix = "run bootstrap as root, or add your user to the `docker` group and log in again"
        raise UserError(f"cannot reach the Docker engine at {host}: {reason}", fix) from None
    return f"Docker engine {version}"


def parse_compose_version(text):
    """Extract (major, minor, patch) from `docker compose version --short` output."""
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text or "")
    return tuple(int(part) for part in match.groups()) if match else None


def check_compose_v2(runner=run):
    """`docker compose` is Compose v2, recent enough for compose.yaml."""
    result = runner(["docker", "compose", "version", "--short"], check=False)
    version = parse_compose_version(result.stdout) if result.returncode == 0 else None
    if version is None:
        raise UserError(
            "Docker Compose v2 (`docker compose`) is not available",
            "install the Compose v2 plugin (package docker-compose-plugin or docker-compose "
            "v2), see https://docs.docker.com/compose/install/linux/",
        )
    if version < MIN_COMPOSE:
        wanted = ".".join(map(str, MIN_COMPOSE))
        raise UserError(
            f"Docker Compose {'.'.join(map(str, version))} is too old",
            f"install Compose {wanted} or newer",
        )
    return f"Compose {'.'.join(map(str, version))}"


def check_port_free(address, port, already_ours=False, setting="EDAHUB_HUB_PORT"):
    """Nothing else listens on ``address:port`` (our own running hub is fine).

    ``setting`` is the one that chose the port, named in the fix.
    """
    if already_ours:
        return f"port {port} is served by edahub's proxy already"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Bind the way the engine's port proxy will (SO_REUSEADDR, as Go's listeners do):
        # connections left in TIME_WAIT by a stack that just stopped do not hold the
        # port, only a listener does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
            sock.listen()
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise UserError(
                    f"port {port} on {address} is already in use by another program",
                    f"stop that program (see `ss -ltnp 'sport = :{port}'`), or choose "
                    f"another port with {setting} in .env",
                ) from None
            if e.errno == errno.EACCES:
                raise UserError(
                    f"not allowed to check port {port} (ports below 1024 need root)",
                    f"run bootstrap as root, or choose a port above 1024 with {setting}",
                ) from None
            if e.errno == errno.EADDRNOTAVAIL:
                raise UserError(
                    f"{address} is not an address of this host",
                    "set EDAHUB_HUB_BIND_ADDRESS to 0.0.0.0, 127.0.0.1 or one of this "
                    "host's addresses",
                ) from None
            raise
    return f"port {port} is free"


def check_disk_space(path, min_free_gib):
    """At least ``min_free_gib`` GiB are free where Docker keeps images and volumes."""
    free_gib = shutil.disk_usage(path).free / 2**30
    if free_gib < min_free_gib:
        raise UserError(
            f"only {free_gib:.1f} GiB free in {path}; edahub's images and data need at "
            f"least {min_free_gib} GiB",
            "free some space (`docker system prune` removes unused images), or give "
            "Docker's storage more room (see docs/atomic-host.md on Atomic hosts)",
        )
    return f"{free_gib:.0f} GiB free in {path}"


def docker_root_dir(runner=run):
    """Where the engine keeps its data, if this host can see it; else None."""
    result = runner(["docker", "info", "--format", "{{json .DockerRootDir}}"], check=False)
    if result.returncode != 0:
        return None
    try:
        path = json.loads(result.stdout.strip() or "null")
    except ValueError:
        return None
    return path if path and os.path.isdir(path) else None


# What the hub, the proxy and both databases need beside users' servers.
PLATFORM_RESERVE = 2 * 2**30
_SIZE_UNITS = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def size_bytes(text):
    """Bytes in a size setting such as 512M or 2G."""
    return int(float(text[:-1]) * _SIZE_UNITS[text[-1]])


def check_user_limits(mem_limit, cpu_limit, host_memory, host_cores, profiles=()):
    """Each user's limits fit the engine's host (docs/operations.md, "Limits").

    The rule: one user's memory limit leaves PLATFORM_RESERVE for the platform, and one
    user's CPU limit is at most the host's cores. Returns how many users fit at their full
    memory limit; raises UserError with the fix otherwise.
    """
    problems = []
    choices = [("EDAHUB_USER_MEM_LIMIT=", "EDAHUB_USER_CPU_LIMIT=", mem_limit, cpu_limit)]
    choices += [(f"EDAHUB_USER_PROFILES {p.name}: ", f"EDAHUB_USER_PROFILES {p.name}: ",
                 p.mem_limit, p.cpu_limit) for p in profiles]
    for mem_name, cpu_name, mem, cpu in choices:
        if mem and size_bytes(mem) > host_memory - PLATFORM_RESERVE:
            problems.append(
                f"{mem_name}{mem} leaves less than 2 GiB of this host's "
                f"{host_memory / 2**30:.1f} GiB for the hub and the databases")
        if cpu and cpu > host_cores:
            problems.append(f"{cpu_name}{cpu:g} cores is more than this host's {host_cores}")
    if problems:
        raise UserError("; ".join(problems),
                        "lower the limit in .env (docs/operations.md, \"Limits\", gives the rule)")
    if not mem_limit:
        return f"{host_cores} cores, {host_memory / 2**30:.1f} GiB; no memory limit per user"
    fit = max(0, (host_memory - PLATFORM_RESERVE) // size_bytes(mem_limit))
    return (f"{host_cores} cores, {host_memory / 2**30:.1f} GiB: {fit} users fit at their full "
            f"{mem_limit} memory limit")


def check_home_size(size, client_factory=None):
    """The engine can limit a home to ``size`` (EDAHUB_USER_HOME_SIZE), or UserError.

    Docker's local volume driver applies the option ``size`` as an XFS project quota,
    which needs its data root on XFS mounted with prjquota. A volume created and removed
    here asks the engine itself, on any host.
    """
    if not size:
        return "no home size limit"
    if client_factory is None:
        import docker

        client_factory = docker.from_env
    import docker.errors

    client = client_factory()
    probe = f"edahub-home-size-probe-{secrets.token_hex(4)}"
    try:
        client.volumes.create(name=probe, driver="local", driver_opts={"size": size})
    except docker.errors.APIError as error:
        reason = getattr(error, "explanation", None) or str(error)
        raise UserError(
            f"EDAHUB_USER_HOME_SIZE={size}, but the Docker engine cannot limit a volume's "
            f"size here ({reason})",
            "put Docker's data root on XFS mounted with project quotas (prjquota; "
            "docs/operations.md, \"Home sizes\", and docs/atomic-host.md), or empty "
            "EDAHUB_USER_HOME_SIZE in .env",
        ) from None
    client.volumes.get(probe).remove()
    return f"homes limited to {size} (project quotas)"


def engine_resources(client_factory=None):
    """(memory in bytes, cores) of the engine's host."""
    if client_factory is None:
        import docker

        client_factory = docker.from_env
    info = client_factory().info()
    return info["MemTotal"], info["NCPU"]


def docker_socket_gid(path="/var/run/docker.sock"):
    """Group id of the Docker socket, which the hub joins; None if there is no socket."""
    try:
        return os.stat(path).st_gid
    except OSError:
        return None


def _short_reason(error):
    text = str(error)
    for marker in ("Permission denied", "No such file or directory", "Connection refused"):
        if marker in text:
            return marker
    return text.splitlines()[0][:200] if text else type(error).__name__
