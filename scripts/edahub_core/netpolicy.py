"""The network policy of users' servers: what they may reach, as iptables rules.

Users' servers may open connections to the hub's API and the proxy's public port (not
its API), to both databases,
to the host's DNS resolvers and (``EDAHUB_USER_INTERNET``) to public addresses; nothing
else: not each other, not the host, not the ranges in ``EDAHUB_NETWORK_BLOCKED``
(private ranges and the cloud metadata address by default). Replies to connections the
hub opens to them are allowed.

How users are told apart: the stack's network is ``<EDAHUB_NETWORK_PREFIX>.0.0/16``; the
hub, the proxy and the databases have fixed addresses in its first /24 (compose.yaml), and Docker
gives users' containers addresses from its upper half only (the network's ``ip_range``).
Users' containers hold no capability (hub/jupyterhub_config.py), so they cannot forge
another source address.

Where the rules live: two chains of edahub's own per network, ``EDAHUB-F-<prefix>``
(jumped to from Docker's ``DOCKER-USER`` chain, for forwarded traffic: other containers,
the LAN, the internet; with ``br_netfilter``, traffic between containers on one bridge
too) and ``EDAHUB-I-<prefix>`` (jumped to from ``INPUT``: the host's own addresses).
Each rule carries a comment with a digest of the whole rule set, so a check can tell the
installed set from the wanted one without parsing iptables' output.

The ``netpolicy`` service of compose.yaml runs ``python3 -m edahub_core.netpolicy serve``
in the host's network namespace with NET_ADMIN: it installs the rules when the stack
starts (the hub waits for it) and puts them back if they go missing (a firewall reload,
a reboot). ``check`` is its health check; ``remove`` takes the rules away cleanly.

On a Docker Swarm the same policy is installed inside each user's server's own network
namespace instead (``Policy.server_chain_rules``; hub/edahub_hub/swarm_netpolicy.py says
why and how). Stdlib only.
"""

import hashlib
import ipaddress
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from edahub_core.names import DATABASE_CONNECTIONS_PER_USER

log = logging.getLogger("edahub.netpolicy")

# Fixed addresses in the stack's network (compose.yaml uses the same; a unit test checks).
HUB_HOST = "0.2"
MARIADB_HOST = "0.3"
MONGODB_HOST = "0.4"
PROXY_HOST = "0.5"
MONGODB_ACCOUNTS_HOST = "0.6"  # mongodb-accounts: reached by nobody but the hub
HUB_PORT = 8081  # the hub's API
PROXY_PORT = 8000  # the proxy's public port (not its API, 8001)
MARIADB_PORT = 3306
MONGODB_PORT = 27017
BRIDGE_SYSCTL = "/proc/sys/net/bridge/bridge-nf-call-iptables"
REJECT = ("-j", "REJECT", "--reject-with", "icmp-admin-prohibited")
ALLOW = ("-j", "RETURN")
REPLIES = ("-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED")
# On a swarm: the chains in each user's server's own network namespace.
SERVER_OUT_CHAIN = "EDAHUB-OUT"
SERVER_IN_CHAIN = "EDAHUB-IN"


class PolicyError(Exception):
    """The policy cannot be installed or checked; the message says why and the fix."""


@dataclass(frozen=True)
class Layout:
    """The addresses of one stack's network, from its two-octet prefix (e.g. "172.31")."""

    prefix: str

    @property
    def subnet(self):
        return f"{self.prefix}.0.0/16"

    @property
    def users(self):
        """Where Docker puts users' containers (the network's ip_range)."""
        return f"{self.prefix}.128.0/17"

    def address(self, host):
        return f"{self.prefix}.{host}"

    @property
    def hub(self):
        return self.address(HUB_HOST)

    @property
    def proxy(self):
        return self.address(PROXY_HOST)

    @property
    def mariadb(self):
        return self.address(MARIADB_HOST)

    @property
    def mongodb(self):
        return self.address(MONGODB_HOST)

    @property
    def mongodb_accounts(self):
        return self.address(MONGODB_ACCOUNTS_HOST)

    @property
    def forward_chain(self):
        return f"EDAHUB-F-{self.prefix}"

    @property
    def input_chain(self):
        return f"EDAHUB-I-{self.prefix}"


@dataclass(frozen=True)
class Policy:
    """What users' servers of one stack may reach."""

    layout: Layout
    blocked: tuple  # CIDRs
    internet: bool
    resolvers: tuple  # IPv4 addresses the host's DNS forwards to

    def chain_rules(self):
        """{chain: [(match arguments, target arguments)]}: the policy's rules, in order."""
        lay = self.layout
        forward = [(REPLIES, ALLOW), *self.outgoing({
            HUB_PORT: f"{lay.hub}/32", PROXY_PORT: f"{lay.proxy}/32",
            MARIADB_PORT: f"{lay.mariadb}/32", MONGODB_PORT: f"{lay.mongodb}/32"})]
        incoming = [(REPLIES, ALLOW), ((), REJECT)]
        return {lay.forward_chain: forward, lay.input_chain: incoming}

    def outgoing(self, platform):
        """The rules for connections users' servers open, after the replies' rule:
        ``platform`` maps each platform port to where it is allowed (a service's fixed
        address on one host; the users' network on a swarm)."""
        rules = [(("-d", platform[port], "-p", "tcp", "--dport", str(port)), ALLOW)
                 for port in (HUB_PORT, PROXY_PORT, MARIADB_PORT)]
        # MongoDB has no per-user connection limit: one server may hold at most
        # DATABASE_CONNECTIONS_PER_USER, so nobody can use up the server's.
        mongodb = ("-d", platform[MONGODB_PORT], "-p", "tcp", "--dport", str(MONGODB_PORT))
        rules += [((*mongodb, "-m", "connlimit", "--connlimit-above",
                    str(DATABASE_CONNECTIONS_PER_USER), "--connlimit-mask", "32"), REJECT),
                  (mongodb, ALLOW)]
        for resolver in self.resolvers:
            for protocol in ("udp", "tcp"):
                rules.append((("-d", f"{resolver}/32", "-p", protocol, "--dport", "53"), ALLOW))
        # The stack's own network is always blocked (users reach each other only through
        # the hub), whatever EDAHUB_NETWORK_BLOCKED says.
        for cidr in dict.fromkeys((self.layout.subnet, *self.blocked)):
            rules.append((("-d", cidr), REJECT))
        if not self.internet:
            rules.append(((), REJECT))
        return rules

    def server_chain_rules(self, server_port):
        """{chain: [(match, target)]}: the same policy from inside one server's own network
        namespace (on a Docker Swarm, where the overlay's traffic between nodes never meets
        the host's iptables; hub/edahub_hub/swarm_netpolicy.py installs them).

        Swarm gives the platform's services no fixed addresses, so servers are told apart by
        port instead: out, a server may open connections to the platform's ports in the
        users' network and nowhere else in it; in, it accepts new connections on its own
        port (the hub's and the proxy's) and nothing else. A server that listens on a
        platform port is still out of other users' reach: its own fence lets nobody in there.
        """
        users = self.layout.users
        outgoing = [(("-o", "lo"), ALLOW),  # Docker's DNS (127.0.0.11) and the server itself
                    (REPLIES, ALLOW),
                    *self.outgoing(dict.fromkeys((HUB_PORT, PROXY_PORT, MARIADB_PORT,
                                                  MONGODB_PORT), users))]
        incoming = [(("-i", "lo"), ALLOW), (REPLIES, ALLOW),
                    (("-s", users, "-p", "tcp", "--dport", str(server_port)), ALLOW),
                    ((), REJECT)]
        return {SERVER_OUT_CHAIN: outgoing, SERVER_IN_CHAIN: incoming}

    def server_jumps(self):
        """(chain, rule arguments) of the jumps into a server's own chains."""
        return [("OUTPUT", ["-j", SERVER_OUT_CHAIN]), ("INPUT", ["-j", SERVER_IN_CHAIN])]

    @property
    def digest(self):
        """A short digest of the rules: the comment every installed rule carries."""
        return rules_digest(self.chain_rules())

    def jumps(self):
        """(chain, rule arguments) of the jumps into edahub's chains."""
        lay = self.layout
        return [("DOCKER-USER", ["-s", lay.users, "-j", lay.forward_chain]),
                ("INPUT", ["-s", lay.users, "-j", lay.input_chain])]

    def restore_input(self):
        """iptables-restore input (with --noflush) that replaces edahub's chains at once."""
        return restore_input(self.chain_rules())


def rules_digest(rules):
    """A short digest of ``rules`` ({chain: [(match, target)]})."""
    return hashlib.sha256(repr(sorted(rules.items())).encode()).hexdigest()[:16]


def restore_input(rules):
    """iptables-restore input (with --noflush) that replaces the chains of ``rules`` at once;
    every rule carries a comment with the rules' digest."""
    comment = ("-m", "comment", "--comment", f"edahub:{rules_digest(rules)}")
    lines = ["*filter", *(f":{chain} - [0:0]" for chain in rules)]
    for chain, chain_rules in rules.items():
        lines += [" ".join(("-A", chain, *match, *comment, *target))
                  for match, target in chain_rules]
    return "\n".join(lines + ["COMMIT", ""])


def chain_problems(rules, iptables):
    """What differs between the installed chains and ``rules``: a list of problems."""
    found = []
    digest = rules_digest(rules)
    for chain, chain_rules in rules.items():
        installed = iptables.chain(chain)
        if installed is None:
            found.append(f"chain {chain} is missing")
        elif len(installed) != len(chain_rules) or not all(
                f"edahub:{digest}" in line for line in installed):
            found.append(f"chain {chain} holds other rules than this policy's")
    return found


def parse_resolvers(text):
    """The IPv4 nameservers of a resolv.conf's ``text`` that are not loopback addresses."""
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                address = ipaddress.ip_address(parts[1])
            except ValueError:
                continue
            if address.version == 4 and not address.is_loopback:
                found.append(str(address))
    return tuple(dict.fromkeys(found))


class Iptables:
    """The host's iptables, in the backend Docker uses (nft or legacy)."""

    def __init__(self, command=None, runner=subprocess.run):
        self.runner = runner
        self.command = command or self._detect()

    def _run(self, command, *args, input=None, check=True):
        try:
            # -w: wait for the xtables lock that Docker also takes, instead of failing.
            result = self.runner([command, "-w", "5", *args], input=input, capture_output=True,
                                 text=True, timeout=60)
        except FileNotFoundError:
            raise PolicyError(f"{command} is not installed") from None
        if check and result.returncode != 0:
            raise PolicyError(f"`{command} {' '.join(args)}` failed: "
                              f"{(result.stderr or result.stdout).strip()[:400]}")
        return result

    def _detect(self):
        """The backend that holds Docker's DOCKER-USER chain."""
        for command in ("iptables-nft", "iptables-legacy"):
            try:
                if self._run(command, "-S", "DOCKER-USER", check=False).returncode == 0:
                    return command
            except PolicyError:
                continue
        raise PolicyError(
            "Docker's DOCKER-USER chain is in neither iptables-nft nor iptables-legacy: the "
            "engine manages no iptables rules (dockerd --iptables=false?). Turn that back on "
            "(the default), or set EDAHUB_NETWORK_POLICY=false and fence users' servers "
            "yourself (docs/security.md)")

    def run(self, *args, check=True):
        return self._run(self.command, *args, check=check)

    def restore(self, text):
        self._run(f"{self.command}-restore", "--noflush", input=text)

    def has(self, chain, rule):
        return self.run("-C", chain, *rule, check=False).returncode == 0

    def chain(self, chain):
        """The rules of ``chain`` as ``-A ...`` lines, or None if it does not exist."""
        result = self.run("-S", chain, check=False)
        if result.returncode != 0:
            return None
        return [line for line in result.stdout.splitlines() if line.startswith("-A ")]


def problems(policy, iptables, bridge_sysctl=BRIDGE_SYSCTL):
    """What is missing or wrong in the installed policy; an empty list when all is in place."""
    found = []
    try:
        with open(bridge_sysctl) as f:
            if f.read().strip() != "1":
                found.append("net.bridge.bridge-nf-call-iptables is not 1: traffic between "
                             "containers on one bridge bypasses iptables; fix: "
                             "`sysctl -w net.bridge.bridge-nf-call-iptables=1` (and in "
                             "/etc/sysctl.d/ to keep it)")
    except FileNotFoundError:
        found.append("the br_netfilter module is not loaded; fix: `modprobe br_netfilter` "
                     "(and list it in /etc/modules-load.d/ to keep it)")
    found += chain_problems(policy.chain_rules(), iptables)
    for chain, rule in policy.jumps():
        if not iptables.has(chain, rule):
            found.append(f"the jump from {chain} to {rule[-1]} is missing")
    return found


def apply(policy, iptables):
    """Install ``policy``: edahub's chains replaced at once, then the jumps if missing."""
    iptables.restore(policy.restore_input())
    for chain, rule in policy.jumps():
        if not iptables.has(chain, rule):
            iptables.run("-I", chain, "1", *rule)


def remove(layout, iptables):
    """Take away every rule and chain of the stack whose network is ``layout``."""
    for chain, target in (("DOCKER-USER", layout.forward_chain), ("INPUT", layout.input_chain)):
        rule = ["-s", layout.users, "-j", target]
        while iptables.has(chain, rule):
            iptables.run("-D", chain, *rule)
        if iptables.chain(target) is not None:
            iptables.run("-F", target)
            iptables.run("-X", target)


def policy_from_environment(environ, resolv_conf="/etc/resolv.conf"):
    """(enabled, Policy) from the netpolicy service's environment (compose.yaml)."""
    from edahub_core.settings import keys_for_service, load_settings

    settings = load_settings(environ, keys=keys_for_service("netpolicy"))
    resolvers = settings.network_dns
    if not resolvers:
        try:
            with open(resolv_conf) as f:
                resolvers = parse_resolvers(f.read())
        except OSError:
            resolvers = ()
    policy = Policy(layout=Layout(settings.network_prefix), blocked=settings.network_blocked,
                    internet=settings.user_internet, resolvers=tuple(resolvers))
    return settings.network_policy, policy


def serve(enabled, policy, iptables, interval=5.0):
    """Install the policy, then keep it in place (or, when disabled, keep it removed)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # the rules stay: users stay fenced
    log.info("network policy %s for users' servers in %s (digest %s): blocked %s; "
             "internet %s; DNS resolvers %s", "on" if enabled else "off", policy.layout.users,
             policy.digest, ", ".join(policy.blocked), "allowed" if policy.internet else "blocked",
             ", ".join(policy.resolvers) or "none")
    while True:
        try:
            if not enabled:
                remove(policy.layout, iptables)
            else:
                missing = problems(policy, iptables)
                if missing:
                    apply(policy, iptables)
                    log.info("network policy installed (%s)", "; ".join(missing))
                    still = problems(policy, iptables)
                    if still:
                        log.error("network policy incomplete: %s", "; ".join(still))
        except PolicyError as error:
            log.error("network policy: %s", error)
        time.sleep(interval)


def main(argv=None):
    """``python3 -m edahub_core.netpolicy serve|check|remove|show``."""
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if len(argv) != 1 or argv[0] not in ("serve", "check", "remove", "show"):
        print("usage: python3 -m edahub_core.netpolicy serve|check|remove|show", file=sys.stderr)
        return 2
    from edahub_core.settings import SettingsError

    try:
        enabled, policy = policy_from_environment(os.environ)
    except SettingsError as error:
        print(f"edahub network policy: {error}", file=sys.stderr)
        return 1
    if argv[0] == "show":
        print(policy.restore_input(), end="")
        return 0
    try:
        iptables = Iptables()
        if argv[0] == "serve":
            serve(enabled, policy, iptables)
        elif argv[0] == "remove":
            remove(policy.layout, iptables)
            print(f"network policy of {policy.layout.users} removed")
        else:
            missing = problems(policy, iptables) if enabled else []
            for problem in missing:
                print(f"network policy: {problem}", file=sys.stderr)
            return 1 if missing else 0
    except PolicyError as error:
        print(f"edahub network policy: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
