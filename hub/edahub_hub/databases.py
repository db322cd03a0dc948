"""Each user's own MariaDB and MongoDB database and account.

Names come from ``edahub_core.names`` (``database_name``: ``u_<safe part>_<hash>``),
shared with the operator tools.

Passwords are derived, never stored: HMAC-SHA256(EDAHUB_DB_PASSWORD_KEY, engine + ":" +
username) in hex. They are the same after every restart, and changing the key rotates
all of them: the next spawn sets the new one.

Provisioning runs before each spawn and is idempotent: the database and account are
created when missing; an existing database is never touched; the password is reset to
the derived one (that is how a key rotation takes effect); read access to the shared
``datasets`` database follows EDAHUB_SHARED_DATASETS, granted or revoked.
"""

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from edahub_core.names import (DATABASE_CONNECTIONS_PER_USER, MONGODB_ACCOUNTS_PORT,
                               PROVISIONER, SHARED_DATASETS, database_name,
                               require_database_name)

MARIADB_HOST = "mariadb"
MARIADB_PORT = 3306
MONGODB_HOST = "mongodb"
MONGODB_PORT = 27017
NO_SUCH_GRANT = 1141  # MariaDB's ER_NONEXISTING_GRANT
NO_SUCH_PROCEDURE = 1305  # ER_SP_DOES_NOT_EXIST
# The procedures the provisioning account may call, and nothing else
# (mariadb/initdb.d/05-edahub-provisioning.sql).
ENSURE_ACCOUNT = "CALL `edahub_admin`.`ensure_account`(%s, %s, %s)"
DROP_ACCOUNT = "CALL `edahub_admin`.`drop_account`(%s)"


def grant_pattern(name):
    """``name`` as a MariaDB grant's database pattern that matches only itself."""
    return name.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


def derive_password(key_hex, engine, username):
    """The password of ``username``'s account in ``engine`` ("mariadb" or "mongodb")."""
    message = f"{engine}:{username}".encode("utf-8")
    return hmac.new(bytes.fromhex(key_hex), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Credentials:
    """One user's accounts in both engines."""

    name: str
    mariadb_password: str
    mongodb_password: str

    def environment(self):
        """Environment variables for the user's server, with the clients' usual names."""
        mariadb_url = (f"mysql+pymysql://{self.name}:{self.mariadb_password}"
                       f"@{MARIADB_HOST}:{MARIADB_PORT}/{self.name}")
        mongodb_uri = (f"mongodb://{self.name}:{self.mongodb_password}@{MONGODB_HOST}:"
                       f"{MONGODB_PORT}/{self.name}?authSource={self.name}")
        return {
            "MARIADB_HOST": MARIADB_HOST,
            "MARIADB_PORT": str(MARIADB_PORT),
            "MARIADB_DATABASE": self.name,
            "MARIADB_USER": self.name,
            "MARIADB_PASSWORD": self.mariadb_password,
            "MARIADB_URL": mariadb_url,
            "DATABASE_URL": mariadb_url,
            "MONGODB_HOST": MONGODB_HOST,
            "MONGODB_PORT": str(MONGODB_PORT),
            "MONGODB_DATABASE": self.name,
            "MONGODB_USER": self.name,
            "MONGODB_PASSWORD": self.mongodb_password,
            "MONGODB_URI": mongodb_uri,
        }


def credentials_for(username, key_hex, name=None):
    """``username``'s database name (``name``, else ``database_name``) and derived passwords."""
    return Credentials(
        name=name or database_name(username),
        mariadb_password=derive_password(key_hex, "mariadb", username),
        mongodb_password=derive_password(key_hex, "mongodb", username),
    )


def is_connection_error(error):
    """True for errors that mean "not reachable yet", worth retrying; not for refusals."""
    args = getattr(error, "args", None) or (None,)
    code = args[0]
    if type(error).__module__.startswith("pymysql") and code in (2002, 2003, 2006, 2013):
        return True
    if isinstance(error, ConnectionError):  # the MongoDB accounts service, not up yet
        return True
    from pymongo.errors import ConnectionFailure

    return isinstance(error, ConnectionFailure)


def retry(action, what, attempts=10, delay=1.0, log=None):
    """Call ``action``, retrying while the database is not reachable (it may be starting)."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as error:  # each driver has its own error classes
            if attempt == attempts or not is_connection_error(error):
                raise
            if log:
                log.warning("%s: cannot connect yet (%s); retrying (%d/%d)", what,
                            type(error).__name__, attempt, attempts)
            time.sleep(delay)


class MariaDBProvisioner:
    """Creates and drops users' databases with the least-privileged provisioning account.

    The account can only call edahub's procedures, which do exactly this for a user's
    database name. A database volume from before edahub 0.2.1 has no procedures until
    `bootstrap.py upgrade` adds them; until then the account still has its old rights and
    the same statements run directly (``legacy`` is then True, for the hub's log).
    """

    legacy = False

    def __init__(self, password, host=MARIADB_HOST, port=MARIADB_PORT):
        self.password = password
        self.host = host
        self.port = port

    def _connect(self):
        import pymysql

        return pymysql.connect(host=self.host, port=self.port, user=PROVISIONER,
                               password=self.password, connect_timeout=5, autocommit=True)

    def _call(self, cur, statement, args):
        """Run a procedure call; False if this volume has no procedures yet."""
        import pymysql

        try:
            cur.execute(statement, args)
            return True
        except pymysql.err.MySQLError as error:
            if not error.args or error.args[0] != NO_SUCH_PROCEDURE:
                raise
            self.legacy = True
            return False

    def ensure(self, creds, shared_datasets=False):
        """Create ``creds.name``'s database and account if missing; set its password."""
        name = require_database_name(creds.name)
        with self._connect() as conn, conn.cursor() as cur:
            if self._call(cur, ENSURE_ACCOUNT, (name, creds.mariadb_password,
                                                bool(shared_datasets))):
                return
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{name}`")
            cur.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s "
                        f"WITH MAX_USER_CONNECTIONS {DATABASE_CONNECTIONS_PER_USER}",
                        (creds.name, creds.mariadb_password))
            cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (creds.name, creds.mariadb_password))
            # '_' is a wildcard in a grant's database name: escaped, the grant covers
            # exactly this database, not "u_alice_x" look-alikes such as "u alice x".
            self._revoke_quietly(cur, f"REVOKE ALL PRIVILEGES ON `{name}`.* FROM %s@'%%'", name)
            cur.execute(f"GRANT ALL PRIVILEGES ON `{grant_pattern(name)}`.* TO %s@'%%'", (name,))
            if shared_datasets:
                cur.execute(f"GRANT SELECT ON `{SHARED_DATASETS}`.* TO %s@'%%'", (name,))
            else:
                # The setting may have been switched off: take the access back at this spawn.
                self._revoke_datasets(cur, name)

    @classmethod
    def _revoke_datasets(cls, cur, name):
        cls._revoke_quietly(cur, f"REVOKE SELECT ON `{SHARED_DATASETS}`.* FROM %s@'%%'", name)

    @staticmethod
    def _revoke_quietly(cur, statement, name):
        """Run a REVOKE of ``name``'s; a grant that was never made is fine."""
        import pymysql

        try:
            cur.execute(statement, (name,))
        except pymysql.err.MySQLError as error:
            if not error.args or error.args[0] != NO_SUCH_GRANT:
                raise

    def drop(self, name):
        """Drop the database and account ``name`` (an admin's explicit request)."""
        require_database_name(name)
        with self._connect() as conn, conn.cursor() as cur:
            if self._call(cur, DROP_ACCOUNT, (name,)):
                return
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute("DROP USER IF EXISTS %s@'%%'", (name,))


class MongoDBProvisioner:
    """The same for MongoDB, through the mongodb-accounts service (mongodb_accounts.py).

    A user's account lives in their own database, with readWrite and dbAdmin on it. The
    hub holds no MongoDB account: the service does this one job as root beside MongoDB,
    for requests that carry ``password`` (EDAHUB_MONGODB_PROVISIONER_PASSWORD).
    """

    def __init__(self, password, host="mongodb-accounts", port=MONGODB_ACCOUNTS_PORT):
        self.password = password
        self.url = f"http://{host}:{port}/accounts/"

    def _request(self, method, name, body=None):
        import urllib.error
        import urllib.request

        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + name, data=data, method=method,
            headers={"Authorization": f"Bearer {self.password}",
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30):
                return
        except urllib.error.HTTPError as error:
            try:
                message = json.loads(error.read())["message"]
            except (ValueError, KeyError):
                message = error.reason
            if error.code == 503:  # MongoDB itself not answering (yet): worth retrying
                raise ConnectionError(f"MongoDB's accounts service: {message}") from None
            raise RuntimeError(f"MongoDB's accounts service refused {method} {name}: "
                               f"HTTP {error.code} {message}") from None
        except urllib.error.URLError as error:  # not reachable (yet): worth retrying
            raise ConnectionError(f"MongoDB's accounts service: {error.reason}") from None

    def ensure(self, creds, shared_datasets=False):
        """Create ``creds.name``'s account (in its own database) if missing; set its password."""
        name = require_database_name(creds.name)
        self._request("PUT", name, {"password": creds.mongodb_password,
                                    "datasets": bool(shared_datasets)})

    def drop(self, name):
        """Drop the account and database ``name``."""
        self._request("DELETE", require_database_name(name))
