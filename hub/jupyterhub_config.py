# edahub's JupyterHub configuration.
#
# Every setting comes from the environment, which compose.yaml fills from .env; each is
# described once in scripts/edahub_core/settings.py (and in docs/settings.md). A missing or
# malformed setting stops the hub at start with a message that says how to fix it.

import os
import sys

from edahub_core.names import (SINGLEUSER_COMMAND, USER_HOME, USER_PREFIX_LABEL,
                               USERNAME_PATTERN, container_name_template, home_volume_template)
from edahub_core.settings import SettingsError, keys_for_service, load_settings
from edahub_hub import HUB_DB_URL
from edahub_hub.dbnames import start_record as start_database_names_record

# A secret given as a file (<KEY>_FILE in .env) arrives as a compose secret (compose.yaml);
# an empty file means it was not given.
SECRET_FILES = {"EDAHUB_BITBUCKET_CLIENT_SECRET": "/run/secrets/bitbucket_client_secret"}
environ = dict(os.environ)
for key, path in SECRET_FILES.items():
    if os.path.exists(path) and os.path.getsize(path) > 0:
        environ[f"{key}_FILE"] = path

try:
    settings = load_settings(environ, keys=keys_for_service("hub"))
except SettingsError as error:
    print(f"edahub: the hub cannot start: {error}", file=sys.stderr, flush=True)
    sys.exit(1)

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

# --- Hub and proxy -----------------------------------------------------------------
# The proxy runs in a container of its own (compose.yaml's proxy, edahub_hub/proxy.py):
# public on 8000 (compose publishes it), routes managed through its API on 8001 with a
# token. The hub's API is on 8081, reached by the proxy and users' servers through the
# service name on the shared network; the hub itself is published nowhere.
c.JupyterHub.bind_url = "http://:8000"
c.JupyterHub.hub_bind_url = "http://:8081"
c.JupyterHub.hub_connect_url = "http://hub:8081"
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = "http://proxy:8001"
c.ConfigurableHTTPProxy.auth_token = settings.proxy_auth_token
c.JupyterHub.db_url = HUB_DB_URL
# A new hub image migrates the database as it starts (`jupyterhub upgrade-db`), keeping a
# copy of the old SQLite file beside it; `bootstrap.py upgrade` backs everything up first.
c.JupyterHub.upgrade_db = True
# The record of users' database names starts now if it has not yet (hub/edahub_hub/
# dbnames.py): users created from now on never get a legacy (40-bit) name.
start_database_names_record(HUB_DB_URL)
c.JupyterHub.cookie_secret = bytes.fromhex(settings.cookie_secret)
c.CryptKeeper.keys = [bytes.fromhex(settings.crypt_key)]
c.JupyterHub.log_level = settings.log_level
# The operator's message above every hub page (planned maintenance, say).
if settings.announcement:
    c.JupyterHub.template_vars = {"announcement": settings.announcement}
# Prometheus reads /hub/metrics with this token, which can do nothing else.
c.JupyterHub.services = [{"name": "metrics", "api_token": settings.metrics_token}]
c.JupyterHub.load_roles = [{"name": "metrics", "scopes": ["read:metrics"],
                            "services": ["metrics"]}]
# API tokens that users create expire (a token asked for without an expiry gets the most).
c.JupyterHub.token_expires_in_max_seconds = settings.token_max_days * 24 * 3600
# Users' servers outlive the hub: a restart, a settings change or an upgrade of the hub
# ends nobody's kernels. The hub finds them again when it starts (and shows a server that
# died meanwhile as stopped). `python3 scripts/bootstrap.py stop` stops everything,
# users' servers included (scripts/edahub/lifecycle.py).
c.JupyterHub.cleanup_servers = False
# The hub's cookies are SameSite=Lax: a cross-site page cannot make the browser send them
# with a POST or a subresource request. (Strict would break the login's return from
# Bitbucket, a cross-site navigation.)
cookie_options = {"samesite": "Lax"}
if settings.public_url:
    # Absolute redirects use it, and an https:// URL makes every cookie Secure (the hub's
    # and users' servers'), also behind a reverse proxy that ends TLS.
    c.JupyterHub.public_url = settings.public_url + "/"
    if settings.public_url.startswith("https://"):
        # ...but not the _xsrf cookies, of the hub and of users' servers: mark them too.
        cookie_options["secure"] = True
        # Browsers that saw the hub over HTTPS never try plain HTTP again for a year.
        c.JupyterHub.tornado_settings.update(
            {"headers": {"Strict-Transport-Security": "max-age=31536000"}})
        from edahub_hub.https import secure_xsrf_cookie

        c.Spawner.pre_spawn_hook = secure_xsrf_cookie
c.JupyterHub.tornado_settings.update({"cookie_options": cookie_options})
# Origin isolation (docs/security.md): each user's server on <name>.<the hub's host>.
if settings.user_subdomains:
    c.JupyterHub.subdomain_host = settings.public_url

# --- HTTPS (docs/https.md) -------------------------------------------------------------
if settings.tls_cert:
    from edahub_hub import https

    problem = https.tls_problem(settings.tls_cert, settings.tls_key)
    if problem:
        print(f"edahub: the hub cannot start: {problem}", file=sys.stderr, flush=True)
        sys.exit(1)
    # The proxy serves HTTPS (edahub_hub/proxy.py; plain HTTP on the second published
    # port gets a 301 to the HTTPS URL); the hub checks the files too, so a bad pair
    # stops both with the same message.
    c.JupyterHub.bind_url = "https://:8000"
elif not (settings.public_url or "").startswith("https://"):
    print("edahub: warning: serving plain HTTP: passwords, cookies and notebooks cross the "
          "network unencrypted. Fine for a trial on this machine; otherwise set "
          "EDAHUB_TLS_CERT and EDAHUB_TLS_KEY, or put a TLS proxy in front (docs/https.md).",
          file=sys.stderr, flush=True)

# --- Login (docs/login.md) ------------------------------------------------------------
# One username policy for every login method (edahub_core.names), checked by JupyterHub
# before a user is created or logged in.
c.Authenticator.username_pattern = USERNAME_PATTERN
if settings.auth == "native":
    c.Authenticator.admin_users = {settings.admin_user}
    c.JupyterHub.authenticator_class = "edahub_hub.auth.FirstRunAuthenticator"
    from edahub_hub.auth import TEMPLATES

    c.JupyterHub.template_paths = [TEMPLATES]  # edahub's /hub/authorize page
    c.FirstRunAuthenticator.admin_password_hash = settings.admin_password_hash or ""
    # NativeAuthenticator admits only accounts an admin approved; it is the allow rule.
    c.Authenticator.allow_all = True
    c.NativeAuthenticator.open_signup = False
    c.NativeAuthenticator.minimum_password_length = 10
    c.NativeAuthenticator.check_common_password = True
    # Lock an account for 10 minutes after 5 wrong passwords in a row.
    c.NativeAuthenticator.allowed_failed_logins = 5
    c.NativeAuthenticator.seconds_before_next_try = 600
elif settings.auth == "bitbucket":
    # Bitbucket Cloud OAuth; a person's hub name is their Bitbucket username. Who may log
    # in is decided only by these settings (the settings layer refuses an empty rule).
    bitbucket = c.EdahubBitbucketOAuthenticator
    c.JupyterHub.authenticator_class = "edahub_hub.bitbucket.EdahubBitbucketOAuthenticator"
    bitbucket.client_id = settings.bitbucket_client_id
    bitbucket.client_secret = settings.bitbucket_client_secret
    bitbucket.oauth_callback_url = f"{settings.public_url}/hub/oauth_callback"
    bitbucket.bitbucket_url = settings.bitbucket_url
    bitbucket.api_url = settings.bitbucket_api_url
    admins = set(settings.bitbucket_admin_users or ())
    bitbucket.allow_all = settings.bitbucket_allow_all
    bitbucket.allowed_users = set(settings.bitbucket_allowed_users or ()) | admins
    bitbucket.allowed_workspaces = set(settings.bitbucket_allowed_workspaces or ())
    # The admin role lists exactly the configured admins: removing a name from the
    # setting removes the rights, which Authenticator.admin_users never does.
    c.JupyterHub.load_roles.append({"name": "admin", "users": sorted(admins)})
    bitbucket.custom_403_message = (
        "Your Bitbucket account is not allowed on this edahub. If you need access, ask "
        "its administrator to add your Bitbucket username, or a workspace you belong "
        "to, to the allow list."
    )

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
# {username} is escaped by DockerSpawner to lowercase letters, digits and '-xx' escapes
# (edahub_core.names.escape_username, which the operator tools use, does the same).
c.DockerSpawner.name_template = container_name_template(prefix)
c.DockerSpawner.volumes = {home_volume_template(prefix): USER_HOME}
c.DockerSpawner.notebook_dir = USER_HOME
# Users' servers ignore Jupyter config in the home (~/.jupyter, ~/.config/jupyter): one
# line there (extra_static_paths, say) would serve a user's own HTML, unauthenticated, on
# the hub's origin.
c.Spawner.disable_user_config = True
c.DockerSpawner.extra_create_kwargs = {"labels": {USER_PREFIX_LABEL: prefix}}
c.DockerSpawner.start_timeout = settings.spawn_timeout
c.DockerSpawner.http_timeout = settings.spawn_timeout
if settings.user_mem_limit:
    c.DockerSpawner.mem_limit = settings.user_mem_limit
if settings.user_cpu_limit:
    c.DockerSpawner.cpu_limit = settings.user_cpu_limit
# Other limits a user may pick at spawn (a form, or {"profile": NAME} through the API).
c.EdahubSpawner.profiles = [{"name": p.name, "mem_limit": p.mem_limit, "cpu_limit": p.cpu_limit}
                            for p in settings.user_profiles or ()]
# Containment (docs/security.md): a notebook server needs no Linux capability, nothing in
# it may gain privileges (setuid binaries do nothing), and its process count is bounded.
c.DockerSpawner.extra_host_config = {
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
    "pids_limit": settings.user_pids_limit,
    # Rotated logs, as every container of the stack has (compose.yaml, x-logging).
    "log_config": {"type": "json-file", "config": {"max-size": settings.log_max_size,
                                                   "max-file": str(settings.log_max_files)}},
}
c.Spawner.default_url = "/lab"
# Homes created from now on hold at most this much (an XFS project quota; bootstrap checks
# that the engine can apply it).
c.EdahubSpawner.home_size = settings.user_home_size or ""
# No server starts while the network policy is not in place (after a reboot, say).
c.EdahubSpawner.network_policy = settings.network_policy

# --- On a Docker Swarm (compose.swarm.yaml sets EDAHUB_SWARM; docs/scale-out.md) -------------
# Users' servers are Swarm services on the workers, each back on the node of its home;
# the hub provisions through the admin network, the only one the databases' provisioning
# accounts accept.
if os.environ.get("EDAHUB_SWARM") == "true":
    c.JupyterHub.spawner_class = "edahub_hub.swarm.EdahubSwarmSpawner"
    c.EdahubSpawner.mariadb_admin_host = "mariadb-admin"
    c.EdahubSwarmSpawner.pids_limit = settings.user_pids_limit
    # The users' image's own command (singleuser/Dockerfile's CMD): DockerSpawner would
    # read it from the image on this engine, but the manager need not have that image,
    # only the workers that run it.
    c.EdahubSwarmSpawner.cmd = [SINGLEUSER_COMMAND]
    # The hub reaches servers by their service's name. Its HTTP client keeps name lookups
    # (aiohttp's DNS cache, aio-libs/aiohttp#1914, and c-ares's), so a server started again
    # under the same name, with a new address, was checked at the old one and never became
    # ready (found on the test swarm; jupyterhub/dockerspawner#279 reports it on Swarm too).
    from edahub_hub.resolver import FreshLookups

    c.JupyterHubHTTPClient.connector_options = {"use_dns_cache": False,
                                                "resolver": FreshLookups()}

# --- Idle servers (jupyterhub-idle-culler, a hub-managed service) ------------------------
if settings.cull_idle_timeout:
    c.JupyterHub.services.append({
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                    f"--timeout={settings.cull_idle_timeout}",
                    f"--cull-every={settings.cull_every}",
                    f"--max-age={settings.cull_max_age}",
                    f"--cull-users={settings.cull_users}"],
    })
    # Exactly the scopes it needs (its README); removing users needs admin:users.
    c.JupyterHub.load_roles.append({
        "name": "idle-culler", "services": ["idle-culler"],
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers",
                   *(["admin:users"] if settings.cull_users else [])],
    })
    # Activity reaches the hub as often as the culler looks (servers report theirs, the
    # hub reads the proxy's), so a server in use is never taken for idle.
    activity_interval = min(300, settings.cull_every)
    c.JupyterHub.last_activity_interval = activity_interval
    c.Spawner.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": str(activity_interval)}
