"""A stack with EDAHUB_USER_SUBDOMAINS: the hub at edahub.test, each user's server at
<name>.edahub.test (its own stack, package scope: removed when its last test ends).

Nothing resolves *.edahub.test here, so this package's fixture makes this test process
resolve that name, and every name below it, to 127.0.0.1, where the stack's proxy
listens: no packet leaves the machine.
"""

import secrets
import socket

import pytest

from hubclient import log_in_as, user_maker
from stacktools import SUBDOMAIN_TEST_DOMAIN as DOMAIN, free_port, start_stack

ADMIN_PASSWORD = "admin-" + secrets.token_hex(8)


@pytest.fixture(scope="package")
def test_dns():
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and (host == DOMAIN or host.endswith("." + DOMAIN)):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        # And never through a proxy the environment may name.
        for variable in ("NO_PROXY", "no_proxy"):
            patch.setenv(variable, f"{DOMAIN},.{DOMAIN},127.0.0.1")
        yield


@pytest.fixture(scope="package")
def subdomain_stack(docker_client, tmp_path_factory, stack_images, test_dns):
    from edahub.installer import hash_password

    port = free_port()
    public_url = f"http://{DOMAIN}:{port}"
    yield from start_stack(
        "sub", {**stack_images, "EDAHUB_ADMIN_PASSWORD_HASH": hash_password(ADMIN_PASSWORD),
                "EDAHUB_PUBLIC_URL": public_url, "EDAHUB_USER_SUBDOMAINS": "true"},
        docker_client, tmp_path_factory, port=port, base_url=public_url,
        admin_password=ADMIN_PASSWORD)


@pytest.fixture(scope="package")
def sub_user(subdomain_stack):
    """sub_user(name) -> a logged-in HubSession of an approved account on that stack."""
    admin = log_in_as(subdomain_stack.base_url, subdomain_stack.admin_user, ADMIN_PASSWORD,
                      trust_env=False)
    return user_maker(subdomain_stack.base_url, admin, trust_env=False)
