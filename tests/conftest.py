"""Fixtures shared by the whole suite.

Docker is imported inside fixtures only, so the unit tests run without an engine.

Environment variables that steer the integration tests (all optional):
- EDAHUB_TEST_DB_IMAGES=standin: use the labelled stand-ins in tests/standins/ instead of
  the official mariadb:11.8 and mongo:8.0 images (for machines that cannot pull).
- EDAHUB_TEST_CA_BUNDLE=/path/ca.pem: extra CAs for image builds (TLS-intercepting proxy).
- EDAHUB_TEST_KEEP_STACK=1: leave the test stack running after the session, for debugging.
- EDAHUB_TEST_SINGLEUSER_JULIA / EDAHUB_TEST_SINGLEUSER_CRAN=true: build the users' image
  with Julia / with CRAN's mongolite (default false: neither is reachable in CI).
"""

import os
import secrets
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stacktools import free_port, remove_user_resources

# Fixtures defined in helper modules, made available to every test.
from browser import browser, open_browser  # noqa: E402,F401
from fake_bitbucket_stack import bitbucket_settings, fake_bitbucket, tls_files  # noqa: E402,F401

ROOT = Path(__file__).resolve().parent.parent
STANDINS = {
    "mariadb": ("edahub-standin-mariadb:11.8", ROOT / "tests" / "standins" / "mariadb"),
    "mongodb": ("edahub-standin-mongodb:6.0", ROOT / "tests" / "standins" / "mongodb"),
}
ADMIN_PASSWORD = "admin-" + secrets.token_hex(8)
TEST_HUB_IMAGE = "edahub-hub:test"
TEST_SINGLEUSER_IMAGE = "edahub-singleuser:test"
FAILURES = []  # reports of failed tests, setups included: the stack's logs are dumped then


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)  # fixtures read it (tests/browser.py)
    if report.failed:
        FAILURES.append(report.nodeid)


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
    verify: object = True  # for requests: True, or the test CA's file for an HTTPS stack
    redirect_port: int = 0  # host port of the plain-HTTP redirect to HTTPS

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
def stack_images(docker_client, tmp_path_factory):
    """Build the hub and singleuser images (and the database stand-ins) once per session.

    Returns the overrides every test stack's .env gets, so each stack runs exactly these
    images: build-time settings belong here.
    """
    from edahub import envfile

    overrides = dict(zip(("EDAHUB_MARIADB_IMAGE", "EDAHUB_MONGODB_IMAGE"), database_images()))
    # Tags of their own: the test build (without Julia, say) must never replace an
    # operator's edahub-hub / edahub-singleuser images on the same machine.
    overrides["EDAHUB_HUB_IMAGE"] = TEST_HUB_IMAGE
    overrides["EDAHUB_SINGLEUSER_IMAGE"] = TEST_SINGLEUSER_IMAGE
    # The singleuser image's optional parts need julialang.org and CRAN, which CI cannot
    # reach: built only when asked for (tests/integration/test_kernels.py checks either way).
    for part in ("JULIA", "CRAN"):
        overrides[f"EDAHUB_SINGLEUSER_{part}"] = os.environ.get(f"EDAHUB_TEST_SINGLEUSER_{part}",
                                                                "false")
    if ca_bundle():
        overrides["EDAHUB_CA_BUNDLE"] = ca_bundle()
    env_file = tmp_path_factory.mktemp("build") / "build.env"
    envfile.ensure_env_file(env_file, overrides)
    started = time.monotonic()
    result = subprocess.run(
        ["docker", "compose", "--project-directory", str(ROOT), "-f", str(ROOT / "compose.yaml"),
         "--env-file", str(env_file), "build", "hub", "singleuser"],
        capture_output=True, text=True, timeout=3000,
    )
    if result.returncode != 0:
        pytest.fail(f"building the images failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    print(f"images built in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return {k: v for k, v in overrides.items() if v}


@pytest.fixture(scope="session")
def stack(docker_client, tmp_path_factory, stack_images):
    """One edahub stack for the whole session: built once, started once, removed after."""
    from edahub.installer import hash_password

    yield from start_stack(
        "test", {**stack_images, "EDAHUB_ADMIN_PASSWORD_HASH": hash_password(ADMIN_PASSWORD),
                  "EDAHUB_SHARED_DATASETS": "true"},
        docker_client, tmp_path_factory, admin_password=ADMIN_PASSWORD,
    )


@pytest.fixture(scope="session")
def bitbucket_stack(docker_client, tmp_path_factory, stack_images, fake_bitbucket, tls_files):
    """A second stack: Bitbucket login against the fake Bitbucket, served over HTTPS."""
    port = free_port()
    overrides, base_url = bitbucket_settings(fake_bitbucket, tls_files, port)
    yield from start_stack("bbtest", {**stack_images, **overrides}, docker_client,
                           tmp_path_factory, port=port, base_url=base_url, verify=tls_files.ca)


def start_stack(kind, overrides, docker_client, tmp_path_factory, port=None, base_url=None,
                verify=True, admin_password=""):
    """Start a stack from compose.yaml with ``overrides`` in its .env, yield it, remove it.

    Each stack has its own project, network, user prefix and host ports, so several can
    run side by side and none touches an operator's stack. Images must be built already.
    """
    from testcontainers.compose import DockerCompose

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
    compose = DockerCompose(ROOT, compose_file_name="compose.yaml", env_file=str(env_file),
                            wait=True)
    try:
        started = time.monotonic()
        with compose_project(project):
            compose.start()
        wait_for_hub(stack.base_url, timeout=120, verify=verify)
        print(f"stack {project} healthy in {time.monotonic() - started:.0f}s", file=sys.stderr)
        yield stack
    finally:
        if FAILURES:
            dump_logs(stack)
        if not os.environ.get("EDAHUB_TEST_KEEP_STACK"):
            with compose_project(project):
                compose.stop()  # down --volumes: the hub stops users' servers first
            remove_user_resources(docker_client, prefix)


@contextmanager
def compose_project(project):
    """Name the Compose project for testcontainers, which has no option for it."""
    previous = os.environ.get("COMPOSE_PROJECT_NAME")
    os.environ["COMPOSE_PROJECT_NAME"] = project
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("COMPOSE_PROJECT_NAME", None)
        else:
            os.environ["COMPOSE_PROJECT_NAME"] = previous


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
    pytest.fail(f"hub at {base_url} did not answer within {timeout}s")
