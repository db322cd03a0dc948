"""The record of users' database names (hub/edahub_hub/dbnames.py), on real SQLite."""

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from edahub_core.names import database_name, legacy_database_name
from edahub_hub.dbnames import NAMES, DatabaseNames, NameTaken, start_record


@pytest.fixture
def hub_db():
    return sessionmaker(bind=create_engine("sqlite://"))()


def test_a_new_user_gets_the_96_bit_name_and_keeps_it(hub_db):
    names = DatabaseNames(hub_db)
    now = datetime.utcnow()
    assert names.claim("alice", now) == database_name("alice")
    assert names.claim("alice", now) == database_name("alice")
    assert names.owner_of(database_name("alice")) == "alice"


def test_a_user_from_before_the_record_keeps_the_legacy_name(hub_db):
    names = DatabaseNames(hub_db)
    long_ago = names.started - timedelta(days=300)
    assert names.claim("bob", long_ago) == legacy_database_name("bob")
    assert names.claim("bob", datetime.utcnow()) == legacy_database_name("bob")  # recorded


def test_a_name_that_belongs_to_someone_else_is_never_given_out(hub_db):
    # A look-alike username whose name collides (simulated: the record says the name of
    # "mallory" belongs to "victim"): provisioning would reset the victim's password.
    names = DatabaseNames(hub_db)
    hub_db.execute(NAMES.insert().values(username="victim", name=database_name("mallory")))
    hub_db.commit()
    with pytest.raises(NameTaken) as refused:
        names.claim("mallory", datetime.utcnow())
    assert "'mallory'" in str(refused.value) and "'victim'" in str(refused.value)
    assert names.name_of("mallory") is None


def test_the_record_starts_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    start_record(url)
    session = sessionmaker(bind=create_engine(url))()
    first = DatabaseNames(session).started
    start_record(url)
    assert DatabaseNames(session).started == first


def test_a_taken_name_stops_the_spawn_before_anything_is_provisioned(
        make_spawner, fake_provisioners, hub_log, caplog):
    spawner = make_spawner("mallory")
    DatabaseNames(spawner.user.db)  # the record, as the hub started it
    spawner.user.db.execute(NAMES.insert().values(username="victim",
                                                  name=database_name("mallory")))
    spawner.user.db.commit()
    with pytest.raises(RuntimeError) as refused:
        asyncio.run(spawner.start())
    assert "belongs to another user" in str(refused.value)
    assert "victim" not in str(refused.value)  # the user is not told whose it is
    assert fake_provisioners.calls == []
    assert "already belongs to user 'victim'" in caplog.text  # the admin is
