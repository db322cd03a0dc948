"""Bitbucket login (hub/edahub_hub/bitbucket.py): workspaces by slug, the token kept at home.

``httpfetch``, OAuthenticator's one door to the network, is replaced by a fake Bitbucket
API that serves pages by URL and records every request with its headers.
"""

import asyncio
import logging

import pytest
from traitlets import TraitError
from traitlets.config import Config

from edahub_hub.bitbucket import (WORKSPACES_MAX_PAGES, WORKSPACES_PAGE_LENGTH,
                                  EdahubBitbucketOAuthenticator)

API = "https://api.bitbucket.test"
FIRST_PAGE = f"{API}/2.0/user/workspaces?pagelen={WORKSPACES_PAGE_LENGTH}"
TOKEN = {"access_token": "the-users-token", "token_type": "bearer"}


def page(*slugs, next=None):
    """A page of GET /2.0/user/workspaces: workspace_access objects, display names too."""
    values = [{"type": "workspace_access", "administrator": False,
               "workspace": {"type": "workspace", "slug": slug, "name": f"The {slug} team"}}
              for slug in slugs]
    return {"pagelen": WORKSPACES_PAGE_LENGTH, "values": values,
            **({"next": next} if next else {})}


class FakeBitbucketAPI:
    """Answers ``httpfetch`` from ``pages`` (URL -> JSON, or a function of the URL)."""

    def __init__(self, pages):
        self.pages = pages
        self.requests = []

    async def __call__(self, url, label="fetching", parse_json=True, raise_error=True, **kw):
        self.requests.append((url, kw.get("headers", {})))
        assert len(self.requests) <= 10 * WORKSPACES_MAX_PAGES, "the paging does not stop"
        answer = self.pages(url) if callable(self.pages) else self.pages.get(url)
        assert answer is not None, f"unexpected request to {url}"
        return answer

    @property
    def urls(self):
        return [url for url, _ in self.requests]


def make_authenticator(monkeypatch, pages, **config):
    authenticator = EdahubBitbucketOAuthenticator(
        client_id="client-id", client_secret="client-secret", api_url=API,
        bitbucket_url="https://bitbucket.test", **config)
    api = FakeBitbucketAPI(pages)
    monkeypatch.setattr(authenticator, "httpfetch", api)
    return authenticator, api


def fetch_slugs(authenticator):
    return asyncio.run(authenticator.fetch_workspace_slugs(TOKEN["access_token"],
                                                           TOKEN["token_type"]))


def login(authenticator, username="alice"):
    """What JupyterHub does after the OAuth exchange: update the model, then check it."""
    model = {"name": username, "admin": None,
             "auth_state": {"token_response": dict(TOKEN), "bitbucket_user": {}}}

    async def run():
        updated = await authenticator.update_auth_model(model)
        return await authenticator.check_allowed(username, updated)

    return asyncio.run(run())


def test_slugs_are_collected_from_every_page_following_next(monkeypatch):
    second, third = f"{API}/2.0/user/workspaces?page=2", f"{API}/2.0/user/workspaces?page=3"
    pages = {
        FIRST_PAGE: page("eda-lab", "alpha", next=second),
        second: {"values": [{"workspace": None}, {"workspace": {"name": "no slug"}},
                            *page("beta")["values"]], "next": third},
        third: page("gamma", "alpha"),
    }
    authenticator, api = make_authenticator(monkeypatch, pages)

    assert fetch_slugs(authenticator) == {"eda-lab", "alpha", "beta", "gamma"}
    assert api.urls == [FIRST_PAGE, second, third]
    assert all(headers["Authorization"] == "Bearer the-users-token"
               for _, headers in api.requests)


@pytest.mark.parametrize("elsewhere", [
    "https://attacker.example/2.0/user/workspaces?page=2",
    "http://api.bitbucket.test/2.0/user/workspaces?page=2",  # the same host, unencrypted
    "https://api.bitbucket.test:8443/2.0/user/workspaces?page=2",
    "https://api.bitbucket.test.attacker.example/2.0/user/workspaces?page=2",
    "https://someone@api.bitbucket.test@attacker.example/2.0/user/workspaces",
    "//attacker.example/2.0/user/workspaces?page=2",
])
def test_the_token_is_never_sent_to_another_host(monkeypatch, caplog, elsewhere):
    pages = {FIRST_PAGE: page("eda-lab", next=elsewhere), elsewhere: page("stolen")}
    authenticator, api = make_authenticator(monkeypatch, pages)

    with caplog.at_level(logging.WARNING):
        assert fetch_slugs(authenticator) == {"eda-lab"}
    assert api.urls == [FIRST_PAGE]
    assert "Ignoring a workspaces page outside" in caplog.text


def test_paging_stops_at_the_page_cap(monkeypatch, caplog):
    def endless(url):
        number = int(url.rsplit("=", 1)[1]) if "page=" in url else 1
        return page(f"ws-{number}", next=f"{API}/2.0/user/workspaces?page={number + 1}")

    authenticator, api = make_authenticator(monkeypatch, endless)

    with caplog.at_level(logging.WARNING):
        slugs = fetch_slugs(authenticator)
    assert len(api.requests) == WORKSPACES_MAX_PAGES
    assert slugs == {f"ws-{n}" for n in range(1, WORKSPACES_MAX_PAGES + 1)}
    assert f"Stopped after {WORKSPACES_MAX_PAGES} pages" in caplog.text


def test_a_member_of_an_allowed_workspace_is_admitted_by_its_slug(monkeypatch):
    pages = {FIRST_PAGE: page("other", "eda-lab")}
    authenticator, api = make_authenticator(monkeypatch, pages, allowed_workspaces={"eda-lab"})
    assert login(authenticator) is True
    assert api.urls == [FIRST_PAGE]


def test_a_display_name_equal_to_an_allowed_slug_does_not_admit(monkeypatch):
    # Anyone can create a workspace and call it "eda-lab"; only its slug is theirs.
    impostor = {"values": [{"workspace": {"slug": "impostor", "name": "eda-lab"}}]}
    authenticator, _ = make_authenticator(monkeypatch, {FIRST_PAGE: impostor},
                                          allowed_workspaces={"eda-lab"})
    assert login(authenticator) is False


def test_a_user_in_no_allowed_workspace_is_refused(monkeypatch):
    authenticator, _ = make_authenticator(monkeypatch, {FIRST_PAGE: page("other")},
                                          allowed_workspaces={"eda-lab"})
    assert login(authenticator) is False


def test_workspaces_are_not_fetched_without_a_workspace_rule(monkeypatch):
    authenticator, api = make_authenticator(monkeypatch, {}, allowed_users={"alice"})
    assert login(authenticator, "alice") is True
    assert login(authenticator, "mallory") is False
    assert api.requests == []


def test_allowed_teams_is_refused():
    with pytest.raises(TraitError, match="allowed_workspaces"):
        EdahubBitbucketOAuthenticator(allowed_teams={"Data Lab"})
    with pytest.raises(TraitError, match="allowed_workspaces"):
        EdahubBitbucketOAuthenticator(
            config=Config({"BitbucketOAuthenticator": {"allowed_teams": {"Data Lab"}}}))
    assert EdahubBitbucketOAuthenticator(allowed_teams=set()).allowed_teams == set()


@pytest.mark.parametrize("web, api", [
    ("https://bitbucket.org", "https://api.bitbucket.org"),
    ("http://bitbucket.test:9000", "http://bitbucket-api.test:9001"),
])
def test_every_address_derives_from_bitbucket_url_and_api_url(monkeypatch, web, api):
    config = {} if web == "https://bitbucket.org" else {"bitbucket_url": web, "api_url": api}
    authenticator = EdahubBitbucketOAuthenticator(**config)
    assert authenticator.authorize_url == f"{web}/site/oauth2/authorize"
    assert authenticator.token_url == f"{web}/site/oauth2/access_token"
    assert authenticator.userdata_url == f"{api}/2.0/user"

    fake = FakeBitbucketAPI(lambda url: page())
    monkeypatch.setattr(authenticator, "httpfetch", fake)
    fetch_slugs(authenticator)
    assert fake.urls == [f"{api}/2.0/user/workspaces?pagelen={WORKSPACES_PAGE_LENGTH}"]
