"""`bootstrap.py swarm check`/`deploy`'s checks (scripts/edahub/swarm.py), against a fake
engine: each problem named with its fix. tests/swarm/ deploys on a real swarm."""

from types import SimpleNamespace

import pytest

from edahub import envfile
from edahub.swarm import swarm_problems
from edahub_core.settings import load_settings


class FakeEngine:
    def __init__(self, state="active", manager=True, nodes=(), missing_images=()):
        self._info = {"Swarm": {"LocalNodeState": state, "ControlAvailable": manager}}
        self.nodes = SimpleNamespace(list=lambda: [SimpleNamespace(attrs=n) for n in nodes])
        missing = set(missing_images)

        def registry_data(image):
            if image in missing:
                raise RuntimeError(f"manifest for {image} not found")

        self.images = SimpleNamespace(get_registry_data=registry_data)

    def info(self):
        return self._info


def node(name, role="worker", labels=None, availability="active", state="ready"):
    return {"Spec": {"Role": role, "Labels": labels or {}, "Availability": availability},
            "Status": {"State": state}, "Description": {"Hostname": name}}


GOOD_NODES = [node("m1", "manager", {"edahub.mariadb": "true", "edahub.mongodb": "true"}),
              node("w1")]
IMAGES = {"EDAHUB_HUB_IMAGE": "registry.lab.example:5000/edahub-hub:0.2.1",
          "EDAHUB_SINGLEUSER_IMAGE": "registry.lab.example:5000/edahub-singleuser:0.2.1",
          "EDAHUB_MARIADB_IMAGE": "registry.lab.example:5000/mariadb:11.8",
          "EDAHUB_MONGODB_IMAGE": "registry.lab.example:5000/mongo:8.0"}


def settings(**overrides):
    values = {**envfile.missing_values({}), **IMAGES, "EDAHUB_NETWORK_POLICY": "false",
              **overrides}
    return load_settings(values)


def problems(engine, **overrides):
    return [problem for problem, _ in swarm_problems(engine, settings(**overrides))]


def test_a_ready_swarm_has_no_problem():
    assert swarm_problems(FakeEngine(nodes=GOOD_NODES), settings()) == []


@pytest.mark.parametrize("engine, expected, fix", [
    (FakeEngine(state="inactive"), "not part of a swarm", "docker swarm init"),
    (FakeEngine(manager=False), "this node is a worker", "run this on a manager"),
])
def test_an_engine_outside_a_swarm_or_on_a_worker_is_refused_with_the_fix(engine, expected, fix):
    [(problem, how)] = swarm_problems(engine, settings())
    assert expected in problem and fix in how


def test_users_need_a_ready_worker():
    engine = FakeEngine(nodes=[GOOD_NODES[0], node("w1", availability="drain")])
    [(problem, fix)] = swarm_problems(engine, settings())
    assert "no worker is ready and active" in problem and "join-token worker" in fix


def test_each_database_needs_exactly_one_labelled_node():
    engine = FakeEngine(nodes=[node("m1", "manager", {"edahub.mariadb": "true"}),
                               node("w1", labels={"edahub.mariadb": "true"})])
    found = swarm_problems(engine, settings())
    assert [p for p, _ in found] == [
        "mariadb needs exactly one node labelled edahub.mariadb=true (found: m1, w1); its "
        "data volume lives there",
        "mongodb needs exactly one node labelled edahub.mongodb=true (found: none); its data "
        "volume lives there"]
    assert "docker node update --label-add edahub.mongodb=true <node>" in found[1][1]


def test_images_must_come_from_a_registry_that_has_them():
    engine = FakeEngine(nodes=GOOD_NODES, missing_images=[IMAGES["EDAHUB_HUB_IMAGE"],
                                                          "edahub-singleuser:0.2.1"])
    assert problems(engine, EDAHUB_SINGLEUSER_IMAGE="edahub-singleuser:0.2.1",
                    EDAHUB_MARIADB_IMAGE="mariadb:11.8") == [
        "the registry does not serve registry.lab.example:5000/edahub-hub:0.2.1: manifest for "
        "registry.lab.example:5000/edahub-hub:0.2.1 not found",
        "edahub-singleuser:0.2.1 names no registry, and none serves it, so the other nodes "
        "cannot pull it"]  # mariadb:11.8 comes from Docker Hub


def test_the_network_policy_deploys_on_a_swarm():
    # compose.swarm.yaml's netpolicy agent fences servers in on every node.
    assert problems(FakeEngine(nodes=GOOD_NODES), EDAHUB_NETWORK_POLICY="true") == []
