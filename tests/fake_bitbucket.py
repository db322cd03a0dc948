"""A FAKE Bitbucket Cloud for the tests. It is not Bitbucket and never runs outside tests/.

Bitbucket's OAuth endpoints cannot be reached from CI, so the integration tests point the
real hub (through the operator settings EDAHUB_BITBUCKET_URL and EDAHUB_BITBUCKET_API_URL)
at this fake instead. It follows the Bitbucket Cloud documentation that
hub/edahub_hub/bitbucket.py cites:

- https://developer.atlassian.com/cloud/bitbucket/oauth-2/ (authorization code grant):
  ``GET /site/oauth2/authorize?client_id=..&response_type=code[&redirect_uri][&state]``,
  where the person grants access and is sent to the callback with ``?code=..&state=..``;
  ``POST /site/oauth2/access_token`` with ``grant_type=authorization_code`` and the code,
  the client authenticated by HTTP Basic or by form fields (RFC 6749 section 2.3.1), which
  answers ``access_token``, ``token_type: bearer``, ``scopes``, ``expires_in``,
  ``refresh_token``. A code is used once; a ``redirect_uri`` sent to the authorize page
  must be sent again, identical (RFC 6749 section 4.1.3); PKCE (RFC 7636, S256) is
  checked when a challenge was sent.
- https://support.atlassian.com/bitbucket-cloud/docs/use-oauth-on-bitbucket-cloud/: a
  ``redirect_uri`` in the request must be the consumer's callback URL or lie below it.
- ``GET /2.0/user`` and ``GET /2.0/user/workspaces``, both needing scope ``account``
  (https://developer.atlassian.com/cloud/bitbucket/rest/api-group-users/#api-user-get,
  https://developer.atlassian.com/cloud/bitbucket/rest/api-group-workspaces/#api-user-workspaces-get):
  the workspaces come as ``workspace_access`` objects, paginated by ``page`` and
  ``pagelen`` (default 10, at most 100), with ``next`` on every page but the last
  (https://developer.atlassian.com/cloud/bitbucket/rest/intro/#pagination).
- ``GET /2.0/workspaces`` answers 410 Gone, as Bitbucket has since CHANGE-2770.

Its authorize page stands in for Bitbucket's login and consent screens: it lists the
fake's accounts; the person picks one and clicks "Grant access" (or "Cancel"). The site
(bitbucket.org) and the API (api.bitbucket.org) listen on two ports, as they are two
hosts at Bitbucket, and each answers only its own paths.
"""

import base64
import hashlib
import html
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

CODE_LIFETIME = 60  # seconds


@dataclass
class Account:
    """A Bitbucket account of the fake, and the workspaces it can access."""

    username: str
    display_name: str
    workspaces: list = field(default_factory=list)  # [(slug, display name), ...]
    uuid: str = field(default_factory=lambda: "{%s}" % secrets.token_hex(16))


class FakeBitbucket:
    """The fake's state, and its two HTTP servers (site and API) on ``host``."""

    def __init__(self, host, client_id, client_secret, callback_url, scopes=("account",)):
        self.host = host
        self.client_id = client_id
        self.client_secret = client_secret
        self.callback_url = callback_url
        self.scopes = tuple(scopes)  # the permissions ticked in the consumer's form
        self.accounts = {}
        self.requests = []  # (server, method, path?query) of every request, in order
        self._codes = {}
        self._tokens = {}
        self._lock = threading.Lock()
        self._servers = []

    def add_account(self, username, display_name=None, workspaces=()):
        """Add an account that can access ``workspaces`` ([(slug, display name), ...])."""
        self.accounts[username] = Account(username, display_name or username.title(),
                                          list(workspaces))
        return self.accounts[username]

    # --- running ------------------------------------------------------------------
    def start(self):
        for role in ("site", "api"):
            handler = type(f"{role.title()}Handler", (_Handler,), {"fake": self, "role": role})
            server = ThreadingHTTPServer((self.host, 0), handler)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True,
                             name=f"fake-bitbucket-{role}").start()
            self._servers.append(server)
        return self

    def stop(self):
        for server in self._servers:
            server.shutdown()
            server.server_close()

    @property
    def site_url(self):
        return f"http://{self.host}:{self._servers[0].server_address[1]}"

    @property
    def api_url(self):
        return f"http://{self.host}:{self._servers[1].server_address[1]}"

    def seen(self, server, path_prefix):
        """The requests to ``server`` ("site" or "api") whose path starts with ``path_prefix``."""
        with self._lock:
            return [path for role, _, path in self.requests
                    if role == server and path.startswith(path_prefix)]

    # --- for clients that are not browsers (tests/hubclient.py) ------------------------
    def grant(self, username):
        """A ``grant(http, page)`` for HubSession.log_in_with_oauth: log in as ``username``."""
        def act(http, page):
            form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                                   page.text))
            form = {k: html.unescape(v) for k, v in form.items()}
            form.update(account=username, decision="grant")
            return http.post(urljoin(page.url, "/site/oauth2/authorize"), data=form,
                             allow_redirects=False, timeout=30)
        return act

    # --- the OAuth grant --------------------------------------------------------------
    def _redirect_target(self, redirect_uri):
        target = redirect_uri or self.callback_url
        if not target.startswith(self.callback_url):
            return None
        return target

    def _issue_code(self, account, params):
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = {
                "account": account, "client_id": params.get("client_id", ""),
                "redirect_uri": params.get("redirect_uri") or None,
                "challenge": params.get("code_challenge") or None,
                "challenge_method": params.get("code_challenge_method") or "plain",
                "expires": time.monotonic() + CODE_LIFETIME,
            }
        return code

    def _exchange(self, form, basic):
        """(status, body) of the token endpoint for this request."""
        client_id, client_secret = basic or (form.get("client_id"), form.get("client_secret"))
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client",
                         "error_description": "Invalid OAuth client credentials"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type",
                         "error_description": "only authorization_code in this fake"}
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or grant["expires"] < time.monotonic() or grant["client_id"] != client_id:
            return 400, {"error": "invalid_grant",
                         "error_description": "The code is unknown, used or expired"}
        if grant["redirect_uri"] and form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
        if grant["challenge"]:
            verifier = form.get("code_verifier", "").encode()
            if grant["challenge_method"] == "S256":
                verifier = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
            if verifier.decode() != grant["challenge"]:
                return 400, {"error": "invalid_grant",
                             "error_description": "code_verifier does not match"}
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = {"account": grant["account"], "scopes": self.scopes}
        return 200, {"access_token": token, "token_type": "bearer",
                     "scopes": " ".join(self.scopes), "expires_in": 7200,
                     "refresh_token": secrets.token_urlsafe(24)}

    def _token_owner(self, authorization):
        kind, _, token = (authorization or "").partition(" ")
        if kind.lower() != "bearer":
            return None
        with self._lock:
            return self._tokens.get(token)

    # --- the REST API ---------------------------------------------------------------------
    def _user(self, account):
        return {"type": "user", "username": account.username,
                "display_name": account.display_name, "nickname": account.username,
                "uuid": account.uuid, "account_id": f"557058:{account.uuid.strip('{}')}",
                "links": {"self": {"href": f"{self.api_url}/2.0/users/{account.uuid}"}}}

    def _workspaces_page(self, account, query):
        try:
            pagelen = min(max(int(query.get("pagelen", "10")), 1), 100)
            page = max(int(query.get("page", "1")), 1)
        except ValueError:
            return 400, {"type": "error", "error": {"message": "page and pagelen are numbers"}}
        start = (page - 1) * pagelen
        values = [
            {"type": "workspace_access", "administrator": False,
             # workspace_base documents slug, uuid and links; it allows more properties, and
             # the display name ("name") is included so a test can show edahub ignores it.
             "workspace": {"type": "workspace_base", "slug": slug, "name": name,
                           "uuid": "{%s}" % hashlib.md5(slug.encode()).hexdigest(),
                           "links": {"self": {"href": f"{self.api_url}/2.0/workspaces/{slug}"}}}}
            for slug, name in account.workspaces[start:start + pagelen]
        ]
        body = {"pagelen": pagelen, "page": page, "size": len(account.workspaces),
                "values": values}
        if start + pagelen < len(account.workspaces):
            body["next"] = (f"{self.api_url}/2.0/user/workspaces?"
                            + urlencode({"page": page + 1, "pagelen": pagelen}))
        return 200, body


class _Handler(BaseHTTPRequestHandler):
    fake = None  # set per server by FakeBitbucket.start
    role = None
    server_version = "FakeBitbucket/1.0"

    def log_message(self, *args):  # keep pytest's output clean; requests are recorded
        pass

    def _record(self):
        with self.fake._lock:
            self.fake.requests.append((self.role, self.command, self.path))
        return urlsplit(self.path)

    def do_GET(self):
        url = self._record()
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if self.role == "site" and url.path == "/site/oauth2/authorize":
            return self._authorize_page(query)
        if self.role == "api" and url.path.startswith("/2.0/"):
            return self._api(url.path, query)
        self._send_json(404, {"type": "error", "error": {"message": "Resource not found"}})

    def do_POST(self):
        url = self._record()
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if self.role == "site" and url.path == "/site/oauth2/authorize":
            return self._authorize_decision(form)
        if self.role == "site" and url.path == "/site/oauth2/access_token":
            status, body = self.fake._exchange(form, self._basic_auth())
            return self._send_json(status, body)
        self._send_json(404, {"type": "error", "error": {"message": "Resource not found"}})

    # --- site ---------------------------------------------------------------------------
    def _check_request(self, params):
        """The redirect target, or None after answering with an error page."""
        if params.get("client_id") != self.fake.client_id:
            self._send_page(400, "Invalid client_id", "No OAuth consumer has this key.")
            return None
        target = self.fake._redirect_target(params.get("redirect_uri"))
        if target is None:
            self._send_page(400, "Invalid redirect_uri",
                            "The redirect_uri is not the consumer's callback URL or below it.")
            return None
        return target

    def _authorize_page(self, query):
        target = self._check_request(query)
        if target is None:
            return
        if query.get("response_type") != "code":
            return self._redirect(target, error="unsupported_response_type",
                                  state=query.get("state"))
        kept = ("client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method")
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(query.get(name, ""))}">'
            for name in kept
        )
        choices = "".join(
            f'<option value="{html.escape(a.username)}">{html.escape(a.display_name)} '
            f'({html.escape(a.username)})</option>'
            for a in self.fake.accounts.values()
        )
        self._send_page(200, "Authorize edahub", f"""
<p><strong>This is a fake Bitbucket for edahub's tests, not Bitbucket.</strong></p>
<p>The OAuth consumer <code>{html.escape(self.fake.client_id)}</code> asks to:
   {html.escape(", ".join(self.fake.scopes))} (read your account information).</p>
<form method="post" action="/site/oauth2/authorize">{hidden}
  <label>Log in as <select name="account" id="account">{choices}</select></label>
  <button type="submit" name="decision" value="grant">Grant access</button>
  <button type="submit" name="decision" value="deny">Cancel</button>
</form>""")

    def _authorize_decision(self, form):
        target = self._check_request(form)
        if target is None:
            return
        if form.get("decision") != "grant":
            return self._redirect(target, error="access_denied",
                                  error_description="The user denied access", state=form.get("state"))
        account = self.fake.accounts.get(form.get("account", ""))
        if account is None:
            return self._send_page(400, "Unknown account", "Pick one of the listed accounts.")
        code = self.fake._issue_code(account, form)
        self._redirect(target, code=code, state=form.get("state"))

    def _basic_auth(self):
        kind, _, value = (self.headers.get("Authorization") or "").partition(" ")
        if kind.lower() != "basic":
            return None
        client_id, _, client_secret = base64.b64decode(value).decode().partition(":")
        return client_id, client_secret

    # --- API ----------------------------------------------------------------------------
    def _api(self, path, query):
        if path.rstrip("/") == "/2.0/workspaces":
            return self._send_json(410, {
                "message": "CHANGE-2770 - Functionality has been deprecated",
                "detail": "Please read the changelog entry for more details.",
                "data": {"announcement_url":
                         "https://developer.atlassian.com/cloud/bitbucket/changelog#CHANGE-2770"},
            })
        owner = self.fake._token_owner(self.headers.get("Authorization"))
        if owner is None:
            return self._send_json(401, {"type": "error",
                                         "error": {"message": "Access token is missing or invalid"}})
        if path in ("/2.0/user", "/2.0/user/workspaces") and "account" not in owner["scopes"]:
            return self._send_json(403, {"type": "error", "error": {
                "message": "Your credentials lack one or more required privilege scopes.",
                "detail": {"required": ["account"], "granted": list(owner["scopes"])}}})
        if path == "/2.0/user":
            return self._send_json(200, self.fake._user(owner["account"]))
        if path == "/2.0/user/workspaces":
            return self._send_json(*self.fake._workspaces_page(owner["account"], query))
        self._send_json(404, {"type": "error", "error": {"message": "Resource not found"}})

    # --- answers ------------------------------------------------------------------------
    def _redirect(self, target, **params):
        params = {k: v for k, v in params.items() if v is not None}
        separator = "&" if urlsplit(target).query else "?"
        self.send_response(302)
        self.send_header("Location", f"{target}{separator}{urlencode(params)}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_json(self, status, body):
        self._send(status, "application/json", json.dumps(body).encode())

    def _send_page(self, status, title, body):
        self._send(status, "text/html; charset=utf-8", (
            f"<!doctype html><html><head><meta charset='utf-8'><title>Fake Bitbucket: "
            f"{html.escape(title)}</title></head><body><h1>Fake Bitbucket (test double)</h1>"
            f"<h2>{html.escape(title)}</h2>{body}</body></html>").encode())

    def _send(self, status, content_type, data):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
