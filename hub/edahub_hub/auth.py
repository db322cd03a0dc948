"""The first-run login: NativeAuthenticator with a pre-created admin account.

NativeAuthenticator keeps accounts with bcrypt-hashed passwords in the hub's database.
People ask for an account at /hub/signup and stay locked out until an admin approves
them at /hub/authorize (``open_signup`` is off), so exposing the port is safe.

One gap remains in stock NativeAuthenticator: a name listed in ``admin_users`` is
approved automatically at signup, so whoever signs up first under the admin's name
becomes admin. This subclass closes it by creating the admin's account at hub start,
from the bcrypt hash that bootstrap generated (EDAHUB_ADMIN_PASSWORD_HASH), before the
signup page can be reached. An existing account is never changed, so an admin who
changed their password keeps it.
"""

from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import LoginHandler as NativeLoginHandler
from nativeauthenticator.orm import UserInfo
from traitlets import Unicode


class LoginHandler(NativeLoginHandler):
    """NativeAuthenticator's login page, with a POST that works on JupyterHub 6.

    NativeAuthenticator 1.3.0's own POST handler times logins with ``self.statsd``,
    which JupyterHub 6 removed, so every login failed with HTTP 500.
    """

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
            and info.is_valid_password(data.get("password", ""))
        ):
            error = "Your account request has not been approved by an administrator yet."
        self.finish(await self._render(login_error=error, username=username))

    def _render(self, login_error=None, username=None, **ignored):
        # JupyterHub's error path passes extra keywords the native page does not take.
        return super()._render(login_error=login_error, username=username)


class MissingAdminPassword(RuntimeError):
    """The admin account does not exist yet and no password hash was given for it."""


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
        """NativeAuthenticator's pages, with the login page's POST fixed (see LoginHandler)."""
        return [
            (path, LoginHandler if path == r"/login" else handler)
            for path, handler in super().get_handlers(app)
        ]

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
