"""Fixtures shared by the whole suite, and the order it runs in.

Docker is imported inside fixtures only, so the unit tests run without an engine.

Order (``pytest_collection_modifyitems``): unit tests first, in random order
(pytest-randomly; its seed is printed at the top), then the host-tool tests, the image
tests, the packages with a stack of their own (tests/integration/bitbucket/,
culling/ and subdomains/; each stack is removed when its package's last test ends), the shared native
stack's tests, and last, by design, the modules marked ``disruptive`` (they stop every
server or restart the whole stack). Outside the unit tests the order is the files' own,
so a CI run is reproducible; every test must still pass alone.

Environment variables that steer the integration tests (all optional):
- EDAHUB_TEST_DB_IMAGES=standin: use the labelled stand-ins in tests/standins/ instead of
  the official mariadb:11.8 and mongo:8.0 images (for machines that cannot pull).
- EDAHUB_TEST_CA_BUNDLE=/path/ca.pem: extra CAs for image builds (TLS-intercepting proxy).
- EDAHUB_TEST_KEEP_STACK=1: leave the test stacks running after their tests, for debugging.
- EDAHUB_TEST_SINGLEUSER_JULIA / EDAHUB_TEST_SINGLEUSER_CRAN=true: build the users' image
  with Julia / with CRAN's mongolite (default false: neither is reachable in CI).
"""

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stacktools import (BLOCKED_TEST_RANGE, FAILURES, build_image, ca_bundle, image_ids,
                        remove_images, start_stack)

# Fixtures defined in helper modules, made available to every test.
from browser import browser, open_browser  # noqa: E402,F401
from fake_bitbucket_stack import fake_bitbucket, tls_files  # noqa: E402,F401

ROOT = Path(__file__).resolve().parent.parent
RUN_ID = secrets.token_hex(3)  # this run's own image tags: never an operator's, never stale
STANDINS = {
    "mariadb": (f"edahub-standin-mariadb:test-{RUN_ID}", ROOT / "tests" / "standins" / "mariadb"),
    "mongodb": (f"edahub-standin-mongodb:test-{RUN_ID}", ROOT / "tests" / "standins" / "mongodb"),
}
TEST_HUB_IMAGE = f"edahub-hub:test-{RUN_ID}"
TEST_SINGLEUSER_IMAGE = f"edahub-singleuser:test-{RUN_ID}"
ADMIN_PASSWORD = "admin-" + secrets.token_hex(8)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)  # fixtures read it (tests/browser.py)
    if report.failed:
        FAILURES.append(report.nodeid)


def run_group(item):
    """Where ``item`` runs in the session (see the module docstring)."""
    path = Path(str(item.path)).relative_to(ROOT / "tests").parts
    if path[0] == "unit":
        return 0
    if path[0] == "hosttools":
        return 1
    if path[0] == "images":
        return 2
    if item.get_closest_marker("disruptive"):
        return 5
    if path[:2] in (("integration", "bitbucket"), ("integration", "culling"),
                    ("integration", "subdomains")) or path[0] == "swarm":
        return 3  # stacks (or a swarm) of their own, one package each
    return 4


def written_order(item):
    """Where ``item`` stands in its files: path, then the test's line, then its name."""
    return (str(item.path), item.reportinfo()[1] or 0, item.nodeid)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    # pytest-randomly has shuffled ``items`` already (its wrapper runs before any hook).
    shuffled = {item.nodeid: index for index, item in enumerate(items)}
    items.sort(key=lambda item: (run_group(item), shuffled[item.nodeid]) if run_group(item) == 0
               else (run_group(item), *written_order(item)))


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
    """Build the hub and singleuser images (and the database stand-ins) once per run.

    Returns the overrides every test stack's .env gets, so each stack runs exactly the
    images built here; their tags are this run's own and are removed when it ends.
    """
    from edahub import envfile
    from edahub.compose import ComposeProject

    overrides = {"EDAHUB_HUB_IMAGE": TEST_HUB_IMAGE,
                 "EDAHUB_SINGLEUSER_IMAGE": TEST_SINGLEUSER_IMAGE}
    built = [TEST_HUB_IMAGE, TEST_SINGLEUSER_IMAGE]
    if os.environ.get("EDAHUB_TEST_DB_IMAGES") == "standin":
        for service, (tag, context) in STANDINS.items():
            build_image(tag, context)
            overrides[f"EDAHUB_{service.upper()}_IMAGE"] = tag
            built.append(tag)
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
    try:
        ComposeProject(env_file).run("build", "hub", "singleuser", timeout=3000)
    except Exception as error:
        pytest.fail(f"building the images failed: {error}")
    print(f"images built in {time.monotonic() - started:.0f}s", file=sys.stderr)
    ids = image_ids(built)  # now: by the end a tag may be gone while its image is not
    yield overrides
    if not os.environ.get("EDAHUB_TEST_KEEP_STACK"):
        remove_images(built, ids)
        print(f"removed this run's images: {', '.join(built)}", file=sys.stderr)




@pytest.fixture(scope="session")
def stack(docker_client, tmp_path_factory, stack_images):
    """The shared native-login stack: started when first needed, removed at the end."""
    from edahub.installer import hash_password
    from edahub_core.settings import BLOCKED_BY_DEFAULT

    yield from start_stack(
        "test", {**stack_images, "EDAHUB_ADMIN_PASSWORD_HASH": hash_password(ADMIN_PASSWORD),
                  "EDAHUB_SHARED_DATASETS": "true",
                  "EDAHUB_USER_PROFILES": "large:1536M:0.5",
                  # A documentation range on top of the default list, which
                  # test_attacks_network.py serves from a namespace of its own.
                  "EDAHUB_NETWORK_BLOCKED": f"{BLOCKED_BY_DEFAULT},{BLOCKED_TEST_RANGE}",
                  "EDAHUB_ANNOUNCEMENT": "Test stack: maintenance on Friday at 18:00"},
        docker_client, tmp_path_factory, admin_password=ADMIN_PASSWORD,
    )
