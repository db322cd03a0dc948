"""Fixtures shared by the whole suite.

Docker is imported inside fixtures only, so the unit tests run without an engine.

Environment variables that steer the integration tests (all optional):
- EDAHUB_TEST_DB_IMAGES=standin: use the labelled stand-ins in tests/standins/ instead of
  the official mariadb:11.8 and mongo:8.0 images (for machines that cannot pull).
- EDAHUB_TEST_CA_BUNDLE=/path/ca.pem: extra CAs for image builds (TLS-intercepting proxy).
- EDAHUB_TEST_KEEP_STACK=1: leave the test stack running after the session, for debugging.
"""

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STANDINS = {
    "mariadb": ("edahub-standin-mariadb:11.8", ROOT / "tests" / "standins" / "mariadb"),
    "mongodb": ("edahub-standin-mongodb:6.0", ROOT / "tests" / "standins" / "mongodb"),
}
ADMIN_PASSWORD = "admin-" + secrets.token_hex(8)
FAILURES = []  # reports of failed tests, setups included: the stack's logs are dumped then


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        FAILURES.append(report.nodeid)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
        pytest.fail(f"building {tag} failed:\n{result.stderr[-4000:]}")
    print(f"built {tag} in {time.monotonic() - started:.0f}s", file=sys.stderr)


def database_images():
    """(mariadb image, mongodb image) for the test stack, building stand-ins if selected."""
    if os.environ.get("EDAHUB_TEST_DB_IMAGES") == "standin":
        for tag, context in STANDINS.values():
            build_image(tag, context)
        return STANDINS["mariadb"][0], STANDINS["mongodb"][0]
    return "", ""  # the defaults: official images


@dataclass
class Stack:
    """A running edahub stack started from compose.yaml for the test session."""

    base_url: str
    project: str
    prefix: str
    network: str
    env_file: Path
    values: dict = field(repr=False)  # holds generated secrets: keep them out of tracebacks
    admin_user: str = "admin"
    admin_password: str = field(default="", repr=False)

    def compose(self, *args):
        return ["docker", "compose", "--project-directory", str(ROOT), "-f",
                str(ROOT / "compose.yaml"), "--env-file", str(self.env_file),
                "--project-name", self.project, *args]

    def run_compose(self, *args, timeout=600, check=True):
        result = subprocess.run(self.compose(*args), capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)} failed:\n"
                                 f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
        return result

    def logs(self, service="hub", tail=200):
        return self.run_compose("logs", "--no-color", "--tail", str(tail), service,
                                check=False).stdout


@pytest.fixture(scope="session")
def docker_client():
    import docker

    client = docker.from_env()
    try:
        client.ping()
    except Exception as e:
        pytest.fail(f"integration tests need a running Docker engine: {e}")
    return client


@pytest.fixture(scope="session")
def stack(docker_client, tmp_path_factory, request):
    """One edahub stack for the whole session: built once, started once, removed after."""
    from testcontainers.compose import DockerCompose

    from edahub import envfile
    from edahub.installer import hash_password
    from edahub.settings import load_settings

    run_id = secrets.token_hex(3)
    project = f"edahub-test-{run_id}"
    prefix = f"edahubtest{run_id}"
    mariadb_image, mongodb_image = database_images()
    port = free_port()
    env_file = tmp_path_factory.mktemp("stack") / "test.env"
    overrides = {
        "EDAHUB_HUB_PORT": str(port),
        "EDAHUB_HUB_BIND_ADDRESS": "127.0.0.1",
        "EDAHUB_NETWORK_NAME": project,
        "EDAHUB_USER_PREFIX": prefix,
        "EDAHUB_ADMIN_PASSWORD_HASH": hash_password(ADMIN_PASSWORD),
        "EDAHUB_DOCKER_GID": str(os.stat("/var/run/docker.sock").st_gid),
        "EDAHUB_USER_MEM_LIMIT": "1G",
        "EDAHUB_LOG_LEVEL": "DEBUG",
    }
    if mariadb_image:
        overrides["EDAHUB_MARIADB_IMAGE"] = mariadb_image
        overrides["EDAHUB_MONGODB_IMAGE"] = mongodb_image
    if ca_bundle():
        overrides["EDAHUB_CA_BUNDLE"] = ca_bundle()
    values, _ = envfile.ensure_env_file(env_file, overrides, validate=load_settings)
    stack = Stack(
        base_url=f"http://127.0.0.1:{port}", project=project, prefix=prefix, network=project,
        env_file=env_file, values=values, admin_user="admin", admin_password=ADMIN_PASSWORD,
    )
    os.environ["COMPOSE_PROJECT_NAME"] = project  # testcontainers has no project option
    compose = DockerCompose(ROOT, compose_file_name="compose.yaml", env_file=str(env_file),
                            wait=True)
    started = time.monotonic()
    stack.run_compose("build", "hub", "singleuser", timeout=3000)
    print(f"images built in {time.monotonic() - started:.0f}s", file=sys.stderr)
    try:
        started = time.monotonic()
        compose.start()
        wait_for_hub(stack.base_url, timeout=120)
        print(f"stack healthy in {time.monotonic() - started:.0f}s", file=sys.stderr)
        yield stack
    finally:
        if FAILURES:
            dump_logs(stack)
        if not os.environ.get("EDAHUB_TEST_KEEP_STACK"):
            compose.stop()  # down --volumes: the hub stops users' servers first
            remove_user_resources(docker_client, prefix)
        os.environ.pop("COMPOSE_PROJECT_NAME", None)


def dump_logs(stack):
    """Save the services' logs under test-artifacts/ and show the hub's tail."""
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    for service in ("hub", "mariadb", "mongodb"):
        path = artifacts / f"{stack.project}-{service}.log"
        path.write_text(stack.logs(service, tail=2000))
        print(f"saved {service} logs to {path}", file=sys.__stderr__)
    tail = "\n".join(stack.logs("hub", tail=60).splitlines()[-60:])
    print(f"----- last lines of the hub's log -----\n{tail}", file=sys.__stderr__)


def wait_for_hub(base_url, timeout):
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base_url}/hub/health", timeout=3).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    pytest.fail(f"hub at {base_url} did not answer within {timeout}s")


def remove_user_resources(client, prefix):
    """Remove users' containers and home volumes left by this session's stack."""
    for container in client.containers.list(all=True,
                                            filters={"label": f"org.edahub.user-prefix={prefix}"}):
        container.remove(force=True)
    for volume in client.volumes.list():
        if volume.name.startswith(f"{prefix}-home-"):
            volume.remove(force=True)
