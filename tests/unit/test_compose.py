"""compose.yaml agrees with the settings schema and with the platform's rules."""

import re
from pathlib import Path

import pytest
import yaml

from edahub_core.netpolicy import Layout
from edahub_core.settings import SETTINGS_BY_KEY, keys_for_service

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_no_version_key_and_services_named_after_folders(compose):
    assert "version" not in compose
    assert set(compose["services"]) == {"hub", "singleuser", "mariadb", "mongodb", "netpolicy",
                                        "proxy", "mongodb-accounts"}
    for name in set(compose["services"]) - {"netpolicy", "proxy", "mongodb-accounts"}:
        assert (ROOT / name).is_dir()


def test_only_the_proxy_is_published_and_it_holds_no_socket_or_state(compose):
    published = [name for name, svc in compose["services"].items() if svc.get("ports")]
    assert published == ["proxy"]
    proxy = compose["services"]["proxy"]
    assert "volumes" not in proxy and "group_add" not in proxy
    assert proxy["cap_drop"] == ["ALL"] and "no-new-privileges:true" in proxy["security_opt"]


def test_mongodb_accounts_holds_no_socket_state_or_port(compose):
    # root accepts logins only from its fixed address (mongodb/initdb.d, checked below).
    accounts = compose["services"]["mongodb-accounts"]
    assert "volumes" not in accounts and "ports" not in accounts
    assert accounts["cap_drop"] == ["ALL"] and accounts["read_only"] is True
    assert compose["services"]["hub"]["depends_on"]["mongodb-accounts"] == {
        "condition": "service_healthy"}


@pytest.mark.parametrize("service", ["hub", "netpolicy", "proxy", "mongodb-accounts"])
def test_services_receive_exactly_their_settings(compose, service):
    assert sorted(compose["services"][service]["environment"]) == \
        sorted(keys_for_service(service))


def test_singleuser_is_built_but_never_started(compose):
    singleuser = compose["services"]["singleuser"]
    assert singleuser["build"]
    assert singleuser["scale"] == 0


def test_network_has_the_name_the_spawner_uses(compose):
    assert compose["networks"]["jupyterhub"]["name"] == "${EDAHUB_NETWORK_NAME:-jupyterhub}"
    for svc in ("hub", "mariadb", "mongodb"):
        assert list(compose["services"][svc]["networks"]) == ["jupyterhub"]


def test_the_network_layout_is_the_one_the_policy_assumes(compose):
    """Fixed addresses for the hub and the databases, users' servers in the upper half."""
    layout = Layout("${EDAHUB_NETWORK_PREFIX:-172.31}")
    ipam = compose["networks"]["jupyterhub"]["ipam"]["config"]
    assert ipam == [{"subnet": layout.subnet, "ip_range": layout.users,
                     "gateway": layout.address("0.1")}]
    for svc, address in (("hub", layout.hub), ("mariadb", layout.mariadb),
                         ("mongodb", layout.mongodb), ("proxy", layout.proxy),
                         ("mongodb-accounts", layout.mongodb_accounts)):
        assert compose["services"][svc]["networks"]["jupyterhub"]["ipv4_address"] == address
    # MongoDB's root accepts the accounts service's address (set once, with the volume).
    assert compose["services"]["mongodb"]["environment"]["EDAHUB_MONGODB_ACCOUNTS_ADDRESS"] == \
        layout.mongodb_accounts
    netpolicy = compose["services"]["netpolicy"]
    assert netpolicy["network_mode"] == "host"
    assert netpolicy["cap_drop"] == ["ALL"] and netpolicy["cap_add"] == ["NET_ADMIN", "NET_RAW"]
    assert compose["services"]["hub"]["depends_on"]["netpolicy"] == \
        {"condition": "service_healthy"}


def test_state_is_on_named_volumes(compose):
    assert set(compose["volumes"]) == {"hub-data", "mariadb-data", "mongodb-data"}


def test_databases_have_healthchecks_and_the_hub_waits_for_them(compose):
    for svc in ("mariadb", "mongodb"):
        assert compose["services"][svc]["healthcheck"]["test"]
        assert compose["services"]["hub"]["depends_on"][svc] == {"condition": "service_healthy"}


def setting_of(key):
    """The setting a compose variable stands for: itself, or a secret given as <KEY>_FILE."""
    if key.endswith("_FILE") and key not in SETTINGS_BY_KEY:
        setting = SETTINGS_BY_KEY[key.removesuffix("_FILE")]
        assert setting.secret, f"{key}: only secrets can be given as files"
        return setting
    return SETTINGS_BY_KEY[key]


def test_inline_defaults_match_the_schema():
    text = (ROOT / "compose.yaml").read_text()
    for key, default in re.findall(r"\$\{(EDAHUB_[A-Z0-9_]+):-([^}]*)\}", text):
        setting = setting_of(key)
        if default == "/dev/null":
            # An empty file stands for a file setting that is not given.
            assert key.endswith("_FILE") or setting.type_name == "path", key
        elif default:
            assert default == setting.default, f"{key}: compose says {default!r}"


def test_every_referenced_variable_is_a_setting():
    text = (ROOT / "compose.yaml").read_text()
    for key in re.findall(r"\$\{([A-Z0-9_]+)[:}]", text):
        assert setting_of(key), f"compose.yaml uses {key}, which the schema lacks"


def test_the_platform_outweighs_users_servers_for_the_cpu(compose):
    # Users' servers run with Docker's default weight, 1024 (tests/unit/hub/test_hub_config.py
    # holds their exact host config). In a burst of spawns they take every core: the
    # services that answer everyone must win.
    weights = {name: service.get("cpu_shares", 1024)
               for name, service in compose["services"].items() if name != "singleuser"}
    assert weights["hub"] == weights["proxy"] == 8192
    assert min(weights.values()) > 1024, weights
