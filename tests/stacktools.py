"""Test stacks: start one from compose.yaml, find its parts, remove everything it made.

Shared by the fixtures (tests/conftest.py, tests/integration/bitbucket/conftest.py) and
scripts/benchmark.py. The compose plumbing itself is scripts/edahub/compose.py.
"""

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from edahub_core.names import USER_PREFIX_LABEL, home_volume_template

ROOT = Path(__file__).resolve().parent.parent
FAILURES = []  # node ids of failed tests (tests/conftest.py): stacks dump their logs then


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The reserved .test domain (RFC 2606) of the stack with EDAHUB_USER_SUBDOMAINS
# (tests/integration/subdomains/), which the tests resolve to 127.0.0.1 themselves.
SUBDOMAIN_TEST_DOMAIN = "edahub.test"
# TEST-NET-3 (RFC 5737): blocked on the shared test stack on top of the default list,
# and served from a namespace by tests/integration/test_attacks_network.py. (Not
# TEST-NET-1: some sandboxes, this CI machine's among them, use 192.0.2.0/24 as their LAN.)
BLOCKED_TEST_RANGE = "203.0.113.0/24"


def host_routes():
    """Every IPv4 destination this host has a route for (its own addresses included)."""
    import ipaddress

    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True,
                            text=True).stdout
    found = []
    for line in routes.splitlines():
        words = line.split()
        # "local 10.0.0.5 dev ..." / "broadcast ..." (table local), or "10.0.0.0/8 via ...".
        destination = words[1] if words and words[0] in ("local", "broadcast") else \
            (words[0] if words else "")
        if destination[:1].isdigit():
            found.append(ipaddress.ip_network(destination if "/" in destination
                                              else f"{destination}/32", strict=False))
    return found


def free_network_prefix(client):
    """A two-octet prefix whose /16 no Docker network and no route of this host uses.

    Each test stack gets its own network (EDAHUB_NETWORK_PREFIX), and with it its own
    network-policy chains, so stacks side by side never share rules.
    """
    import ipaddress

    used = []
    for network in client.networks.list():
        for config in (network.attrs.get("IPAM") or {}).get("Config") or []:
            if config.get("Subnet") and ":" not in config["Subnet"]:
                used.append(ipaddress.ip_network(config["Subnet"], strict=False))
    used += host_routes()
    candidates = [f"172.{n}" for n in range(31, 15, -1)] + [f"10.{n}" for n in range(200, 250)]
    for prefix in candidates:
        subnet = ipaddress.ip_network(f"{prefix}.0.0/16")
        if not any(subnet.overlaps(other) for other in used):
            return prefix
    raise RuntimeError(f"no free /16 for a test stack's network among {candidates}")


def remove_user_resources(client, prefix):
    """Remove the users' containers and home volumes of the stack whose user prefix is ``prefix``."""
    for container in client.containers.list(all=True,
                                            filters={"label": f"{USER_PREFIX_LABEL}={prefix}"}):
        container.remove(force=True)
    for volume in client.volumes.list():
        if volume.name.startswith(home_volume_template(prefix).format(username="")):
            volume.remove(force=True)


def image_ids(tags):
    """The IDs of the images behind ``tags`` (those that exist)."""
    ids = []
    for tag in tags:
        found = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", tag],
                               capture_output=True, text=True, timeout=60)
        if found.returncode == 0:
            ids.append(found.stdout.strip())
    return ids


def remove_images(tags, ids, timeout=60):
    """Remove this run's image ``tags``, then those of ``ids`` (their images) that are left
    untagged; retried while a container the daemon is still removing holds one.

    Never forced: an operator's image with the same content (the same ID) keeps its own
    tag and stays, and no container is touched.
    """
    for tag in tags:
        subprocess.run(["docker", "image", "rm", tag], capture_output=True, timeout=120)
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for image in ids:
            tags_left = subprocess.run(
                ["docker", "image", "inspect", "--format", "{{len .RepoTags}}", image],
                capture_output=True, text=True, timeout=60)
            if tags_left.returncode != 0 or tags_left.stdout.strip() != "0":
                continue  # gone, or someone else's tag keeps it
            if subprocess.run(["docker", "image", "rm", image], capture_output=True,
                              timeout=120).returncode != 0:
                left.append(image)
        if not left or time.monotonic() > deadline:
            break
        ids = left
        time.sleep(2)
    if left:
        print(f"could not remove images {left}", file=sys.stderr)


@dataclass
class Stack:
    """A running edahub stack started from compose.yaml for some tests."""

    base_url: str
    project: str
    prefix: str
    network: str
    env_file: Path
    values: dict = field(repr=False)  # holds generated secrets: keep them out of tracebacks
    admin_user: str = "admin"
    admin_password: str = field(default="", repr=False)
    verify: object = True  # for requests: True, or the test CA's file for an HTTPS stack
    redirect_port: int = 0  # host port of the plain-HTTP redirect to HTTPS

    @property
    def compose(self):
        """This stack's ComposeProject (scripts/edahub/compose.py)."""
        from edahub.compose import ComposeProject

        return ComposeProject(self.env_file, self.project)

    def run_compose(self, *args, timeout=600, check=True):
        return self.compose.run(*args, timeout=timeout, check=check)

    def logs(self, service="hub", tail=200):
        return self.compose.logs(service, tail)

    def container(self, docker_client, service):
        """The container of ``service`` (e.g. "hub") in this stack."""
        return docker_client.containers.get(self.compose.services()[service].container)

    def as_mariadb_root(self, docker_client, sql):
        """Run ``sql`` as MariaDB's root inside its container; its output (tab-separated)."""
        return _exec_ok(self.container(docker_client, "mariadb"), [
            "sh", "-c", 'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" exec mariadb -uroot -N -e "$0"', sql])

    def as_mongodb_root(self, docker_client, js):
        """Run ``js`` with mongosh as MongoDB's root inside its container; its output."""
        return _exec_ok(self.container(docker_client, "mongodb"), [
            "sh", "-c", 'exec mongosh --quiet -u root -p "$MONGO_INITDB_ROOT_PASSWORD" '
            '--authenticationDatabase admin --eval "$0"', js])


def _exec_ok(container, command):
    result = container.exec_run(command)
    assert result.exit_code == 0, result.output.decode()
    return result.output.decode()


def start_stack(kind, overrides, docker_client, tmp_path_factory, port=None, base_url=None,
                verify=True, admin_password=""):
    """Start a stack from compose.yaml with ``overrides`` in its .env, yield it, remove it.

    Each stack has its own project, network, user prefix and host ports, so several can
    run side by side and none touches an operator's stack. Images must be built already.
    """
    from edahub import envfile

    from edahub_core.settings import load_settings

    run_id = secrets.token_hex(3)
    project = f"edahub-{kind}-{run_id}"
    prefix = f"edahub{kind}{run_id}"
    port = port or free_port()
    redirect_port = free_port()
    env_file = tmp_path_factory.mktemp(kind) / "test.env"
    overrides = {
        "EDAHUB_HUB_PORT": str(port),
        "EDAHUB_HTTP_REDIRECT_PORT": str(redirect_port),
        "EDAHUB_HUB_BIND_ADDRESS": "127.0.0.1",
        "EDAHUB_NETWORK_NAME": project,
        "EDAHUB_NETWORK_PREFIX": free_network_prefix(docker_client),
        "EDAHUB_USER_PREFIX": prefix,
        "EDAHUB_DOCKER_GID": str(os.stat("/var/run/docker.sock").st_gid),
        "EDAHUB_USER_MEM_LIMIT": "1G",
        "EDAHUB_LOG_LEVEL": "DEBUG",
        **overrides,
    }
    values, _ = envfile.ensure_env_file(env_file, overrides, validate=load_settings)
    stack = Stack(
        base_url=base_url or f"http://127.0.0.1:{port}", project=project, prefix=prefix,
        network=project, env_file=env_file, values=values, admin_user="admin",
        admin_password=admin_password, verify=verify, redirect_port=redirect_port,
    )
    try:
        started = time.monotonic()
        stack.run_compose("up", "--detach", "--wait", "--no-build", timeout=600)
        wait_for_hub(stack.base_url, timeout=120, verify=verify)
        print(f"stack {project} healthy in {time.monotonic() - started:.0f}s", file=sys.stderr)
        yield stack
    finally:
        if FAILURES:
            dump_logs(stack)
        if not os.environ.get("EDAHUB_TEST_KEEP_STACK"):
            # The operator's way to stop everything (the hub, users' servers, the rest),
            # here with the stack's own volumes; then users' homes.
            from edahub.console import UserError
            from edahub.lifecycle import stop_platform

            try:
                stop_platform(stack.compose, prefix, timeout=30, volumes=True,
                              remove_policy=True, stream=sys.stderr)
            except UserError as error:
                print(f"stopping stack {project}: {error}", file=sys.stderr)
                stack.run_compose("down", "--volumes", "--timeout", "30", timeout=300,
                                  check=False)
            remove_user_resources(docker_client, prefix)


def dump_logs(stack):
    """Save the services' logs under test-artifacts/ and show the hub's tail."""
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    for service in ("hub", "proxy", "mariadb", "mongodb", "mongodb-accounts", "netpolicy"):
        path = artifacts / f"{stack.project}-{service}.log"
        path.write_text(stack.logs(service, tail=2000))
        print(f"saved {service} logs to {path}", file=sys.__stderr__)
    tail = "\n".join(stack.logs("hub", tail=60).splitlines()[-60:])
    print(f"----- last lines of the hub's log -----\n{tail}", file=sys.__stderr__)


def wait_for_hub(base_url, timeout, verify=True):
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base_url}/hub/health", timeout=3, verify=verify).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise AssertionError(f"hub at {base_url} did not answer within {timeout}s")


def ca_bundle():
    """The CA bundle for builds, if the environment gives one."""
    path = os.environ.get("EDAHUB_TEST_CA_BUNDLE", "")
    return path if path and Path(path).is_file() else ""


def build_image(tag, context, timeout=1800):
    """Build ``context`` as ``tag`` with BuildKit (the CA bundle as a build secret)."""
    cmd = ["docker", "buildx", "build", "--load", "--tag", tag]
    if ca_bundle():
        cmd += ["--secret", f"id=ca_bundle,src={ca_bundle()}"]
    started = time.monotonic()
    result = subprocess.run([*cmd, str(context)], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        import pytest

        pytest.fail(f"building {tag} failed:\n{result.stderr[-4000:]}")
    print(f"built {tag} in {time.monotonic() - started:.0f}s", file=sys.stderr)
