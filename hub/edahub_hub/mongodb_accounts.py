"""The only way the hub changes MongoDB's accounts: a small HTTP service beside MongoDB.

MongoDB cannot confine user administration to databases that match a name: a role that
may create users and grant roles in users' databases may grant itself ``root`` too. So
the hub has no MongoDB account at all. This service (compose.yaml: mongodb-accounts, at
a fixed address that root alone accepts besides MongoDB's own loopback) logs in as root
and does exactly two things, for a name that is a user's database name and nothing else:

- ``PUT /accounts/<name>`` with ``{"password": <64 hex digits>, "datasets": bool}``:
  create the account in its own database if missing, else set its password and roles:
  readWrite and dbAdmin on its own database, read on ``datasets`` when shared;
- ``DELETE /accounts/<name>``: drop the account and its database.

Each request carries ``Authorization: Bearer <EDAHUB_MONGODB_PROVISIONER_PASSWORD>``,
which only the hub has; the network policy lets no user's server reach the port
(``MONGODB_ACCOUNTS_PORT``). ``GET /health`` answers 200 while MongoDB answers root.

    python3 -m edahub_hub.mongodb_accounts          # serve
    python3 -m edahub_hub.mongodb_accounts check    # the health check
"""

import hmac
import json
import logging
import os
import re
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from edahub_core.names import (MONGODB_ACCOUNTS_PORT, SAFE_DATABASE_NAME, SHARED_DATASETS,
                               require_database_name)

log = logging.getLogger("edahub.mongodb_accounts")
PASSWORD = re.compile(r"[0-9a-f]{64}")


def roles_for(name, datasets):
    """The roles of ``name``'s account. Not dbOwner: it includes userAdmin, which would
    let users create accounts."""
    roles = [{"role": "readWrite", "db": name}, {"role": "dbAdmin", "db": name}]
    if datasets:
        roles.append({"role": "read", "db": SHARED_DATASETS})
    return roles


class Accounts:
    """What the service does, on a MongoClient logged in as root.

    ``connect`` makes that client. After a failed operation the client is made anew:
    when root's account changes (its password, or the addresses it accepts, as an upgrade
    does), MongoDB keeps refusing the connections already logged in, and only new ones
    log in again.
    """

    def __init__(self, client, connect=None):
        self.client = client
        self.connect = connect

    def reconnect(self):
        if self.connect is not None:
            old, self.client = self.client, self.connect()
            old.close()

    def ensure(self, name, password, datasets):
        db = self.client[require_database_name(name)]
        roles = roles_for(name, datasets)
        if db.command("usersInfo", name)["users"]:
            db.command("updateUser", name, pwd=password, roles=roles)
        else:
            db.command("createUser", name, pwd=password, roles=roles)

    def drop(self, name):
        db = self.client[require_database_name(name)]
        if db.command("usersInfo", name)["users"]:
            db.command("dropUser", name)
        self.client.drop_database(name)


def make_handler(accounts, token):
    """The request handler: checks the token and every value before anything is done."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "edahub-mongodb-accounts"
        sys_version = ""

        def _answer(self, status, message):
            body = json.dumps({"message": message}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _name(self):
            match = re.fullmatch(r"/accounts/([^/]+)", self.path)
            if not match or not SAFE_DATABASE_NAME.fullmatch(match[1]):
                self._answer(404, "not a user's database name")
                return None
            return match[1]

        def _authorized(self):
            given = self.headers.get("Authorization", "")
            if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return True
            self._answer(403, "not authorized")
            return False

        def _done(self, action):
            """Run ``action``; on a MongoDB error answer 503 (the hub retries) and say so."""
            try:
                action()
                return True
            except Exception as error:  # pymongo's errors, MongoDB restarting, ...
                log.error("%s %s failed: %s", self.command, self.path, error)
                accounts.reconnect()
                self._answer(503, f"MongoDB: {type(error).__name__}")
                return False

        def do_GET(self):
            if self.path != "/health":
                return self._answer(404, "no such path")
            try:
                accounts.client.admin.command("ping")
            except Exception as error:
                message = f"MongoDB does not answer root: {type(error).__name__}"
                if getattr(error, "code", None) == 18:  # authentication failed
                    message = ("MongoDB refuses root from this address; a database volume "
                               "from before edahub 0.2.1 needs `python3 scripts/bootstrap.py "
                               "upgrade` (docs/databases.md)")
                log.error("not healthy: %s", message)
                return self._answer(503, message)
            self._answer(200, "ok")

        def do_PUT(self):
            if not self._authorized() or (name := self._name()) is None:
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(min(length, 4096)) or b"{}")
                password, datasets = body["password"], body.get("datasets", False)
            except (ValueError, KeyError, TypeError):
                return self._answer(400, "expected {\"password\": ..., \"datasets\": ...}")
            if not isinstance(password, str) or not PASSWORD.fullmatch(password) \
                    or not isinstance(datasets, bool):
                return self._answer(400, "a password is 64 hex digits; datasets is true or false")
            if self._done(lambda: accounts.ensure(name, password, datasets)):
                log.info("account %s ready (datasets %s)", name, "on" if datasets else "off")
                self._answer(200, "ready")

        def do_DELETE(self):
            if not self._authorized() or (name := self._name()) is None:
                return
            if self._done(lambda: accounts.drop(name)):
                log.info("account and database %s dropped", name)
                self._answer(200, "dropped")

        def log_message(self, format, *args):  # requests are logged above, not here
            pass

    return Handler


class Server(ThreadingHTTPServer):
    # http.server listens with a backlog of 5: a burst of spawns would find it full and
    # wait out TCP's retransmission (seconds). The hub sends at most one request per spawn.
    request_queue_size = 128
    daemon_threads = True


def serve(port=MONGODB_ACCOUNTS_PORT):
    from pymongo import MongoClient

    from edahub_core.settings import SettingsError, keys_for_service, load_settings

    try:  # each secret directly or as <KEY>_FILE (a Swarm secret)
        settings = load_settings(os.environ, keys=keys_for_service("mongodb-accounts"))
    except SettingsError as error:
        sys.exit(f"edahub: mongodb-accounts cannot start: {error}")
    token = settings.mongodb_provisioner_password
    root_password = settings.mongodb_root_password
    def connect():
        return MongoClient(host="mongodb", port=27017, username="root", password=root_password,
                           authSource="admin", serverSelectionTimeoutMS=5000)

    server = Server(("0.0.0.0", port), make_handler(Accounts(connect(), connect), token))
    log.info("serving on port %d", port)
    server.serve_forever()


def check(port=MONGODB_ACCOUNTS_PORT):
    """Exit 0 when the service answers healthy (compose.yaml's health check)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return 0 if response.status == 200 else 1
    except (OSError, urllib.error.URLError) as error:
        print(f"mongodb-accounts: not healthy: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if sys.argv[1:] == ["check"]:
        sys.exit(check())
    serve()
