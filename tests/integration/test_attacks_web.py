"""Attacks on the hub's pages, tried the way a stranger or a hostile web page would.

Each attack runs against the real native-login stack, next to the legitimate path it
must leave working (docs/security.md lists what each one proves):

- script injection through a username shown to the admin at /hub/authorize;
- cross-site requests that approve, unapprove or discard accounts (the admin's name
  included), with the admin logged in, from a page on another site;
- the hub's cookies and their SameSite attribute;
- a user's own server serving the user's HTML on the hub's origin through Jupyter
  config in their home.
"""

import http.server
import secrets
import textwrap
import threading
from urllib.parse import urlsplit

import pytest
import requests

from hubclient import HubSession, escaped

pytestmark = pytest.mark.integration

# A username that turns into attributes when a page puts it unquoted into a tag: the tab
# ends the attribute value, `autofocus` with `tabindex` fires `onfocus` as the page loads.
INJECTED = "x\ttabindex=1\tautofocus\tonfocus=window.edahubpwned=1"


def admin_in_browser(stack, open_browser):
    """The admin, logged in through the login form of a real browser."""
    admin = open_browser("admin")
    # next: the account requests, not the admin's own server (which a login starts).
    admin.open(f"{stack.base_url}/hub/login?next=%2Fhub%2Fauthorize")
    admin.page.fill("#username_input", stack.admin_user)
    admin.page.fill("#password_input", stack.admin_password)
    with admin.page.expect_navigation(url=f"{stack.base_url}/hub/authorize"):
        admin.page.click("#login_submit")
    return admin


def test_a_username_outside_the_policy_is_refused_at_signup_and_stored_nowhere(stack, admin):
    page = HubSession(stack.base_url, INJECTED).sign_up("a long password 1234")
    assert "Usernames are 1 to 64 characters" in page
    listing = admin.get("/hub/authorize").text
    assert "onfocus" not in listing and "tabindex=1" not in listing
    assert admin.api("GET", f"/users/{escaped(INJECTED)}").status_code == 404


def test_a_legitimate_signup_still_reaches_the_admin(stack, admin):
    name = "newcomer-" + secrets.token_hex(3)
    page = HubSession(stack.base_url, name).sign_up("a long password 1234")
    assert "Your information has been sent to the admin" in page
    assert f'data-username="{name}"' in admin.get("/hub/authorize").text


# A name stored before the username policy existed (an upgraded hub): written straight
# into the hub's database, the way NativeAuthenticator stores a signup.
STORE_LEGACY_ACCOUNT = """
import sys
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from nativeauthenticator.orm import UserInfo
db = sessionmaker(bind=create_engine("sqlite:////srv/jupyterhub/jupyterhub.sqlite"))()
if sys.argv[1] == "add":
    db.add(UserInfo(username=sys.argv[2], password=b"x", is_authorized=False))
else:
    db.query(UserInfo).filter(UserInfo.username == sys.argv[2]).delete()
db.commit()
"""


def test_the_authorize_page_runs_no_script_from_a_stored_name(stack, docker_client, open_browser):
    hub = stack.container(docker_client, "hub")
    stored = hub.exec_run(["python3", "-c", STORE_LEGACY_ACCOUNT, "add", INJECTED])
    assert stored.exit_code == 0, stored.output.decode()
    try:
        admin = admin_in_browser(stack, open_browser)
        admin.open(f"{stack.base_url}/hub/authorize")
        admin.page.wait_for_load_state("load")
        admin.page.keyboard.press("Tab")  # focus moves through the page
        admin.page.wait_for_timeout(500)
        admin.step("authorize-page")
        assert admin.page.evaluate("window.edahubpwned") is None, "the name ran script"
        injected = admin.page.evaluate(
            "[...document.querySelectorAll('*')].filter(e => e.hasAttribute('onfocus') || "
            "e.hasAttribute('autofocus')).length")
        assert injected == 0, "the name became attributes of the page"
        names = admin.page.locator("td.username").all_inner_texts()
        assert any("onfocus=window.edahubpwned=1" in n for n in names)  # shown as text
    finally:
        hub.exec_run(["python3", "-c", STORE_LEGACY_ACCOUNT, "delete", INJECTED])


class HostilePage:
    """A web page on another site (http://localhost:PORT, the hub being http://127.0.0.1)
    that the admin visits while logged in to the hub."""

    def __init__(self, html):
        page = html.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile_page():
    pages = []

    def serve(html):
        pages.append(HostilePage(html))
        return pages[-1].url

    yield serve
    for page in pages:
        page.close()


def pending_signup(stack):
    name = "pending-" + secrets.token_hex(3)
    session = HubSession(stack.base_url, name)
    session.sign_up("a long password 1234")
    return session


@pytest.mark.parametrize("how", ["navigation", "form-post"])
def test_a_cross_site_page_cannot_approve_an_account(stack, open_browser, hostile_page, how):
    victim = pending_signup(stack)
    target = f"{stack.base_url}/hub/authorize/{victim.username}"
    html = {
        "navigation": f"<script>location = {target!r};</script>",
        "form-post": f'<form id="f" method="post" action="{target}"></form>'
                     "<script>document.getElementById('f').submit();</script>",
    }[how]
    admin = admin_in_browser(stack, open_browser)
    admin.open(hostile_page(html))
    admin.page.wait_for_timeout(1500)  # the page did its worst
    admin.step("after-hostile-page")
    assert not victim.log_in("a long password 1234"), "a cross-site page approved an account"
    assert "not been approved" in victim.post_form(
        "/hub/login", {"username": victim.username, "password": "a long password 1234"}).text


@pytest.mark.parametrize("action", ["authorize", "discard"])
def test_a_cross_site_page_cannot_unapprove_or_discard_the_admin(stack, open_browser,
                                                                  hostile_page, action):
    # The attack of the report: unapprove the admin, then discard the account, so that
    # the admin's name can be signed up by someone else.
    steps = "".join(
        f'<iframe name="t{i}"></iframe><form target="t{i}" id="f{i}" method="post" '
        f'action="{stack.base_url}/hub/{step}/{stack.admin_user}"></form>'
        for i, step in enumerate(["authorize", "discard"]))
    html = (steps + "<script>document.getElementById('f0').submit();"
            "setTimeout(() => document.getElementById('f1').submit(), 300);"
            f"setTimeout(() => location = '{stack.base_url}/hub/{action}/{stack.admin_user}', 600);"
            "</script>")
    admin = admin_in_browser(stack, open_browser)
    admin.open(hostile_page(html))
    admin.page.wait_for_timeout(2000)
    admin.step("after-hostile-page")
    assert HubSession(stack.base_url, stack.admin_user).log_in(stack.admin_password)
    intruder = HubSession(stack.base_url, stack.admin_user)
    intruder.sign_up("intruder-password-1")
    assert not intruder.log_in("intruder-password-1")


def test_account_changes_need_a_post_with_the_hubs_xsrf_token(stack, admin):
    victim = pending_signup(stack)
    path = f"/hub/authorize/{victim.username}"
    assert admin.get(path, allow_redirects=False).status_code == 405  # a GET changes nothing
    no_token = admin.http.post(admin.url(path), allow_redirects=False, timeout=30)
    assert no_token.status_code == 403  # the XSRF check
    assert not victim.log_in("a long password 1234")
    # The admin's own button still works...
    assert admin.change_account("authorize", victim.username).status_code == 200
    assert victim.log_in("a long password 1234")
    # ...and never on an admin account.
    assert admin.change_account("authorize", stack.admin_user).status_code == 403
    assert admin.change_account("discard", stack.admin_user).status_code == 403
    assert HubSession(stack.base_url, stack.admin_user).log_in(stack.admin_password)


def test_a_pending_request_can_be_discarded_by_the_admin(stack, admin):
    victim = pending_signup(stack)
    assert admin.change_account("discard", victim.username).status_code == 200
    assert f'data-username="{victim.username}"' not in admin.get("/hub/authorize").text


def test_the_hubs_cookies_are_samesite_lax(stack):
    session = HubSession(stack.base_url, stack.admin_user)
    token = session._xsrf("/hub/login")
    response = session.http.post(session.url("/hub/login"), allow_redirects=False, timeout=30,
                                 data={"username": stack.admin_user,
                                       "password": stack.admin_password, "_xsrf": token})
    assert response.status_code == 302
    set_cookies = response.raw.headers.getlist("Set-Cookie")
    session_cookies = [c for c in set_cookies if c.startswith(("jupyterhub-session-id=",
                                                               "jupyterhub-hub-login="))]
    assert len(session_cookies) == 2, set_cookies
    for cookie in session_cookies:
        assert "samesite=lax" in cookie.lower(), cookie


CONFIG_IN_HOME = textwrap.dedent("""
    import json, os, pathlib
    home = pathlib.Path.home()
    (home / "www").mkdir(exist_ok=True)
    (home / "www" / "x.html").write_text("<script>/* {marker} */</script>")
    for folder in (home / ".jupyter", home / ".config" / "jupyter"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "jupyter_server_config.py").write_text(
            "c.ServerApp.extra_static_paths = [%r]\\n" % str(home / "www"))
        (folder / "jupyter_server_config.json").write_text(
            json.dumps({{"ServerApp": {{"extra_static_paths": [str(home / "www")]}}}}))
    print("written")
""")


def test_a_user_cannot_serve_their_own_pages_on_the_hubs_origin(stack, make_user):
    uma = make_user("uma")  # restarts her own server: a user of this test's own
    uma.start_server()
    assert uma.open_server().status_code == 200
    marker = "edahub-marker-" + secrets.token_hex(4)
    assert uma.execute(CONFIG_IN_HOME.format(marker=marker)).stdout == "written\n"
    uma.stop_server()
    uma.start_server()  # the server now starts with the config files in her home
    assert uma.open_server().status_code == 200
    # Anyone (the admin, say) opening the link, logged in or not:
    url = f"{stack.base_url}/user/uma/static/x.html"
    for client in (requests, uma.http):
        response = client.get(url, timeout=30, allow_redirects=False)
        assert marker not in response.text, f"{url} served the user's page"
    assert urlsplit(url).path.startswith("/user/uma/")
    # Her server itself still works.
    assert uma.execute("print(6 * 7)").stdout == "42\n"
    uma.stop_server()


def test_api_tokens_expire(stack, make_user):
    tina = make_user("tina")
    most = 30 * 24 * 3600  # EDAHUB_TOKEN_MAX_DAYS, 30 by default
    token = tina.api("POST", "/users/tina/tokens", json={"note": "no expiry asked"})
    assert token.status_code == 201, token.text
    assert token.json()["expires_at"] is not None
    too_long = tina.api("POST", "/users/tina/tokens", json={"expires_in": most + 60})
    assert too_long.status_code == 400
    assert tina.api("POST", "/users/tina/tokens", json={"expires_in": 3600}).status_code == 201


def test_the_operator_can_give_an_account_a_new_password(stack, make_user, docker_client):
    ravi = make_user("ravi")
    hub = stack.container(docker_client, "hub")
    result = hub.exec_run(["python3", "-m", "edahub_hub.admin", "reset-password", "ravi"])
    assert result.exit_code == 0, result.output.decode()
    new = result.output.decode().split("New password for 'ravi': ")[1].split()[0]
    assert not HubSession(stack.base_url, "ravi").log_in(ravi.password)
    assert HubSession(stack.base_url, "ravi").log_in(new)
