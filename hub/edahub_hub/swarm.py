"""Users' servers as Docker Swarm services (docs/scale-out.md): EdahubSwarmSpawner.

Everything EdahubSpawner does (databases, profiles, limits, the readiness check) on
DockerSpawner's SwarmSpawner, with what SwarmSpawner lacks for edahub:

- the home is a named volume (SwarmSpawner mounts every volume as a bind of a host
  path, jupyterhub/dockerspawner#536), with the home size as the local driver's option;
- a home lives on one node, so a server goes back to the node of its home: the first
  start is placed by Swarm on any worker with room for the user's limits, and the node
  it lands on gets the home's node label (edahub.home.<volume>); if that node is gone or
  drained, the user is told so, and the admin moves the home by copying the volume and
  the label (docs/scale-out.md); restart policy none keeps Swarm from starting a server
  anywhere else behind the hub's back;
- the hub and the proxy reach a server at its task's address, not its service's name;
- containment as on one host where the service API has it: no capabilities, the
  process limit, and the users' image's init (tini) as PID 1;
- reservations equal to the limits, so Swarm places a server only where it fits;
- with the network policy on, a server waits until its node's netpolicy agent has fenced
  it in (edahub_hub/swarm_netpolicy.py).
"""

import asyncio

from docker.errors import APIError
from docker.types import DriverConfig, Mount, Resources, RestartPolicy
from dockerspawner import SwarmSpawner
from tornado import web
from traitlets import Integer

from edahub_core.names import (SWARM_FENCE_LABEL, SWARM_FENCE_WAIT_VARIABLE,
                               SWARM_HOME_LABEL_PREFIX, USER_HOME, USER_PREFIX_LABEL)

from .spawner import EdahubSpawner

FENCE_WAIT_SECONDS = 60  # how long a server waits for its node's netpolicy agent


class NodeGone(web.HTTPError):
    """The node that holds a user's home cannot run their server."""


class EdahubSwarmSpawner(EdahubSpawner, SwarmSpawner):
    """A user's server as a Swarm service on the node of their home."""

    pids_limit = Integer(0, config=True, help="Processes per server (EDAHUB_USER_PIDS_LIMIT).")

    home_placed = False  # the home exists on some node; kept across stops (spawner state)
    _new_home = False  # this start makes the home (place_on_home_node found no node for it)

    def load_state(self, state):
        super().load_state(state)
        self.home_placed = bool(state.get("home_placed", self.home_placed))

    def get_state(self):
        state = super().get_state()
        if self.home_placed:
            state["home_placed"] = True
        return state

    # clear_state (after a stop) keeps home_placed: it belongs to the home, not the server.

    @property
    def home_volume(self):
        [volume] = self.volume_binds  # named from DockerSpawner.volumes
        return volume

    @property
    def home_label(self):
        """The node label that marks the node of this home (docs/scale-out.md): the
        admin moves a home by copying the volume and moving the label."""
        return f"{SWARM_HOME_LABEL_PREFIX}{self.home_volume}"

    @property
    def mounts(self):
        options = {"size": self.home_size} if self.home_size else None
        return [Mount(target=USER_HOME, source=self.home_volume, type="volume",
                      labels={USER_PREFIX_LABEL: self.user_prefix_label()},
                      driver_config=DriverConfig("local", options))]

    def user_prefix_label(self):
        return self.extra_create_kwargs.get("labels", {}).get(USER_PREFIX_LABEL, "")

    async def ensure_home_volume(self):
        """Nothing to do here: the node that runs the server creates the home, with the
        size option of the mount (``mounts``)."""

    async def require_network_policy(self):
        """Nothing to check at the hub: on a swarm, each server waits until the netpolicy
        agent of its node has fenced it in (edahub_hub/swarm_netpolicy.py), and does not
        start without that (``get_env``, singleuser/edahub-start)."""

    def get_env(self):
        env = super().get_env()
        if self.network_policy:
            env[SWARM_FENCE_WAIT_VARIABLE] = str(FENCE_WAIT_SECONDS)
        return env

    def container_labels(self):
        labels = {USER_PREFIX_LABEL: self.user_prefix_label()}
        if self.network_policy:
            labels[SWARM_FENCE_LABEL] = str(self.port)  # the agent fences it, opening this port
        return labels

    async def create_object(self):
        await self.place_on_home_node()
        self.extra_container_spec = {"cap_drop": ["ALL"], "labels": self.container_labels()}
        self.extra_task_spec = {
            "resources": self.resources(), "log_driver": self.log_driver(),
            # As a container on one host: a server that ends (or whose node is drained)
            # is not started again behind the hub's back, with a new address; the hub's
            # poll sees it stopped, and the user starts it again.
            "restart_policy": RestartPolicy(condition="none")}
        # The hub and the proxy reach the server at its task's own address (DNS round
        # robin), as every edahub service is reached on a swarm: no virtual IP to
        # balance over one task (it needs IPVS in the node's kernel).
        self.extra_endpoint_spec = {"mode": "dnsrr"}
        return await super().create_object()

    def resources(self):
        """Limits as on one host, reserved in full, so Swarm places a server where it fits."""
        cpu = int(self.cpu_limit * 1e9) if self.cpu_limit else None
        resources = Resources(mem_limit=self.mem_limit, mem_reservation=self.mem_limit,
                              cpu_limit=cpu, cpu_reservation=cpu)
        if self.pids_limit:
            resources.setdefault("Limits", {})["Pids"] = self.pids_limit
        return resources

    def log_driver(self):
        """The rotated logs of one host (extra_host_config's log_config)."""
        config = self.extra_host_config.get("log_config") or {}
        return {"Name": config.get("type", "json-file"), "Options": config.get("config", {})}

    async def home_node(self):
        """The node labelled as holding this home, or None."""
        nodes = await self.docker("nodes", filters={"node.label": f"{self.home_label}=true"})
        return nodes[0] if nodes else None

    @staticmethod
    def usable(node):
        return (node["Spec"].get("Availability") == "active"
                and node["Status"].get("State") == "ready")

    async def place_on_home_node(self):
        """Constrain the service to the home's node; refuse if that node cannot run it."""
        constraints = ["node.role == worker"]
        node = await self.home_node()
        self._new_home = node is None and not self.home_placed
        if node is not None and self.usable(node):
            constraints.append(f"node.labels.{self.home_label} == true")
        elif node is not None or self.home_placed:
            where = (f"node {node['Description']['Hostname']} is "
                     f"{node['Spec'].get('Availability')}/{node['Status'].get('State')}"
                     if node else f"no node is labelled {self.home_label} (the node left "
                     "the swarm?)")
            self.log.error("Not starting %s's server: their home %s is on a node that cannot "
                           "run it (%s); to move the home: python3 scripts/bootstrap.py swarm move-home %s "
                           "<node> (docs/scale-out.md)", self.user.name, self.home_volume, where,
                           self.user.name)
            raise NodeGone(503, "Your server cannot start: the machine that holds your files "
                                "is out of service. Your files are kept; please ask the "
                                "administrator of this edahub to move them.")
        self.extra_placement_spec = {"constraints": constraints}

    async def start_object(self):
        if self._new_home:
            # A new home: Swarm has chosen its node, which gets the home's label; every later
            # start is constrained to it. This run stays there too: its restart policy is
            # none, so neither a drain nor a node failure starts it anywhere else. (Pinning
            # the running service as well would be an update that Swarm carries out by
            # replacing the task: a second container and a new address, seen on the test
            # swarm.)
            node_id = await self.wait_for_node()
            await self.label_node(node_id)
            self.home_placed = True
            self.log.info("%s's home %s is on node %s", self.user.name, self.home_volume,
                          node_id)
        await super().start_object()

    async def wait_for_node(self, interval=0.2):
        """The node Swarm assigned this server's task to (the spawn's timeout bounds it)."""
        while True:
            task = await self.get_task()
            if task is None:
                raise RuntimeError(f"Service {self.service_name} has no task")
            if task.get("NodeID"):
                return task["NodeID"]
            await asyncio.sleep(interval)

    async def label_node(self, node_id, attempts=10):
        """Add the home's label to ``node_id`` (retried: spawns on the same node update
        its spec concurrently, and Swarm refuses an update of a stale version)."""
        for attempt in range(attempts):
            node = await self.docker("inspect_node", node_id)
            spec = node["Spec"]
            spec.setdefault("Labels", {})[self.home_label] = "true"
            try:
                await self.docker("update_node", node_id, node["Version"]["Index"], spec)
                return
            except APIError as error:
                if "out of sequence" not in str(error) or attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.1 * (attempt + 1))

    async def get_ip_and_port(self, interval=0.2):
        """The address of the server's task on the users' network, not its service's name
        (SwarmSpawner's): Swarm's DNS spreads names between nodes with a delay, so right
        after a stop and start the proxy could still be given the old task's address for
        the same name (seen on the test swarm as a 503 on the first kernel connection)."""
        while True:
            task = await self.get_task()
            if task is None:
                raise RuntimeError(f"Service {self.service_name} has no task")
            for attachment in task.get("NetworksAttachments") or []:
                if attachment["Network"]["Spec"]["Name"] == self.network_name:
                    return attachment["Addresses"][0].split("/")[0], self.port
            await asyncio.sleep(interval)

    async def poll(self):
        """As SwarmSpawner's, except that a task waiting for its home's node, drained or
        down, is a stopped server: it has nowhere to run (the next start says why)."""
        status = await super().poll()
        if status is not None:
            return status
        task = await self.get_task()
        if task and task["Status"]["State"] == "pending":
            node = await self.home_node()
            if node is None or not self.usable(node):
                self.log.warning("%s's server cannot run: the node of its home is drained, "
                                 "down or gone", self.user.name)
                return "the node of the home is out of service"
        return None
