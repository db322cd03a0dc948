"""One real Docker Swarm for the swarm tests: a manager and two workers (Docker-in-Docker
nodes from Debian's packages), a local registry, and edahub deployed on it with the
documented command (`bootstrap.py swarm deploy`). Built when the first swarm test needs
it and removed, all of it, after the last (tests/swarm/swarmtools.py).

Marked ``swarm``: `python3 scripts/run_tests.py -m swarm tests/swarm` runs them alone.
"""

import os
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stacktools import FAILURES, build_image, image_ids, remove_images, wait_for_hub
from .swarmtools import push_images, start_swarm

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RUN_ID = secrets.token_hex(3)
ADMIN_PASSWORD = "admin-" + secrets.token_hex(8)
NODE_IMAGE = f"edahub-swarmnode:test-{RUN_ID}"
REGISTRY_IMAGE = f"edahub-swarmregistry:test-{RUN_ID}"
HUB_PORT = 8000


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.path)).is_relative_to(HERE):
            item.add_marker(pytest.mark.swarm)


def log(message):
    print(f"[swarm] {message}", file=sys.stderr, flush=True)


@pytest.fixture(scope="package")
def swarm(docker_client, stack_images, tmp_path_factory):
    """The running swarm with edahub deployed: a TestSwarm with .base_url and .values."""
    from edahub import envfile
    from edahub.installer import hash_password
    from edahub_core.names import SWARM_NODE_LABELS
    from edahub_core.settings import load_settings

    started = time.monotonic()
    for tag, context in ((NODE_IMAGE, HERE / "node"), (REGISTRY_IMAGE, HERE / "registry")):
        build_image(tag, context)
    built = [NODE_IMAGE, REGISTRY_IMAGE]
    ids = image_ids(built)
    socket_dir = tmp_path_factory.mktemp("swarm-manager")
    swarm = None
    try:
        swarm = start_swarm(docker_client, RUN_ID, NODE_IMAGE, REGISTRY_IMAGE,
                            workers=2, socket_dir=socket_dir, log=log)
        images = {key: value for key, value in stack_images.items() if key.endswith("_IMAGE")}
        pulled = push_images(swarm, sorted(set(images.values())), log=log)
        # The nodes pull the images they run before the first spawn, as an operator's
        # would have them after the first day (the spawn timeout is no download budget):
        # the manager the platform's, the workers the users' and the hub's (netpolicy's).
        pull_started = time.monotonic()
        users_image = pulled[images["EDAHUB_SINGLEUSER_IMAGE"]]
        jobs = [(swarm.manager, image) for image in pulled.values() if image != users_image]
        jobs += [(worker, image) for worker in swarm.workers
                 for image in (users_image, pulled[images["EDAHUB_HUB_IMAGE"]])]
        with ThreadPoolExecutor(len(jobs)) as pool:
            list(pool.map(lambda job: job[0].docker("pull", "--quiet", job[1], timeout=900),
                          jobs))
        log(f"nodes pulled the images in {time.monotonic() - pull_started:.0f}s")
        for label in SWARM_NODE_LABELS.values():
            swarm.manager.docker("node", "update", "--label-add", f"{label}=true",
                                 swarm.manager.name)
        socket_gid = swarm.manager.container.exec_run(
            ["stat", "-c", "%g", "/var/run/docker.sock"]).output.decode().strip()
        env_file = tmp_path_factory.mktemp("swarm") / ".env"
        envfile.ensure_env_file(env_file, {
            **{key: pulled[value] for key, value in images.items()},
            "EDAHUB_HUB_PORT": str(HUB_PORT),
            # The overlay networks exist inside the nodes only; a range Docker's own
            # networks there (172.17-31.x) never take.
            "EDAHUB_NETWORK_PREFIX": "10.231",
            "EDAHUB_DOCKER_GID": socket_gid,
            "EDAHUB_USER_MEM_LIMIT": "1G",
            "EDAHUB_USER_CPU_LIMIT": "0.5",
            "EDAHUB_LOG_LEVEL": "DEBUG",
            "EDAHUB_ADMIN_PASSWORD_HASH": hash_password(ADMIN_PASSWORD),
        }, validate=load_settings)
        swarm.values = envfile.read_env_file(env_file)
        swarm.env_file = env_file
        deployed = time.monotonic()
        result = subprocess.run(
            [sys.executable, ROOT / "scripts" / "bootstrap.py", "swarm", "deploy",
             "--env-file", env_file, "--project-name", "edahub"],
            env={**os.environ, "DOCKER_HOST": swarm.docker_host}, capture_output=True,
            text=True, timeout=900)
        if result.returncode != 0:
            pytest.fail(f"bootstrap.py swarm deploy failed:\n{result.stdout}\n{result.stderr}")
        swarm.base_url = f"http://{swarm.manager.address}:{HUB_PORT}"
        wait_for_hub(swarm.base_url, timeout=180)
        log(f"edahub deployed in {time.monotonic() - deployed:.0f}s; swarm ready after "
            f"{time.monotonic() - started:.0f}s in all")
        yield swarm
    finally:
        if swarm is not None:
            if FAILURES:
                save_logs(swarm)
            if not os.environ.get("EDAHUB_TEST_KEEP_STACK"):
                swarm.remove()
        if not os.environ.get("EDAHUB_TEST_KEEP_STACK"):
            remove_images(built, ids)


def save_logs(swarm):
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    for service in ("hub", "proxy", "mariadb", "mongodb", "mongodb-accounts", "netpolicy"):
        # Both streams, in order: the hub and the proxy log to stderr.
        result = swarm.manager.container.exec_run(
            ["timeout", "60", "docker", "service", "logs", "--raw", f"edahub_{service}"])
        (artifacts / f"swarm-{swarm.run_id}-{service}.log").write_bytes(result.output)
    log(f"saved the services' logs under {artifacts}")


@pytest.fixture(scope="package")
def swarm_admin(swarm):
    from hubclient import log_in_as

    return log_in_as(swarm.base_url, "admin", ADMIN_PASSWORD)


@pytest.fixture(scope="package")
def swarm_user(swarm, swarm_admin):
    """swarm_user(name) -> a logged-in HubSession of an approved account on the swarm."""
    from hubclient import user_maker

    return user_maker(swarm.base_url, swarm_admin)
