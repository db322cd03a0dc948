"""The Bitbucket-login stack: one for this package, removed when its last test ends.

It logs people in with Bitbucket (the FAKE Bitbucket of tests/fake_bitbucket.py) and
serves HTTPS with a test CA (tests/fake_bitbucket_stack.py). Package scope keeps it from
running, and competing for the two cores, while the native stack's tests run.
"""

import pytest

from fake_bitbucket_stack import bitbucket_settings
from stacktools import free_port, start_stack


@pytest.fixture(scope="package")
def bitbucket_stack(docker_client, tmp_path_factory, stack_images, fake_bitbucket, tls_files):
    """A stack with Bitbucket login against the fake Bitbucket, served over HTTPS."""
    port = free_port()
    overrides, base_url = bitbucket_settings(fake_bitbucket, tls_files, port)
    yield from start_stack("bbtest", {**stack_images, **overrides}, docker_client,
                           tmp_path_factory, port=port, base_url=base_url, verify=tls_files.ca)
