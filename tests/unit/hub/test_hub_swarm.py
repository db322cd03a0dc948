"""EdahubSwarmSpawner (hub/edahub_hub/swarm.py) against a fake swarm engine: what it asks
Swarm for. tests/swarm/ runs it on a real three-node swarm."""

import asyncio
import copy

import pytest
from docker.errors import APIError
from tornado.web import HTTPError

from edahub_core.names import home_volume_name

USER = "ann"
VOLUME = home_volume_name("edahub", USER)
LABEL = f"edahub.home.{VOLUME}"


class FakeSwarm:
    """The engine calls the spawner makes, over nodes with specs and labels."""

    def __init__(self, nodes, stale_updates=0):
        self.nodes = nodes  # id -> {"Spec": ..., "Status": ..., "Description": ...}
        self.versions = dict.fromkeys(nodes, 1)
        self.stale_updates = stale_updates
        self.calls = []

    async def __call__(self, method, *args, **kwargs):
        self.calls.append((method, args, kwargs))
        return getattr(self, f"api_{method}")(*args, **kwargs)

    def api_nodes(self, filters):
        key, _, value = filters["node.label"].partition("=")
        return [self.api_inspect_node(i) for i, n in self.nodes.items()
                if n["Spec"].get("Labels", {}).get(key) == value]

    def api_inspect_node(self, node_id):
        return {**copy.deepcopy(self.nodes[node_id]), "ID": node_id,
                "Version": {"Index": self.versions[node_id]}}

    def api_update_node(self, node_id, version, spec):
        if self.stale_updates:
            self.stale_updates -= 1
            self.versions[node_id] += 1  # another spawn got there first
            raise APIError("rpc error: update out of sequence")
        assert version == self.versions[node_id]
        self.nodes[node_id]["Spec"] = spec
        self.versions[node_id] += 1


def node(name, availability="active", state="ready", labels=None):
    return {"Spec": {"Availability": availability, "Role": "worker", "Labels": labels or {}},
            "Status": {"State": state}, "Description": {"Hostname": name}}


@pytest.fixture
def swarm_spawner(make_spawner):
    from edahub_hub.swarm import EdahubSwarmSpawner

    def make(nodes, **config):
        spawner = make_spawner(USER, spawner_class=EdahubSwarmSpawner, **config)
        spawner.docker = FakeSwarm(nodes)
        return spawner

    return make


def placement(spawner):
    return spawner.extra_placement_spec["constraints"]


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_new_home_is_placed_by_swarm_on_any_worker(swarm_spawner):
    spawner = swarm_spawner({"n1": node("w1"), "n2": node("w2")})
    run(spawner.place_on_home_node())
    assert placement(spawner) == ["node.role == worker"]
    assert spawner._new_home  # start_object labels the node Swarm picks


def test_a_home_brings_its_server_back_to_its_node(swarm_spawner):
    spawner = swarm_spawner({"n1": node("w1"), "n2": node("w2", labels={LABEL: "true"})})
    run(spawner.place_on_home_node())
    assert placement(spawner) == ["node.role == worker", f"node.labels.{LABEL} == true"]
    assert not spawner._new_home  # its node keeps its label; nothing to add


@pytest.mark.parametrize("availability, state", [("drain", "ready"), ("active", "down"),
                                                 ("pause", "ready")])
def test_a_home_on_a_node_out_of_service_stops_the_start_with_a_message(
        swarm_spawner, caplog, availability, state):
    spawner = swarm_spawner({"n2": node("w2", availability, state, labels={LABEL: "true"})})
    with pytest.raises(HTTPError) as refused:
        run(spawner.place_on_home_node())
    assert refused.value.status_code == 503
    assert "the machine that holds your files is out of service" in refused.value.log_message
    assert f"node w2 is {availability}/{state}" in caplog.text and VOLUME in caplog.text


def test_a_home_whose_node_left_the_swarm_is_not_started_anew_elsewhere(swarm_spawner, caplog):
    spawner = swarm_spawner({"n1": node("w1")})
    spawner.load_state({"home_placed": True})
    with pytest.raises(HTTPError, match="503"):
        run(spawner.place_on_home_node())
    assert f"no node is labelled {LABEL}" in caplog.text


def test_the_home_survives_a_stop_in_the_spawners_state(swarm_spawner):
    spawner = swarm_spawner({})
    spawner.home_placed = True
    spawner.clear_state()
    assert spawner.get_state()["home_placed"] is True


def test_labelling_the_node_of_a_new_home_retries_a_concurrent_update(swarm_spawner):
    spawner = swarm_spawner({"n1": node("w1", labels={"other": "x"})})
    spawner.docker.stale_updates = 2
    run(spawner.label_node("n1"))
    assert spawner.docker.nodes["n1"]["Spec"]["Labels"] == {"other": "x", LABEL: "true"}
    assert [c[0] for c in spawner.docker.calls].count("update_node") == 3


def test_the_home_is_a_named_volume_with_its_size_not_a_bind(swarm_spawner):
    [mount] = swarm_spawner({}, home_size="10G").mounts
    assert (mount["Type"], mount["Source"], mount["Target"]) == ("volume", VOLUME, "/home/jovyan")
    assert mount["VolumeOptions"]["DriverConfig"] == {"Name": "local",
                                                      "Options": {"size": "10G"}}


def test_limits_are_reserved_in_full_with_the_process_limit(swarm_spawner):
    spawner = swarm_spawner({}, pids_limit=256)
    spawner.mem_limit, spawner.cpu_limit = 2**30, 0.5
    assert spawner.resources() == {
        "Limits": {"MemoryBytes": 2**30, "NanoCPUs": 500_000_000, "Pids": 256},
        "Reservations": {"MemoryBytes": 2**30, "NanoCPUs": 500_000_000}}



def test_the_hubs_lookups_are_made_afresh_each_time(monkeypatch):
    # A server started again under the same name has a new address (tests/swarm/).
    import socket

    from edahub_hub.resolver import FreshLookups

    answers = iter(["10.231.128.18", "10.231.128.19"])

    async def getaddrinfo(host, port, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    async def twice():
        loop = asyncio.get_running_loop()
        monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
        resolver = FreshLookups()
        return [(await resolver.resolve("edahub-user-ann", 8888))[0]["host"] for _ in range(2)]

    assert run(twice()) == ["10.231.128.18", "10.231.128.19"]


def test_with_the_network_policy_a_server_waits_to_be_fenced_in(swarm_spawner):
    from edahub_core.names import SWARM_FENCE_LABEL

    spawner = swarm_spawner({}, network_policy=True)
    assert spawner.container_labels()[SWARM_FENCE_LABEL] == "8888"  # the port it opens
    assert SWARM_FENCE_LABEL not in swarm_spawner({}, network_policy=False).container_labels()


def test_the_fence_wait_is_in_the_servers_environment_only_with_the_policy(swarm_spawner,
                                                                            monkeypatch):
    from edahub_core.names import SWARM_FENCE_WAIT_VARIABLE
    from edahub_hub.spawner import EdahubSpawner

    monkeypatch.setattr(EdahubSpawner, "get_env", lambda self: {"JUPYTERHUB_API_TOKEN": "t"})
    assert swarm_spawner({}, network_policy=True).get_env()[SWARM_FENCE_WAIT_VARIABLE] == "60"
    assert SWARM_FENCE_WAIT_VARIABLE not in swarm_spawner({}, network_policy=False).get_env()


def test_the_proxy_reaches_a_server_at_its_tasks_address_not_its_name(swarm_spawner):
    # Swarm's DNS may still give the old task's address for the name right after a stop
    # and start (a 503 on the first kernel connection, tests/swarm/).
    spawner = swarm_spawner({})
    tasks = iter([
        {"NetworksAttachments": []},  # allocated, not yet attached
        {"NetworksAttachments": [
            {"Network": {"Spec": {"Name": "ingress"}}, "Addresses": ["10.0.0.9/24"]},
            {"Network": {"Spec": {"Name": "jupyterhub"}}, "Addresses": ["10.231.128.42/17"]}]},
    ])

    async def get_task():
        return next(tasks)

    spawner.get_task = get_task
    spawner.network_name = "jupyterhub"
    assert run(spawner.get_ip_and_port(interval=0)) == ("10.231.128.42", 8888)


def test_a_new_homes_node_is_labelled_without_touching_the_running_service(swarm_spawner,
                                                                           monkeypatch):
    # Updating the service's constraints made Swarm replace its first task: a second
    # container, at a new address (tests/swarm/). Restart policy none keeps it in place.
    from dockerspawner import SwarmSpawner

    spawner = swarm_spawner({"n1": node("w1"), "n2": node("w2")})
    run(spawner.place_on_home_node())

    async def assigned():
        return {"NodeID": "n2"}

    async def started(self):
        return None

    spawner.get_task = assigned
    monkeypatch.setattr(SwarmSpawner, "start_object", started)
    run(spawner.start_object())
    assert spawner.docker.nodes["n2"]["Spec"]["Labels"] == {LABEL: "true"}
    assert spawner.home_placed
    assert [call[0] for call in spawner.docker.calls if "service" in call[0]] == []
