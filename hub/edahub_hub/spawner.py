"""DockerSpawner with each user's databases provisioned as their server starts."""

import asyncio
import functools
import html
import socket
from concurrent.futures import ThreadPoolExecutor

from dockerspawner import DockerSpawner
from jupyterhub.utils import url_escape_path, url_path_join
from tornado import web
from traitlets import Bool, Dict, Float, Integer, List, Unicode, default

from edahub_core.errors import UserError
from edahub_core.names import COMPOSE_PROJECT_LABEL, COMPOSE_SERVICE_LABEL

from .databases import (MARIADB_HOST, MariaDBProvisioner, MongoDBProvisioner,
                        credentials_for, retry)
from .userdata import drop_user_data


class EdahubSpawner(DockerSpawner):
    """A user's container, with their own MariaDB and MongoDB database and account."""

    db_password_key = Unicode("", config=True, help="EDAHUB_DB_PASSWORD_KEY (hex).")
    mariadb_provisioner_password = Unicode("", config=True)
    mongodb_provisioner_password = Unicode("", config=True)
    mariadb_admin_host = Unicode(
        MARIADB_HOST, config=True,
        help="Where the hub reaches MariaDB to provision: on a swarm, its name on the admin "
        "network (compose.swarm.yaml), the only network its provisioning account accepts.")
    shared_datasets = Bool(False, config=True, help="Grant read access to 'datasets'.")
    delete_user_data = Bool(False, config=True,
                            help="Drop databases and home volume when the user is deleted.")
    _database_name = None  # set by claim_database_name

    profiles = List(Dict(), config=True,
                    help="Limits a user may pick at spawn besides the standard ones: "
                    "{name, mem_limit, cpu_limit} each (EDAHUB_USER_PROFILES).")
    _standard_limits = None  # (mem_limit, cpu_limit) as configured; set at the first start

    home_size = Unicode(
        "", config=True,
        help="Size limit of homes created from now on (EDAHUB_USER_HOME_SIZE): Docker's "
        "local volume option `size`, an XFS project quota. Empty: no limit.")
    network_policy = Bool(
        False, config=True,
        help="Start no server unless the stack's netpolicy service is healthy "
        "(EDAHUB_NETWORK_POLICY).")
    _compose_project = None  # the hub's own Compose project; found once, for all spawners

    docker_threads = Integer(
        4, config=True,
        help="Threads that talk to Docker for all users' spawns. DockerSpawner has one "
        "(jupyterhub/dockerspawner#279), so every user's calls wait behind everyone "
        "else's in a burst; the engine serves several at once.")
    _threads = None  # one pool for all spawners, made at the first call

    @property
    def executor(self):
        cls = EdahubSpawner
        if cls._threads is None:
            cls._threads = ThreadPoolExecutor(self.docker_threads,
                                              thread_name_prefix="edahub-docker")
        return cls._threads

    ready_poll_interval = Float(
        0.1, config=True,
        help="Seconds between checks that a new server answers, before the hub is told.")

    @default("options_form")
    def _default_options_form(self):
        if not self.profiles:
            return ""  # nothing to choose: JupyterHub shows no form
        options = [("standard", "Standard")] + [
            (p["name"], f"{p['name']} ({p['mem_limit']} memory, {p['cpu_limit']:g} cores)")
            for p in self.profiles]
        items = "".join(f'<option value="{html.escape(value)}">{html.escape(label)}</option>'
                        for value, label in options)
        return (f'<label for="edahub-profile">Resources</label>'
                f'<select class="form-control" id="edahub-profile" name="profile">{items}'
                f'</select>')

    def options_from_form(self, formdata):
        return {"profile": (formdata.get("profile") or ["standard"])[0]}

    def chosen_profile(self):
        """The profile in ``user_options`` (None: standard); HTTP 400 for anything else.

        Only the admin's profiles can be chosen, by name: a request that names another,
        or asks for limits or anything else directly, starts nothing.
        """
        options = dict(self.user_options or {})
        name = options.pop("profile", "standard")
        if options:
            raise web.HTTPError(400, f"Unknown server options: "
                                     f"{', '.join(sorted(map(str, options)))}. Only a profile "
                                     "can be chosen.")
        if name == "standard":
            return None
        for profile in self.profiles:
            if profile["name"] == name:
                return profile
        choices = ", ".join(["standard", *(p["name"] for p in self.profiles)])
        raise web.HTTPError(400, f"There is no profile {str(name)[:40]!r} here; choose one of: "
                                 f"{choices}.")

    def apply_profile(self):
        """Set this start's limits: the chosen profile's, else the standard ones."""
        if self._standard_limits is None:
            self._standard_limits = (self.mem_limit, self.cpu_limit)
        profile = self.chosen_profile()
        if profile is None:
            self.mem_limit, self.cpu_limit = self._standard_limits
        else:
            self.mem_limit, self.cpu_limit = profile["mem_limit"], profile["cpu_limit"]
            self.log.info("%s starts with profile %s", self.user.name, profile["name"])

    @property
    def credentials(self):
        return credentials_for(self.user.name, self.db_password_key,
                               name=self.claim_database_name())

    def claim_database_name(self):
        """This user's database name, recorded for them (hub/edahub_hub/dbnames.py).

        A name that belongs to someone else stops the spawn: the admin reads both names in
        the hub's log; the user is told to ask the admin.
        """
        from .dbnames import DatabaseNames, NameTaken

        if self._database_name:  # recorded once; get_env and start both ask
            return self._database_name
        try:
            self._database_name = DatabaseNames(self.user.db).claim(
                self.user.name, getattr(self.user, "created", None))
            return self._database_name
        except NameTaken as error:
            self.log.error("Refusing to start %s's server: %s", self.user.name, error)
            raise RuntimeError(
                "Your databases cannot be set up: their name belongs to another user. "
                "Please ask the administrator of this edahub (the hub's log says more).") from None

    def provision_user_databases(self):
        """Create the user's databases and accounts when missing (blocking; run in a thread)."""
        creds = self.credentials
        mariadb = MariaDBProvisioner(self.mariadb_provisioner_password,
                                     host=self.mariadb_admin_host)
        mongodb = MongoDBProvisioner(self.mongodb_provisioner_password)
        retry(lambda: mariadb.ensure(creds, self.shared_datasets), "MariaDB provisioning",
              log=self.log)
        if mariadb.legacy:
            self.log.warning("MariaDB's provisioning account still has the wide rights of "
                             "edahub 0.2.0 and earlier (its volume predates the procedures): "
                             "run python3 scripts/bootstrap.py upgrade (docs/databases.md)")
        retry(lambda: mongodb.ensure(creds, self.shared_datasets), "MongoDB provisioning",
              log=self.log)
        self.log.info("Databases of %s ready as %s", self.user.name, creds.name)

    async def start(self):
        # Read the record afresh at each start (the drop command may have changed it), on
        # the event loop: the hub's database session lives here.
        self._database_name = None
        self.apply_profile()
        self.claim_database_name()
        await self.require_network_policy()
        await self.ensure_home_volume()
        # The user's databases are made (in a thread: the drivers block) while Docker
        # starts the container: the server reads its credentials from its environment,
        # and nobody can use it before start returns, after both.
        provisioning = asyncio.get_running_loop().run_in_executor(
            None, self.provision_user_databases)
        try:
            ip, port = await super().start()
        except BaseException:
            await asyncio.gather(provisioning, return_exceptions=True)
            raise
        try:
            await provisioning
        except Exception:
            self.log.error("Stopping %s's new server: their databases could not be set up",
                           self.user.name)
            await self.stop()
            raise
        # The path alone: with EDAHUB_USER_SUBDOMAINS the user's url names their host.
        base_url = url_path_join(self.user.base_url, url_escape_path(self.name), "/")
        await self.wait_until_answering(f"http://{ip}:{port}{base_url}api")
        return ip, port

    async def require_network_policy(self):
        """Refuse to start a server while the network policy is not in place.

        After a reboot Docker starts the hub and the netpolicy service together, and the
        host's firewall is empty until netpolicy has installed its rules: a server started
        in that window would reach everything. The hub's depends_on covers only
        `docker compose up`, so each start asks Docker whether this stack's netpolicy
        container is running and healthy.
        """
        if not self.network_policy:
            return
        if self._compose_project is None:
            try:  # the hub's container is named by its host name
                me = await self.docker("inspect_container", socket.gethostname())
                EdahubSpawner._compose_project = me["Config"]["Labels"][COMPOSE_PROJECT_LABEL]
            except Exception as error:
                self.log.error("Cannot find the hub's Compose project to check the network "
                               "policy (%s); starting no server", error)
                raise web.HTTPError(503, self._NO_POLICY) from None
        healthy = await self.docker("containers", filters={
            "label": [f"{COMPOSE_PROJECT_LABEL}={self._compose_project}",
                      f"{COMPOSE_SERVICE_LABEL}=netpolicy"],
            "health": "healthy"})
        if not healthy:
            self.log.error("Not starting %s's server: the netpolicy service of %s is not "
                           "running and healthy, so users' servers would not be fenced in "
                           "(docker compose logs netpolicy; python3 scripts/bootstrap.py "
                           "status)", self.user.name, self._compose_project)
            raise web.HTTPError(503, self._NO_POLICY)

    _NO_POLICY = ("Servers cannot start right now: the hub's network protection is not in "
                  "place (it may still be starting). Try again in a minute; if this stays, "
                  "please tell the administrator of this edahub.")

    async def ensure_home_volume(self):
        """Create a new home with its size limit (EDAHUB_USER_HOME_SIZE).

        Docker would create the volume with the container, without options; created here
        first, it carries the limit from its first byte. A home that exists keeps what it
        was created with (Docker cannot change a volume's options; docs/operations.md says
        how to move a home under a limit).
        """
        if not self.home_size:
            return
        [volume] = self.volume_binds  # the home volume, named from DockerSpawner.volumes
        from docker.errors import NotFound

        try:
            await self.docker("inspect_volume", volume)
            return
        except NotFound:
            pass
        try:
            await self.docker("create_volume", name=volume, driver="local",
                              driver_opts={"size": self.home_size})
        except Exception as error:
            self.log.error("Cannot create %s's home %s with EDAHUB_USER_HOME_SIZE=%s: %s "
                           "(docs/operations.md, \"Home sizes\")", self.user.name, volume,
                           self.home_size, error)
            raise RuntimeError("Your home folder cannot be created. Please tell the "
                               "administrator of this edahub (the hub's log says why).") from None
        self.log.info("Created %s's home %s, at most %s", self.user.name, volume, self.home_size)

    async def wait_until_answering(self, url):
        """Return as soon as the new server answers HTTP at ``url`` (bounded: http_timeout).

        JupyterHub 6 checks a started server with an exponential back-off (0.2 s doubling
        up to 5 s, jupyterhub.utils.exponential_backoff), so it noticed a server that was
        up 0.3-3 s late. Checking every ``ready_poll_interval`` here, its first check
        finds the server answering. A request sent before the server's loop runs waits
        in its listen queue and is answered the moment it does. If the server never
        answers, JupyterHub's own check reports it as usual.

        A server still starting after a few seconds is in a burst of spawns, where every
        check costs the busy hub: the interval grows to at most 0.5 s (after 8 s). A
        check that times out, as one may while both cores are busy, is "not yet".
        """
        from tornado.httpclient import AsyncHTTPClient, HTTPClientError

        # A client of its own: the shared one has ten connection slots, which the hub's
        # calls to the proxy need too (ten spawns polling would queue them).
        client = AsyncHTTPClient(force_instance=True)
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.http_timeout
        try:
            while loop.time() < deadline:
                try:
                    response = await client.fetch(
                        url, raise_error=False, follow_redirects=False,
                        request_timeout=max(0.1, min(5.0, deadline - loop.time())))
                    if response.code < 500:  # any answer: the server is up (599: none)
                        return True
                except (OSError, HTTPClientError):  # refused, reset, timed out: not yet
                    pass
                waited = loop.time() - started
                await asyncio.sleep(max(self.ready_poll_interval, min(0.5, waited / 16)))
            return False
        finally:
            client.close()

    def get_env(self):
        env = super().get_env()
        env.update(self.credentials.environment())
        return env

    async def delete_forever(self):
        """Called when an admin deletes the user: keep their data unless configured not to."""
        if not self.delete_user_data:
            self.log.info("Keeping the data of deleted user %s (EDAHUB_DELETE_USER_DATA is off)",
                          self.user.name)
            return
        [volume] = self.volume_binds  # the home volume, named from DockerSpawner.volumes
        name = self.claim_database_name()
        try:
            await asyncio.get_running_loop().run_in_executor(None, functools.partial(
                drop_user_data, self.user.name, database=name, volume=volume,
                mariadb_password=self.mariadb_provisioner_password,
                mongodb_password=self.mongodb_provisioner_password,
            ))
        except UserError as error:
            self.log.error("Could not drop all data of deleted user %s: %s", self.user.name, error)
            return
        from .dbnames import DatabaseNames

        DatabaseNames(self.user.db).forget(self.user.name)
        self.log.info("Dropped the databases and home volume of deleted user %s", self.user.name)
