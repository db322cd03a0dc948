"""HTTPS with the operator's certificate: TLS, the HTTP redirect, secure cookies, websockets.

The Bitbucket stack serves HTTPS with a certificate for 127.0.0.1 signed by a CA made for
this session (tests/fake_bitbucket_stack.py); clients here trust only that CA.
"""

import subprocess

import pytest
import requests

from edahub_core.settings import SETTINGS
from hubclient import HubSession

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def carol(bitbucket_stack, fake_bitbucket):
    """carol, logged in through Bitbucket over TLS by a client that trusts only the test CA."""
    session = HubSession(bitbucket_stack.base_url, "carol", verify=bitbucket_stack.verify)
    session.login_response = session.log_in_with_oauth(fake_bitbucket.grant("carol"))
    return session


def test_the_hub_serves_https_with_the_operators_certificate(bitbucket_stack):
    assert bitbucket_stack.base_url.startswith("https://")
    response = requests.get(f"{bitbucket_stack.base_url}/hub/login", timeout=10,
                            verify=bitbucket_stack.verify)
    assert response.status_code == 200
    # Browsers that saw the hub over HTTPS keep to it (HSTS).
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    with pytest.raises(requests.exceptions.SSLError):  # not a certificate the world trusts
        requests.get(f"{bitbucket_stack.base_url}/hub/login", timeout=10)


def test_plain_http_on_the_redirect_port_is_sent_to_https(bitbucket_stack):
    response = requests.get(f"http://127.0.0.1:{bitbucket_stack.redirect_port}/hub/login?next=%2Fhub%2Fhome",
                            allow_redirects=False, timeout=10)
    assert response.status_code == 301
    port = bitbucket_stack.base_url.rsplit(":", 1)[1]
    assert response.headers["Location"] == f"https://127.0.0.1:{port}/hub/login?next=%2Fhub%2Fhome"
    followed = requests.get(response.headers["Location"], timeout=10, verify=bitbucket_stack.verify)
    assert followed.status_code == 200


def test_bitbucket_login_over_tls_sets_only_secure_cookies(carol):
    assert carol.login_response.status_code == 302
    assert carol.cookie("jupyterhub-session-id") is not None
    cookies = list(carol.http.cookies)
    assert cookies and all(c.secure for c in cookies), [(c.name, c.secure) for c in cookies]


def test_kernel_runs_code_over_a_tls_websocket(carol):
    carol.start_server()
    assert carol.open_server().status_code == 200
    cookies = list(carol.http.cookies)
    assert any(c.name.startswith("jupyterhub-user-carol") for c in cookies)
    assert all(c.secure for c in cookies), [(c.name, c.path, c.secure) for c in cookies]
    result = carol.execute("print(6 * 7)")  # wss://, trusting only the test CA
    assert result.reply["status"] == "ok"
    assert result.stdout == "42\n"
    carol.stop_server()


def test_hub_refuses_a_key_it_cannot_read(stack_images, tls_files, tmp_path):
    unreadable = tmp_path / "root-only-key.pem"
    unreadable.write_bytes(open(tls_files.key, "rb").read())
    unreadable.chmod(0o600)  # owned by root, as a key often is; the hub runs as uid 800
    hub_env = {s.key: s.generate() for s in SETTINGS if s.generate and "hub" in s.services}
    hub_env.update(EDAHUB_PUBLIC_URL="https://127.0.0.1", EDAHUB_TLS_CERT=tls_files.cert,
                   EDAHUB_TLS_KEY=str(unreadable))
    args = [arg for key, value in hub_env.items() for arg in ("-e", f"{key}={value}")]
    result = subprocess.run(
        ["docker", "run", "--rm", *args,
         "-v", f"{tls_files.cert}:/run/secrets/tls_cert:ro",
         "-v", f"{unreadable}:/run/secrets/tls_key:ro",
         stack_images["EDAHUB_HUB_IMAGE"]],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (f"EDAHUB_TLS_KEY={unreadable} is not readable by the hub, which runs as uid 800"
            in result.stderr)
    assert f"chown 800 {unreadable}" in result.stderr
