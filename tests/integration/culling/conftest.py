"""A stack whose idle culler looks every 2 s and stops servers idle for 10 s.

Its own stack (package scope: removed when its last test ends), so that the short
timeouts never touch the shared stack's servers.
"""

import secrets

import pytest

from hubclient import log_in_as, user_maker
from stacktools import start_stack

CULL_IDLE_TIMEOUT = 10
CULL_EVERY = 2
ADMIN_PASSWORD = "admin-" + secrets.token_hex(8)


@pytest.fixture(scope="package")
def cull_stack(docker_client, tmp_path_factory, stack_images):
    from edahub.installer import hash_password

    yield from start_stack(
        "cull", {**stack_images, "EDAHUB_ADMIN_PASSWORD_HASH": hash_password(ADMIN_PASSWORD),
                 "EDAHUB_CULL_IDLE_TIMEOUT": str(CULL_IDLE_TIMEOUT),
                 "EDAHUB_CULL_EVERY": str(CULL_EVERY)},
        docker_client, tmp_path_factory, admin_password=ADMIN_PASSWORD)


@pytest.fixture(scope="package")
def cull_user(cull_stack):
    """cull_user(name) -> a logged-in HubSession of an approved account on that stack."""
    admin = log_in_as(cull_stack.base_url, cull_stack.admin_user, ADMIN_PASSWORD)
    return user_maker(cull_stack.base_url, admin)
