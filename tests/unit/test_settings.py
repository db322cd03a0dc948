"""The settings schema: defaults, parsing and the errors an operator sees."""

import pytest

from edahub_core.settings import SETTINGS, SettingsError, keys_for_service, load_settings

# A value for every secret that bootstrap generates, made by the schema's own generators.
SECRETS = {s.key: s.generate() for s in SETTINGS if s.generate}


def test_defaults_apply_to_empty_values():
    settings = load_settings({**SECRETS, "EDAHUB_HUB_PORT": ""})
    assert settings.hub_port == 8000
    assert settings.hub_bind_address == "0.0.0.0"
    assert settings.network_name == "jupyterhub"
    assert settings.auth == "native"
    assert settings.mariadb_image == "mariadb:11.8"
    assert settings.mongodb_image == "mongo:8.0"
    assert settings.user_cpu_limit == 1.0
    assert settings.user_pids_limit == 1024
    assert settings.public_url is None


def test_values_are_parsed_to_types():
    settings = load_settings({**SECRETS, "EDAHUB_HUB_PORT": "8443", "EDAHUB_USER_CPU_LIMIT": "1.5",
                              "EDAHUB_PUBLIC_URL": "https://eda.example.org/"})
    assert settings.hub_port == 8443
    assert settings.user_cpu_limit == 1.5
    assert settings.public_url == "https://eda.example.org"


def test_settings_are_frozen():
    settings = load_settings(SECRETS)
    with pytest.raises(Exception):
        settings.hub_port = 1
    with pytest.raises(TypeError):
        settings.values["hub_port"] = 1


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("EDAHUB_HUB_PORT", "eighty", "must be a whole number"),
        ("EDAHUB_HUB_PORT", "70000", "between 1 and 65535"),
        ("EDAHUB_HUB_BIND_ADDRESS", "localhost", "IPv4 address"),
        ("EDAHUB_AUTH", "github", "must be one of: native, bitbucket"),
        ("EDAHUB_ADMIN_USER", "Admin;drop", "lowercase letter"),
        ("EDAHUB_NETWORK_NAME", "my network", "lowercase letters"),
        ("EDAHUB_USER_MEM_LIMIT", "lots", "512M or 2G"),
        ("EDAHUB_PUBLIC_URL", "eda.example.org", "http:// or https:// URL"),
        ("EDAHUB_MARIADB_IMAGE", "Bad Image", "image reference"),
    ],
)
def test_malformed_values_name_the_setting_and_the_rule(key, value, message):
    with pytest.raises(SettingsError) as raised:
        load_settings({**SECRETS, key: value})
    text = str(raised.value)
    assert key in text and message in text
    assert "How to fix" in text


def test_generated_secrets_are_valid_and_distinct():
    assert len(set(SECRETS.values())) == len(SECRETS)
    load_settings(SECRETS)


def test_every_problem_is_reported_at_once():
    with pytest.raises(SettingsError) as raised:
        load_settings({"EDAHUB_HUB_PORT": "x", "EDAHUB_AUTH": "nope"})
    text = str(raised.value)
    for key in ("EDAHUB_HUB_PORT", "EDAHUB_AUTH", *SECRETS):
        assert key in text


def test_missing_secret_says_how_to_generate_it():
    values = dict(SECRETS)
    del values["EDAHUB_CRYPT_KEY"]
    with pytest.raises(SettingsError, match="EDAHUB_CRYPT_KEY: required.*bootstrap.py"):
        load_settings(values)


def test_malformed_secret_is_never_echoed():
    with pytest.raises(SettingsError) as raised:
        load_settings({**SECRETS, "EDAHUB_COOKIE_SECRET": "not-hex-s3cr3t-value"})
    assert "not-hex-s3cr3t-value" not in str(raised.value)
    assert "EDAHUB_COOKIE_SECRET=(hidden)" in str(raised.value)


def test_unknown_key_is_an_error_with_a_suggestion():
    with pytest.raises(SettingsError, match="EDAHUB_HUB_PROT: unknown setting.*EDAHUB_HUB_PORT"):
        load_settings({**SECRETS, "EDAHUB_HUB_PROT": "8000"})


def test_other_variables_are_ignored():
    assert load_settings({**SECRETS, "PATH": "/usr/bin", "HOME": "/root"}).hub_port == 8000


def test_secret_from_file(tmp_path):
    secret = tmp_path / "crypt_key"
    secret.write_text("ef" * 32 + "\n")
    values = {k: v for k, v in SECRETS.items() if k != "EDAHUB_CRYPT_KEY"}
    settings = load_settings({**values, "EDAHUB_CRYPT_KEY_FILE": str(secret)})
    assert settings.crypt_key == "ef" * 32


def test_secret_file_missing_is_reported(tmp_path):
    values = {k: v for k, v in SECRETS.items() if k != "EDAHUB_CRYPT_KEY"}
    with pytest.raises(SettingsError, match="EDAHUB_CRYPT_KEY_FILE: cannot read"):
        load_settings({**values, "EDAHUB_CRYPT_KEY_FILE": str(tmp_path / "absent")})


def test_secret_given_twice_is_an_error(tmp_path):
    secret = tmp_path / "key"
    secret.write_text("ef" * 32)
    with pytest.raises(SettingsError, match="set both directly and as EDAHUB_CRYPT_KEY_FILE"):
        load_settings({**SECRETS, "EDAHUB_CRYPT_KEY_FILE": str(secret)})


def test_a_consumer_checks_only_its_keys():
    # The hub receives neither database root password.
    hub_keys = keys_for_service("hub")
    assert "EDAHUB_MARIADB_ROOT_PASSWORD" not in hub_keys
    settings = load_settings({k: v for k, v in SECRETS.items() if k in hub_keys}, keys=hub_keys)
    assert settings.user_prefix == "edahub"
    assert not hasattr(settings, "mariadb_root_password")


def test_bcrypt_hash_is_validated():
    with pytest.raises(SettingsError, match="bcrypt hash"):
        load_settings({**SECRETS, "EDAHUB_ADMIN_PASSWORD_HASH": "plain-password"})
    good = "$2b$12$" + "a" * 53
    assert load_settings({**SECRETS, "EDAHUB_ADMIN_PASSWORD_HASH": good}).admin_password_hash == good


def test_schema_is_well_formed():
    keys = [s.key for s in SETTINGS]
    assert len(keys) == len(set(keys))
    for setting in SETTINGS:
        assert setting.key.startswith("EDAHUB_")
        assert setting.description.endswith(".")
        if setting.default:  # every default passes its own validation
            setting.parse(setting.default)
