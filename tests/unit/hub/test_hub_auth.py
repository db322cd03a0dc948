"""The first-run login (hub/edahub_hub/auth.py) on NativeAuthenticator's real ORM and SQLite."""

import asyncio
import threading
import time
from types import SimpleNamespace

import bcrypt
import pytest
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import LoginHandler as NativeLoginHandler
from nativeauthenticator.orm import UserInfo
from tornado import web

from edahub_hub.auth import (HANDLERS, AccountChangeHandler, AuthorizationAreaHandler,
                             DiscardHandler, FirstRunAuthenticator, LoginHandler,
                             MissingAdminPassword, SignUpHandler, ToggleAuthorizationHandler)


def start_authenticator(db, **config):
    """The authenticator as the hub creates it at start (native login, one admin)."""
    return FirstRunAuthenticator(db=db, admin_users={"admin"}, **config)


def accounts(db):
    return {info.username: info for info in UserInfo.all_users(db)}


def login(authenticator, username, password):
    return asyncio.run(authenticator.authenticate(None, {"username": username,
                                                         "password": password}))


def test_the_admin_account_is_created_from_the_hash_at_start(hub_db, admin_hash, admin_password):
    start_authenticator(hub_db, admin_password_hash=admin_hash)

    [admin] = accounts(hub_db).values()
    assert admin.username == "admin"
    assert admin.password == admin_hash.encode()  # the hash itself, not a hash of it
    assert admin.is_authorized
    assert admin.is_valid_password(admin_password)


def test_nobody_can_sign_up_under_the_admins_name_after_start(hub_db, admin_hash, admin_password):
    authenticator = start_authenticator(hub_db, admin_password_hash=admin_hash)

    # Stock NativeAuthenticator would create and pre-approve this account (the name is
    # in admin_users): the account made at start is what stops it.
    assert authenticator.create_user("admin", "attacker-password-123") is None
    assert login(authenticator, "admin", "attacker-password-123") is None
    assert login(authenticator, "admin", admin_password) == "admin"
    assert accounts(hub_db)["admin"].password == admin_hash.encode()


def test_the_admin_name_is_normalized_like_logins(hub_db, admin_hash):
    FirstRunAuthenticator(db=hub_db, admin_users={"Admin"}, admin_password_hash=admin_hash)
    assert list(accounts(hub_db)) == ["admin"]


def test_an_existing_admin_account_is_never_changed(hub_db, admin_hash):
    # The admin changed their password since, and another admin revoked the approval.
    changed = bcrypt.hashpw(b"a password chosen later", bcrypt.gensalt(rounds=4))
    hub_db.add(UserInfo(username="admin", password=changed, is_authorized=False))
    hub_db.commit()

    start_authenticator(hub_db, admin_password_hash=admin_hash)

    [admin] = accounts(hub_db).values()
    assert admin.password == changed
    assert not admin.is_authorized


def test_an_existing_admin_account_needs_no_hash(hub_db, admin_hash):
    hub_db.add(UserInfo(username="admin", password=admin_hash.encode(), is_authorized=True))
    hub_db.commit()
    start_authenticator(hub_db, admin_password_hash="")
    assert list(accounts(hub_db)) == ["admin"]


def test_no_account_and_no_hash_refuses_to_start(hub_db):
    with pytest.raises(MissingAdminPassword) as refused:
        start_authenticator(hub_db, admin_password_hash="")
    assert "'admin'" in str(refused.value)
    assert "How to fix" in str(refused.value)
    assert "EDAHUB_ADMIN_PASSWORD_HASH" in str(refused.value)
    assert accounts(hub_db) == {}


def test_edahubs_pages_replace_the_stock_ones_and_the_others_are_kept(hub_db, admin_hash):
    authenticator = start_authenticator(hub_db, admin_password_hash=admin_hash)
    ours = authenticator.get_handlers(app=None)
    native = NativeAuthenticator.get_handlers(authenticator, app=None)

    assert [path for path, _ in ours] == [path for path, _ in native]
    handlers = dict(ours)
    assert handlers["/login"] is LoginHandler
    assert issubclass(LoginHandler, NativeLoginHandler)
    assert handlers["/signup"] is SignUpHandler
    assert handlers["/authorize"] is AuthorizationAreaHandler
    assert handlers["/authorize/([^/]*)"] is ToggleAuthorizationHandler
    assert handlers["/discard/([^/]*)"] is DiscardHandler
    assert {p: h for p, h in ours if p not in HANDLERS} == \
        {p: h for p, h in native if p not in HANDLERS}


@pytest.mark.parametrize("handler", [ToggleAuthorizationHandler, DiscardHandler])
def test_account_changes_are_never_made_by_a_get(handler):
    # A GET is what any web page the admin visits can make the browser send.
    with pytest.raises(web.HTTPError) as refused:
        handler.get(SimpleNamespace(), "bob")
    assert refused.value.status_code == 405


@pytest.mark.parametrize("name", ["admin", "Admin"])
def test_admin_accounts_cannot_be_unapproved_or_discarded_from_the_page(hub_db, admin_hash, name):
    authenticator = start_authenticator(hub_db, admin_password_hash=admin_hash)
    page = SimpleNamespace(authenticator=authenticator)
    with pytest.raises(web.HTTPError) as refused:
        AccountChangeHandler.account(page, name)
    assert refused.value.status_code == 403
    with pytest.raises(web.HTTPError) as missing:
        AccountChangeHandler.account(page, "nobody")
    assert missing.value.status_code == 404


@pytest.mark.parametrize("name", ["x\tonfocus=alert(1)", "x\nadmin", "a b", "<b>", "o'brien",
                                  "a" * 65, "", "-lead", "ünï", "name\n"])
def test_signups_outside_the_username_policy_are_refused(hub_db, admin_hash, name):
    authenticator = start_authenticator(hub_db, admin_password_hash=admin_hash)
    assert authenticator.create_user(name, "a long password 123") is None
    assert list(accounts(hub_db)) == ["admin"]


def test_a_signup_inside_the_policy_is_stored_unapproved(hub_db, admin_hash):
    authenticator = start_authenticator(hub_db, admin_password_hash=admin_hash)
    assert authenticator.create_user("new.user-1_a", "a long password 123") is not None
    assert not accounts(hub_db)["new.user-1_a"].is_authorized


def test_the_admins_name_cannot_be_reclaimed_after_its_account_was_deleted(hub_db, admin_hash):
    authenticator = start_authenticator(hub_db, admin_password_hash=admin_hash)
    authenticator.delete_user(SimpleNamespace(name="admin"))  # the hub user deleted
    assert "admin" in accounts(hub_db)  # kept
    hub_db.delete(accounts(hub_db)["admin"])  # even with the account gone somehow,
    hub_db.commit()
    assert authenticator.create_user("admin", "attacker-password-123") is None  # no signup
    assert accounts(hub_db) == {}


def test_password_checks_run_off_the_event_loop(hub_db, admin_hash, admin_password, monkeypatch):
    authenticator = start_authenticator(hub_db, admin_password_hash=admin_hash)
    original = UserInfo.is_valid_password
    seen = {}

    def slow_check(info, password):
        seen["thread"] = threading.get_ident()
        time.sleep(0.3)  # bcrypt at its real cost
        return original(info, password)

    monkeypatch.setattr(UserInfo, "is_valid_password", slow_check)

    async def scenario():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        result = await authenticator.authenticate(None, {"username": "admin",
                                                         "password": admin_password})
        task.cancel()
        return result, ticks, threading.get_ident()

    result, ticks, loop_thread = asyncio.run(scenario())
    assert result == "admin"
    assert seen["thread"] != loop_thread
    assert ticks >= 10  # the loop kept running while the hash was checked


class LoginForm:
    """What LoginHandler.post uses of a tornado handler, with no statsd (JupyterHub 6)."""

    def __init__(self, authenticator, username, password):
        self.authenticator = authenticator
        self.form = {"username": username, "password": password}
        self.request = SimpleNamespace(arguments={k: [v.encode()] for k, v in self.form.items()})
        self.redirected_to = self.page = None

    def get_argument(self, name, strip=True):
        return self.form[name]

    async def login_user(self, data):
        name = await self.authenticator.authenticate(self, data)
        return SimpleNamespace(name=name) if name else None

    def get_next_url(self, user):
        return f"/hub/user/{user.name}/"

    def redirect(self, url):
        self.redirected_to = url

    async def _render(self, login_error=None, username=None):
        return {"login_error": login_error, "username": username}

    def finish(self, page):
        self.page = page


def post_login(authenticator, username, password):
    form = LoginForm(authenticator, username, password)
    asyncio.run(LoginHandler.post(form))
    return form


def test_the_login_post_signs_in_without_statsd(hub_db, admin_hash, admin_password):
    form = post_login(start_authenticator(hub_db, admin_password_hash=admin_hash),
                      "admin", admin_password)
    assert form.redirected_to == "/hub/user/admin/"
    assert form.page is None


def test_the_login_post_tells_a_wrong_password_from_a_pending_approval(hub_db, admin_hash):
    authenticator = start_authenticator(hub_db, admin_password_hash=admin_hash)
    hub_db.add(UserInfo(username="bob", password=bcrypt.hashpw(b"bobs password",
                                                               bcrypt.gensalt(rounds=4))))
    hub_db.commit()

    wrong = post_login(authenticator, "admin", "not the password")
    assert wrong.page == {"login_error": "Invalid username or password.", "username": "admin"}

    pending = post_login(authenticator, "bob", "bobs password")
    assert pending.redirected_to is None
    assert "not been approved" in pending.page["login_error"]

    # A wrong password does not reveal that the account awaits approval.
    guessed = post_login(authenticator, "bob", "a guess")
    assert guessed.page["login_error"] == "Invalid username or password."
