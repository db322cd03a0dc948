"""The operator's password reset (hub/edahub_hub/admin.py), on a real SQLite database."""

import pytest
from nativeauthenticator.orm import UserInfo
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from edahub_hub import admin


@pytest.fixture
def hub_db_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}"
    engine = create_engine(url)
    UserInfo.metadata.create_all(engine, tables=[UserInfo.__table__])
    engine.dispose()
    return url


def account(url, name):
    engine = create_engine(url)
    try:
        return sessionmaker(bind=engine)().query(UserInfo).filter_by(username=name).first()
    finally:
        engine.dispose()


def test_a_reset_gives_a_new_password_and_approves_the_account(hub_db_url):
    engine = create_engine(hub_db_url)
    db = sessionmaker(bind=engine)()
    db.add(UserInfo(username="admin", password=b"$2b$04$" + b"x" * 53, is_authorized=False))
    db.commit()
    engine.dispose()
    password = admin.reset_password("admin", db_url=hub_db_url)
    info = account(hub_db_url, "admin")
    assert info.is_authorized and info.is_valid_password(password)
    assert len(password) == 20 and password not in str(info.password)


def test_a_missing_admin_account_is_created(hub_db_url):
    password = admin.reset_password("boss", db_url=hub_db_url)
    assert account(hub_db_url, "boss").is_valid_password(password)


def test_the_command_refuses_bitbucket_hubs_and_bad_names(monkeypatch, capsys):
    monkeypatch.setenv("EDAHUB_AUTH", "bitbucket")
    assert admin.main(["reset-password", "admin"]) == 1
    assert "keeps no passwords" in capsys.readouterr().err
    monkeypatch.setenv("EDAHUB_AUTH", "native")
    assert admin.main(["reset-password", "x\tonfocus=1"]) == 1
    assert "not a valid username" in capsys.readouterr().err


def test_the_command_prints_the_password_once(monkeypatch, capsys, hub_db_url):
    monkeypatch.setenv("EDAHUB_AUTH", "native")
    monkeypatch.setenv("EDAHUB_ADMIN_USER", "chief")
    monkeypatch.setattr(admin, "HUB_DB_URL", hub_db_url)
    monkeypatch.setattr(admin.reset_password, "__defaults__", (hub_db_url, None))
    assert admin.main(["reset-password"]) == 0
    out = capsys.readouterr().out
    password = out.split("New password for 'chief': ")[1].split()[0]
    assert account(hub_db_url, "chief").is_valid_password(password)


def test_the_running_hub_sees_a_reset_at_once(tmp_path):
    # The hub's session keeps accounts it has loaded; the command writes from another
    # process. The next login must check the new password, not a cached one.
    from edahub_hub.auth import FirstRunAuthenticator

    url = f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}"
    engine = create_engine(url)
    UserInfo.metadata.create_all(engine, tables=[UserInfo.__table__])
    hub_db = sessionmaker(bind=engine, expire_on_commit=False)()
    import bcrypt

    hub_db.add(UserInfo(username="ravi", is_authorized=True,
                        password=bcrypt.hashpw(b"old password 123", bcrypt.gensalt(rounds=4))))
    hub_db.commit()
    authenticator = FirstRunAuthenticator(db=hub_db, admin_users=set())
    loaded = authenticator.get_user("ravi")  # the hub holds accounts it has loaded
    assert loaded.is_valid_password("old password 123")
    new = admin.reset_password("ravi", db_url=url)
    info = authenticator.get_user("ravi")
    assert info.is_valid_password(new) and not info.is_valid_password("old password 123")
    engine.dispose()
