"""Mapping hub usernames to database/account names, and deriving their passwords."""

import re

import pytest

from edahub_core.names import SAFE_DATABASE_NAME, database_name, legacy_database_name
from edahub_hub.databases import credentials_for, derive_password

HOSTILE = [
    "alice", "o'brien", 'say"cheese', "semi;colon", "drop`table`", "dollar$sign", "$where",
    "dot.ted", "a.b", "a_b", "a-b", "back\\slash", "null\x00byte", "x" * 300, "Ünïcödé",
    "用户", "😀", "--", "' OR '1'='1", "admin'@'%", "u_alice_0123456789",
]


@pytest.mark.parametrize("username", HOSTILE)
def test_names_are_safe_identifiers_in_both_engines(username):
    name = database_name(username)
    assert SAFE_DATABASE_NAME.fullmatch(name)
    # MariaDB: identifiers up to 64 characters, account names up to 80; MongoDB: database
    # names up to 63 bytes without /\\. "$*<>:|? or spaces.
    assert len(name) <= 47  # u_ + 20 + _ + 24
    assert re.fullmatch(r"[a-z0-9_]+", name)


def test_names_are_unique_even_when_the_safe_parts_collide():
    names = [database_name(u) for u in HOSTILE]
    assert len(set(names)) == len(HOSTILE)
    assert database_name("a.b") != database_name("a_b") != database_name("a-b")


def test_names_are_stable_and_readable():
    assert database_name("alice") == database_name("alice")
    assert database_name("alice").startswith("u_alice_")
    assert database_name("Ünïcödé").startswith("u_unicode_")
    assert database_name("用户").startswith("u_x_")


def test_passwords_are_derived_per_engine_user_and_key():
    key_a, key_b = "ab" * 32, "cd" * 32
    assert derive_password(key_a, "mariadb", "alice") == derive_password(key_a, "mariadb", "alice")
    assert derive_password(key_a, "mariadb", "alice") != derive_password(key_a, "mongodb", "alice")
    assert derive_password(key_a, "mariadb", "alice") != derive_password(key_a, "mariadb", "bob")
    assert derive_password(key_a, "mariadb", "alice") != derive_password(key_b, "mariadb", "alice")
    assert re.fullmatch(r"[0-9a-f]{64}", derive_password(key_a, "mariadb", "alice"))


def test_environment_uses_the_clients_conventional_names():
    env = credentials_for("o'brien", "ab" * 32).environment()
    name = database_name("o'brien")
    assert env["MARIADB_USER"] == env["MARIADB_DATABASE"] == env["MONGODB_USER"] == name
    assert env["MARIADB_HOST"] == "mariadb" and env["MONGODB_HOST"] == "mongodb"
    assert env["DATABASE_URL"].startswith(f"mysql+pymysql://{name}:")
    assert env["MONGODB_URI"].endswith(f"@mongodb:27017/{name}?authSource={name}")
    assert "'" not in "".join(env.values())


def test_names_carry_96_bits_of_the_usernames_hash():
    assert re.fullmatch(r"u_alice_[0-9a-f]{24}", database_name("alice"))


def test_legacy_names_are_the_40_bit_names_of_edahub_0_1_and_still_safe():
    assert re.fullmatch(r"u_alice_[0-9a-f]{10}", legacy_database_name("alice"))
    assert database_name("alice").startswith(legacy_database_name("alice"))
    assert SAFE_DATABASE_NAME.fullmatch(legacy_database_name("o'brien"))
    for bad in ("u_alice_0123456789a", "u_alice_" + "0" * 23, "u_alice_0123456789\n"):
        assert not SAFE_DATABASE_NAME.fullmatch(bad)
