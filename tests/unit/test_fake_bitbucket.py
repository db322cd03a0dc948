"""The fake Bitbucket (tests/fake_bitbucket.py) keeps to the documented API it stands in for.

The integration tests trust it to refuse what Bitbucket refuses; these checks, with no
Docker, show that it does.
"""

import base64
import hashlib
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from fake_bitbucket import FakeBitbucket

CALLBACK = "https://hub.example/hub/oauth_callback"


@pytest.fixture(scope="module")
def fake():
    fake = FakeBitbucket("127.0.0.1", "the-key", "the-secret", CALLBACK)
    fake.add_account("alice", "Alice", [(f"ws-{n}", f"Workspace {n}") for n in range(25)])
    fake.start()
    yield fake
    fake.stop()


def authorize(fake, account="alice", **params):
    """The code the fake hands to the callback after ``account`` grants access."""
    query = {"client_id": "the-key", "response_type": "code", "state": "st", **params}
    page = requests.get(f"{fake.site_url}/site/oauth2/authorize?{urlencode(query)}", timeout=5)
    assert page.status_code == 200 and "Fake Bitbucket (test double)" in page.text
    back = fake.grant(account)(requests.Session(), page)
    assert back.status_code == 302
    location = urlsplit(back.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    answer = parse_qs(location.query)
    assert answer["state"] == ["st"]
    return answer["code"][0]


def token(fake, code, auth=("the-key", "the-secret"), **form):
    return requests.post(f"{fake.site_url}/site/oauth2/access_token", auth=auth, timeout=5,
                         data={"grant_type": "authorization_code", "code": code, **form})


def test_code_grant_gives_a_bearer_token_once(fake):
    code = authorize(fake)
    answer = token(fake, code)
    assert answer.status_code == 200
    assert answer.json()["token_type"] == "bearer" and answer.json()["scopes"] == "account"
    assert token(fake, code).json()["error"] == "invalid_grant"  # a code works once


def test_client_may_authenticate_in_the_form(fake):
    answer = token(fake, authorize(fake), auth=None, client_id="the-key", client_secret="the-secret")
    assert answer.status_code == 200


def test_wrong_client_secret_and_unknown_client_are_refused(fake):
    assert token(fake, authorize(fake), auth=("the-key", "wrong")).status_code == 401
    page = requests.get(f"{fake.site_url}/site/oauth2/authorize?client_id=nope&response_type=code",
                        timeout=5)
    assert page.status_code == 400


def test_redirect_uri_must_be_the_callback_or_below_and_sent_again(fake):
    query = urlencode({"client_id": "the-key", "response_type": "code",
                       "redirect_uri": "https://evil.example/steal"})
    assert requests.get(f"{fake.site_url}/site/oauth2/authorize?{query}", timeout=5).status_code == 400
    code = authorize(fake, redirect_uri=CALLBACK)
    assert token(fake, code).json()["error"] == "invalid_grant"  # not repeated: refused
    code = authorize(fake, redirect_uri=CALLBACK)
    assert token(fake, code, redirect_uri=CALLBACK).status_code == 200


def test_pkce_verifier_must_match_the_challenge(fake):
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    params = {"code_challenge": challenge.decode(), "code_challenge_method": "S256"}
    assert token(fake, authorize(fake, **params), code_verifier="w" * 50).status_code == 400
    assert token(fake, authorize(fake, **params), code_verifier=verifier).status_code == 200


def test_user_and_paginated_workspaces_need_the_token(fake):
    access = token(fake, authorize(fake)).json()["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    assert requests.get(f"{fake.api_url}/2.0/user", timeout=5).status_code == 401
    user = requests.get(f"{fake.api_url}/2.0/user", headers=headers, timeout=5).json()
    assert user["username"] == "alice" and user["type"] == "user"
    url, slugs, pages = f"{fake.api_url}/2.0/user/workspaces", [], 0
    while url:
        page = requests.get(url, headers=headers, timeout=5).json()
        assert page["pagelen"] == 10 and all(v["type"] == "workspace_access" for v in page["values"])
        slugs += [v["workspace"]["slug"] for v in page["values"]]
        url, pages = page.get("next"), pages + 1
    assert pages == 3 and slugs == [f"ws-{n}" for n in range(25)]
    capped = requests.get(f"{fake.api_url}/2.0/user/workspaces?pagelen=500", headers=headers,
                          timeout=5).json()
    assert capped["pagelen"] == 100 and "next" not in capped


def test_the_removed_endpoint_is_gone_and_hosts_keep_to_their_paths(fake):
    gone = requests.get(f"{fake.api_url}/2.0/workspaces?role=member", timeout=5)
    assert gone.status_code == 410 and "CHANGE-2770" in gone.json()["message"]
    assert requests.get(f"{fake.site_url}/2.0/user", timeout=5).status_code == 404
    assert requests.get(f"{fake.api_url}/site/oauth2/authorize", timeout=5).status_code == 404


def test_missing_scope_is_refused():
    fake = FakeBitbucket("127.0.0.1", "the-key", "the-secret", CALLBACK, scopes=("email",))
    fake.add_account("alice")
    fake.start()
    try:
        access = token(fake, authorize(fake)).json()["access_token"]
        answer = requests.get(f"{fake.api_url}/2.0/user/workspaces", timeout=5,
                              headers={"Authorization": f"Bearer {access}"})
        assert answer.status_code == 403
        assert re.search("privilege scopes", answer.text)
    finally:
        fake.stop()
