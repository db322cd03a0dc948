"""Creating and completing .env: generated secrets, kept values, mode, atomicity."""

import os
import stat

import pytest
from dotenv import dotenv_values

from edahub import envfile
from edahub_core.settings import SETTINGS, SettingsError, load_settings

GENERATED = [s.key for s in SETTINGS if s.generate]


def test_new_file_has_generated_secrets_and_mode_0600(tmp_path):
    path = tmp_path / ".env"
    values, added = envfile.ensure_env_file(path, validate=load_settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(added) == sorted(GENERATED)
    for key in GENERATED:
        assert len(values[key]) >= 32
    assert values["EDAHUB_COOKIE_SECRET"] != values["EDAHUB_CRYPT_KEY"]
    load_settings(values)  # the result is a valid configuration


def test_each_new_file_gets_new_secrets(tmp_path):
    first, _ = envfile.ensure_env_file(tmp_path / "a.env")
    second, _ = envfile.ensure_env_file(tmp_path / "b.env")
    for key in GENERATED:
        assert first[key] != second[key]


def test_existing_values_are_never_overwritten(tmp_path):
    path = tmp_path / ".env"
    path.write_text("# my notes\nEDAHUB_HUB_PORT=8123\nEDAHUB_MARIADB_ROOT_PASSWORD='mine'\n")
    values, added = envfile.ensure_env_file(path, {"EDAHUB_HUB_PORT": "9999"})
    assert values["EDAHUB_HUB_PORT"] == "8123"
    assert values["EDAHUB_MARIADB_ROOT_PASSWORD"] == "mine"
    assert "EDAHUB_MARIADB_ROOT_PASSWORD" not in added
    assert "EDAHUB_COOKIE_SECRET" in added
    assert path.read_text().startswith("# my notes\nEDAHUB_HUB_PORT=8123\n")


def test_second_run_changes_nothing(tmp_path):
    path = tmp_path / ".env"
    envfile.ensure_env_file(path)
    before = path.read_text()
    _, added = envfile.ensure_env_file(path)
    assert added == []
    assert path.read_text() == before


def test_loose_mode_is_tightened(tmp_path):
    path = tmp_path / ".env"
    envfile.ensure_env_file(path)
    os.chmod(path, 0o644)
    envfile.ensure_env_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_dollar_signs_survive_for_dotenv_readers(tmp_path):
    path = tmp_path / ".env"
    bcrypt_hash = "$2b$12$" + "abcdefghij" * 5 + "abc"
    envfile.ensure_env_file(path, {"EDAHUB_ADMIN_PASSWORD_HASH": bcrypt_hash})
    assert dotenv_values(path)["EDAHUB_ADMIN_PASSWORD_HASH"] == bcrypt_hash
    assert envfile.read_env_file(path)["EDAHUB_ADMIN_PASSWORD_HASH"] == bcrypt_hash


def test_malformed_file_is_reported_by_line_and_left_unchanged(tmp_path):
    path = tmp_path / ".env"
    text = "EDAHUB_HUB_PORT=8000\nthis is not a setting\nEDAHUB_HUB_PORT=9000\n"
    path.write_text(text)
    with pytest.raises(SettingsError) as raised:
        envfile.ensure_env_file(path)
    message = str(raised.value)
    assert "line 2: not KEY=VALUE" in message
    assert "line 3: EDAHUB_HUB_PORT is set twice" in message
    assert path.read_text() == text


def test_invalid_settings_leave_the_file_unchanged(tmp_path):
    path = tmp_path / ".env"
    text = "EDAHUB_HUB_PORT=eighty\n"
    path.write_text(text)
    with pytest.raises(SettingsError, match="EDAHUB_HUB_PORT"):
        envfile.ensure_env_file(path, validate=load_settings)
    assert path.read_text() == text
    assert [p.name for p in tmp_path.iterdir()] == [".env"]  # no temporary file left


def test_a_value_with_a_quote_is_refused(tmp_path):
    path = tmp_path / ".env"
    path.write_text("EDAHUB_HUB_PORT=8000\n")
    with pytest.raises(SettingsError, match="single quote"):
        envfile.set_values(path, {"EDAHUB_PUBLIC_URL": "https://x.org/'"})
    assert path.read_text() == "EDAHUB_HUB_PORT=8000\n"
