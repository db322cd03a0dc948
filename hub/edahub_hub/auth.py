"""The first-run login: NativeAuthenticator with a pre-created admin account, hardened.

NativeAuthenticator keeps accounts with bcrypt-hashed passwords in the hub's database.
People ask for an account at /hub/signup and stay locked out until an admin approves
them at /hub/authorize (``open_signup`` is off), so exposing the port is safe.

What this module changes in NativeAuthenticator 1.3.0, each at the narrowest point:

- The admin's account is created at hub start from the bcrypt hash bootstrap generated
  (EDAHUB_ADMIN_PASSWORD_HASH), before the signup page can be reached; stock
  NativeAuthenticator approves whoever signs up first under an admin's name. No admin
  name can ever be signed up (or re-claimed after its account was deleted), and an
  admin's account is kept when the hub user is deleted.
- Usernames follow edahub's one policy (``edahub_core.names``) before anything is stored:
  the signup page refuses other names with the rule. The stock authorization page put
  names unquoted into an HTML attribute, so a signup named ``x<TAB>onfocus=...`` ran
  script in the admin's session.
- Approving, unapproving and discarding accounts are POSTs with JupyterHub's XSRF check,
  from a page whose attributes are quoted; the stock pages changed state on a plain GET,
  which any web page the admin visited could trigger. Admin accounts cannot be
  unapproved or discarded there.
- bcrypt runs in a worker thread, not on the hub's event loop: a stream of password
  guesses no longer stalls every other request.
- The login form's POST works on JupyterHub 6 (the stock one uses the removed
  ``self.statsd``, so every login failed with HTTP 500).
"""

import asyncio
import os

from jupyterhub.scopes import needs_scope
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import LocalBase
from nativeauthenticator.handlers import LoginHandler as NativeLoginHandler
from nativeauthenticator.handlers import SignUpHandler as NativeSignUpHandler
from nativeauthenticator.orm import UserInfo
from tornado import web
from traitlets import Unicode

from edahub_core.names import USERNAME_RULE, valid_username

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")


async def password_matches(info, password):
    """``info.is_valid_password(password)`` (bcrypt, about 0.25 s) off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, info.is_valid_password,
                                                            password)


class LoginHandler(NativeLoginHandler):
    """NativeAuthenticator's login page, with a POST that works on JupyterHub 6."""

    async def post(self):
        data = {name: self.get_argument(name, strip=False) for name in self.request.arguments}
        user = await self.login_user(data)
        if user:
            self._jupyterhub_user = user
            self.redirect(self.get_next_url(user))
            return
        username = data.get("username", "")
        error = "Invalid username or password."
        info = self.authenticator.get_user(username)
        if (
            info is not None
            and not info.is_authorized
            and await password_matches(info, data.get("password", ""))
        ):
            error = "Your account request has not been approved by an administrator yet."
        self.finish(await self._render(login_error=error, username=username))

    def _render(self, login_error=None, username=None, **ignored):
        # JupyterHub's error path passes extra keywords the native page does not take.
        return super()._render(login_error=login_error, username=username)


class SignUpHandler(NativeSignUpHandler):
    """The signup page, refusing names outside the policy (and admins' names) up front."""

    async def post(self):
        if not self.authenticator.enable_signup:
            raise web.HTTPError(404)
        raw = self.get_body_argument("username", "", strip=False)
        username = self.authenticator.normalize_username(raw)
        if valid_username(username) and username not in self.authenticator.admin_users:
            return await super().post()
        if valid_username(username):
            message = "This name is reserved. Please choose another username."
        else:
            message = f"Usernames are {USERNAME_RULE}. Please choose another username."
        self.log.warning("Refused a signup under a name outside the username policy or "
                         "reserved for an admin")
        html = await self.render_template(
            "signup.html",
            ask_email=self.authenticator.ask_email_on_signup,
            result_message=message,
            alert="alert-danger",
            two_factor_auth=self.authenticator.allow_2fa,
            recaptcha_key=self.authenticator.recaptcha_key,
            tos=self.authenticator.tos,
        )
        self.finish(html)


class AuthorizationAreaHandler(LocalBase):
    """/hub/authorize: every account request, with POST buttons (quoted, XSRF-protected)."""

    @needs_scope("admin:users")
    async def get(self):
        html = await self.render_template(
            "edahub-authorize.html",
            users=self.db.query(UserInfo).order_by(UserInfo.username).all(),
            admins=self.authenticator.admin_users,
        )
        self.finish(html)


class AccountChangeHandler(LocalBase):
    """Base of the POST-only pages that change an account; GET changes nothing."""

    def get(self, username):
        raise web.HTTPError(405, "use the buttons at /hub/authorize")

    def account(self, username):
        """The account named ``username``; 404 if none, 403 for an admin's."""
        if self.authenticator.normalize_username(username) in self.authenticator.admin_users:
            raise web.HTTPError(403, "admin accounts are managed in .env, not here")
        info = self.authenticator.get_user(username)
        if info is None:
            raise web.HTTPError(404, "no such account")
        return info


class ToggleAuthorizationHandler(AccountChangeHandler):
    """POST /hub/authorize/<name>: approve an account, or withdraw an approval."""

    @needs_scope("admin:users")
    async def post(self, username):
        info = self.account(username)
        UserInfo.change_authorization(self.db, info.username)
        self.log.info("%s %s the account %s", self.current_user.name,
                      "approved" if info.is_authorized else "unapproved", info.username)
        self.redirect(self.hub.base_url + "authorize")


class DiscardHandler(AccountChangeHandler):
    """POST /hub/discard/<name>: delete an account request that was never approved."""

    @needs_scope("admin:users")
    async def post(self, username):
        info = self.account(username)
        if info.is_authorized:
            raise web.HTTPError(409, "unapprove the account before discarding it")
        self.authenticator.delete_user(type("User", (), {"name": info.username}))
        if self.users.get(info.username) is not None:
            self.users.delete(info.username)
        self.log.info("%s discarded the account request %s", self.current_user.name,
                      info.username)
        self.redirect(self.hub.base_url + "authorize")


class MissingAdminPassword(RuntimeError):
    """The admin account does not exist yet and no password hash was given for it."""


HANDLERS = {
    r"/login": LoginHandler,
    r"/signup": SignUpHandler,
    r"/authorize": AuthorizationAreaHandler,
    r"/authorize/([^/]*)": ToggleAuthorizationHandler,
    r"/discard/([^/]*)": DiscardHandler,
}


class FirstRunAuthenticator(NativeAuthenticator):
    """NativeAuthenticator whose admin account exists before anyone can sign up."""

    admin_password_hash = Unicode(
        "",
        config=True,
        help="bcrypt hash of the initial admin's password; used only to create the account.",
    )

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.ensure_admin_accounts()

    def get_handlers(self, app):
        """NativeAuthenticator's pages, with edahub's versions of those in ``HANDLERS``."""
        return [(path, HANDLERS.get(path, handler)) for path, handler in super().get_handlers(app)]

    def get_user(self, username):
        """The account, read afresh: the operator's reset command (edahub_hub.admin) writes
        the database from another process, which the hub's session would not see."""
        info = super().get_user(username)
        if info is not None:
            self.db.refresh(info)
        return info

    def validate_username(self, username):
        """edahub's username policy, on top of JupyterHub's and NativeAuthenticator's."""
        return valid_username(username) and super().validate_username(username)

    def create_user(self, username, password, **kwargs):
        """A signup: never under an admin's name (admins' accounts come from .env)."""
        if self.normalize_username(username) in self.admin_users:
            return None
        return super().create_user(username, password, **kwargs)

    def delete_user(self, user):
        """Deleting a hub user deletes their account, except an admin's."""
        if self.normalize_username(user.name) in self.admin_users:
            self.log.warning("Keeping the login of admin %s (admins are set in .env)", user.name)
            return None
        return super().delete_user(user)

    async def authenticate(self, handler, data):
        """NativeAuthenticator's check, with bcrypt in a worker thread.

        The same steps as NativeAuthenticator 1.3.0's ``authenticate``, whose bcrypt call
        blocks the event loop: /hub/health took 1.1-3.5 s while 16 clients guessed
        passwords.
        """
        username = self.normalize_username(data["username"])
        info = self.get_user(username)
        if not info:
            return None
        if self.allowed_failed_logins and self.is_blocked(username):
            return None
        valid = info.is_authorized and await password_matches(info, data["password"])
        if valid and info.has_2fa:
            valid = info.is_valid_token(data.get("2fa"))
        if valid:
            self.successful_login(username)
            return username
        self.add_login_attempt(username)
        return None

    def ensure_admin_accounts(self):
        """Create the account of every configured admin that has none yet."""
        for name in sorted(self.admin_users):
            username = self.normalize_username(name)
            if UserInfo.find(self.db, username) is not None:
                continue
            if not self.admin_password_hash:
                raise MissingAdminPassword(
                    f"admin account {username!r} does not exist and EDAHUB_ADMIN_PASSWORD_HASH "
                    "is empty, so anyone could claim it at /hub/signup. "
                    "How to fix: run `python3 scripts/bootstrap.py` to generate the admin "
                    "password, or set EDAHUB_ADMIN_PASSWORD_HASH in .env."
                )
            self.db.add(
                UserInfo(
                    username=username,
                    password=self.admin_password_hash.encode(),
                    is_authorized=True,
                )
            )
            self.db.commit()
            self.log.info("Created the admin account %r from EDAHUB_ADMIN_PASSWORD_HASH", username)
