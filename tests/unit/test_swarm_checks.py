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


# --- Swarm secrets --------------------------------------------------------------------

def swarm_stack():
    import yaml

    from edahub.swarm import STACK_FILE

    return yaml.safe_load(STACK_FILE.read_text())


def test_no_secret_is_in_a_service_spec_only_swarm_secrets_read_as_files():
    from edahub.swarm import STACK_FILE, secret_variable, swarm_secret_keys

    stack = swarm_stack()
    text = STACK_FILE.read_text()
    for key in swarm_secret_keys():
        assert "${" + key not in text, f"{key}'s value would be in a service's environment"
        logical = key.removeprefix("EDAHUB_").lower()
        assert stack["secrets"][logical] == {"external": True, "name": stack["secrets"][logical]["name"]}
        assert stack["secrets"][logical]["name"].startswith("${" + secret_variable(key) + ":?")
    for name, service in stack["services"].items():
        mounted = set(service.get("secrets", []))
        for variable, value in (service.get("environment") or {}).items():
            if variable.endswith("_FILE"):
                secret = value.removeprefix("/run/secrets/")
                assert value.startswith("/run/secrets/") and secret in mounted, (name, variable)


class FakeSecrets:
    """client.secrets of a swarm: create, list by label, remove (refused while in use)."""

    def __init__(self, in_use=()):
        self.made = {}  # name -> (data, labels)
        self.in_use = set(in_use)

    def create(self, name, data, labels):
        assert name not in self.made, f"{name} exists: Swarm secrets cannot be replaced"
        self.made[name] = (data, labels)

    def list(self, filters):
        key, _, value = filters["label"].partition("=")
        return [SimpleNamespace(name=name, remove=lambda name=name: self.remove(name))
                for name, (_, labels) in self.made.items() if labels.get(key) == value]

    def remove(self, name):
        if name in self.in_use:
            raise RuntimeError("secret is in use")
        del self.made[name]


def test_deploy_makes_a_secret_per_setting_and_a_new_one_when_a_value_changes():
    from edahub.swarm import ensure_secrets, remove_unused_secrets, swarm_secret_keys

    client = SimpleNamespace(secrets=FakeSecrets())
    values = envfile.missing_values({})
    names, created = ensure_secrets(client, "edahub", values)
    assert created == len(swarm_secret_keys()) == len(names)
    cookie = names["EDAHUB_SWARM_SECRET_COOKIE_SECRET"]
    assert client.secrets.made[cookie][0] == f"{values['EDAHUB_COOKIE_SECRET']}\n".encode()
    assert values["EDAHUB_COOKIE_SECRET"] not in cookie  # the name does not give it away
    again, created = ensure_secrets(client, "edahub", values)
    assert (again, created) == (names, 0)  # unchanged: nothing made, services untouched
    changed = {**values, "EDAHUB_COOKIE_SECRET": "f" * 64}
    newer, created = ensure_secrets(client, "edahub", changed)
    assert created == 1 and newer["EDAHUB_SWARM_SECRET_COOKIE_SECRET"] != cookie
    # The replaced one goes once nothing uses it; another stack's secrets stay.
    client.secrets.made["other_cookie_secret_0"] = (b"x\n", {"org.edahub.stack": "other"})
    client.secrets.in_use = {cookie}
    assert remove_unused_secrets(client, "edahub", set(newer.values())) == 0
    client.secrets.in_use = set()
    assert remove_unused_secrets(client, "edahub", set(newer.values())) == 1
    assert cookie not in client.secrets.made and "other_cookie_secret_0" in client.secrets.made


def test_an_unset_secret_is_a_newline_which_the_services_read_as_unset(tmp_path):
    from edahub.swarm import ensure_secrets

    client = SimpleNamespace(secrets=FakeSecrets())
    names, _ = ensure_secrets(client, "edahub", {**envfile.missing_values({}),
                                                 "EDAHUB_BITBUCKET_CLIENT_SECRET": ""})
    data, _ = client.secrets.made[names["EDAHUB_SWARM_SECRET_BITBUCKET_CLIENT_SECRET"]]
    assert data == b"\n"
    path = tmp_path / "bitbucket_client_secret"
    path.write_bytes(data)
    loaded = load_settings({"EDAHUB_BITBUCKET_CLIENT_SECRET_FILE": str(path)},
                           keys=["EDAHUB_BITBUCKET_CLIENT_SECRET"])
    assert loaded.bitbucket_client_secret in ("", None)



def service(tasks, replicas=1, update_state=None, message=""):
    attrs = {"Spec": {"Mode": {"Replicated": {"Replicas": replicas}}}}
    if update_state:
        attrs["UpdateStatus"] = {"State": update_state, "Message": message}
    return SimpleNamespace(name="edahub_hub", attrs=attrs, tasks=lambda filters: tasks)


def task(state="running"):
    return {"Status": {"State": state}}


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def waited(views, timeout=60):
    """wait_for_services over a swarm whose service looks like views[i] at the i-th look
    (the last one from then on); returns its seconds, or the UserError."""
    from edahub.console import UserError
    from edahub.swarm import wait_for_services

    looks = iter(views)
    last = [None]

    def services(filters):
        last[0] = next(looks, last[0])
        return [last[0]]

    clock = Clock()
    client = SimpleNamespace(services=SimpleNamespace(list=services))
    try:
        return wait_for_services(client, "edahub", timeout, clock=clock, sleep=clock.sleep)
    except UserError as error:
        return error


def test_deploy_counts_services_as_running_only_once_they_stay_so_with_no_update_under_way():
    from edahub.swarm import STEADY_SECONDS

    assert waited([service([task()])]) == STEADY_SECONDS
    # Right after `docker stack deploy` of an upgrade the old task still runs, and Swarm
    # marks the update begun a moment later: the wait starts over.
    seconds = waited([service([task()]), service([task()], update_state="updating"),
                      service([task("starting")], update_state="updating"),
                      service([task()], update_state="completed")])
    assert seconds == 3 + STEADY_SECONDS
    assert "not running after 60s: edahub_hub" in str(waited([service([task("pending")])]))
    assert "not running after 60s" in str(waited([service([task()], replicas=2)]))


def test_deploy_stops_at_once_when_swarm_paused_an_update_and_says_how_to_go_back():
    error = waited([service([task()], update_state="paused",
                            message="update paused due to failure or early termination")])
    assert "Swarm stopped updating edahub_hub: update paused due to failure" in str(error)
    assert "docker service rollback edahub_hub" in str(error)
