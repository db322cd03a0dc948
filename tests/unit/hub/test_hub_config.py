"""hub/jupyterhub_config.py, loaded as JupyterHub loads it, from a test environment.

traitlets' PyFileConfigLoader is what JupyterHub uses for its config file: it runs the
file with ``get_config`` (and ``c``) in its namespace and returns the Config it filled.
"""

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from jupyterhub.objects import Hub
from nativeauthenticator.orm import UserInfo
from traitlets.config.loader import PyFileConfigLoader

from edahub_core.names import (USERNAME_PATTERN, USER_PREFIX_LABEL, container_name, container_name_template,
                               home_volume_name, home_volume_template)
from edahub_core.settings import SETTINGS_BY_KEY
from edahub_hub.databases import derive_password

HUB = Path(__file__).resolve().parents[3] / "hub"
REFUSAL = "edahub: the hub cannot start: invalid settings:"

SECRETS = {
    "EDAHUB_COOKIE_SECRET": "c0" * 32,
    "EDAHUB_CRYPT_KEY": "c1" * 32,
    "EDAHUB_METRICS_TOKEN": "e7" * 32,
    "EDAHUB_PROXY_AUTH_TOKEN": "e8" * 32,
    "EDAHUB_DB_PASSWORD_KEY": "c2" * 32,
    "EDAHUB_MARIADB_PROVISIONER_PASSWORD": "MariaProvisionerSecret7",
    "EDAHUB_MONGODB_PROVISIONER_PASSWORD": "MongoProvisionerSecret8",
}
SERVERS = {
    "EDAHUB_USER_PREFIX": "lab1",
    "EDAHUB_NETWORK_NAME": "lab1-net",
    "EDAHUB_SINGLEUSER_IMAGE": "registry.example/edahub-singleuser:2.0",
    "EDAHUB_USER_MEM_LIMIT": "3G",
    "EDAHUB_USER_CPU_LIMIT": "1.5",
    "EDAHUB_SPAWN_TIMEOUT": "300",
    "EDAHUB_SHARED_DATASETS": "true",
}
BITBUCKET = {
    "EDAHUB_AUTH": "bitbucket",
    "EDAHUB_PUBLIC_URL": "https://eda.example.org",
    "EDAHUB_BITBUCKET_CLIENT_ID": "consumer-key",
    "EDAHUB_BITBUCKET_CLIENT_SECRET": "BitbucketConsumerSecret9",
    "EDAHUB_BITBUCKET_URL": "http://bitbucket.test:9000",
    "EDAHUB_BITBUCKET_API_URL": "http://bitbucket-api.test:9001",
    "EDAHUB_BITBUCKET_ALLOWED_USERS": "carol",
    "EDAHUB_BITBUCKET_ALLOWED_WORKSPACES": "eda-lab",
    "EDAHUB_BITBUCKET_ADMIN_USERS": "Alice,bob",
}


@pytest.fixture
def native_environ(admin_hash):
    return {**SECRETS, **SERVERS, "EDAHUB_AUTH": "native", "EDAHUB_ADMIN_USER": "boss",
            "EDAHUB_ADMIN_PASSWORD_HASH": admin_hash}


@pytest.fixture
def bitbucket_environ():
    return {**SECRETS, **SERVERS, **BITBUCKET}


@pytest.fixture
def load_hub_config(monkeypatch, tmp_path):
    """Run the config file with exactly ``environ`` as EDAHUB_ settings; return its Config.

    The hub's database is a file of the test's own (the config starts the record of
    users' database names in it)."""
    import edahub_hub

    monkeypatch.setattr(edahub_hub, "HUB_DB_URL", f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}")
    exists = os.path.exists
    # The compose secrets are files in the container; none on this machine, whatever it has.
    monkeypatch.setattr(os.path, "exists",
                        lambda path: not str(path).startswith("/run/secrets/") and exists(path))

    def load(environ):
        for key in [k for k in os.environ if k.startswith("EDAHUB_")]:
            monkeypatch.delenv(key)
        for key, value in environ.items():
            monkeypatch.setenv(key, value)
        return PyFileConfigLoader("jupyterhub_config.py", path=str(HUB)).load_config()

    return load


def without(environ, *keys):
    return {k: v for k, v in environ.items() if k not in keys}


def make_spawner(config, username):
    from edahub_hub.spawner import EdahubSpawner

    user = SimpleNamespace(name=username, base_url=f"/user/{username}/", url=f"/user/{username}/",
                           escaped_name=username,
                           db=hub_session(), created=None)
    return EdahubSpawner(config=config, user=user, hub=Hub())


def hub_session():
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(bind=create_engine("sqlite://"))()


def test_native_settings_configure_the_hub(load_hub_config, native_environ, admin_hash):
    c = load_hub_config(native_environ)

    assert c.JupyterHub.cookie_secret == bytes.fromhex(SECRETS["EDAHUB_COOKIE_SECRET"])
    assert c.CryptKeeper["keys"] == [bytes.fromhex(SECRETS["EDAHUB_CRYPT_KEY"])]
    assert c.JupyterHub.authenticator_class == "edahub_hub.auth.FirstRunAuthenticator"
    assert c.Authenticator.admin_users == {"boss"}
    assert c.FirstRunAuthenticator.admin_password_hash == admin_hash
    assert c.NativeAuthenticator.open_signup is False
    assert c.NativeAuthenticator.allowed_failed_logins == 5

    assert c.JupyterHub.spawner_class == "edahub_hub.spawner.EdahubSpawner"
    assert c.DockerSpawner.name_template == container_name_template("lab1")
    assert c.DockerSpawner.volumes == {home_volume_template("lab1"): "/home/jovyan"}
    assert c.DockerSpawner.extra_create_kwargs == {"labels": {USER_PREFIX_LABEL: "lab1"}}
    assert c.DockerSpawner.image == "registry.example/edahub-singleuser:2.0"
    assert c.DockerSpawner.network_name == "lab1-net"
    assert c.DockerSpawner.mem_limit == "3G"
    assert c.DockerSpawner.cpu_limit == 1.5
    assert c.DockerSpawner.start_timeout == c.DockerSpawner.http_timeout == 300
    assert c.DockerSpawner.remove is True
    assert c.EdahubSpawner.db_password_key == SECRETS["EDAHUB_DB_PASSWORD_KEY"]
    assert c.EdahubSpawner.mariadb_provisioner_password == "MariaProvisionerSecret7"
    assert c.EdahubSpawner.mongodb_provisioner_password == "MongoProvisionerSecret8"
    assert c.EdahubSpawner.shared_datasets is True
    assert c.EdahubSpawner.delete_user_data is False
    # Security settings (docs/security.md)
    assert c.Authenticator.username_pattern == USERNAME_PATTERN
    assert c.Spawner.disable_user_config is True
    assert c.JupyterHub.token_expires_in_max_seconds == 30 * 24 * 3600
    # Prometheus's token reads the metrics and nothing else.
    assert {"name": "metrics", "api_token": "e7" * 32} in c.JupyterHub.services
    # The idle culler: a hub-managed service with the defaults, and exactly its scopes.
    [culler] = [s for s in c.JupyterHub.services if s["name"] == "idle-culler"]
    assert culler["command"][1:] == ["-m", "jupyterhub_idle_culler", "--timeout=3600",
                                     "--cull-every=300", "--max-age=0", "--cull-users=False"]
    [role] = [r for r in c.JupyterHub.load_roles if r["name"] == "idle-culler"]
    assert sorted(role["scopes"]) == ["delete:servers", "list:users", "read:servers",
                                      "read:users:activity"]
    assert c.JupyterHub.last_activity_interval == 300
    assert c.Spawner.environment == {"JUPYTERHUB_ACTIVITY_INTERVAL": "300"}
    assert {"name": "metrics", "scopes": ["read:metrics"], "services": ["metrics"]} in \
        c.JupyterHub.load_roles
    assert "headers" not in c.JupyterHub.tornado_settings.get_value({})  # no HSTS on http
    assert c.JupyterHub.tornado_settings.get_value({})["cookie_options"]["samesite"] == "Lax"
    assert os.path.isfile(os.path.join(c.JupyterHub.template_paths[0], "edahub-authorize.html"))


def test_native_settings_reach_the_spawner_and_authenticator(load_hub_config, native_environ,
                                                             hub_db, admin_password):
    from edahub_hub.auth import FirstRunAuthenticator

    c = load_hub_config(native_environ)

    spawner = make_spawner(c, "Jane.Doe")
    assert spawner.object_name == container_name("lab1", "Jane.Doe")
    assert list(spawner.volume_binds) == [home_volume_name("lab1", "Jane.Doe")]
    assert spawner.get_env()["MARIADB_PASSWORD"] == derive_password(
        SECRETS["EDAHUB_DB_PASSWORD_KEY"], "mariadb", "Jane.Doe")

    FirstRunAuthenticator(config=c, db=hub_db)
    [admin] = UserInfo.all_users(hub_db)
    assert admin.username == "boss" and admin.is_valid_password(admin_password)


def test_no_cpu_limit_at_zero_and_the_default_memory_limit(load_hub_config, native_environ):
    c = load_hub_config({**without(native_environ, "EDAHUB_USER_MEM_LIMIT"),
                         "EDAHUB_USER_CPU_LIMIT": "0"})
    assert "cpu_limit" not in c.DockerSpawner
    assert c.DockerSpawner.mem_limit == "2G"


def test_users_servers_are_contained_by_default(load_hub_config, native_environ):
    c = load_hub_config(without(native_environ, "EDAHUB_USER_CPU_LIMIT"))
    assert c.DockerSpawner.cpu_limit == 1.0
    assert c.DockerSpawner.extra_host_config == {
        "cap_drop": ["ALL"], "security_opt": ["no-new-privileges:true"], "pids_limit": 1024,
        "log_config": {"type": "json-file", "config": {"max-size": "10m", "max-file": "3"}}}
    assert "template_vars" not in c.JupyterHub  # no announcement unless the operator sets one


def test_the_operators_announcement_reaches_the_hubs_pages(load_hub_config, native_environ):
    c = load_hub_config({**native_environ, "EDAHUB_ANNOUNCEMENT": "Down <b>Friday</b> 18:00"})
    assert c.JupyterHub.template_vars == {"announcement": "Down <b>Friday</b> 18:00"}
    assert load_hub_config({**native_environ, "EDAHUB_USER_PIDS_LIMIT": "300"}
                           ).DockerSpawner.extra_host_config["pids_limit"] == 300


def test_bitbucket_settings_configure_the_hub(load_hub_config, bitbucket_environ):
    from edahub_hub.https import secure_xsrf_cookie

    c = load_hub_config(bitbucket_environ)

    assert c.JupyterHub.authenticator_class == (
        "edahub_hub.bitbucket.EdahubBitbucketOAuthenticator")
    bitbucket = c.EdahubBitbucketOAuthenticator
    assert bitbucket.client_id == "consumer-key"
    assert bitbucket.client_secret == "BitbucketConsumerSecret9"
    assert bitbucket.oauth_callback_url == "https://eda.example.org/hub/oauth_callback"
    assert bitbucket.allowed_users == {"carol", "alice", "bob"}  # admins may log in
    assert bitbucket.allowed_workspaces == {"eda-lab"}
    assert bitbucket.allow_all is False
    assert {"name": "admin", "users": ["alice", "bob"]} in c.JupyterHub.load_roles
    assert "admin_users" not in c.Authenticator
    assert c.JupyterHub.spawner_class == "edahub_hub.spawner.EdahubSpawner"
    assert c.DockerSpawner.name_template == container_name_template("lab1")
    # An https:// public URL makes every cookie Secure, users' servers' _xsrf too.
    assert c.JupyterHub.public_url == "https://eda.example.org/"
    assert c.JupyterHub.tornado_settings.get_value({}) == {
        "cookie_options": {"samesite": "Lax", "secure": True},
        "headers": {"Strict-Transport-Security": "max-age=31536000"}}
    assert c.Spawner.pre_spawn_hook is secure_xsrf_cookie


def test_bitbucket_settings_reach_the_authenticator(load_hub_config, bitbucket_environ):
    from edahub_hub.bitbucket import EdahubBitbucketOAuthenticator

    authenticator = EdahubBitbucketOAuthenticator(config=load_hub_config(bitbucket_environ))
    assert authenticator.authorize_url == "http://bitbucket.test:9000/site/oauth2/authorize"
    assert authenticator.token_url == "http://bitbucket.test:9000/site/oauth2/access_token"
    assert authenticator.userdata_url == "http://bitbucket-api.test:9001/2.0/user"
    assert authenticator.allowed_workspaces == {"eda-lab"}


BAD = {
    "a missing secret": (
        lambda native, bitbucket: without(native, "EDAHUB_COOKIE_SECRET"),
        "EDAHUB_COOKIE_SECRET: required but not set"),
    "a malformed secret": (
        lambda native, bitbucket: {**native, "EDAHUB_CRYPT_KEY": "NotHexButSecret" * 2},
        "EDAHUB_CRYPT_KEY=(hidden): must be hexadecimal"),
    "a malformed URL": (
        lambda native, bitbucket: {**bitbucket, "EDAHUB_BITBUCKET_API_URL": "api.bitbucket.org"},
        "EDAHUB_BITBUCKET_API_URL='api.bitbucket.org': must be an http:// or https:// URL"),
    "a public URL with a path": (
        lambda native, bitbucket: {**bitbucket, "EDAHUB_PUBLIC_URL": "https://eda.example.org/hub"},
        "EDAHUB_PUBLIC_URL='https://eda.example.org/hub'"),
    "no allow rule": (
        lambda native, bitbucket: without(bitbucket, "EDAHUB_BITBUCKET_ALLOWED_USERS",
                                          "EDAHUB_BITBUCKET_ALLOWED_WORKSPACES",
                                          "EDAHUB_BITBUCKET_ADMIN_USERS"),
        "EDAHUB_AUTH=bitbucket with no allow rule"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_settings_stop_the_hub_with_the_fix_and_no_secret(
        load_hub_config, native_environ, bitbucket_environ, capsys, case):
    make_environ, problem = BAD[case]
    environ = make_environ(native_environ, bitbucket_environ)

    with pytest.raises(SystemExit) as stopped:
        load_hub_config(environ)

    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(REFUSAL)
    assert problem in err
    assert "How to fix" in err and "Traceback" not in err
    secrets = [v for k, v in environ.items() if SETTINGS_BY_KEY[k].secret and v]
    assert secrets and not [secret for secret in secrets if secret in err]


def test_the_hub_manages_the_proxy_of_its_own_container_with_the_token(load_hub_config,
                                                                       native_environ):
    c = load_hub_config(native_environ)
    assert c.ConfigurableHTTPProxy.should_start is False
    assert c.ConfigurableHTTPProxy.api_url == "http://proxy:8001"
    assert c.ConfigurableHTTPProxy.auth_token == native_environ["EDAHUB_PROXY_AUTH_TOKEN"]


def test_users_servers_outlive_the_hub(load_hub_config, native_environ):
    assert load_hub_config(native_environ).JupyterHub.cleanup_servers is False


def test_culling_settings_reach_the_culler(load_hub_config, native_environ):
    c = load_hub_config({**native_environ, "EDAHUB_CULL_IDLE_TIMEOUT": "900",
                         "EDAHUB_CULL_EVERY": "30", "EDAHUB_CULL_MAX_AGE": "86400",
                         "EDAHUB_CULL_USERS": "true"})
    [culler] = [s for s in c.JupyterHub.services if s["name"] == "idle-culler"]
    assert culler["command"][3:] == ["--timeout=900", "--cull-every=30", "--max-age=86400",
                                     "--cull-users=True"]
    [role] = [r for r in c.JupyterHub.load_roles if r["name"] == "idle-culler"]
    assert "admin:users" in role["scopes"]
    assert c.JupyterHub.last_activity_interval == 30


def test_no_culler_when_culling_is_off(load_hub_config, native_environ):
    c = load_hub_config({**native_environ, "EDAHUB_CULL_IDLE_TIMEOUT": "0"})
    assert [s["name"] for s in c.JupyterHub.services] == ["metrics"]


def test_user_subdomains_put_each_server_on_a_host_of_its_own(load_hub_config, native_environ):
    c = load_hub_config({**native_environ, "EDAHUB_PUBLIC_URL": "https://eda.example.org",
                         "EDAHUB_USER_SUBDOMAINS": "true"})
    assert c.JupyterHub.subdomain_host == "https://eda.example.org"
    assert "subdomain_host" not in load_hub_config(native_environ).JupyterHub


def test_on_a_swarm_servers_are_swarm_services_provisioned_over_the_admin_network(
        load_hub_config, native_environ):
    on_one_host = load_hub_config(native_environ)
    assert on_one_host.JupyterHub.spawner_class == "edahub_hub.spawner.EdahubSpawner"
    assert "mariadb_admin_host" not in on_one_host.EdahubSpawner  # "mariadb", the default

    c = load_hub_config({**native_environ, "EDAHUB_SWARM": "true", "EDAHUB_USER_PIDS_LIMIT": "300"})
    assert c.JupyterHub.spawner_class == "edahub_hub.swarm.EdahubSwarmSpawner"
    assert c.EdahubSpawner.mariadb_admin_host == "mariadb-admin"  # compose.swarm.yaml's alias
    assert c.EdahubSwarmSpawner.pids_limit == 300
    assert c.EdahubSwarmSpawner.cmd == ["edahub-singleuser"]  # the manager need not have the image
    # A server started again has a new address under the same name: no cached lookups.
    options = c.JupyterHubHTTPClient.connector_options
    assert options["use_dns_cache"] is False
    assert type(options["resolver"]).__name__ == "FreshLookups"
    assert "connector_options" not in on_one_host.JupyterHubHTTPClient  # one host: addresses
    # Everything else is the same configuration as on one host.
    assert c.DockerSpawner.image == on_one_host.DockerSpawner.image
    assert c.DockerSpawner.volumes == on_one_host.DockerSpawner.volumes
