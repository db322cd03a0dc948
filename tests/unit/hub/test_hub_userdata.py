"""Dropping a user's data (hub/edahub_hub/userdata.py): the function and the admin command."""

import pytest

from edahub_core.errors import UserError
from edahub_core.names import database_name, home_volume_name
from edahub_hub.userdata import drop_user_data, main

USERNAME = "o'brien"
PASSWORDS = {"mariadb_password": "mariadb-provisioner-pw",
             "mongodb_password": "mongodb-provisioner-pw"}


@pytest.fixture
def provisioner_environment(monkeypatch, tmp_path):
    """The hub container's environment, as compose gives it to the drop command, and the
    hub's database (JupyterHub's tables and the record of database names)."""
    import edahub_hub
    from jupyterhub import orm
    from sqlalchemy import create_engine

    url = f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}"
    engine = create_engine(url)
    orm.Base.metadata.create_all(engine)
    engine.dispose()
    monkeypatch.setattr(edahub_hub, "HUB_DB_URL", url)
    monkeypatch.setenv("EDAHUB_MARIADB_PROVISIONER_PASSWORD", "mariadb-provisioner-pw")
    monkeypatch.setenv("EDAHUB_MONGODB_PROVISIONER_PASSWORD", "mongodb-provisioner-pw")
    monkeypatch.delenv("EDAHUB_USER_PREFIX", raising=False)


def test_drop_removes_both_databases_and_the_home_volume(fake_provisioners, fake_docker):
    fake_docker.existing.add("edahub-home-o-27brien")

    removed = drop_user_data(USERNAME, volume="edahub-home-o-27brien", docker_client=fake_docker,
                             **PASSWORDS)

    name = database_name(USERNAME)
    assert fake_provisioners.summary() == [("mariadb", "drop"), ("mongodb", "drop")]
    assert [(c.password, c.argument) for c in fake_provisioners.calls] == [
        ("mariadb-provisioner-pw", name), ("mongodb-provisioner-pw", name)]
    assert fake_docker.removed == ["edahub-home-o-27brien"]
    assert removed == [f"MariaDB database and account {name}",
                       f"MongoDB database and account {name}",
                       "home volume edahub-home-o-27brien"]


def test_a_volume_already_gone_is_not_an_error(fake_provisioners, fake_docker):
    removed = drop_user_data(USERNAME, volume="edahub-home-o-27brien", docker_client=fake_docker,
                             **PASSWORDS)
    assert len(fake_provisioners.calls) == 2
    assert not any("volume" in item for item in removed)


def test_a_volume_in_use_is_a_user_error_not_an_exit(fake_provisioners, fake_docker):
    fake_docker.in_use.add("edahub-home-o-27brien")

    with pytest.raises(UserError) as raised:  # a SystemExit would fail this test
        drop_user_data(USERNAME, volume="edahub-home-o-27brien", docker_client=fake_docker,
                       **PASSWORDS)

    assert "cannot remove edahub-home-o-27brien" in raised.value.what
    assert "volume is in use" in raised.value.what
    assert "stop the user's server first" in raised.value.fix
    assert fake_docker.removed == []


def test_the_command_does_nothing_without_yes(fake_provisioners, fake_docker,
                                              provisioner_environment, capsys):
    assert main(["drop", USERNAME]) == 1

    assert "Add --yes" in capsys.readouterr().err
    assert fake_provisioners.calls == []
    assert fake_docker.clients_made == 0


def test_the_command_reports_a_volume_in_use_and_fails(fake_provisioners, fake_docker,
                                                       provisioner_environment, capsys):
    fake_docker.in_use.add("edahub-home-o-27brien")

    assert main(["drop", USERNAME, "--yes"]) == 1

    out, err = capsys.readouterr()
    assert err.startswith("error: cannot remove edahub-home-o-27brien: ")
    assert "How to fix: stop the user's server first" in err
    assert "Traceback" not in err
    assert "removed home volume" not in out


def test_the_command_drops_the_volume_of_the_stacks_prefix(fake_provisioners, fake_docker,
                                                           provisioner_environment,
                                                           monkeypatch, capsys):
    monkeypatch.setenv("EDAHUB_USER_PREFIX", "lab")
    volume = home_volume_name("lab", USERNAME)
    fake_docker.existing.update({volume, home_volume_name("edahub", USERNAME)})

    assert main(["drop", USERNAME, "--yes"]) == 0

    assert fake_docker.removed == [volume]
    assert [c.password for c in fake_provisioners.calls] == [
        "mariadb-provisioner-pw", "mongodb-provisioner-pw"]
    assert capsys.readouterr().out.splitlines() == [
        f"removed MariaDB database and account {database_name(USERNAME)}",
        f"removed MongoDB database and account {database_name(USERNAME)}",
        f"removed home volume {volume}",
    ]


def test_the_command_drops_the_recorded_name_and_forgets_it(fake_provisioners, fake_docker,
                                                           provisioner_environment, capsys):
    import edahub_hub
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from edahub_core.names import legacy_database_name
    from edahub_hub.dbnames import NAMES, DatabaseNames

    engine = create_engine(edahub_hub.HUB_DB_URL)
    session = sessionmaker(bind=engine)()
    names = DatabaseNames(session)
    session.execute(NAMES.insert().values(username=USERNAME, name=legacy_database_name(USERNAME)))
    session.commit()

    assert main(["drop", USERNAME, "--yes"]) == 0
    assert {c.argument for c in fake_provisioners.calls} == {legacy_database_name(USERNAME)}
    assert names.name_of(USERNAME) is None
    engine.dispose()
