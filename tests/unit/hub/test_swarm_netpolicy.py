"""The network policy on a swarm (hub/edahub_hub/swarm_netpolicy.py): the rules inside a
server's own network namespace, and how the node's agent installs them, against an
in-memory iptables behind nsenter. tests/swarm/ tries the real ones on a real swarm."""

import os
import subprocess

import pytest

from edahub_core.names import SWARM_FENCE_LABEL, SWARM_FENCED_FILE
from edahub_core.netpolicy import SERVER_IN_CHAIN, SERVER_OUT_CHAIN, Layout, Policy, PolicyError
from edahub_hub.swarm_netpolicy import Agent, fence, mark_fenced

POLICY = Policy(Layout("10.231"), blocked=("10.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12"),
                internet=True, resolvers=("192.0.2.53",))
PID = 4242


def rules(policy=POLICY, port=8888):
    """{chain: ["match -> target"]} without the digest comments, to read in asserts."""
    return {chain: [" ".join((*match, "->", *target)) for match, target in chain_rules]
            for chain, chain_rules in policy.server_chain_rules(port).items()}


def test_out_of_a_server_only_the_platforms_ports_in_the_users_network():
    out = rules()[SERVER_OUT_CHAIN]
    assert out[0] == "-o lo -> -j RETURN"  # Docker's DNS answers on the loopback
    assert "ESTABLISHED" in out[1]
    allowed = [rule for rule in out if rule.endswith("-j RETURN")]
    for port in (8081, 8000, 3306, 27017):
        assert f"-d 10.231.128.0/17 -p tcp --dport {port} -> -j RETURN" in allowed
    assert not any(port in rule for rule in allowed for port in ("8001", "8888")), allowed
    assert sum("-d 192.0.2.53/32" in rule for rule in allowed) == 2  # DNS, udp and tcp
    rejected = [rule.split(" ->")[0] for rule in out if "REJECT" in rule and "connlimit" not in rule]
    # The stack's whole range first (other servers, the admin network), then the blocked ones.
    assert rejected == ["-d 10.231.0.0/16", "-d 10.0.0.0/8", "-d 169.254.0.0/16",
                        "-d 172.16.0.0/12"]
    assert [rule for rule in out if "connlimit" in rule][0].index("27017") > 0
    # Every allowed rule comes before the first reject of a range.
    first_reject = out.index(next(rule for rule in out if rule.startswith("-d 10.231.0.0/16")))
    assert all(out.index(rule) < first_reject for rule in allowed)


def test_without_internet_a_server_reaches_nothing_else():
    closed = Policy(POLICY.layout, POLICY.blocked, internet=False, resolvers=())
    assert rules(closed)[SERVER_OUT_CHAIN][-1] == "-> -j REJECT --reject-with icmp-admin-prohibited"
    assert not rules()[SERVER_OUT_CHAIN][-1].startswith("->")


def test_into_a_server_only_its_own_port_from_the_users_network():
    assert rules(port=8888)[SERVER_IN_CHAIN] == [
        "-i lo -> -j RETURN",
        "-m conntrack --ctstate RELATED,ESTABLISHED -> -j RETURN",
        "-s 10.231.128.0/17 -p tcp --dport 8888 -> -j RETURN",
        "-> -j REJECT --reject-with icmp-admin-prohibited"]


class FakeNsenter:
    """subprocess.run for `nsenter --net=<file> -- iptables...`: an in-memory iptables per
    network namespace file; ``broken`` makes iptables-restore accept and install nothing."""

    def __init__(self, broken=False):
        self.namespaces = {}
        self.broken = broken
        self.commands = []

    def __call__(self, argv, input=None, **kwargs):
        assert argv[0] == "nsenter" and argv[1].startswith("--net=") and argv[2] == "--", argv
        self.commands.append(argv)
        chains = self.namespaces.setdefault(argv[1][len("--net="):], {"INPUT": [], "OUTPUT": []})
        command, wait, seconds, *args = argv[3:]
        assert (wait, seconds) == ("-w", "5")
        out, code = "", 0
        if command.endswith("-restore"):
            assert args == ["--noflush"]
            for line in input.splitlines():
                if line.startswith(":") and not self.broken:
                    chains[line[1:].split()[0]] = []
                elif line.startswith("-A ") and not self.broken:
                    _, chain, rest = line.split(" ", 2)
                    chains[chain].append(rest)
        elif args[0] == "-C":
            code = 0 if " ".join(args[2:]) in chains.get(args[1], []) else 1
        elif args[0] == "-S":
            if args[1] in chains:
                out = "".join(f"-A {args[1]} {rule}\n" for rule in chains[args[1]])
            else:
                code = 1
        elif args[0] == "-I" and not self.broken:
            chains[args[1]].insert(int(args[2]) - 1, " ".join(args[3:]))
        return subprocess.CompletedProcess(argv, code, out, "")


@pytest.fixture
def proc(tmp_path):
    """A stand-in for the node's /proc with one server, PID, whose /run is root's."""
    (tmp_path / str(PID) / "root" / "run").mkdir(parents=True)
    return tmp_path


def fenced_file(proc, pid=PID):
    return proc / str(pid) / "root" / SWARM_FENCED_FILE.lstrip("/")


def test_fence_installs_the_rules_in_the_servers_namespace_then_says_so(proc):
    nsenter = FakeNsenter()
    digest = fence(POLICY, 8888, PID, "iptables-nft", proc=str(proc), runner=nsenter)
    chains = nsenter.namespaces[f"{proc}/{PID}/ns/net"]
    assert chains["OUTPUT"] == [f"-j {SERVER_OUT_CHAIN}"] and chains["INPUT"] == [
        f"-j {SERVER_IN_CHAIN}"]
    assert len(chains[SERVER_OUT_CHAIN]) == len(rules()[SERVER_OUT_CHAIN])
    assert all(f"edahub:{digest}" in rule for rule in chains[SERVER_IN_CHAIN])
    assert fenced_file(proc).read_text() == f"{digest}\n"
    # Again (a restarted agent): the same rules, no second jump.
    fence(POLICY, 8888, PID, "iptables-nft", proc=str(proc), runner=nsenter)
    assert chains["OUTPUT"] == [f"-j {SERVER_OUT_CHAIN}"]
    assert len(chains[SERVER_OUT_CHAIN]) == len(rules()[SERVER_OUT_CHAIN])


def test_rules_that_did_not_take_leave_the_server_waiting(proc):
    with pytest.raises(PolicyError, match=f"chain {SERVER_OUT_CHAIN} is missing"):
        fence(POLICY, 8888, PID, "iptables-nft", proc=str(proc), runner=FakeNsenter(broken=True))
    assert not fenced_file(proc).exists()  # the server never starts unfenced


def test_the_fenced_file_is_not_written_through_a_link(proc, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "target"
    os.symlink(elsewhere, fenced_file(proc))
    with pytest.raises(OSError):
        mark_fenced(f"{proc}/{PID}/root", "digest")
    assert not elsewhere.exists()


class FakeNode:
    """The node's Docker API as the agent calls it."""

    def __init__(self, containers):
        self.containers_by_id = containers  # id -> (running, pid, label)

    def containers(self, filters):
        assert filters == {"label": SWARM_FENCE_LABEL, "status": "running"}
        return [{"Id": cid} for cid, (running, _, _) in self.containers_by_id.items() if running]

    def inspect_container(self, cid):
        running, pid, label = self.containers_by_id[cid]
        return {"Name": f"/{cid}", "State": {"Running": running, "Pid": pid},
                "Config": {"Labels": {SWARM_FENCE_LABEL: label}}}


def test_the_agent_fences_each_running_server_once(proc):
    for pid in (11, 12):
        (proc / str(pid) / "root" / "run").mkdir(parents=True)
    node = FakeNode({"ann": (True, 11, "8888"), "bob": (True, 12, "not-a-port")})
    nsenter = FakeNsenter()
    agent = Agent(node, POLICY, "iptables-nft", proc=str(proc), runner=nsenter)
    agent.sweep()
    assert agent.fenced == {"ann"}  # bob's label names no port: not fenced, not started
    assert fenced_file(proc, 11).exists() and not fenced_file(proc, 12).exists()
    calls = len(nsenter.commands)
    agent.sweep()
    assert len(nsenter.commands) == calls  # ann is not fenced again
    node.containers_by_id["ann"] = (False, 11, "8888")
    agent.sweep()
    assert agent.fenced == set()  # gone: forgotten (a new container of hers is fenced anew)


def test_the_agent_is_healthy_while_it_sweeps(tmp_path):
    from edahub_hub.swarm_netpolicy import healthy

    heartbeat = tmp_path / "sweep"
    assert not healthy(heartbeat)  # not swept yet
    heartbeat.touch()
    mtime = heartbeat.stat().st_mtime
    assert healthy(heartbeat, max_age=60, now=lambda: mtime + 59)
    assert not healthy(heartbeat, max_age=60, now=lambda: mtime + 61)  # stuck
