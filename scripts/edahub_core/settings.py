"""edahub's settings: every one described once, here.

The operator's ``.env`` file, ``.env.example``, the settings table in docs/settings.md and
the validation done by both ``scripts/bootstrap.py`` and the hub's
``hub/jupyterhub_config.py`` all come from the ``SETTINGS`` list below. A unit test fails
when ``.env.example`` or the docs drift from it (regenerate them with
``python3 scripts/generate_settings_docs.py``).

Loading is a function call (``load_settings``), never an import-time side effect; it
returns a frozen ``Settings`` with one typed field per setting.
"""

import difflib
import ipaddress
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from .errors import UserError

PREFIX = "EDAHUB_"


class SettingsError(UserError):
    """One or more settings are missing or malformed."""


# ---------------------------------------------------------------------------
# Value types: each one's ``parse(text)`` returns the value or raises ValueError saying
# why; its ``describe`` is the short name of the accepted values shown in the docs.


class ValueType:
    """Base of the value types below."""

    # What a setting of this type becomes when both its value and its default are empty.
    empty = None

    def parse(self, text):
        """The value ``text`` stands for; ValueError (saying why) if it is malformed."""
        raise NotImplementedError


@dataclass(frozen=True)
class Text(ValueType):
    """Any text, kept as it is; empty stays empty."""

    describe = "text"
    empty = ""

    def parse(self, text):
        return text


@dataclass(frozen=True)
class FilePath(Text):
    """A path on this host, kept as it is (its file is checked where it is used)."""

    describe = "path"


@dataclass(frozen=True)
class Integer(ValueType):
    """A whole number from ``low`` to ``high``."""

    low: int
    high: int

    @property
    def describe(self):
        return f"integer {self.low}-{self.high}"

    def parse(self, text):
        try:
            number = int(text)
        except ValueError:
            raise ValueError("must be a whole number") from None
        if not self.low <= number <= self.high:
            raise ValueError(f"must be between {self.low} and {self.high}")
        return number


@dataclass(frozen=True)
class Number(ValueType):
    """A number (a float) from ``low`` to ``high``."""

    low: float
    high: float

    @property
    def describe(self):
        return f"number {self.low}-{self.high}"

    def parse(self, text):
        try:
            number = float(text)
        except ValueError:
            raise ValueError("must be a number") from None
        if not self.low <= number <= self.high:
            raise ValueError(f"must be between {self.low} and {self.high}")
        return number


@dataclass(frozen=True)
class Choice(ValueType):
    """One of ``options``, spelt exactly."""

    options: tuple[str, ...]

    @property
    def describe(self):
        return " | ".join(self.options)

    def parse(self, text):
        if text not in self.options:
            raise ValueError(f"must be one of: {', '.join(self.options)}")
        return text


@dataclass(frozen=True)
class Boolean(ValueType):
    """true/false, yes/no, on/off or 1/0, in any case."""

    describe = "true | false"

    def parse(self, text):
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError("must be true or false")


@dataclass(frozen=True)
class Pattern(ValueType):
    """Text that ``regex`` matches whole; ``message`` says what is expected otherwise.

    fullmatch, not ``^...$``: ``$`` also matches before a trailing newline, which would
    let "admin\\n" through.
    """

    regex: str
    describe: str
    message: str

    def parse(self, text):
        if re.fullmatch(self.regex, text) is None:
            raise ValueError(self.message)
        return text


USERNAME = Pattern(
    r"[a-z][a-z0-9_-]{0,31}", "username",
    "must start with a lowercase letter and contain only lowercase letters, digits, '-' "
    "and '_' (at most 32 characters)",
)
DOCKER_NAME = Pattern(
    r"[a-z0-9][a-z0-9_.-]{0,62}", "Docker name",
    "must be lowercase letters, digits, '_', '.' or '-', starting with a letter or digit",
)
IMAGE = Pattern(r"[a-z0-9][a-z0-9._/:@-]*", "image",
                "must be an image reference such as mariadb:11.8")
# The suffix is required: DockerSpawner reads a bare number as bytes only when it is an
# int, and refuses the text "512" when the hub starts.
SIZE = Pattern(r"[0-9]+(\.[0-9]+)?[KMGT]", "size (e.g. 2G)", "must be a size such as 512M or 2G")
LOG_SIZE = Pattern(r"[1-9][0-9]*[kmg]", "size (e.g. 10m)",
                   "must be a whole number with k, m or g, such as 10m")
BCRYPT_HASH = Pattern(r"\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}", "bcrypt hash",
                      "must be a bcrypt hash ($2b$...); let bootstrap generate it")


@dataclass(frozen=True)
class NameList(ValueType):
    """Comma-separated names that ``regex`` matches whole; parsed to a sorted tuple.

    Blank entries are dropped and duplicates removed; ``lowercase`` folds case first.
    """

    regex: str
    message: str
    lowercase: bool = False

    describe = "comma-separated list"

    def parse(self, text):
        names = [n.strip() for n in text.split(",") if n.strip()]
        bad = [n for n in names if re.fullmatch(self.regex, n) is None]
        if bad:
            raise ValueError(f"{', '.join(repr(n) for n in bad)}: {self.message}")
        return tuple(sorted({n.lower() if self.lowercase else n for n in names}))


BITBUCKET_USERNAMES = NameList(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}",
                               "must be Bitbucket usernames (letters, digits, '.', '-', '_')",
                               lowercase=True)


@dataclass(frozen=True)
class IPv4Address(ValueType):
    """Four dot-separated numbers 0-255, e.g. 127.0.0.1."""

    describe = "IPv4 address"

    def parse(self, text):
        parts = text.split(".")
        if len(parts) != 4 or not all(p.isdigit() and 0 <= int(p) <= 255 for p in parts):
            raise ValueError("must be an IPv4 address such as 0.0.0.0 or 127.0.0.1")
        return text


@dataclass(frozen=True)
class IPv4List(ValueType):
    """Comma-separated IPv4 addresses (``networks=True``: networks in CIDR form)."""

    networks: bool = False

    @property
    def describe(self):
        return "comma-separated IPv4 networks" if self.networks else "comma-separated IPv4 addresses"

    def parse(self, text):
        items = [item.strip() for item in text.split(",") if item.strip()]
        parsed = []
        for item in items:
            try:
                if self.networks:
                    parsed.append(str(ipaddress.IPv4Network(item, strict=True)))
                else:
                    parsed.append(str(ipaddress.IPv4Address(item)))
            except ValueError:
                expected = ("an IPv4 network such as 10.0.0.0/8 (no host bits set)"
                            if self.networks else "an IPv4 address such as 10.0.0.53")
                raise ValueError(f"{item!r} is not {expected}") from None
        return tuple(dict.fromkeys(parsed))


@dataclass(frozen=True)
class Profile:
    """A choice of limits a user may pick when their server starts."""

    name: str
    mem_limit: str  # e.g. 4G
    cpu_limit: float


@dataclass(frozen=True)
class ProfileList(ValueType):
    """Comma-separated ``name:memory:cores`` entries, e.g. ``large:8G:2``."""

    describe = "comma-separated name:memory:cores"

    def parse(self, text):
        profiles = []
        for entry in (e.strip() for e in text.split(",") if e.strip()):
            parts = entry.split(":")
            if (len(parts) != 3 or re.fullmatch(r"[a-z][a-z0-9-]{0,31}", parts[0]) is None
                    or re.fullmatch(SIZE.regex, parts[1]) is None
                    or re.fullmatch(r"[0-9]+(\.[0-9]+)?", parts[2]) is None
                    or not 0 < float(parts[2]) <= 1024):
                raise ValueError(f"{entry!r} is not name:memory:cores such as large:8G:2 (a "
                                 "lowercase name, a size with K, M, G or T, and 0-1024 cores)")
            profiles.append(Profile(parts[0], parts[1], float(parts[2])))
        names = [p.name for p in profiles]
        if len(set(names)) != len(names):
            raise ValueError("each profile needs a name of its own")
        return tuple(profiles)


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
NETWORK_PREFIX = Pattern(rf"{_OCTET}\.{_OCTET}", "two numbers (e.g. 172.31)",
                         "must be the first two numbers of an IPv4 address, such as 172.31")
# Private, shared, link-local (the cloud metadata address 169.254.169.254 among them),
# loopback, benchmarking, multicast and reserved ranges.
BLOCKED_BY_DEFAULT = ("0.0.0.0/8,10.0.0.0/8,100.64.0.0/10,127.0.0.0/8,169.254.0.0/16,"
                      "172.16.0.0/12,192.0.0.0/24,192.168.0.0/16,198.18.0.0/15,224.0.0.0/4,"
                      "240.0.0.0/4")


@dataclass(frozen=True)
class Url(ValueType):
    """An http:// or https:// URL with a host name; a trailing '/' is dropped."""

    describe = "URL"

    def parse(self, text):
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host name")
        return text.rstrip("/")


@dataclass(frozen=True)
class SiteUrl(ValueType):
    """scheme://host[:port] and nothing more; a trailing '/' is dropped.

    edahub is served at the root of its host: a path would not match the hub's routes or
    the OAuth callback URL derived from this value.
    """

    describe = "URL (scheme://host[:port])"

    def parse(self, text):
        parts = urlsplit(text)
        try:
            parts.port
        except ValueError:
            raise ValueError("has a malformed port") from None
        if (parts.scheme not in ("http", "https") or not parts.hostname or parts.username
                or parts.path not in ("", "/") or parts.query or parts.fragment):
            raise ValueError(
                "must be an http:// or https:// URL with a host name, an optional :port and "
                "no path, e.g. https://eda.example.org"
            )
        return text.rstrip("/")


@dataclass(frozen=True)
class HexKey(ValueType):
    """A 32-byte key written as 64 hexadecimal characters."""

    describe = "64 hex characters"

    def parse(self, text):
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise ValueError("must be hexadecimal") from None
        if len(key) != 32:
            raise ValueError("must be 64 hex characters (32 bytes)")
        return text


# Secrets that bootstrap generates when they are missing.


def _random_hex_key():
    return secrets.token_hex(32)


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
    value_type: ValueType = Text()
    default: str | None = ""  # None: required, no default
    secret: bool = False
    generate: Callable[[], str] | None = None  # makes a value at first run (bootstrap)
    services: tuple[str, ...] = ()  # compose services that receive it as an environment variable
    example: str = ""

    @property
    def attribute(self):
        """The name of the field on ``Settings``."""
        return self.key.removeprefix(PREFIX).lower()

    @property
    def type_name(self):
        """A short human description of the accepted values."""
        return self.value_type.describe

    def parse(self, text):
        """The value ``text`` stands for; ValueError (saying why) if it is malformed."""
        return self.value_type.parse(text)


SETTINGS = (
    # Hub --------------------------------------------------------------------
    Setting(
        "EDAHUB_HUB_PORT", "Hub", "Port on the host where edahub (its proxy) is published.",
        Integer(1, 65535), "8000",
    ),
    Setting(
        "EDAHUB_HUB_BIND_ADDRESS", "Hub",
        "Host address the hub's port is published on. 0.0.0.0 for every interface, "
        "127.0.0.1 to reach it only from this host (e.g. behind your own reverse proxy).",
        IPv4Address(), "0.0.0.0",
    ),
    Setting(
        "EDAHUB_PUBLIC_URL", "Hub",
        "The URL users type to reach edahub, e.g. https://eda.example.org (no path). Used "
        "in messages, for absolute redirects and secure cookies (https), and for the "
        "Bitbucket callback URL {url}/hub/oauth_callback; required with "
        "EDAHUB_AUTH=bitbucket. Empty means http://localhost:EDAHUB_HUB_PORT.",
        SiteUrl(), "", services=("hub", "proxy"),
    ),
    Setting(
        "EDAHUB_LOG_LEVEL", "Hub", "Log level of the hub.",
        Choice(("DEBUG", "INFO", "WARNING", "ERROR")), "INFO", services=("hub",),
    ),
    Setting(
        "EDAHUB_LOG_MAX_SIZE", "Hub",
        "Size at which the log of each container edahub starts (the hub, the databases, "
        "every user's server) is rotated.",
        LOG_SIZE, "10m", services=("hub",),
    ),
    Setting(
        "EDAHUB_LOG_MAX_FILES", "Hub",
        "Rotated log files kept per container: a container's logs never take more than "
        "EDAHUB_LOG_MAX_SIZE times this.",
        Integer(1, 100), "3", services=("hub",),
    ),
    Setting(
        "EDAHUB_ANNOUNCEMENT", "Hub",
        "A message shown at the top of the hub's pages, e.g. planned maintenance (HTML "
        "allowed; empty for none). Applies at the next `docker compose up -d`.",
        Text(), "", services=("hub",),
    ),
    Setting(
        "EDAHUB_COOKIE_SECRET", "Hub",
        "Secret that signs the hub's login cookies (64 hex characters). Changing it logs "
        "everybody out.",
        HexKey(), None, secret=True, generate=_random_hex_key, services=("hub",),
    ),
    Setting(
        "EDAHUB_PROXY_AUTH_TOKEN", "Hub",
        "Token with which the hub manages the proxy's routes (the proxy runs in a container "
        "of its own). Generated by bootstrap.",
        HexKey(), None, secret=True, generate=_random_hex_key, services=("hub", "proxy"),
    ),
    Setting(
        "EDAHUB_CRYPT_KEY", "Hub",
        "Key that encrypts the hub's stored authentication state (64 hex characters).",
        HexKey(), None, secret=True, generate=_random_hex_key, services=("hub",),
    ),
    Setting(
        "EDAHUB_METRICS_TOKEN", "Hub",
        "Token with which Prometheus reads /hub/metrics (the hub's `read:metrics` scope, "
        "nothing else); bootstrap generates it. See docs/operations.md for the scrape "
        "config.",
        HexKey(), None, secret=True, generate=_random_hex_key, services=("hub",),
    ),
    Setting(
        "EDAHUB_TOKEN_MAX_DAYS", "Hub",
        "Longest lifetime of an API token that a user creates, in days; a token asked for "
        "without an expiry gets this one. 0 lets tokens live for ever.",
        Integer(0, 3650), "30", services=("hub",),
    ),
    Setting(
        "EDAHUB_DOCKER_GID", "Hub",
        "Group id owning the Docker socket on the host; the hub process joins this group "
        "to start users' containers. bootstrap fills it in.",
        Integer(0, 2**31 - 1), "0",
    ),
    # Login ------------------------------------------------------------------
    Setting(
        "EDAHUB_AUTH", "Login",
        "How users log in. 'native': accounts with passwords kept by the hub; people "
        "request an account at /hub/signup and an admin approves it at /hub/authorize "
        "(no open signup). 'bitbucket': Bitbucket Cloud OAuth.",
        Choice(("native", "bitbucket")), "native", services=("hub",),
    ),
    Setting(
        "EDAHUB_ADMIN_USER", "Login",
        "Name of the first admin account (native login; with Bitbucket login the admins "
        "are EDAHUB_BITBUCKET_ADMIN_USERS).",
        USERNAME, "admin", services=("hub",),
    ),
    Setting(
        "EDAHUB_ADMIN_PASSWORD_HASH", "Login",
        "bcrypt hash of the first admin's password (native login). bootstrap generates "
        "the password, prints it once and stores only this hash.",
        BCRYPT_HASH, "", secret=True, services=("hub",),
    ),
    Setting(
        "EDAHUB_BITBUCKET_CLIENT_ID", "Login",
        "Key of the Bitbucket OAuth consumer (EDAHUB_AUTH=bitbucket). bootstrap asks for "
        "it and prints what to enter in Bitbucket's consumer form (docs/login.md).",
        Text(), "", services=("hub",),
    ),
    Setting(
        "EDAHUB_BITBUCKET_CLIENT_SECRET", "Login",
        "Secret of the Bitbucket OAuth consumer. bootstrap takes it from "
        "--bitbucket-client-secret, the environment or a hidden prompt and never prints it.",
        Text(), "", secret=True, services=("hub",),
    ),
    Setting(
        "EDAHUB_BITBUCKET_ALLOWED_USERS", "Login",
        "Bitbucket usernames allowed to log in, comma-separated. A user's hub name is their "
        "Bitbucket username.",
        BITBUCKET_USERNAMES,
        "", services=("hub",), example="alice,bob",
    ),
    Setting(
        "EDAHUB_BITBUCKET_ALLOWED_WORKSPACES", "Login",
        "Bitbucket workspaces whose members may log in, comma-separated, by workspace ID "
        "(the slug in https://bitbucket.org/<slug>/), never by display name.",
        NameList(r"[a-z0-9][a-z0-9_.-]{0,62}",
                 "must be workspace IDs (slugs) as in https://bitbucket.org/<slug>/: "
                 "lowercase letters, digits, '.', '-', '_'; not display names"),
        "", services=("hub",), example="eda-lab",
    ),
    Setting(
        "EDAHUB_BITBUCKET_ADMIN_USERS", "Login",
        "Bitbucket usernames that are hub admins (and may log in), comma-separated. This "
        "list is authoritative: removing a name removes their admin rights at the next "
        "hub start.",
        BITBUCKET_USERNAMES,
        "", services=("hub",), example="alice",
    ),
    Setting(
        "EDAHUB_BITBUCKET_ALLOW_ALL", "Login",
        "Let every Bitbucket account log in (anyone can create one). Only for a trial or "
        "a hub with nothing to protect; the allow lists above are the safe choice.",
        Boolean(), "false", services=("hub",),
    ),
    Setting(
        "EDAHUB_BITBUCKET_URL", "Login",
        "Bitbucket's web address, where browsers authorize and the hub fetches tokens "
        "(/site/oauth2/...). Change it only for testing or an HTTP proxy that mirrors "
        "Bitbucket.",
        Url(), "https://bitbucket.org", services=("hub",),
    ),
    Setting(
        "EDAHUB_BITBUCKET_API_URL", "Login",
        "Bitbucket's REST API address (/2.0/user, /2.0/user/workspaces). Change it only "
        "for testing or an HTTP proxy that mirrors Bitbucket's API.",
        Url(), "https://api.bitbucket.org", services=("hub",),
    ),
    # HTTPS ------------------------------------------------------------------
    Setting(
        "EDAHUB_TLS_CERT", "HTTPS",
        "Path on this host to the PEM certificate (with its chain) for EDAHUB_PUBLIC_URL. "
        "Set with EDAHUB_TLS_KEY to serve HTTPS on EDAHUB_HUB_PORT; mounted read-only "
        "into the hub. Empty: plain HTTP, or TLS ended by a reverse proxy in front "
        "(docs/https.md).",
        FilePath(), "", services=("hub", "proxy"), example="/srv/edahub-tls/fullchain.pem",
    ),
    Setting(
        "EDAHUB_TLS_KEY", "HTTPS",
        "Path on this host to the certificate's PEM private key. The hub runs as uid 800 "
        "and must be able to read it (e.g. `chown 800 key.pem; chmod 600 key.pem`).",
        FilePath(), "", services=("hub", "proxy"), example="/srv/edahub-tls/privkey.pem",
    ),
    Setting(
        "EDAHUB_HTTP_REDIRECT_PORT", "HTTPS",
        "Port on the host for plain HTTP, which answers with a redirect to HTTPS when "
        "EDAHUB_TLS_CERT is set (use 80 with EDAHUB_HUB_PORT=443). Published always.",
        Integer(1, 65535), "8080",
    ),
    # Users' servers ---------------------------------------------------------
    Setting(
        "EDAHUB_USER_SUBDOMAINS", "Users' servers",
        "Serve each user's server on a host of its own, <name>.<EDAHUB_PUBLIC_URL's host>, "
        "so that script in a notebook runs on the user's origin, not the hub's. Needs "
        "EDAHUB_PUBLIC_URL, wildcard DNS for *.<host> and, with HTTPS, a wildcard "
        "certificate (docs/security.md).",
        Boolean(), "false", services=("hub", "proxy"),
    ),
    Setting(
        "EDAHUB_NETWORK_NAME", "Users' servers",
        "Name of the Docker network shared by the hub, the databases and users' servers.",
        DOCKER_NAME, "jupyterhub", services=("hub",),
    ),
    Setting(
        "EDAHUB_NETWORK_PREFIX", "Users' servers",
        "The stack's network is <prefix>.0.0/16: the hub and the databases get fixed "
        "addresses in <prefix>.0.0/24, users' servers get theirs from <prefix>.128.0/17 "
        "(the network policy tells them apart so). Pick a range that no other network of "
        "the host or the LAN uses.",
        NETWORK_PREFIX, "172.31", services=("netpolicy",),
    ),
    Setting(
        "EDAHUB_NETWORK_POLICY", "Users' servers",
        "Fence users' servers in (docs/security.md): they reach the hub, the proxy, both "
        "databases, the host's DNS resolvers and, with EDAHUB_USER_INTERNET, public "
        "addresses; not each other, not the host, not EDAHUB_NETWORK_BLOCKED. Installed "
        "and kept in place by the netpolicy service. Off: no rules (and installed ones are "
        "removed). The hub starts no user's server while it is on and the rules are not "
        "in place.",
        Boolean(), "true", services=("netpolicy", "hub"),
    ),
    Setting(
        "EDAHUB_NETWORK_BLOCKED", "Users' servers",
        "Address ranges users' servers may not reach: by default every private, shared, "
        "link-local (the cloud metadata address), loopback and reserved range.",
        IPv4List(networks=True), BLOCKED_BY_DEFAULT, services=("netpolicy",),
    ),
    Setting(
        "EDAHUB_USER_INTERNET", "Users' servers",
        "Users' servers may reach public addresses (package indexes, public data). Off: "
        "only the hub, the proxy, the databases and DNS.",
        Boolean(), "true", services=("netpolicy",),
    ),
    Setting(
        "EDAHUB_NETWORK_DNS", "Users' servers",
        "The DNS resolvers users' servers may reach (Docker forwards their lookups from "
        "their own address). Empty: the host's, from /etc/resolv.conf; set it when that "
        "names only a local resolver such as 127.0.0.53.",
        IPv4List(), "", services=("netpolicy",),
    ),
    Setting(
        "EDAHUB_USER_PREFIX", "Users' servers",
        "Prefix of users' container names ({prefix}-user-{name}) and home volumes "
        "({prefix}-home-{name}).",
        DOCKER_NAME, "edahub", services=("hub",),
    ),
    Setting(
        "EDAHUB_USER_MEM_LIMIT", "Users' servers",
        "Memory limit of each user's server: a number with K, M, G or T, e.g. 512M or 2G.",
        SIZE, "2G", services=("hub",),
    ),
    Setting(
        "EDAHUB_USER_CPU_LIMIT", "Users' servers",
        "CPU limit of each user's server, in cores (e.g. 0.5, 2); 0 for no limit, which "
        "lets one user's computation slow everyone down.",
        Number(0, 1024), "1", services=("hub",),
    ),
    Setting(
        "EDAHUB_USER_PROFILES", "Users' servers",
        "Other limits a user may choose when their server starts, besides the standard "
        "EDAHUB_USER_MEM_LIMIT and EDAHUB_USER_CPU_LIMIT: comma-separated "
        "name:memory:cores, e.g. large:8G:2,gpu-free-xl:16G:4. Empty: no choice offered. "
        "Each must fit the host (bootstrap checks).",
        ProfileList(), "", services=("hub",), example="large:8G:2",
    ),
    Setting(
        "EDAHUB_USER_PIDS_LIMIT", "Users' servers",
        "Most processes and threads a user's server may run at once; stops a fork or "
        "thread bomb from exhausting the host. A server with a few kernels uses about 100.",
        Integer(64, 1_000_000), "1024", services=("hub",),
    ),
    Setting(
        "EDAHUB_USER_HOME_SIZE", "Users' servers",
        "Most a user's home may hold: a number with K, M, G or T, e.g. 10G. Empty: no "
        "limit. Needs Docker's data root on XFS mounted with project quotas (prjquota); "
        "bootstrap checks, and applies it to homes created from then on "
        "(docs/operations.md, \"Home sizes\").",
        SIZE, "", services=("hub",), example="10G",
    ),
    Setting(
        "EDAHUB_CULL_IDLE_TIMEOUT", "Users' servers",
        "Seconds without activity after which a user's server is stopped (files and "
        "databases stay; the next login starts it again). A running computation counts "
        "as activity. 0 never stops idle servers.",
        Integer(0, 30 * 24 * 3600), "3600", services=("hub",),
    ),
    Setting(
        "EDAHUB_CULL_EVERY", "Users' servers",
        "Seconds between two checks for idle servers; servers report their activity as "
        "often (at most every 300 s).",
        Integer(1, 3600), "300", services=("hub",),
    ),
    Setting(
        "EDAHUB_CULL_MAX_AGE", "Users' servers",
        "Seconds after which a server is stopped even if busy (e.g. 86400 for a day); "
        "0: no maximum age.",
        Integer(0, 365 * 24 * 3600), "0", services=("hub",),
    ),
    Setting(
        "EDAHUB_CULL_USERS", "Users' servers",
        "Also remove idle users from the hub (their data stays unless "
        "EDAHUB_DELETE_USER_DATA is on). With native login their account stays.",
        Boolean(), "false", services=("hub",),
    ),
    Setting(
        "EDAHUB_SPAWN_TIMEOUT", "Users' servers",
        "Seconds a user's server may take to start before the spawn is reported failed. "
        "In a burst of N spawns on C cores the last server starts after about N x 2.7 / C "
        "seconds (docs/operations.md, \"Bursts of spawns\"): keep this above that.",
        Integer(10, 3600), "300", services=("hub",),
    ),
    # Images -----------------------------------------------------------------
    Setting(
        "EDAHUB_HUB_IMAGE", "Images", "Image name of the hub, built from hub/.",
        IMAGE, "edahub-hub:0.2.1",
    ),
    Setting(
        "EDAHUB_SINGLEUSER_IMAGE", "Images",
        "Image of users' servers, built from singleuser/.",
        IMAGE, "edahub-singleuser:0.2.1", services=("hub",),
    ),
    Setting(
        "EDAHUB_MARIADB_IMAGE", "Images",
        "MariaDB server image. Any image that behaves like the official one "
        "(MARIADB_* variables, /docker-entrypoint-initdb.d, healthcheck.sh).",
        IMAGE, "mariadb:11.8",
    ),
    Setting(
        "EDAHUB_MONGODB_IMAGE", "Images",
        "MongoDB server image. Any image that behaves like the official one "
        "(MONGO_INITDB_* variables, /docker-entrypoint-initdb.d, mongosh).",
        IMAGE, "mongo:8.0",
    ),
    Setting(
        "EDAHUB_BASE_IMAGE", "Images",
        "Debian base image the hub and user images are built on.",
        IMAGE, "debian:trixie-slim",
    ),
    Setting(
        "EDAHUB_SINGLEUSER_JULIA", "Images",
        "Build users' servers with the Julia kernel: a pinned Julia release downloaded "
        "from julialang.org (checksum verified) with IJulia, DataFrames, MySQL.jl and "
        "Mongoc.jl. false leaves Julia out, for hosts that cannot reach Julia's servers; "
        "the Python, R and Go kernels are the same either way. Applies at the next build "
        "of the singleuser image (docs/kernels.md).",
        Boolean(), "true",
    ),
    Setting(
        "EDAHUB_SINGLEUSER_CRAN", "Images",
        "Build users' servers with the R packages Debian does not package (mongolite, "
        "R's MongoDB client), compiled from their pinned CRAN sources. false leaves them "
        "out, for hosts that cannot reach CRAN; R and its other packages come from Debian "
        "either way. Applies at the next build of the singleuser image (docs/kernels.md).",
        Boolean(), "true",
    ),
    Setting(
        "EDAHUB_CA_BUNDLE", "Images",
        "Path to a PEM bundle of extra CA certificates, for building behind a "
        "TLS-intercepting proxy. Used at build time only, never stored in an image.",
        FilePath(), "", example="/etc/ssl/certs/ca-certificates.crt",
    ),
    # Databases --------------------------------------------------------------
    Setting(
        "EDAHUB_MARIADB_ROOT_PASSWORD", "Databases",
        "Password of MariaDB's root account. Only the database container receives it; "
        "users never see it.",
        Text(), None, secret=True, generate=_random_password,
    ),
    Setting(
        "EDAHUB_MARIADB_PROVISIONER_PASSWORD", "Databases",
        "Password of MariaDB's edahub_provisioner account, which the hub uses to create "
        "each user's database and account. Created with the database volume; changing it "
        "later needs the account's password changed too (docs/databases.md).",
        Text(), None, secret=True, generate=_random_password, services=("hub", "mariadb"),
    ),
    Setting(
        "EDAHUB_MONGODB_PROVISIONER_PASSWORD", "Databases",
        "The hub's key to the mongodb-accounts service, which makes and drops users' "
        "MongoDB accounts (the hub has no MongoDB account of its own).",
        Text(), None, secret=True, generate=_random_password,
        services=("hub", "mongodb-accounts"),
    ),
    Setting(
        "EDAHUB_DB_PASSWORD_KEY", "Databases",
        "Key from which every user's database passwords are derived (64 hex characters); "
        "they are stored nowhere. Changing it rotates all of them at each user's next "
        "server start.",
        HexKey(), None, secret=True, generate=_random_hex_key, services=("hub",),
    ),
    Setting(
        "EDAHUB_SHARED_DATASETS", "Databases",
        "Give every user read-only access to a shared 'datasets' database in MariaDB and "
        "MongoDB, which admins fill.",
        Boolean(), "false", services=("hub",),
    ),
    Setting(
        "EDAHUB_DELETE_USER_DATA", "Databases",
        "When an admin deletes a user in the hub, also drop their databases, database "
        "accounts and home volume. Off: the data is kept.",
        Boolean(), "false", services=("hub",),
    ),
    Setting(
        "EDAHUB_MONGODB_ROOT_PASSWORD", "Databases",
        "Password of MongoDB's root account (user 'root'). Only the database container and "
        "mongodb-accounts, in its network namespace, receive it; users never see it.",
        Text(), None, secret=True, generate=_random_password, services=("mongodb-accounts",),
    ),
)

SETTINGS_BY_KEY = MappingProxyType({s.key: s for s in SETTINGS})


# ---------------------------------------------------------------------------
# Rules between settings: checked by bootstrap and by the hub alike (docs/settings.md
# lists them), so both refuse the same configurations with the same words.


@dataclass(frozen=True)
class Rule:
    """A rule that relates several settings; checked when all of ``keys`` are loaded."""

    keys: tuple[str, ...]
    description: str
    # check(get) -> a list of problems, each with its fix; get(key) is a parsed value.
    check: Callable[[Callable[[str], object]], list[str]]


def _bitbucket_consumer(get):
    if get("EDAHUB_AUTH") != "bitbucket":
        return []
    problems = []
    if not get("EDAHUB_BITBUCKET_CLIENT_ID"):
        problems.append(
            "EDAHUB_BITBUCKET_CLIENT_ID: required with EDAHUB_AUTH=bitbucket (the Key of "
            "your Bitbucket OAuth consumer); run `python3 scripts/bootstrap.py`, which asks "
            "for it, or set it in .env"
        )
    if not get("EDAHUB_BITBUCKET_CLIENT_SECRET"):
        problems.append(
            "EDAHUB_BITBUCKET_CLIENT_SECRET: required with EDAHUB_AUTH=bitbucket (the Secret "
            "of your Bitbucket OAuth consumer); run `python3 scripts/bootstrap.py`, which "
            "asks for it without showing it, or set it (or "
            "EDAHUB_BITBUCKET_CLIENT_SECRET_FILE) in .env"
        )
    return problems


def _bitbucket_callback(get):
    if get("EDAHUB_AUTH") == "bitbucket" and not get("EDAHUB_PUBLIC_URL"):
        return [
            "EDAHUB_PUBLIC_URL: required with EDAHUB_AUTH=bitbucket, because Bitbucket sends "
            "people back to <EDAHUB_PUBLIC_URL>/hub/oauth_callback; set it to the URL users "
            "type, e.g. https://eda.example.org"
        ]
    return []


def _bitbucket_allow_rule(get):
    if get("EDAHUB_AUTH") != "bitbucket":
        return []
    listed = [k for k in ("EDAHUB_BITBUCKET_ALLOWED_USERS", "EDAHUB_BITBUCKET_ALLOWED_WORKSPACES")
              if get(k)]
    if get("EDAHUB_BITBUCKET_ALLOW_ALL"):
        if listed:
            return [
                f"EDAHUB_BITBUCKET_ALLOW_ALL=true lets every Bitbucket account in, so "
                f"{' and '.join(listed)} would have no effect; remove one or the other"
            ]
        return []
    if not listed and not get("EDAHUB_BITBUCKET_ADMIN_USERS"):
        return [
            "EDAHUB_AUTH=bitbucket with no allow rule: nobody could log in. Set "
            "EDAHUB_BITBUCKET_ALLOWED_USERS, EDAHUB_BITBUCKET_ALLOWED_WORKSPACES or "
            "EDAHUB_BITBUCKET_ADMIN_USERS, or EDAHUB_BITBUCKET_ALLOW_ALL=true to let every "
            "Bitbucket account in"
        ]
    return []


def _tls_pair(get):
    if bool(get("EDAHUB_TLS_CERT")) != bool(get("EDAHUB_TLS_KEY")):
        return [
            "EDAHUB_TLS_CERT and EDAHUB_TLS_KEY: set both (HTTPS) or neither (plain HTTP, or "
            "TLS ended by a reverse proxy in front); see docs/https.md"
        ]
    return []


def _tls_public_url(get):
    if get("EDAHUB_TLS_CERT") and not (get("EDAHUB_PUBLIC_URL") or "").startswith("https://"):
        return [
            "EDAHUB_PUBLIC_URL: must be the https:// URL the certificate is for when "
            "EDAHUB_TLS_CERT is set, e.g. https://eda.example.org (add :port if "
            "EDAHUB_HUB_PORT is not 443)"
        ]
    return []


def _subdomains_public_url(get):
    if get("EDAHUB_USER_SUBDOMAINS") and not get("EDAHUB_PUBLIC_URL"):
        return [
            "EDAHUB_USER_SUBDOMAINS: needs EDAHUB_PUBLIC_URL, the hub's own host name (users "
            "get <name>.<that host>), e.g. https://eda.example.org with wildcard DNS and a "
            "wildcard certificate for *.eda.example.org (docs/security.md)"
        ]
    return []


RULES = (
    Rule(("EDAHUB_AUTH", "EDAHUB_BITBUCKET_CLIENT_ID", "EDAHUB_BITBUCKET_CLIENT_SECRET"),
         "`EDAHUB_AUTH=bitbucket` needs `EDAHUB_BITBUCKET_CLIENT_ID` and "
         "`EDAHUB_BITBUCKET_CLIENT_SECRET` (or `EDAHUB_BITBUCKET_CLIENT_SECRET_FILE`).",
         _bitbucket_consumer),
    Rule(("EDAHUB_AUTH", "EDAHUB_PUBLIC_URL"),
         "`EDAHUB_AUTH=bitbucket` needs `EDAHUB_PUBLIC_URL`: the callback URL is "
         "`<EDAHUB_PUBLIC_URL>/hub/oauth_callback`.",
         _bitbucket_callback),
    Rule(("EDAHUB_AUTH", "EDAHUB_BITBUCKET_ALLOWED_USERS", "EDAHUB_BITBUCKET_ALLOWED_WORKSPACES",
          "EDAHUB_BITBUCKET_ADMIN_USERS", "EDAHUB_BITBUCKET_ALLOW_ALL"),
         "`EDAHUB_AUTH=bitbucket` needs an allow rule: `EDAHUB_BITBUCKET_ALLOWED_USERS`, "
         "`EDAHUB_BITBUCKET_ALLOWED_WORKSPACES` or `EDAHUB_BITBUCKET_ADMIN_USERS`, or else "
         "`EDAHUB_BITBUCKET_ALLOW_ALL=true`, which cannot be combined with the allow lists.",
         _bitbucket_allow_rule),
    Rule(("EDAHUB_TLS_CERT", "EDAHUB_TLS_KEY"),
         "`EDAHUB_TLS_CERT` and `EDAHUB_TLS_KEY` are set together or not at all.",
         _tls_pair),
    Rule(("EDAHUB_TLS_CERT", "EDAHUB_PUBLIC_URL"),
         "With `EDAHUB_TLS_CERT`, `EDAHUB_PUBLIC_URL` is the `https://` URL the certificate "
         "is for.",
         _tls_public_url),
    Rule(("EDAHUB_USER_SUBDOMAINS", "EDAHUB_PUBLIC_URL"),
         "`EDAHUB_USER_SUBDOMAINS=true` needs `EDAHUB_PUBLIC_URL`: users' servers are at "
         "`<name>.<its host>`.",
         _subdomains_public_url),
)


def _rule_problems(parsed):
    """Problems found by the rules whose settings were all loaded and parsed.

    ``parsed`` maps each setting's key to its parsed value.
    """
    problems = []
    for rule in RULES:
        if all(key in parsed for key in rule.keys):
            problems += rule.check(parsed.get)
    return problems


# ---------------------------------------------------------------------------
# The result.


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class Settings:
    """Validated settings: one typed field per entry of ``SETTINGS``, named by its key in
    lowercase without ``EDAHUB_`` (a unit test keeps the two lists the same).

    An empty setting whose default is empty too is None, except text and paths, which
    are "". A setting that was not loaded (``load_settings(..., keys=[...])``, as the hub
    does) leaves its field unset: reading it raises AttributeError, like a misspelt name,
    rather than handing out a None that looks like an empty value.
    """

    # Hub
    hub_port: int
    hub_bind_address: str
    public_url: str | None
    log_level: str
    log_max_size: str
    log_max_files: int
    announcement: str
    cookie_secret: str
    proxy_auth_token: str
    crypt_key: str
    metrics_token: str
    token_max_days: int
    docker_gid: int
    # Login
    auth: str
    admin_user: str
    admin_password_hash: str | None
    bitbucket_client_id: str
    bitbucket_client_secret: str
    bitbucket_allowed_users: tuple[str, ...] | None
    bitbucket_allowed_workspaces: tuple[str, ...] | None
    bitbucket_admin_users: tuple[str, ...] | None
    bitbucket_allow_all: bool
    bitbucket_url: str
    bitbucket_api_url: str
    # HTTPS
    tls_cert: str
    tls_key: str
    http_redirect_port: int
    # Users' servers
    user_subdomains: bool
    network_name: str
    network_prefix: str
    network_policy: bool
    network_blocked: tuple[str, ...]
    user_internet: bool
    network_dns: tuple[str, ...] | None
    user_prefix: str
    user_mem_limit: str
    user_cpu_limit: float
    user_profiles: tuple[Profile, ...] | None
    user_pids_limit: int
    user_home_size: str | None
    cull_idle_timeout: int
    cull_every: int
    cull_max_age: int
    cull_users: bool
    spawn_timeout: int
    # Images
    hub_image: str
    singleuser_image: str
    mariadb_image: str
    mongodb_image: str
    base_image: str
    singleuser_julia: bool
    singleuser_cran: bool
    ca_bundle: str
    # Databases
    mariadb_root_password: str
    mariadb_provisioner_password: str
    mongodb_provisioner_password: str
    db_password_key: str
    shared_datasets: bool
    delete_user_data: bool
    mongodb_root_password: str

    @classmethod
    def from_values(cls, values):
        """A ``Settings`` holding ``values`` (attribute -> parsed value), which may be a
        subset: the fields of the others stay unset."""
        settings = object.__new__(cls)
        for name, value in values.items():
            # A frozen dataclass refuses setattr; this is how its own __init__ sets fields.
            object.__setattr__(settings, name, value)
        return settings

    @property
    def values(self):
        """The loaded settings as a read-only mapping from attribute name to value."""
        return MappingProxyType({f.name: getattr(self, f.name) for f in fields(self)
                                 if hasattr(self, f.name)})

    def get(self, key):
        """The parsed value of the setting named ``key`` (e.g. ``EDAHUB_HUB_PORT``).

        KeyError if ``key`` is no setting or was not loaded.
        """
        return self.values[SETTINGS_BY_KEY[key].attribute]

    def __eq__(self, other):
        if not isinstance(other, Settings):
            return NotImplemented
        return self.values == other.values

    def __repr__(self):
        secret = {s.attribute for s in SETTINGS if s.secret}
        shown = ", ".join(f"{name}={'(hidden)' if name in secret else repr(value)}"
                          for name, value in self.values.items())
        return f"Settings({shown})"


def load_settings(environ, keys=None, read_file=Path.read_text):
    """Validate ``environ`` (a mapping of text) and return a frozen ``Settings``.

    ``keys`` limits the check to the settings a consumer needs (the hub receives only
    its own; the fields of the others stay unset, see ``Settings``); ``None`` checks all
    of them and rejects unknown ``EDAHUB_`` keys. Empty values mean "use the default".
    Any secret may instead be given as ``<KEY>_FILE``, a path to a file holding it. Every
    problem is reported at once, with its fix.
    """
    selected = [SETTINGS_BY_KEY[k] for k in keys] if keys is not None else list(SETTINGS)
    problems = _unknown_keys(environ) if keys is None else []
    parsed = {}
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
        if raw == "":
            parsed[setting.key] = setting.value_type.empty
            continue
        try:
            parsed[setting.key] = setting.parse(raw)
        except ValueError as e:
            shown = "(hidden)" if setting.secret else repr(raw)
            problems.append(f"{setting.key}={shown}: {e}")
    problems += _rule_problems(parsed)
    if problems:
        raise SettingsError(
            "invalid settings:\n  - " + "\n  - ".join(problems),
            "edit .env (or the environment) and try again; every setting is described "
            "in docs/settings.md",
        )
    return Settings.from_values({SETTINGS_BY_KEY[k].attribute: v for k, v in parsed.items()})


def keys_for_service(service):
    """The settings that compose passes to ``service`` as environment variables."""
    return [s.key for s in SETTINGS if service in s.services]


def _unknown_keys(environ):
    """A problem for each ``EDAHUB_`` key in ``environ`` that is no setting."""
    known = set(SETTINGS_BY_KEY) | {f"{s.key}_FILE" for s in SETTINGS if s.secret}
    problems = []
    for key in sorted(environ):
        if key.startswith(PREFIX) and key not in known:
            hint = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
            problems.append(
                f"{key}: unknown setting" + (f" (did you mean {hint[0]}?)" if hint else "")
                + "; remove it or correct its name (see docs/settings.md)"
            )
    return problems
