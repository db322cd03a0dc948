"""Which database name belongs to which user, recorded in the hub's own database.

Every user gets ``edahub_core.names.database_name``: 96 bits of the username's hash, so no
two usernames share one in practice. Users created before this record existed (edahub
0.1) have their data under the 40-bit ``legacy_database_name`` and keep it. Either way the
name is written down the first time it is given out, and never given to anyone else: a
username whose name is already someone else's is refused with an error the admin sees in
the hub's log, instead of being handed that account (provisioning resets the password of
an existing account, which would be a takeover).

Two tables in the hub's SQLite database, beside JupyterHub's own (which ignores them):
``edahub_database_names`` (username -> name, each name once) and ``edahub_meta`` (when
the record was started: users created before it are the legacy ones).
"""

from datetime import datetime, timezone

from sqlalchemy import Column, MetaData, Table, Unicode, delete, insert, select
from sqlalchemy.exc import IntegrityError

from edahub_core.errors import UserError
from edahub_core.names import database_name, legacy_database_name

_metadata = MetaData()
NAMES = Table(
    "edahub_database_names", _metadata,
    Column("username", Unicode(255), primary_key=True),
    Column("name", Unicode(64), nullable=False, unique=True),
)
META = Table(
    "edahub_meta", _metadata,
    Column("key", Unicode(64), primary_key=True),
    Column("value", Unicode(255), nullable=False),
)
STARTED = "database_names_since"


class NameTaken(UserError):
    """A username's database name already belongs to another user."""


def _naive_utc(moment):
    """``moment`` as JupyterHub stores times: naive, in UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def start_record(db_url):
    """Create the record in the hub's database if it has none (jupyterhub_config.py, at
    every hub start): users created from then on are never legacy ones."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    engine = create_engine(db_url)
    try:
        session = sessionmaker(bind=engine)()
        DatabaseNames(session)
        session.close()
    finally:
        engine.dispose()


class DatabaseNames:
    """The record, on a SQLAlchemy session of the hub's database (JupyterHub's own)."""

    def __init__(self, db):
        self.db = db
        _metadata.create_all(db.get_bind())
        if self.db.execute(select(META.c.value).where(META.c.key == STARTED)).first() is None:
            now = datetime.now(timezone.utc).replace(tzinfo=None)
            self.db.execute(insert(META).values(key=STARTED, value=now.isoformat()))
            self.db.commit()

    @property
    def started(self):
        """When the record was started (naive UTC)."""
        value = self.db.execute(select(META.c.value).where(META.c.key == STARTED)).scalar_one()
        return datetime.fromisoformat(value)

    def name_of(self, username):
        """The name recorded for ``username``, or None."""
        return self.db.execute(select(NAMES.c.name).where(NAMES.c.username == username)).scalar()

    def owner_of(self, name):
        """The username ``name`` is recorded for, or None."""
        return self.db.execute(select(NAMES.c.username).where(NAMES.c.name == name)).scalar()

    def expected_name(self, username, created):
        """The name ``username`` gets: the legacy one for a user created before the record."""
        if created is not None and _naive_utc(created) < self.started:
            return legacy_database_name(username)
        return database_name(username)

    def claim(self, username, created):
        """The name of ``username``'s databases, recorded for them if it was not yet.

        Raises ``NameTaken`` when that name is recorded for someone else.
        """
        recorded = self.name_of(username)
        if recorded:
            return recorded
        name = self.expected_name(username, created)
        owner = self.owner_of(name)
        if owner is None:
            try:
                self.db.execute(insert(NAMES).values(username=username, name=name))
                self.db.commit()
                return name
            except IntegrityError:
                self.db.rollback()
                owner = self.owner_of(name)
        raise NameTaken(
            f"the database name {name} of user {username!r} already belongs to user "
            f"{owner!r}; edahub refuses to give one user's databases to another",
            "rename one of the two users (their hub accounts), see docs/databases.md",
        )

    def forget(self, username):
        """Remove ``username``'s record (after their databases were dropped)."""
        self.db.execute(delete(NAMES).where(NAMES.c.username == username))
        self.db.commit()
