"""The names the hub and the operator tools must agree on, defined once.

Users' containers and home volumes (DockerSpawner makes them; backup, the drop command
and the tests find them again), the label that marks a stack's users' containers, and
the database and account name each user gets in MariaDB and MongoDB (the hub provisions
them; backup selects them).

Database names. ``database_name`` maps a username to ``u_<safe part>_<hash>``: the safe
part keeps the lowercase letters and digits of the name (others become '_', at most 20
characters) so an admin recognises it, and the hash (the first 24 hex digits, 96 bits, of
the name's SHA-256) keeps two names apart: finding two usernames with the same name is
infeasible. Users created before edahub 0.2 have names with 10 hex digits (40 bits,
``legacy_database_name``), which the hub keeps for them (hub/edahub_hub/dbnames.py
records which name belongs to whom). Both forms match ``SAFE_DATABASE_NAME``, a valid
database and account name in both engines without quoting; it is used as both.
"""

import hashlib
import re
import string
import unicodedata

# --- usernames -----------------------------------------------------------------------

# The one username policy, for every login method, checked before a name is stored or
# shown anywhere: lowercase ASCII letters and digits, and '.', '-', '_' after the first
# character; at most 64. Bitbucket usernames fit it once lowercased (what the hub does).
# No whitespace, quotes, markup or control characters can reach a page, a container
# name, a volume or a database account.
USERNAME_RULE = ("1 to 64 characters: lowercase letters a-z, digits, and '.', '-' or '_' "
                 "after the first character")
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# JupyterHub's Authenticator.username_pattern, which it applies with re.match: anchored,
# with \Z (a '$' would let a trailing newline through).
USERNAME_PATTERN = rf"^{_USERNAME.pattern}\Z"


def valid_username(username):
    """True when ``username`` (already normalized, i.e. lowercased) follows the policy."""
    return isinstance(username, str) and _USERNAME.fullmatch(username) is not None


# --- users' containers and volumes ---------------------------------------------------

# Docker label on every user's container, valued with the stack's EDAHUB_USER_PREFIX.
USER_PREFIX_LABEL = "org.edahub.user-prefix"
# The labels Docker Compose puts on what it creates: the hub finds its stack's netpolicy
# container, and the operator tools the hub's state volume, by them.
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"
COMPOSE_VOLUME_LABEL = "com.docker.compose.volume"

# The command of the users' image (singleuser/Dockerfile's CMD; singleuser/edahub-singleuser).
SINGLEUSER_COMMAND = "edahub-singleuser"

# On a Docker Swarm (compose.swarm.yaml, bootstrap.py swarm): the node labels that pin each
# database to the one node that holds its data volume.
SWARM_NODE_LABELS = {"mariadb": "edahub.mariadb", "mongodb": "edahub.mongodb"}
# On a Docker Swarm: a home volume lives on one node, the one with this node label (+ the
# volume's name); the hub sets it at the home's first start, `bootstrap.py swarm move-home`
# moves it.
SWARM_HOME_LABEL_PREFIX = "edahub.home."
# Where users' homes are mounted in their servers (the users' image's HOME).
USER_HOME = "/home/jovyan"

# On a Docker Swarm with the network policy on: the container label of servers that the
# node's netpolicy agent must fence in (hub/edahub_hub/swarm_netpolicy.py), the file the agent
# writes into a server once its rules are in place, and the environment variable that makes
# the server wait for that file (seconds) before Jupyter starts (singleuser/edahub-start).
SWARM_FENCE_LABEL = "org.edahub.fence"
SWARM_FENCED_FILE = "/run/edahub-fenced"
SWARM_FENCE_WAIT_VARIABLE = "EDAHUB_FENCE_WAIT"


def container_name_template(user_prefix):
    """DockerSpawner's ``name_template`` for users' containers."""
    return f"{user_prefix}-user-{{username}}"


def home_volume_template(user_prefix):
    """DockerSpawner's volume name template for users' homes."""
    return f"{user_prefix}-home-{{username}}"


_DNS_SAFE = frozenset(string.ascii_lowercase + string.digits)


def escape_username(username):
    """``username`` as DockerSpawner 14 puts it into ``{username}`` of its templates.

    Every character but a lowercase ASCII letter or digit becomes '-' and the hex of each
    of its UTF-8 bytes (unpadded), all lowercased afterwards (escapism's escape with '-', as
    ``DockerSpawner._escape`` does). Written out here so the operator tools need no
    DockerSpawner; tests/unit/hub/test_names_match_dockerspawner.py pins the two together.
    """
    out = []
    for char in username:
        if char in _DNS_SAFE:
            out.append(char)
        else:
            # Unpadded hex, as escapism writes it: "\t" becomes "-9", not "-09".
            out.extend(f"-{byte:X}" for byte in char.encode("utf-8"))
    return "".join(out).lower()


def home_volume_name(user_prefix, username):
    """The name of ``username``'s home volume in the stack with ``user_prefix``."""
    return home_volume_template(user_prefix).format(username=escape_username(username))


def container_name(user_prefix, username):
    """The name of ``username``'s server container in the stack with ``user_prefix``."""
    return container_name_template(user_prefix).format(username=escape_username(username))


# --- databases ----------------------------------------------------------------------

USER_DATABASE_PREFIX = "u_"
SHARED_DATASETS = "datasets"  # read-only for every user when EDAHUB_SHARED_DATASETS is on
# Most connections one user's server may hold to each database: MariaDB enforces it per
# account (MAX_USER_CONNECTIONS), the network policy per container for MongoDB, which
# has no per-user limit (edahub_core/netpolicy.py).
DATABASE_CONNECTIONS_PER_USER = 30
PROVISIONER = "edahub_provisioner"  # the hub's MariaDB account
# The port of the mongodb-accounts service (hub/edahub_hub/mongodb_accounts.py).
MONGODB_ACCOUNTS_PORT = 27018
_SAFE_PART_LENGTH = 20
_HASH_LENGTH = 24
_LEGACY_HASH_LENGTH = 10
# Matched whole (``fullmatch``: a '$' anchor would let a trailing newline through).
SAFE_DATABASE_NAME = re.compile(
    rf"{USER_DATABASE_PREFIX}[a-z0-9_]{{1,{_SAFE_PART_LENGTH}}}_"
    rf"(?:[0-9a-f]{{{_HASH_LENGTH}}}|[0-9a-f]{{{_LEGACY_HASH_LENGTH}}})")


class UnsafeName(ValueError):
    """A name about to enter SQL or a MongoDB command is not a user database name."""


def database_name(username):
    """The database and account name of ``username`` in both engines."""
    return _database_name(username, _HASH_LENGTH)


def legacy_database_name(username):
    """The name edahub gave ``username``'s databases before 0.2 (40 bits of hash)."""
    return _database_name(username, _LEGACY_HASH_LENGTH)


def _database_name(username, hash_length):
    digest = hashlib.sha256(username.encode("utf-8")).hexdigest()[:hash_length]
    folded = unicodedata.normalize("NFKD", username).encode("ascii", "ignore").decode().lower()
    safe = re.sub(r"[^a-z0-9]+", "_", folded).strip("_")[:_SAFE_PART_LENGTH].strip("_") or "x"
    return require_database_name(f"{USER_DATABASE_PREFIX}{safe}_{digest}")


def require_database_name(name):
    """Return ``name`` if it is a user database name, else raise ``UnsafeName``.

    The one guard before a name is spliced into SQL: an explicit check, not an ``assert``
    (``python -O`` removes those).
    """
    if not isinstance(name, str) or not SAFE_DATABASE_NAME.fullmatch(name):
        raise UnsafeName(f"{name!r} is not a user database name")
    return name
