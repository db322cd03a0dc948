"""The network policy on a Docker Swarm: every user's server fenced in from inside.

On one host the policy is a set of iptables rules in the host's namespace
(edahub_core/netpolicy.py). On a swarm that does not work: traffic between servers on
different nodes crosses the overlay network as VXLAN, inside the overlay's own network
namespace, where the host's rules never see it. So here the same policy is installed in
each server's own network namespace, as the chains EDAHUB-OUT and EDAHUB-IN
(``Policy.server_chain_rules``), by an agent that runs on every node (compose.swarm.yaml's
``netpolicy``, a global service): ``python3 -m edahub_hub.swarm_netpolicy``.

Race-free start: the hub labels the servers to fence (``SWARM_FENCE_LABEL``, valued with the
server's port) and tells each to wait (``SWARM_FENCE_WAIT_VARIABLE``); the server's first
step (singleuser/edahub-start) waits for the file ``SWARM_FENCED_FILE``, which only this
agent writes, once the rules are in place and checked. Without it, Jupyter never starts
and the spawn fails: no server runs unfenced, not even for a second.

The agent sees servers start through the node's Docker events, and looks at all running
servers every few seconds besides. A server holds no capability, so it cannot change its
rules; a restarted agent checks every running server again.

Access it needs: the node's Docker socket (read), the node's /proc (mounted at
``HOST_PROC``: a server's namespace is /proc/<pid>/ns/net), and NET_ADMIN and NET_RAW
(iptables), SYS_ADMIN (to enter a namespace) and SYS_PTRACE (to open a process of
another user's), in the node's network namespace.
"""

import logging
import os
import signal
import subprocess
import sys
import threading
import time

from edahub_core.names import SWARM_FENCE_LABEL, SWARM_FENCED_FILE
from edahub_core.netpolicy import (Iptables, PolicyError, chain_problems,
                                   policy_from_environment, restore_input, rules_digest)

log = logging.getLogger("edahub.netpolicy")

HOST_PROC = "/host/proc"  # the node's /proc (compose.swarm.yaml)
SWEEP_SECONDS = 5.0
# Touched after every sweep; the health check (``check``) wants it fresh.
HEARTBEAT = "/tmp/edahub-netpolicy-sweep"
HEARTBEAT_MAX_AGE = 60.0


def in_namespace(netns, runner=subprocess.run):
    """A subprocess runner whose commands run in the network namespace file ``netns``."""
    def run(argv, **kwargs):
        return runner(["nsenter", f"--net={netns}", "--", *argv], **kwargs)
    return run


def fence(policy, port, pid, command, proc=HOST_PROC, runner=subprocess.run):
    """Install the server rules in the network namespace of the node's process ``pid`` (a
    server's init), check them, then write the fenced file into its filesystem. Returns the
    rules' digest; raises PolicyError if the rules are not in place."""
    iptables = Iptables(command, runner=in_namespace(f"{proc}/{pid}/ns/net", runner))
    rules = policy.server_chain_rules(port)
    iptables.restore(restore_input(rules))
    for chain, rule in policy.server_jumps():
        if not iptables.has(chain, rule):
            iptables.run("-I", chain, "1", *rule)
    missing = chain_problems(rules, iptables) + [
        f"the jump from {chain} to {rule[-1]} is missing"
        for chain, rule in policy.server_jumps() if not iptables.has(chain, rule)]
    if missing:
        raise PolicyError("; ".join(missing))
    digest = rules_digest(rules)
    mark_fenced(f"{proc}/{pid}/root", digest)
    return digest


def mark_fenced(root, digest):
    """Write the fenced file under the server's root ``root`` (root-owned /run: the server's
    user cannot have put a link there)."""
    fd = os.open(root + SWARM_FENCED_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(f"{digest}\n")


class Agent:
    """Fences in every labelled server that runs on this node."""

    def __init__(self, api, policy, command, proc=HOST_PROC, runner=subprocess.run):
        self.api = api  # docker.APIClient of the node
        self.policy = policy
        self.command = command
        self.proc = proc
        self.runner = runner
        self.fenced = set()  # ids of the containers fenced by this agent
        self.wake = threading.Event()

    def sweep(self):
        running = self.api.containers(filters={"label": SWARM_FENCE_LABEL,
                                               "status": "running"})
        self.fenced &= {summary["Id"] for summary in running}
        for summary in running:
            if summary["Id"] not in self.fenced:
                self.fence_container(summary["Id"])

    def fence_container(self, container_id):
        info = self.api.inspect_container(container_id)
        name = info["Name"].lstrip("/")
        pid = info["State"].get("Pid")
        label = info["Config"]["Labels"].get(SWARM_FENCE_LABEL, "")
        if not info["State"].get("Running") or not pid:
            return
        if not label.isdigit():
            log.error("not fencing %s: its label %s=%r is not a port", name,
                      SWARM_FENCE_LABEL, label)
            return
        try:
            digest = fence(self.policy, int(label), pid, self.command, self.proc, self.runner)
        except (PolicyError, OSError) as error:
            # The server keeps waiting for its fenced file, then gives up: it never runs
            # unfenced. The next sweep tries again.
            log.error("could not fence %s in: %s", name, error)
            return
        self.fenced.add(container_id)
        log.info("fenced %s in (port %s, rules %s)", name, label, digest)

    def watch_events(self):
        """Wake the sweep whenever a labelled container starts (reconnecting as needed)."""
        while True:
            try:
                for _ in self.api.events(decode=True, filters={
                        "type": "container", "event": "start", "label": SWARM_FENCE_LABEL}):
                    self.wake.set()
            except Exception as error:  # the engine restarted, say: sweeps go on meanwhile
                log.warning("Docker events: %s; again in 5 s", error)
            time.sleep(5)

    def serve(self, sweep_seconds=SWEEP_SECONDS, heartbeat=HEARTBEAT):
        threading.Thread(target=self.watch_events, daemon=True).start()
        while True:
            try:
                self.sweep()
                with open(heartbeat, "w"):
                    pass
            except Exception as error:
                log.error("sweep failed: %s", error)
            self.wake.wait(sweep_seconds)
            self.wake.clear()


def healthy(heartbeat=HEARTBEAT, max_age=HEARTBEAT_MAX_AGE, now=time.time):
    """The agent swept all running servers within ``max_age`` seconds."""
    try:
        return now() - os.stat(heartbeat).st_mtime <= max_age
    except FileNotFoundError:
        return False


def main(argv=None):
    """``python3 -m edahub_hub.swarm_netpolicy [check]``: the node's agent
    (compose.swarm.yaml), or its health check."""
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["check"]:
        if healthy():
            return 0
        print(f"edahub network policy: no sweep of this node's servers in the last "
              f"{HEARTBEAT_MAX_AGE:.0f} s (see the service's log)", file=sys.stderr)
        return 1
    if argv:
        print("usage: python3 -m edahub_hub.swarm_netpolicy [check]", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # the rules stay in the servers
    from edahub_core.settings import SettingsError

    try:
        enabled, policy = policy_from_environment(os.environ)
    except SettingsError as error:
        print(f"edahub network policy: {error}", file=sys.stderr)
        return 1
    if not enabled:
        log.info("network policy off (EDAHUB_NETWORK_POLICY=false): no server is fenced in")
        while True:  # healthy, with nothing to do
            with open(HEARTBEAT, "w"):
                pass
            time.sleep(SWEEP_SECONDS)
    try:
        command = Iptables().command
    except PolicyError as error:
        print(f"edahub network policy: {error}", file=sys.stderr)
        return 1
    import docker

    log.info("fencing users' servers on this node in (%s; blocked %s; internet %s; DNS %s)",
             command, ", ".join(policy.blocked), "allowed" if policy.internet else "blocked",
             ", ".join(policy.resolvers) or "none")
    Agent(docker.APIClient(), policy, command).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
