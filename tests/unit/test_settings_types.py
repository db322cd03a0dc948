"""The settings' value types: what each accepts, refuses and turns a value into."""

import pytest

from edahub_core.settings import (SETTINGS, Boolean, Choice, Integer, NameList, Number, Pattern,
                                  SettingsError, ValueType, load_settings)

SECRETS = {s.key: s.generate() for s in SETTINGS if s.generate}
# A valid value for each pattern setting that has no default to use instead.
VALID = {"EDAHUB_ADMIN_PASSWORD_HASH": "$2b$12$" + "a" * 53, "EDAHUB_USER_HOME_SIZE": "10G"}
PATTERN_SETTINGS = [s for s in SETTINGS if isinstance(s.value_type, Pattern)]


def test_every_setting_has_a_value_type_that_describes_itself():
    for setting in SETTINGS:
        assert isinstance(setting.value_type, ValueType), setting.key
        assert setting.type_name and isinstance(setting.type_name, str), setting.key


def test_every_pattern_type_is_used_and_checked_below():
    described = {s.type_name for s in PATTERN_SETTINGS}
    assert described == {"username", "Docker name", "image", "size (e.g. 2G)", "bcrypt hash",
                         "size (e.g. 10m)", "two numbers (e.g. 172.31)"}


@pytest.mark.parametrize("value, ok", [("172.31", True), ("10.200", True), ("0.0", True),
                                       ("255.255", True), ("172.31.0", False), ("256.1", False),
                                       ("172", False), ("01.2", False), ("a.b", False)])
def test_network_prefixes_are_two_octets(value, ok):
    if ok:
        assert load_settings({**SECRETS, "EDAHUB_NETWORK_PREFIX": value}).network_prefix == value
    else:
        with pytest.raises(SettingsError, match="EDAHUB_NETWORK_PREFIX"):
            load_settings({**SECRETS, "EDAHUB_NETWORK_PREFIX": value})


def test_blocked_ranges_are_networks_without_host_bits():
    settings = load_settings({**SECRETS, "EDAHUB_NETWORK_BLOCKED": "10.0.0.0/8, 192.0.2.0/24,"})
    assert settings.network_blocked == ("10.0.0.0/8", "192.0.2.0/24")
    for bad in ("10.0.0.1/8", "10.0.0.0/33", "example.com", "fd00::/8"):
        with pytest.raises(SettingsError, match=r"EDAHUB_NETWORK_BLOCKED.*not an IPv4 network"):
            load_settings({**SECRETS, "EDAHUB_NETWORK_BLOCKED": bad})


def test_the_default_blocked_ranges_hold_the_metadata_address_and_private_ranges():
    import ipaddress

    blocked = [ipaddress.ip_network(n) for n in load_settings(SECRETS).network_blocked]
    for address in ("169.254.169.254", "10.1.2.3", "172.20.0.1", "192.168.1.1", "100.64.0.1",
                    "127.0.0.1"):
        assert any(ipaddress.ip_address(address) in net for net in blocked), address
    assert not any(ipaddress.ip_address("8.8.8.8") in net for net in blocked)


def test_dns_resolvers_are_addresses():
    assert load_settings({**SECRETS, "EDAHUB_NETWORK_DNS": "10.0.0.53,1.1.1.1"}).network_dns \
        == ("10.0.0.53", "1.1.1.1")
    assert load_settings(SECRETS).network_dns is None
    with pytest.raises(SettingsError, match="EDAHUB_NETWORK_DNS.*not an IPv4 address"):
        load_settings({**SECRETS, "EDAHUB_NETWORK_DNS": "dns.example"})


@pytest.mark.parametrize("value, ok", [("10m", True), ("500k", True), ("1g", True),
                                       ("10M", False), ("0m", False), ("10", False),
                                       ("1.5m", False), ("10m;", False)])
def test_log_sizes_are_what_dockers_log_drivers_take(value, ok):
    if ok:
        assert load_settings({**SECRETS, "EDAHUB_LOG_MAX_SIZE": value}).log_max_size == value
    else:
        with pytest.raises(SettingsError, match="EDAHUB_LOG_MAX_SIZE"):
            load_settings({**SECRETS, "EDAHUB_LOG_MAX_SIZE": value})


@pytest.mark.parametrize("setting", PATTERN_SETTINGS, ids=lambda s: s.key)
def test_a_pattern_refuses_a_trailing_newline(setting):
    value = VALID.get(setting.key) or setting.default
    assert setting.parse(value) == value
    with pytest.raises(ValueError):
        setting.parse(value + "\n")
    with pytest.raises(SettingsError, match=setting.key):
        load_settings({**SECRETS, setting.key: value + "\n"})


def test_a_pattern_matches_the_whole_value():
    pattern = Pattern(r"[a-z]+", "word", "must be a word")
    assert pattern.parse("abc") == "abc"
    for bad in ("abc1", "1abc", "abc\n", "\nabc", ""):
        with pytest.raises(ValueError, match="must be a word"):
            pattern.parse(bad)


@pytest.mark.parametrize("value", ["512M", "2G", "1.5G", "64K", "1T"])
def test_sizes_with_a_suffix_are_accepted(value):
    assert load_settings({**SECRETS, "EDAHUB_USER_MEM_LIMIT": value}).user_mem_limit == value


@pytest.mark.parametrize("value", ["512", "2g", "G", "2GB", "-1G"])
def test_sizes_without_a_known_suffix_are_refused(value):
    # DockerSpawner refuses "512" (text without a suffix) when the hub starts.
    with pytest.raises(SettingsError, match="EDAHUB_USER_MEM_LIMIT=.*512M or 2G"):
        load_settings({**SECRETS, "EDAHUB_USER_MEM_LIMIT": value})


def test_name_lists_match_each_name_whole():
    names = NameList(r"[A-Za-z]+", "must be words", lowercase=True)
    assert names.parse(" Bob, alice,,bob ") == ("alice", "bob")
    with pytest.raises(ValueError, match="'al ice': must be words"):
        names.parse("al ice")


def test_numbers_and_their_bounds():
    assert Integer(1, 10).parse("10") == 10
    assert Integer(1, 10).describe == "integer 1-10"
    with pytest.raises(ValueError, match="between 1 and 10"):
        Integer(1, 10).parse("11")
    assert Number(0, 2).parse("1.5") == 1.5
    assert Number(0, 2).describe == "number 0-2"
    with pytest.raises(ValueError, match="must be a number"):
        Number(0, 2).parse("one")


def test_choices_and_booleans():
    level = Choice(("DEBUG", "INFO"))
    assert level.describe == "DEBUG | INFO"
    assert level.parse("INFO") == "INFO"
    with pytest.raises(ValueError, match="must be one of: DEBUG, INFO"):
        level.parse("info")
    assert [Boolean().parse(v) for v in ("Yes", "on", "1", "FALSE", "off", "0")] == [
        True, True, True, False, False, False]
    with pytest.raises(ValueError, match="true or false"):
        Boolean().parse("maybe")


def test_empty_values_without_a_default_are_none_except_text_and_paths():
    settings = load_settings(SECRETS)
    assert settings.public_url is None
    assert settings.admin_password_hash is None
    assert settings.bitbucket_allowed_users is None
    assert settings.bitbucket_client_id == ""
    assert settings.tls_cert == ""
