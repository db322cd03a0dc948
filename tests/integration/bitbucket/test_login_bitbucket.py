"""Bitbucket login in a real browser: the real hub and OAuthenticator against the fake Bitbucket.

The stack (``bitbucket_stack``) allows alice and carol by username, members of the
workspace ``eda-lab`` by slug, and boss as admin; it is served over HTTPS with a test
CA, which the browser is told to accept (test_https.py checks the certificate
itself). The fake Bitbucket is tests/fake_bitbucket.py.
"""

import re
import subprocess
from urllib.parse import quote

import pytest

from browser import retrying_network_changes
from edahub_core.settings import SETTINGS
from fake_bitbucket_stack import ALLOWED_WORKSPACE
from hubclient import HubSession

pytestmark = pytest.mark.integration
REFUSAL = "Your Bitbucket account is not allowed on this edahub"


def sign_in_with_bitbucket(person, stack, account, next_url=None, lands_on=r".*"):
    """At the hub's login page, click the Bitbucket button and grant access as ``account``.

    Waits until the browser is back at the hub on a URL matching ``lands_on``; a login
    that Chromium drops on the way (browser.py) starts again with a new OAuth flow.
    """
    page = person.page
    login = f"{stack.base_url}/hub/login" + (f"?next={quote(next_url)}" if next_url else "")

    def sign_in():
        page.goto(login)
        person.step("hub-login-page")
        page.get_by_text("Sign in with Bitbucket").click()
        page.wait_for_url(re.compile(r".*/site/oauth2/authorize.*"))
        assert "Fake Bitbucket (test double)" in page.content()
        page.select_option("#account", account)
        person.step("fake-bitbucket-authorize")
        with page.expect_navigation(url=re.compile(re.escape(stack.base_url) + ".*")):
            page.get_by_role("button", name="Grant access").click()
        page.wait_for_url(re.compile(re.escape(stack.base_url) + lands_on))

    retrying_network_changes(sign_in, lambda: None)


@pytest.fixture(scope="module")
def boss_api(bitbucket_stack, fake_bitbucket):
    """boss, the admin, logged in through the same OAuth flow by a non-browser client."""
    boss = HubSession(bitbucket_stack.base_url, "boss", verify=bitbucket_stack.verify)
    assert boss.log_in_with_oauth(fake_bitbucket.grant("boss")).status_code == 302
    return boss


def test_login_page_offers_only_bitbucket(bitbucket_stack, open_browser):
    person = open_browser("visitor", ignore_https_errors=True)
    person.open(f"{bitbucket_stack.base_url}/hub/login")
    person.step("login-page")
    assert person.page.get_by_text("Sign in with Bitbucket").is_visible()
    assert person.page.locator("input[type=password]").count() == 0


def test_allowed_user_signs_in_and_lands_in_jupyterlab_in_their_own_server(
        bitbucket_stack, fake_bitbucket, open_browser, docker_client):
    alice = open_browser("alice", ignore_https_errors=True)
    sign_in_with_bitbucket(alice, bitbucket_stack, "alice", lands_on="/(hub|user)/.*")

    def lands_in_jupyterlab():
        alice.page.wait_for_url(re.compile(r".*/user/alice/lab.*"), timeout=180_000)
        alice.page.locator("#jp-main-dock-panel").wait_for(timeout=120_000)

    # Logged in by now: starting her container may interrupt the page (see browser.py).
    retrying_network_changes(lands_in_jupyterlab,
                             lambda: alice.open(f"{bitbucket_stack.base_url}/user/alice/lab"))
    alice.step("jupyterlab")
    container = docker_client.containers.get(f"{bitbucket_stack.prefix}-user-alice")
    assert container.status == "running"
    # OAuthenticator asked the token endpoint and the API, never the removed endpoint.
    assert fake_bitbucket.seen("site", "/site/oauth2/access_token")
    assert fake_bitbucket.seen("api", "/2.0/user")
    assert not fake_bitbucket.seen("api", "/2.0/workspaces")


def test_user_outside_every_allow_rule_gets_a_clear_refusal_and_no_server(
        bitbucket_stack, open_browser, boss_api, docker_client):
    mallory = open_browser("mallory", ignore_https_errors=True)
    sign_in_with_bitbucket(mallory, bitbucket_stack, "mallory", lands_on="/hub/oauth_callback.*")
    mallory.step("refusal")
    assert mallory.page.locator("h1").inner_text() == "403 : Not allowed on this edahub"
    assert REFUSAL in mallory.page.content()
    assert boss_api.api("GET", "/users/mallory").status_code == 404  # no hub user made
    assert not docker_client.containers.list(
        all=True, filters={"name": f"{bitbucket_stack.prefix}-user-mallory"})


def test_member_of_an_allowed_workspace_on_the_second_page_is_admitted(
        bitbucket_stack, fake_bitbucket, open_browser):
    wendy = open_browser("wendy", ignore_https_errors=True)
    sign_in_with_bitbucket(wendy, bitbucket_stack, "wendy", next_url="/hub/home",
                           lands_on="/hub/home")
    wendy.step("hub-home")
    assert "wendy" in wendy.page.content()
    pages = fake_bitbucket.seen("api", "/2.0/user/workspaces")
    assert any("page=2" in path for path in pages), pages  # followed `next`
    assert not fake_bitbucket.seen("api", "/2.0/workspaces")


def test_workspace_display_name_alone_does_not_admit(bitbucket_stack, open_browser):
    # dora's workspace is *named* "eda-lab", but its slug is "eda-lab-fans".
    dora = open_browser("dora", ignore_https_errors=True)
    sign_in_with_bitbucket(dora, bitbucket_stack, "dora", next_url="/hub/home",
                           lands_on="/hub/oauth_callback.*")
    dora.step("refusal")
    assert REFUSAL in dora.page.content()
    assert ALLOWED_WORKSPACE in bitbucket_stack.values["EDAHUB_BITBUCKET_ALLOWED_WORKSPACES"]


def test_admin_reaches_the_admin_panel_and_a_regular_user_reaches_neither_it_nor_others_servers(
        bitbucket_stack, open_browser, boss_api):
    boss = open_browser("boss", ignore_https_errors=True)
    sign_in_with_bitbucket(boss, bitbucket_stack, "boss", next_url="/hub/home",
                           lands_on="/hub/home")
    response = boss.open(f"{bitbucket_stack.base_url}/hub/admin")
    boss.page.locator("#react-admin-hook").wait_for()
    boss.step("admin-panel")
    assert response.status == 200

    boss_api.start_server()  # a server of someone else, for carol to try
    carol = open_browser("carol", ignore_https_errors=True)
    sign_in_with_bitbucket(carol, bitbucket_stack, "carol", next_url="/hub/home",
                           lands_on="/hub/home")
    response = carol.open(f"{bitbucket_stack.base_url}/hub/admin")
    carol.step("admin-panel-refused")
    assert response.status == 403
    response = carol.open(f"{bitbucket_stack.base_url}/user/boss/lab")
    carol.step("others-server-refused")
    assert response.status == 403
    boss_api.stop_server()


# --- bad settings stop the hub at start, with the documented message -----------------------

HUB_SECRETS = {s.key: s.generate() for s in SETTINGS if s.generate and "hub" in s.services}
GOOD = {"EDAHUB_AUTH": "bitbucket", "EDAHUB_PUBLIC_URL": "https://eda.example.org",
        "EDAHUB_BITBUCKET_CLIENT_ID": "consumer-key",
        "EDAHUB_BITBUCKET_CLIENT_SECRET": "consumer-secret-value",
        "EDAHUB_BITBUCKET_ALLOWED_WORKSPACES": "eda-lab"}


@pytest.mark.parametrize("change, message", [
    ({"EDAHUB_BITBUCKET_CLIENT_SECRET": ""},
     "EDAHUB_BITBUCKET_CLIENT_SECRET: required with EDAHUB_AUTH=bitbucket"),
    ({"EDAHUB_PUBLIC_URL": "eda.example.org/hub"},
     "EDAHUB_PUBLIC_URL='eda.example.org/hub': must be an http:// or https:// URL"),
    ({"EDAHUB_BITBUCKET_ALLOWED_WORKSPACES": ""},
     "EDAHUB_AUTH=bitbucket with no allow rule: nobody could log in"),
], ids=["missing-secret", "malformed-public-url", "no-allow-rule"])
def test_hub_refuses_to_start_with_bad_bitbucket_settings(stack_images, change, message):
    environment = {**HUB_SECRETS, **GOOD, **change}
    args = [arg for key, value in environment.items() for arg in ("-e", f"{key}={value}")]
    result = subprocess.run(["docker", "run", "--rm", *args,
                             stack_images["EDAHUB_HUB_IMAGE"]],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "edahub: the hub cannot start: invalid settings:" in result.stderr
    assert message in result.stderr
    assert "How to fix:" in result.stderr
    assert "consumer-secret-value" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
