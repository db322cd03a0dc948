"""EDAHUB_USER_SUBDOMAINS: each user's server on a host of its own, so what it serves
(notebook output, files, pages a user writes) runs on the user's origin, never the hub's.

Checked over HTTP (not in a browser): where each server answers, which host each cookie
belongs to, that the hub's session cookie is never scoped to the parent domain, and that
another user is refused on that host.
"""

from urllib.parse import urlsplit

import pytest

from hubclient import HubSession
from stacktools import SUBDOMAIN_TEST_DOMAIN as DOMAIN

pytestmark = pytest.mark.integration


def on_host(session, host_url):
    """The same browser session, addressing ``host_url`` (a user's host)."""
    other = HubSession(host_url, session.username)
    other.http = session.http
    return other


@pytest.fixture(scope="module")
def alice(sub_user):
    session = sub_user("alice")
    session.start_server()
    return session


def test_a_users_server_answers_on_its_own_host_and_runs_code(subdomain_stack, alice):
    response = alice.get("/user/alice/lab", allow_redirects=True)
    assert response.status_code == 200, response.text[:300]
    port = urlsplit(subdomain_stack.base_url).port
    assert urlsplit(response.url).netloc == f"alice.{DOMAIN}:{port}", response.url
    own = on_host(alice, f"http://alice.{DOMAIN}:{port}")
    assert own.execute("print(6 * 7)").stdout == "42\n"
    # What the server serves (a page a user wrote, say) is on alice's host, too.
    assert own.execute("open('page.html', 'w').write('<script>1</script>')").reply[
        "status"] == "ok"
    page = alice.get("/user/alice/files/page.html", allow_redirects=True)
    assert page.status_code == 200 and urlsplit(page.url).hostname == f"alice.{DOMAIN}"


def test_the_hubs_login_cookie_belongs_to_the_hubs_host_alone(subdomain_stack, alice):
    alice.get("/user/alice/lab", allow_redirects=True)
    cookies = {(c.name, c.domain) for c in alice.http.cookies}
    # The login (what authenticates to the hub) goes to the hub's host only: a user's
    # host never receives it. (JupyterHub scopes jupyterhub-session-id to the parent
    # domain on purpose: it only ties logins together for logout and proves nothing.)
    assert ("jupyterhub-hub-login", DOMAIN) in cookies, cookies
    shared = {name for name, domain in cookies if domain.startswith(".")}
    assert shared <= {"jupyterhub-session-id"}, shared
    # Alice's server's own login cookie is on her host.
    assert ("jupyterhub-user-alice", f"alice.{DOMAIN}") in cookies


def test_another_user_is_refused_on_alices_host(subdomain_stack, alice, sub_user):
    bob = sub_user("bob")
    port = urlsplit(subdomain_stack.base_url).port
    response = bob.http.get(f"http://alice.{DOMAIN}:{port}/user/alice/lab", timeout=30)
    assert response.status_code == 403, (response.status_code, response.url)
