"""edahub's settings: every one described once, here.

The operator's ``.env`` file, ``.env.example``, the settings table in docs/settings.md and
the validation done by both ``scripts/bootstrap.py`` and the hub's
``jupyterhub_config.py`` all come from the ``SETTINGS`` list below. A unit test fails when
``.env.example`` or the docs drift from it (regenerate them with
``python3 scripts/bootstrap.py generate-docs``).

Loading is a function call (``load_settings``), never an import-time side effect.
"""

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from .console import UserError

PREFIX = "EDAHUB_"


class SettingsError(UserError):
    """One or more settings are missing or malformed."""


# ---------------------------------------------------------------------------
# Value types: each parses the text of a value, or raises ValueError saying why.


def _text(value):
    return value


_text.describe = "text"


def _integer(low, high):
    def parse(value):
        try:
            number = int(value)
        except ValueError:
            raise ValueError("must be a whole number") from None
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}")
        return number

    parse.describe = f"integer {low}-{high}"
    return parse


def _number(low, high):
    def parse(value):
        try:
            number = float(value)
        except ValueError:
            raise ValueError("must be a number") from None
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}")
        return number

    parse.describe = f"number {low}-{high}"
    return parse


def _choice(*options):
    def parse(value):
        if value not in options:
            raise ValueError(f"must be one of: {', '.join(options)}")
        return value

    parse.describe = " | ".join(options)
    return parse


def _boolean(value):
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


_boolean.describe = "true | false"

_USERNAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def _username(value):
    if not _USERNAME.match(value):
        raise ValueError(
            "must start with a lowercase letter and contain only lowercase letters, "
            "digits, '-' and '_' (at most 32 characters)"
        )
    return value


_username.describe = "username"

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


def _docker_name(value):
    if not _NAME.match(value):
        raise ValueError(
            "must be lowercase letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    return value


_docker_name.describe = "Docker name"

_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$")


def _image(value):
    if not _IMAGE.match(value):
        raise ValueError("must be an image reference such as mariadb:11.8")
    return value


_image.describe = "image"


def _memory(value):
    if not re.match(r"^[0-9]+(\.[0-9]+)?[KMGT]?$", value):
        raise ValueError("must be a size such as 512M or 2G")
    return value


_memory.describe = "size (e.g. 2G)"


def _address(value):
    parts = value.split(".")
    if len(parts) != 4 or not all(p.isdigit() and 0 <= int(p) <= 255 for p in parts):
        raise ValueError("must be an IPv4 address such as 0.0.0.0 or 127.0.0.1")
    return value


_address.describe = "IPv4 address"


def _url(value):
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host name")
    return value.rstrip("/")


_url.describe = "URL"


def _hex_key(value):
    try:
        key = bytes.fromhex(value)
    except ValueError:
        raise ValueError("must be hexadecimal") from None
    if len(key) != 32:
        raise ValueError("must be 64 hex characters (32 bytes)")
    return value


_hex_key.describe = "64 hex characters"


def _bcrypt_hash(value):
    if not re.match(r"^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$", value):
        raise ValueError("must be a bcrypt hash ($2b$...); let bootstrap generate it")
    return value


_bcrypt_hash.describe = "bcrypt hash"


def _path(value):
    return value


_path.describe = "path"

# Secrets that bootstrap generates when they are missing.


def _random_hex(nbytes):
    def generate():
        return secrets.token_hex(nbytes)

    return generate


def _random_password():
    # Letters and digits only: safe in URLs, shells, SQL and YAML without quoting.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(32))


# ---------------------------------------------------------------------------
# The schema.


@dataclass(frozen=True)
class Setting:
    """One setting: its name in ``.env``, its type, default and meaning."""

    key: str
    group: str
    description: str
    parse: object = _text
    default: str | None = ""  # None: required, no default
    secret: bool = False
    generate: object = None  # callable that makes a value at first run
    services: tuple = ()  # compose services that receive it as an environment variable
    example: str = ""

    @property
    def attribute(self):
        """The name of the field on ``Settings``."""
        return self.key.removeprefix(PREFIX).lower()

    @property
    def type_name(self):
        """A short human description of the accepted values."""
        return getattr(self.parse, "describe", "text")


SETTINGS = (
    # Hub --------------------------------------------------------------------
    Setting(
        "EDAHUB_HUB_PORT", "Hub", "Port on the host where the hub is published.",
        _integer(1, 65535), "8000",
    ),
    Setting(
        "EDAHUB_HUB_BIND_ADDRESS", "Hub",
        "Host address the hub's port is published on. 0.0.0.0 for every interface, "
        "127.0.0.1 to reach it only from this host (e.g. behind your own reverse proxy).",
        _address, "0.0.0.0",
    ),
    Setting(
        "EDAHUB_PUBLIC_URL", "Hub",
        "The URL users type to reach edahub, e.g. https://eda.example.org. Used in "
        "messages and for OAuth callbacks; empty means http://localhost:EDAHUB_HUB_PORT.",
        _url, "", services=("hub",),
    ),
    Setting(
        "EDAHUB_LOG_LEVEL", "Hub", "Log level of the hub.",
        _choice("DEBUG", "INFO", "WARNING", "ERROR"), "INFO", services=("hub",),
    ),
    Setting(
        "EDAHUB_COOKIE_SECRET", "Hub",
        "Secret that signs the hub's login cookies (64 hex characters). Changing it logs "
        "everybody out.",
        _hex_key, None, secret=True, generate=_random_hex(32), services=("hub",),
    ),
    Setting(
        "EDAHUB_CRYPT_KEY", "Hub",
        "Key that encrypts the hub's stored authentication state (64 hex characters).",
        _hex_key, None, secret=True, generate=_random_hex(32), services=("hub",),
    ),
    Setting(
        "EDAHUB_DOCKER_GID", "Hub",
        "Group id owning the Docker socket on the host; the hub process joins this group "
        "to start users' containers. bootstrap fills it in.",
        _integer(0, 2**31 - 1), "0",
    ),
    # Login ------------------------------------------------------------------
    Setting(
        "EDAHUB_AUTH", "Login",
        "How users log in. 'native': accounts with passwords kept by the hub; people "
        "request an account at /hub/signup and an admin approves it at /hub/authorize "
        "(no open signup). 'bitbucket': Bitbucket Cloud OAuth.",
        _choice("native", "bitbucket"), "native", services=("hub",),
    ),
    Setting(
        "EDAHUB_ADMIN_USER", "Login", "Name of the first admin account.",
        _username, "admin", services=("hub",),
    ),
    Setting(
        "EDAHUB_ADMIN_PASSWORD_HASH", "Login",
        "bcrypt hash of the first admin's password (native login). bootstrap generates "
        "the password, prints it once and stores only this hash.",
        _bcrypt_hash, "", secret=True, services=("hub",),
    ),
    # Users' servers ---------------------------------------------------------
    Setting(
        "EDAHUB_NETWORK_NAME", "Users' servers",
        "Name of the Docker network shared by the hub, the databases and users' servers.",
        _docker_name, "jupyterhub", services=("hub",),
    ),
    Setting(
        "EDAHUB_USER_PREFIX", "Users' servers",
        "Prefix of users' container names ({prefix}-user-{name}) and home volumes "
        "({prefix}-home-{name}).",
        _docker_name, "edahub", services=("hub",),
    ),
    Setting(
        "EDAHUB_USER_MEM_LIMIT", "Users' servers",
        "Memory limit of each user's server (e.g. 2G); empty for no limit.",
        _memory, "2G", services=("hub",),
    ),
    Setting(
        "EDAHUB_USER_CPU_LIMIT", "Users' servers",
        "CPU limit of each user's server, in cores; 0 for no limit.",
        _number(0, 1024), "0", services=("hub",),
    ),
    Setting(
        "EDAHUB_SPAWN_TIMEOUT", "Users' servers",
        "Seconds a user's server may take to start before the spawn is reported failed.",
        _integer(10, 3600), "120", services=("hub",),
    ),
    # Images -----------------------------------------------------------------
    Setting(
        "EDAHUB_HUB_IMAGE", "Images", "Image name of the hub, built from hub/.",
        _image, "edahub-hub:0.1.0",
    ),
    Setting(
        "EDAHUB_SINGLEUSER_IMAGE", "Images",
        "Image of users' servers, built from singleuser/.",
        _image, "edahub-singleuser:0.1.0", services=("hub",),
    ),
    Setting(
        "EDAHUB_MARIADB_IMAGE", "Images",
        "MariaDB server image. Any image that behaves like the official one "
        "(MARIADB_* variables, /docker-entrypoint-initdb.d, healthcheck.sh).",
        _image, "mariadb:11.8",
    ),
    Setting(
        "EDAHUB_MONGODB_IMAGE", "Images",
        "MongoDB server image. Any image that behaves like the official one "
        "(MONGO_INITDB_* variables, /docker-entrypoint-initdb.d, mongosh).",
        _image, "mongo:8.0",
    ),
    Setting(
        "EDAHUB_BASE_IMAGE", "Images",
        "Debian base image the hub and user images are built on.",
        _image, "debian:trixie-slim",
    ),
    Setting(
        "EDAHUB_CA_BUNDLE", "Images",
        "Path to a PEM bundle of extra CA certificates, for building behind a "
        "TLS-intercepting proxy. Used at build time only, never stored in an image.",
        _path, "", example="/etc/ssl/certs/ca-certificates.crt",
    ),
    # Databases --------------------------------------------------------------
    Setting(
        "EDAHUB_MARIADB_ROOT_PASSWORD", "Databases",
        "Password of MariaDB's root account. Only the database container receives it; "
        "users never see it.",
        _text, None, secret=True, generate=_random_password,
    ),
    Setting(
        "EDAHUB_MARIADB_PROVISIONER_PASSWORD", "Databases",
        "Password of MariaDB's edahub_provisioner account, which the hub uses to create "
        "each user's database and account. Created with the database volume; changing it "
        "later needs the account's password changed too (docs/databases.md).",
        _text, None, secret=True, generate=_random_password, services=("hub", "mariadb"),
    ),
    Setting(
        "EDAHUB_MONGODB_PROVISIONER_PASSWORD", "Databases",
        "Password of MongoDB's edahub_provisioner account (see "
        "EDAHUB_MARIADB_PROVISIONER_PASSWORD).",
        _text, None, secret=True, generate=_random_password, services=("hub", "mongodb"),
    ),
    Setting(
        "EDAHUB_DB_PASSWORD_KEY", "Databases",
        "Key from which every user's database passwords are derived (64 hex characters); "
        "they are stored nowhere. Changing it rotates all of them at each user's next "
        "server start.",
        _hex_key, None, secret=True, generate=_random_hex(32), services=("hub",),
    ),
    Setting(
        "EDAHUB_SHARED_DATASETS", "Databases",
        "Give every user read-only access to a shared 'datasets' database in MariaDB and "
        "MongoDB, which admins fill.",
        _boolean, "false", services=("hub",),
    ),
    Setting(
        "EDAHUB_DELETE_USER_DATA", "Databases",
        "When an admin deletes a user in the hub, also drop their databases, database "
        "accounts and home volume. Off: the data is kept.",
        _boolean, "false", services=("hub",),
    ),
    Setting(
        "EDAHUB_MONGODB_ROOT_PASSWORD", "Databases",
        "Password of MongoDB's root account (user 'root'). Only the database container "
        "receives it; users never see it.",
        _text, None, secret=True, generate=_random_password,
    ),
)

SETTINGS_BY_KEY = MappingProxyType({s.key: s for s in SETTINGS})


@dataclass(frozen=True)
class Settings:
    """Validated settings; one attribute per entry of ``SETTINGS`` (lowercase, no prefix)."""

    values: MappingProxyType

    def __getattr__(self, name):
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def get(self, key):
        """The parsed value of the setting named ``key`` (e.g. ``EDAHUB_HUB_PORT``)."""
        return self.values[SETTINGS_BY_KEY[key].attribute]


def load_settings(environ, keys=None, read_file=Path.read_text):
    """Validate ``environ`` (a mapping of text) and return a frozen ``Settings``.

    ``keys`` limits the check to the settings a consumer needs (the hub receives only
    its own); ``None`` checks all of them and rejects unknown ``EDAHUB_`` keys. Empty
    values mean "use the default". Any secret may instead be given as ``<KEY>_FILE``, a
    path to a file holding it. Every problem is reported at once, with its fix.
    """
    selected = [SETTINGS_BY_KEY[k] for k in keys] if keys is not None else list(SETTINGS)
    problems = []
    if keys is None:
        known = set(SETTINGS_BY_KEY) | {f"{k}_FILE" for k, s in SETTINGS_BY_KEY.items() if s.secret}
        for key in sorted(environ):
            if key.startswith(PREFIX) and key not in known:
                hint = _closest(key, known)
                problems.append(
                    f"{key}: unknown setting" + (f" (did you mean {hint}?)" if hint else "")
                    + "; remove it or correct its name (see docs/settings.md)"
                )
    values = {}
    for setting in selected:
        raw = environ.get(setting.key, "")
        file_key = f"{setting.key}_FILE"
        if setting.secret and environ.get(file_key):
            if raw:
                problems.append(f"{setting.key}: set both directly and as {file_key}; keep one")
                continue
            try:
                raw = read_file(Path(environ[file_key])).strip()
            except OSError as e:
                problems.append(
                    f"{file_key}: cannot read {environ[file_key]} ({e.strerror}); "
                    "point it at a readable file holding the secret"
                )
                continue
        if raw == "":
            if setting.default is None:
                problems.append(
                    f"{setting.key}: required but not set; run `python3 scripts/bootstrap.py` "
                    "to generate it, or set it in .env"
                )
                continue
            raw = setting.default
        if raw == "" and setting.parse not in (_text, _path):
            values[setting.attribute] = None
            continue
        try:
            values[setting.attribute] = setting.parse(raw)
        except ValueError as e:
            shown = "(hidden)" if setting.secret else repr(raw)
            problems.append(f"{setting.key}={shown}: {e}")
    if problems:
        raise SettingsError(
            "invalid settings:\n  - " + "\n  - ".join(problems),
            "edit .env (or the environment) and try again; every setting is described "
            "in docs/settings.md",
        )
    return Settings(MappingProxyType(values))


def keys_for_service(service):
    """The settings that compose passes to ``service`` as environment variables."""
    return [s.key for s in SETTINGS if service in s.services]


def _closest(key, known):
    import difflib

    matches = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
    return matches[0] if matches else None
