"""A real multi-node Docker Swarm on this machine, for the swarm tests.

Each node is Debian's Docker engine in a container (tests/swarm/node/; NODE_PRIVILEGES), on a
bridge network of its own; a registry (Debian's docker-registry, tests/swarm/registry/)
on the same network carries the images to the nodes, as an operator's private registry
does. The manager's engine socket is also bound to a folder of the host, so that the
operator's commands (`bootstrap.py swarm deploy`) run here against the manager exactly as
they run on one (DOCKER_HOST).

Everything is named edahub-swarm-<run>-*, and ``TestSwarm.remove`` removes it all:
containers, their volumes (the nodes' engines' data), the network, the registry.
"""

import io
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REGISTRY_PORT = 5000  # on the test network; the nodes name it registry:5000
# What an engine in a container needs. `--privileged` would be simpler, but it is refused
# where the host's bounding set lacks a capability (CAP_SYS_RESOURCE on CI's machines:
# "unable to apply caps"): every other capability, no seccomp/AppArmor/SELinux
# confinement, /proc unmasked, and the host's cgroups to make the nodes' containers in.
NODE_PRIVILEGES = {
    "cap_add": ["ALL"], "cap_drop": ["SYS_RESOURCE"], "cgroupns": "host",
    "security_opt": ["seccomp=unconfined", "apparmor=unconfined", "label=disable"],
}
NODE_MOUNTS = {"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}}


@dataclass
class Node:
    name: str  # the container's and the node's host name
    container: object
    address: str

    def docker(self, *args, timeout=300, check=True):
        """Run the node's own docker CLI (its engine) in it; returns stdout."""
        result = self.container.exec_run(["timeout", str(timeout), "docker", *args],
                                         demux=True)
        out, err = (part.decode(errors="replace") if part else "" for part in result.output)
        if check and result.exit_code != 0:
            raise RuntimeError(f"{self.name}: docker {' '.join(args)}: {err or out}")
        return out


@dataclass
class TestSwarm:
    run_id: str
    client: object
    network: object = None
    registry: object = None
    registry_host_port: int = 0
    nodes: list = field(default_factory=list)
    socket_dir: Path = None

    @property
    def manager(self):
        return self.nodes[0]

    @property
    def workers(self):
        return self.nodes[1:]

    @property
    def docker_host(self):
        """DOCKER_HOST for the manager's engine, from this machine."""
        return f"unix://{self.socket_dir}/docker.sock"

    def node_by_id(self, node_id):
        name = self.manager.docker("node", "inspect", node_id, "--format",
                                   "{{.Description.Hostname}}").strip()
        return next(node for node in self.nodes if node.name == name)

    def remove(self):
        for container in [*(node.container for node in self.nodes), self.registry]:
            if container is not None:
                try:
                    container.remove(force=True, v=True)
                except Exception as error:  # keep removing the rest
                    print(f"removing {container.name}: {error}", file=sys.stderr)
        if self.network is not None:
            self.network.remove()


def start_swarm(client, run_id, node_image, registry_image, workers, socket_dir, log=print):
    """A manager and ``workers`` workers, joined, with the registry; returns TestSwarm."""
    from stacktools import free_port

    swarm = TestSwarm(run_id=run_id, client=client, socket_dir=Path(socket_dir))
    prefix = f"edahub-swarm-{run_id}"
    try:
        swarm.network = client.networks.create(prefix, driver="bridge")
        swarm.registry_host_port = free_port()
        api = client.api
        created = api.create_container(
            registry_image, name=f"{prefix}-registry", ports=[REGISTRY_PORT],
            host_config=api.create_host_config(
                port_bindings={REGISTRY_PORT: ("127.0.0.1", swarm.registry_host_port)}),
            networking_config=api.create_networking_config(
                {swarm.network.name: api.create_endpoint_config(aliases=["registry"])}))
        swarm.registry = client.containers.get(created["Id"])
        swarm.registry.start()
        for index in range(workers + 1):
            role = "manager" if index == 0 else f"worker{index}"
            name = f"{prefix}-{role}"
            volumes = {}
            hosts = ["unix:///var/run/docker.sock"]
            if index == 0:
                volumes[str(socket_dir)] = {"bind": "/run/edahub-test", "mode": "rw"}
                hosts.append("unix:///run/edahub-test/docker.sock")
            host_config = api.create_host_config(
                binds={**volumes, **NODE_MOUNTS}, network_mode=swarm.network.name,
                **NODE_PRIVILEGES)
            # `--security-opt systempaths=unconfined` of the CLI: nothing masked in /proc.
            host_config.update(MaskedPaths=[], ReadonlyPaths=[])
            created = api.create_container(
                node_image, [f"--host={host}" for host in hosts], name=name, hostname=name,
                host_config=host_config)
            container = client.containers.get(created["Id"])
            container.start()
            container.reload()
            address = container.attrs["NetworkSettings"]["Networks"][swarm.network.name][
                "IPAddress"]
            swarm.nodes.append(Node(name, container, address))
        for node in swarm.nodes:
            wait_for_engine(node)
        manager = swarm.manager
        manager.docker("swarm", "init", "--advertise-addr", manager.address)
        token = manager.docker("swarm", "join-token", "--quiet", "worker").strip()
        for worker in swarm.workers:
            worker.docker("swarm", "join", "--token", token, f"{manager.address}:2377")
        log(f"swarm {prefix}: manager {manager.address}, "
            f"workers {', '.join(w.address for w in swarm.workers)}")
        return swarm
    except BaseException:
        swarm.remove()
        raise


def wait_for_engine(node, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.container.exec_run(["docker", "info"]).exit_code == 0:
            return
        node.container.reload()
        if node.container.status != "running":
            raise RuntimeError(f"{node.name}'s engine stopped:\n"
                               f"{node.container.logs(tail=40).decode(errors='replace')}")
        time.sleep(0.5)
    raise RuntimeError(f"{node.name}'s engine did not start in {timeout}s")


def push_images(swarm, tags, log=print):
    """Push ``tags`` from this machine's engine into the swarm's registry; returns the
    names the nodes pull them by (registry:5000/<repository>:<tag>)."""
    pushed = {}
    local = f"127.0.0.1:{swarm.registry_host_port}"
    for tag in tags:
        started = time.monotonic()
        repository, _, version = tag.rpartition(":")
        target = f"{local}/{repository}"
        subprocess.run(["docker", "tag", tag, f"{target}:{version}"], check=True)
        try:
            result = subprocess.run(["docker", "push", "--quiet", f"{target}:{version}"],
                                    capture_output=True, text=True, timeout=1800)
            if result.returncode != 0:
                raise RuntimeError(f"pushing {tag} failed: {result.stderr[-2000:]}")
        finally:
            subprocess.run(["docker", "rmi", f"{target}:{version}"], capture_output=True)
        pushed[tag] = f"registry:{REGISTRY_PORT}/{repository}:{version}"
        log(f"pushed {tag} in {time.monotonic() - started:.0f}s")
    return pushed


def copy_into(container, path, files):
    """Write ``files`` (name -> bytes) into ``path`` of ``container``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    container.put_archive(path, buffer.getvalue())
