"""`bootstrap.py swarm move-home` (scripts/edahub/swarm_homes.py) against a fake swarm: what
it refuses before touching anything, and how it judges the copy. tests/swarm/ moves a home
on a real swarm."""

from types import SimpleNamespace

import pytest

from edahub.console import UserError
from edahub.swarm_homes import plan, wait_for_copy
from edahub_core.names import home_volume_name

SETTINGS = SimpleNamespace(user_prefix="edahub", user_home_size=None,
                           singleuser_image="registry.lab.example/edahub-singleuser:0.2.1")
VOLUME = home_volume_name("edahub", "erin")
LABEL = f"edahub.home.{VOLUME}"


def node(node_id, role="worker", availability="active", state="ready", labels=None):
    return SimpleNamespace(id=node_id, attrs={
        "Spec": {"Role": role, "Availability": availability, "Labels": labels or {}},
        "Status": {"State": state}, "Description": {"Hostname": f"host-{node_id}"}})


class FakeClient:
    def __init__(self, nodes, services=()):
        self.nodes = SimpleNamespace(list=self.list_nodes)
        self.services = SimpleNamespace(list=self.list_services)
        self._nodes, self._services = nodes, services

    def list_nodes(self, filters=None):
        if not filters:
            return self._nodes
        key, _, value = filters["node.label"].partition("=")
        return [n for n in self._nodes if n.attrs["Spec"]["Labels"].get(key) == value]

    def list_services(self, filters):
        # Docker's name filter matches names that start with it too.
        return [SimpleNamespace(name=name) for name in self._services
                if name.startswith(filters["name"])]


def swarm(source_availability="active", target=None, services=()):
    return FakeClient([node("m1", role="manager"),
                       node("w1", availability=source_availability, labels={LABEL: "true"}),
                       target or node("w2")], services)


def test_a_move_is_planned_from_the_labelled_node_to_the_named_one():
    volume, label, source, target = plan(swarm(), SETTINGS, "erin", "host-w2")
    assert (volume, label, source.id, target.id) == (VOLUME, LABEL, "w1", "w2")
    assert plan(swarm(), SETTINGS, "erin", "w2")[3].id == "w2"  # a node ID works too


@pytest.mark.parametrize("username", ["../erin", "erin;rm -rf /", "Erin", "", "e" * 65,
                                      "erin\n"])
def test_a_name_outside_the_username_policy_is_refused(username):
    with pytest.raises(UserError, match="is not a username of edahub"):
        plan(swarm(), SETTINGS, username, "host-w2")


def test_a_running_server_is_refused_but_not_a_longer_names():
    with pytest.raises(UserError, match="erin's server runs"):
        plan(swarm(services=["edahub-user-erin"]), SETTINGS, "erin", "host-w2")
    assert plan(swarm(services=["edahub-user-erin2"]), SETTINGS, "erin", "host-w2")


@pytest.mark.parametrize("client, target, message", [
    (FakeClient([node("w2")]), "host-w2", "no node holds erin's home"),
    (swarm(), "host-w1", "already on host-w1"),
    (swarm(), "host-m1", "cannot run users' servers: it is a manager"),
    (swarm(), "nowhere", "no node of this swarm is called nowhere"),
    (swarm(target=node("w2", availability="drain")), "host-w2", "it is a worker, drain/ready"),
    (swarm(target=node("w2", state="down")), "host-w2", "active, ready worker"),
    (swarm(source_availability="drain"), "host-w2", "restore erin's home from a backup"),
])
def test_a_move_that_cannot_work_is_refused_with_its_fix(client, target, message):
    with pytest.raises(UserError) as raised:
        plan(client, SETTINGS, "erin", target)
    assert message in str(raised.value)


class OneOff:
    """A finished one-off service: its task's state and what it printed."""

    def __init__(self, name, state, output):
        self.name, self.state, self.output = name, state, output

    def tasks(self):
        return [{"Status": {"State": self.state}}]

    def logs(self, **kwargs):
        return iter([self.output.encode()])


def test_the_copy_counts_when_both_sides_report():
    reports = wait_for_copy([OneOff("to", "complete", "received 10240 ab12\n"),
                             OneOff("from", "complete", "sent 10240 ab12\n")], timeout=5)
    assert reports == {"received": (10240, "ab12"), "sent": (10240, "ab12")}


def test_a_target_that_already_holds_files_is_refused():
    with pytest.raises(UserError, match="already holds a volume of that name"):
        wait_for_copy([OneOff("to", "failed", "not-empty\n"),
                       OneOff("from", "running", "")], timeout=5)


def test_a_failed_side_fails_the_move_with_what_it_said():
    with pytest.raises(UserError, match="tar: ./x: Cannot open: Permission denied"):
        wait_for_copy([OneOff("to", "complete", "received 0 e3b0\n"),
                       OneOff("from", "failed", "tar: ./x: Cannot open: Permission denied\n")],
                      timeout=5)
