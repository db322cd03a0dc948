# edahub's JupyterHub configuration.
#
# Every setting comes from the environment, which compose.yaml fills from .env; each is
# described once in scripts/edahub/settings.py (and in docs/settings.md). A missing or
# malformed setting stops the hub at start with a message that says how to fix it.

import os
import sys

from edahub.settings import SettingsError, keys_for_service, load_settings

try:
    settings = load_settings(os.environ, keys=keys_for_service("hub"))
except SettingsError as error:
    print(f"edahub: the hub cannot start: {error}", file=sys.stderr, flush=True)
    sys.exit(1)

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

# --- Hub and proxy -----------------------------------------------------------------
# The proxy listens on 8000 in the container (compose publishes it); the hub's API on
# 8081, reached by users' servers through the service name on the shared network.
c.JupyterHub.bind_url = "http://:8000"
c.JupyterHub.hub_bind_url = "http://:8081"
c.JupyterHub.hub_connect_url = "http://hub:8081"
c.JupyterHub.db_url = "sqlite:////srv/jupyterhub/jupyterhub.sqlite"
c.JupyterHub.cookie_secret = bytes.fromhex(settings.cookie_secret)
c.CryptKeeper.keys = [bytes.fromhex(settings.crypt_key)]
c.JupyterHub.log_level = settings.log_level
# Stop users' servers when the hub stops, so `docker compose down` leaves nothing behind
# on the network it removes.
c.JupyterHub.cleanup_servers = True

# --- Login ---------------------------------------------------------------------------
c.Authenticator.admin_users = {settings.admin_user}
if settings.auth == "native":
    c.JupyterHub.authenticator_class = "edahub_hub.auth.FirstRunAuthenticator"
    c.FirstRunAuthenticator.admin_password_hash = settings.admin_password_hash or ""
    # NativeAuthenticator admits only accounts an admin approved; it is the allow rule.
    c.Authenticator.allow_all = True
    c.NativeAuthenticator.open_signup = False
    c.NativeAuthenticator.minimum_password_length = 10
    c.NativeAuthenticator.check_common_password = True
    # Lock an account for 10 minutes after 5 wrong passwords in a row.
    c.NativeAuthenticator.allowed_failed_logins = 5
    c.NativeAuthenticator.seconds_before_next_try = 600

# --- Users' servers --------------------------------------------------------------------
prefix = settings.user_prefix
# EdahubSpawner is DockerSpawner plus each user's own MariaDB and MongoDB database and
# account, created before the server starts and passed in as environment variables.
c.JupyterHub.spawner_class = "edahub_hub.spawner.EdahubSpawner"
c.EdahubSpawner.db_password_key = settings.db_password_key
c.EdahubSpawner.mariadb_provisioner_password = settings.mariadb_provisioner_password
c.EdahubSpawner.mongodb_provisioner_password = settings.mongodb_provisioner_password
c.EdahubSpawner.shared_datasets = settings.shared_datasets
c.EdahubSpawner.delete_user_data = settings.delete_user_data
c.DockerSpawner.image = settings.singleuser_image
c.DockerSpawner.network_name = settings.network_name
c.DockerSpawner.use_internal_ip = True
# Containers are disposable; the home volume is what persists.
c.DockerSpawner.remove = True
# {username} is escaped by DockerSpawner to lowercase letters, digits and '-xx' escapes.
c.DockerSpawner.name_template = f"{prefix}-user-{{username}}"
c.DockerSpawner.volumes = {f"{prefix}-home-{{username}}": "/home/jovyan"}
c.DockerSpawner.notebook_dir = "/home/jovyan"
c.DockerSpawner.extra_create_kwargs = {"labels": {"org.edahub.user-prefix": prefix}}
c.DockerSpawner.start_timeout = settings.spawn_timeout
c.DockerSpawner.http_timeout = settings.spawn_timeout
if settings.user_mem_limit:
    c.DockerSpawner.mem_limit = settings.user_mem_limit
if settings.user_cpu_limit:
    c.DockerSpawner.cpu_limit = settings.user_cpu_limit
c.Spawner.default_url = "/lab"
