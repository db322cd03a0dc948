"""A small HTTP client for the hub, acting as a person with a browser would.

It logs in through the hub's real login form (with its XSRF token), signs up and
approves accounts through NativeAuthenticator's pages, spawns servers, and talks to a
user's Jupyter server over its REST API and the kernel websocket. Every wait is bounded.
"""

import json
import secrets
import time
import uuid
from urllib.parse import quote, urljoin, urlsplit

import requests


def escaped(name):
    """A username as JupyterHub puts it in URL paths."""
    return quote(name, safe="@~")


class HubError(AssertionError):
    """The hub answered something other than what the step needs."""


class HubSession:
    """One person's browser session with the hub at ``base_url`` (e.g. http://127.0.0.1:8000)."""

    def __init__(self, base_url, username, timeout=30, verify=True):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.timeout = timeout
        self.http = requests.Session()
        # The proxy (Node's HTTP server) closes idle keep-alive connections after 5 s; a
        # request sent on one just as it closes fails before reaching the server
        # (RemoteDisconnected). Send it again on a new connection.
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        retry = Retry(total=2, connect=2, read=2, status=0, other=0, allowed_methods=None,
                      raise_on_status=False)
        for scheme in ("http://", "https://"):
            self.http.mount(scheme, HTTPAdapter(max_retries=retry))
        self.http.verify = verify  # True, or a CA file (an HTTPS test stack's own CA)
        # Else REQUESTS_CA_BUNDLE from the environment would replace that CA file.
        self.http.trust_env = verify is True

    def url(self, path):
        return urljoin(self.base_url + "/", path.lstrip("/"))

    def get(self, path, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return self.http.get(self.url(path), **kwargs)

    def cookie(self, name, path="/hub/"):
        """The cookie ``name`` whose path covers ``path`` (the hub and each server set their own)."""
        matches = [c for c in self.http.cookies if c.name == name and path.startswith(c.path)]
        matches.sort(key=lambda c: len(c.path), reverse=True)
        return matches[0].value if matches else None

    def _xsrf(self, page):
        response = self.get(page)
        token = self.cookie("_xsrf", page)
        if response.status_code != 200 or not token:
            raise HubError(f"GET {page}: {response.status_code}, no _xsrf cookie")
        return token

    def post_form(self, path, data, page=None, **kwargs):
        """POST a form the way the page at ``page`` (default ``path``) would."""
        token = self._xsrf(page or path)
        kwargs.setdefault("timeout", self.timeout)
        return self.http.post(self.url(path), data={**data, "_xsrf": token}, **kwargs)

    # --- NativeAuthenticator pages ------------------------------------------------
    def sign_up(self, password):
        """Ask for an account at /hub/signup; returns the response page's text."""
        response = self.post_form(
            "/hub/signup",
            {"username": self.username, "signup_password": password,
             "signup_password_confirmation": password},
        )
        if response.status_code != 200:
            raise HubError(f"signup of {self.username}: HTTP {response.status_code}")
        return response.text

    def log_in(self, password):
        """Log in through the login form; True when the hub accepted the password."""
        response = self.post_form(
            "/hub/login", {"username": self.username, "password": password},
            allow_redirects=False,
        )
        return response.status_code == 302 and self.cookie("jupyterhub-session-id") is not None

    # --- OAuth login (Bitbucket) ------------------------------------------------------
    def log_in_with_oauth(self, grant):
        """Log in with the hub's OAuth button; returns the hub's answer to the callback.

        ``grant(http, page)`` plays the person at the provider's page (the response
        that the redirects from /hub/oauth_login ended on) and returns the provider's
        redirect back to the hub, unfollowed. A 302 with a session cookie is a login.
        """
        page = self.get("/hub/oauth_login", allow_redirects=True)
        if page.status_code != 200:
            raise HubError(f"/hub/oauth_login led to HTTP {page.status_code} at {page.url}")
        back = grant(self.http, page)
        if back.status_code not in (302, 303):
            raise HubError(f"the provider answered {back.status_code}, not a redirect")
        return self.http.get(back.headers["Location"], allow_redirects=False,
                             timeout=self.timeout)

    def authorize(self, other):
        """As an admin: approve ``other``'s account request with its button at /hub/authorize."""
        response = self.change_account("authorize", other)
        if response.status_code != 200:
            raise HubError(f"authorize {other}: HTTP {response.status_code}")

    def change_account(self, action, other):
        """As an admin: press ``action``'s button ("authorize" or "discard") for ``other``
        at /hub/authorize (a POST with the page's XSRF token); the response, redirects
        followed."""
        return self.post_form(f"/hub/{action}/{escaped(other)}", {}, page="/hub/authorize",
                              allow_redirects=True)

    # --- hub REST API, as the logged-in user ----------------------------------------
    def api(self, method, path, **kwargs):
        token = self.cookie("_xsrf", "/hub/api/") or self._xsrf("/hub/home")
        kwargs.setdefault("timeout", self.timeout)
        headers = {"X-XSRFToken": token, **kwargs.pop("headers", {})}
        return self.http.request(method, self.url("/hub/api" + path), headers=headers, **kwargs)

    def start_server(self, timeout=180):
        """Start this user's server and wait until it is ready; returns seconds taken."""
        started = time.monotonic()
        response = self.api("POST", f"/users/{escaped(self.username)}/server")
        if response.status_code not in (201, 202, 400):
            raise HubError(f"start server: HTTP {response.status_code}: {response.text[:300]}")
        self.wait_for_server(ready=True, timeout=timeout)
        return time.monotonic() - started

    def stop_server(self, timeout=120):
        response = self.api("DELETE", f"/users/{escaped(self.username)}/server")
        if response.status_code not in (202, 204, 400):
            raise HubError(f"stop server: HTTP {response.status_code}: {response.text[:300]}")
        self.wait_for_server(ready=False, timeout=timeout)

    def server_model(self):
        response = self.api("GET", f"/users/{escaped(self.username)}")
        if response.status_code != 200:
            raise HubError(f"GET user {self.username}: HTTP {response.status_code}")
        return response.json().get("servers", {}).get("")

    def wait_for_server(self, ready, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.server_model()
            if ready and model and model.get("ready"):
                return model
            if not ready and not model:
                return None
            time.sleep(0.5)
        raise HubError(f"{self.username}'s server not {'ready' if ready else 'stopped'} "
                       f"after {timeout}s: {self.server_model()}")

    # --- the user's Jupyter server ------------------------------------------------------
    def open_server(self, owner=None):
        """GET the user's JupyterLab, following the OAuth redirects; returns the response."""
        owner = owner or self.username
        return self.get(f"/user/{escaped(owner)}/lab", allow_redirects=True)

    def server_api(self, method, path, owner=None, **kwargs):
        owner = owner or self.username
        token = self.cookie("_xsrf", f"/user/{escaped(owner)}/api/")
        headers = {"X-XSRFToken": token or "", **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", self.timeout)
        return self.http.request(method, self.url(f"/user/{escaped(owner)}/api{path}"),
                                 headers=headers, **kwargs)

    def execute(self, code, kernel_name="python3", timeout=120):
        """Run ``code`` in a new kernel over the websocket; returns a KernelResult."""
        response = self.server_api("POST", "/kernels", json={"name": kernel_name})
        if response.status_code != 201:
            raise HubError(f"start kernel {kernel_name}: HTTP {response.status_code}: "
                           f"{response.text[:300]}")
        kernel_id = response.json()["id"]
        try:
            return self._execute_on(kernel_id, code, timeout)
        finally:
            self.server_api("DELETE", f"/kernels/{kernel_id}")

    def _execute_on(self, kernel_id, code, timeout):
        import websocket

        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        url = f"{scheme}://{parts.netloc}/user/{escaped(self.username)}/api/kernels/{kernel_id}/channels"
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        sslopt = {"ca_certs": self.http.verify} if isinstance(self.http.verify, str) else None
        ws = websocket.create_connection(url, cookie=cookie, timeout=timeout,
                                         origin=self.base_url, sslopt=sslopt)
        try:
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps({
                "header": {"msg_id": msg_id, "username": self.username, "session": uuid.uuid4().hex,
                           "msg_type": "execute_request", "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell",
                "content": {"code": code, "silent": False, "store_history": False,
                            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
            }))
            result = KernelResult()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                message = json.loads(ws.recv())
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                result.add(message)
                if result.reply is not None and result.idle:
                    return result
            raise HubError(f"no complete reply to execute_request within {timeout}s: {result}")
        finally:
            ws.close()


def log_in_as(base_url, username, password, trust_env=True):
    """A HubSession of ``username``, logged in with ``password`` (asserted)."""
    session = HubSession(base_url, username)
    session.http.trust_env = trust_env
    assert session.log_in(password), f"{username} could not log in"
    return session


def user_maker(base_url, admin, trust_env=True):
    """make(name) -> a logged-in HubSession of an approved account, made the way people
    are (sign-up, ``admin``'s approval, login); the same session for the same name.
    ``trust_env=False``: no HTTP proxy from the environment, whatever it says."""
    made = {}

    def make(name):
        if name not in made:
            password = "pw-" + secrets.token_hex(8)
            session = HubSession(base_url, name)
            session.http.trust_env = trust_env
            session.sign_up(password)
            admin.authorize(name)
            assert session.log_in(password), f"{name} could not log in after approval"
            session.password = password
            made[name] = session
        return made[name]

    return make


def stop_every_server(admin, timeout=120):
    """Stop every user's server of the stack (for the disruptive tests that need that)."""
    running = [u["name"] for u in admin.api("GET", "/users").json() if u.get("servers")]
    for name in running:
        response = admin.api("DELETE", f"/users/{escaped(name)}/server")
        assert response.status_code in (202, 204), f"stopping {name}: HTTP {response.status_code}"
    deadline = time.monotonic() + timeout
    while running and time.monotonic() < deadline:
        running = [u["name"] for u in admin.api("GET", "/users").json() if u.get("servers")]
        time.sleep(0.5)
    assert not running, f"servers still running after {timeout}s: {running}"


class KernelResult:
    """What one execute_request produced: streams, results, display data, error, reply."""

    def __init__(self):
        self.messages = []
        self.reply = None
        self.idle = False

    def add(self, message):
        self.messages.append(message)
        kind = message["header"]["msg_type"]
        if kind == "execute_reply":
            self.reply = message["content"]
        elif kind == "status" and message["content"].get("execution_state") == "idle":
            self.idle = True

    def of_type(self, kind):
        return [m["content"] for m in self.messages if m["header"]["msg_type"] == kind]

    @property
    def stdout(self):
        return "".join(c["text"] for c in self.of_type("stream") if c["name"] == "stdout")

    @property
    def results(self):
        return [c["data"] for c in self.of_type("execute_result")]

    @property
    def displays(self):
        return [c["data"] for c in self.of_type("display_data")]

    @property
    def error(self):
        errors = self.of_type("error")
        return errors[0] if errors else None

    def __repr__(self):
        return f"KernelResult(reply={self.reply}, messages={len(self.messages)})"
