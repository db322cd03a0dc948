"""The network policy's rules, and how it installs, checks and removes them (against an
in-memory iptables; tests/integration/test_attacks_network.py tries the real ones)."""

import pytest

from edahub_core import netpolicy
from edahub_core.netpolicy import Layout, Policy, parse_resolvers, policy_from_environment

LAYOUT = Layout("172.31")
POLICY = Policy(LAYOUT, blocked=("10.0.0.0/8", "169.254.0.0/16"), internet=True,
                resolvers=("10.255.255.53",))


class MemoryIptables:
    """Chains as lists of rule strings; enough of iptables for the policy's calls."""

    def __init__(self):
        self.chains = {"DOCKER-USER": [], "INPUT": []}

    def restore(self, text):
        table = None
        for line in text.splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith(":"):
                self.chains[line[1:].split()[0]] = []  # declared: created or flushed
            elif line.startswith("-A "):
                _, chain, rest = line.split(" ", 2)
                self.chains[chain].append(rest)
        assert table == "filter"

    def has(self, chain, rule):
        return " ".join(rule) in self.chains.get(chain, [])

    def chain(self, chain):
        rules = self.chains.get(chain)
        return None if rules is None else [f"-A {chain} {rule}" for rule in rules]

    def run(self, *args, check=True):
        op, chain, *rest = args
        if op == "-I":
            self.chains[chain].insert(int(rest[0]) - 1, " ".join(rest[1:]))
        elif op == "-D":
            self.chains[chain].remove(" ".join(rest))
        elif op == "-F":
            self.chains[chain] = []
        elif op == "-X":
            del self.chains[chain]


@pytest.fixture
def bridge_sysctl(tmp_path):
    path = tmp_path / "bridge-nf-call-iptables"
    path.write_text("1\n")
    return path


def rules_text():
    return POLICY.restore_input()


def test_the_layout_puts_users_in_the_upper_half_and_services_below():
    assert LAYOUT.subnet == "172.31.0.0/16" and LAYOUT.users == "172.31.128.0/17"
    assert (LAYOUT.hub, LAYOUT.mariadb, LAYOUT.mongodb, LAYOUT.proxy) == (
        "172.31.0.2", "172.31.0.3", "172.31.0.4", "172.31.0.5")


def test_users_reach_the_hub_the_databases_and_dns_and_nothing_private():
    text = rules_text()
    forward = [line for line in text.splitlines() if line.startswith("-A EDAHUB-F-172.31")]
    allowed = [line for line in forward if line.endswith("-j RETURN")]
    assert "ESTABLISHED" in allowed[0]  # replies to the hub's own connections first
    assert any("-d 172.31.0.2/32 -p tcp --dport 8081" in r for r in allowed)  # the hub's API
    assert any("-d 172.31.0.5/32 -p tcp --dport 8000" in r for r in allowed)  # the proxy
    assert not any("8001" in r for r in allowed), "the proxy's API is not for users"
    assert any("-d 172.31.0.3/32 -p tcp --dport 3306" in r for r in allowed)
    assert any("-d 172.31.0.4/32 -p tcp --dport 27017" in r for r in allowed)
    assert sum("-d 10.255.255.53/32" in r for r in allowed) == 2  # udp and tcp
    ranges = [line.split(" -m comment")[0] for line in forward
              if "REJECT" in line and "connlimit" not in line]
    # Their own network (each other) always; then the blocked list.
    assert ranges == ["-A EDAHUB-F-172.31 -d 172.31.0.0/16", "-A EDAHUB-F-172.31 -d 10.0.0.0/8",
                      "-A EDAHUB-F-172.31 -d 169.254.0.0/16"]
    assert forward.index(allowed[-1]) < forward.index(
        next(line for line in forward if line.startswith(ranges[0]))), \
        "an allow after a range's reject is dead"
    # More than 30 connections from one server to MongoDB are refused, before its allow.
    cap = next(i for i, line in enumerate(forward) if "connlimit" in line)
    assert "-d 172.31.0.4/32 -p tcp --dport 27017 -m connlimit --connlimit-above 30 " \
           "--connlimit-mask 32" in forward[cap] and "REJECT" in forward[cap]
    assert "-d 172.31.0.4/32 -p tcp --dport 27017 -m comment" in forward[cap + 1]
    incoming = [line for line in text.splitlines() if line.startswith("-A EDAHUB-I-172.31")]
    assert "ESTABLISHED" in incoming[0] and incoming[1].endswith("REJECT --reject-with "
                                                                   "icmp-admin-prohibited")


def test_without_internet_everything_else_is_rejected_too():
    closed = Policy(LAYOUT, blocked=(), internet=False, resolvers=())
    forward = closed.chain_rules()[LAYOUT.forward_chain]
    assert forward[-1] == ((), netpolicy.REJECT)
    assert POLICY.chain_rules()[LAYOUT.forward_chain][-1][0] == ("-d", "169.254.0.0/16")


def test_every_rule_carries_the_digest_of_the_whole_set():
    lines = [line for line in rules_text().splitlines() if line.startswith("-A ")]
    assert all(f"--comment edahub:{POLICY.digest}" in line for line in lines)
    other = Policy(LAYOUT, blocked=("10.0.0.0/8",), internet=True, resolvers=("10.255.255.53",))
    assert other.digest != POLICY.digest


def test_apply_then_check_finds_nothing_missing(bridge_sysctl):
    iptables = MemoryIptables()
    assert len(netpolicy.problems(POLICY, iptables, bridge_sysctl)) == 4
    netpolicy.apply(POLICY, iptables)
    assert netpolicy.problems(POLICY, iptables, bridge_sysctl) == []
    assert iptables.chains["DOCKER-USER"][0] == "-s 172.31.128.0/17 -j EDAHUB-F-172.31"
    assert iptables.chains["INPUT"][0] == "-s 172.31.128.0/17 -j EDAHUB-I-172.31"


def test_apply_is_idempotent_and_replaces_a_changed_policy(bridge_sysctl):
    iptables = MemoryIptables()
    netpolicy.apply(POLICY, iptables)
    netpolicy.apply(POLICY, iptables)
    assert len(iptables.chains["DOCKER-USER"]) == 1 and len(iptables.chains["INPUT"]) == 1
    changed = Policy(LAYOUT, blocked=("10.0.0.0/8",), internet=False, resolvers=())
    assert netpolicy.problems(changed, iptables, bridge_sysctl) == [
        "chain EDAHUB-F-172.31 holds other rules than this policy's",
        "chain EDAHUB-I-172.31 holds other rules than this policy's"]
    netpolicy.apply(changed, iptables)
    assert netpolicy.problems(changed, iptables, bridge_sysctl) == []


def test_a_flushed_chain_or_a_lost_jump_is_found(bridge_sysctl):
    iptables = MemoryIptables()
    netpolicy.apply(POLICY, iptables)
    iptables.chains["EDAHUB-F-172.31"].pop()
    iptables.chains["INPUT"].clear()
    assert netpolicy.problems(POLICY, iptables, bridge_sysctl) == [
        "chain EDAHUB-F-172.31 holds other rules than this policy's",
        "the jump from INPUT to EDAHUB-I-172.31 is missing"]


def test_bridged_traffic_that_bypasses_iptables_is_a_problem(tmp_path):
    iptables = MemoryIptables()
    netpolicy.apply(POLICY, iptables)
    off = tmp_path / "off"
    off.write_text("0\n")
    assert "bridge-nf-call-iptables is not 1" in netpolicy.problems(POLICY, iptables, off)[0]
    assert "modprobe br_netfilter" in netpolicy.problems(POLICY, iptables, tmp_path / "none")[0]


def test_remove_takes_away_only_this_stacks_rules():
    iptables = MemoryIptables()
    netpolicy.apply(POLICY, iptables)
    neighbour = Policy(Layout("172.30"), blocked=(), internet=True, resolvers=())
    netpolicy.apply(neighbour, iptables)
    netpolicy.remove(LAYOUT, iptables)
    netpolicy.remove(LAYOUT, iptables)  # again: nothing left to remove, no error
    assert "EDAHUB-F-172.31" not in iptables.chains and "EDAHUB-I-172.31" not in iptables.chains
    assert iptables.chains["DOCKER-USER"] == ["-s 172.30.128.0/17 -j EDAHUB-F-172.30"]
    assert iptables.chains["INPUT"] == ["-s 172.30.128.0/17 -j EDAHUB-I-172.30"]


def test_resolvers_come_from_resolv_conf_without_loopback():
    text = "# comment\nnameserver 127.0.0.53\nnameserver 10.255.255.53\nnameserver fe80::1\n" \
           "nameserver 10.255.255.53\nsearch example\n"
    assert parse_resolvers(text) == ("10.255.255.53",)


def test_the_policy_comes_from_the_services_settings(tmp_path):
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 192.168.1.1\n")
    enabled, policy = policy_from_environment(
        {"EDAHUB_NETWORK_PREFIX": "10.77", "EDAHUB_NETWORK_BLOCKED": "192.0.2.0/24",
         "EDAHUB_USER_INTERNET": "false"}, resolv_conf=resolv)
    assert enabled and policy == Policy(Layout("10.77"), ("192.0.2.0/24",), False,
                                        ("192.168.1.1",))
    _, given = policy_from_environment({"EDAHUB_NETWORK_DNS": "9.9.9.9"}, resolv_conf=resolv)
    assert given.resolvers == ("9.9.9.9",)


def test_the_iptables_backend_is_the_one_holding_dockers_chain():
    calls = []

    class Result:
        def __init__(self, code):
            self.returncode, self.stdout, self.stderr = code, "", "no chain"

    def runner(cmd, **kwargs):
        calls.append(cmd[0])
        return Result(0 if cmd[0] == "iptables-legacy" else 1)

    assert netpolicy.Iptables(runner=runner).command == "iptables-legacy"
    with pytest.raises(netpolicy.PolicyError, match="EDAHUB_NETWORK_POLICY=false"):
        netpolicy.Iptables(runner=lambda cmd, **kw: Result(1))


def test_a_malformed_setting_stops_the_service_with_the_fix(capsys, monkeypatch):
    monkeypatch.setenv("EDAHUB_NETWORK_PREFIX", "172.31.0")
    assert netpolicy.main(["check"]) == 1
    assert "EDAHUB_NETWORK_PREFIX" in capsys.readouterr().err
