"""The network policy, attacked from a user's server (edahub_core/netpolicy.py).

A hostile user tries to reach another user's servers, the host, and a blocked range; each
attempt must fail, while the hub reaches the same listeners (so the listener is up and
only users are fenced) and users still reach the hub, the proxy and both databases.

Traffic goes only to addresses on this machine: other containers of the test stack, the
stack network's gateway (this host), and a network namespace this module creates with
documentation ranges (203.0.113.0/24, blocked by the test stack's settings, and
198.51.100.0/24, which is not), after checking that this host routes neither. The default rule set (metadata address, private ranges,
the host) is checked by reading the installed rules, never by sending to them.
"""

import ipaddress
import secrets
import socket
import subprocess
import sys
import textwrap
import time

import docker.errors
import pytest

from edahub_core.names import DATABASE_CONNECTIONS_PER_USER, MONGODB_ACCOUNTS_PORT
from edahub_core.netpolicy import Layout
from stacktools import BLOCKED_TEST_RANGE, host_routes

pytestmark = pytest.mark.integration

ALLOWED_TEST_RANGE = "198.51.100.0/24"  # TEST-NET-2: not in the blocked list
CONNECT = """
import socket
s = socket.socket()
s.settimeout(3)
try:
    s.connect(({host!r}, {port}))
    print("connected")
except OSError as error:
    print("refused", type(error).__name__)
"""


def connect_from_user(session, host, port):
    """'connected' or 'refused ...', from inside ``session``'s server."""
    result = session.execute(CONNECT.format(host=host, port=port), timeout=60)
    assert result.reply["status"] == "ok", result.error
    return result.stdout.strip()


def connect_from_hub(stack, docker_client, host, port):
    out = stack.container(docker_client, "hub").exec_run(
        ["python3", "-c", CONNECT.format(host=host, port=port)])
    return out.output.decode().strip()


def address_of(stack, docker_client, name):
    container = docker_client.containers.get(f"{stack.prefix}-user-{name}")
    return container.attrs["NetworkSettings"]["Networks"][stack.network]["IPAddress"]


def layout(stack):
    return Layout(stack.values["EDAHUB_NETWORK_PREFIX"])


@pytest.fixture(scope="module")
def nadia(running_server):
    """nadia, the hostile user."""
    return running_server("nadia")


@pytest.fixture(scope="module")
def oscar(running_server):
    """oscar, her neighbour, with a server of his own on port 9999 (his home, unauthenticated)."""
    session = running_server("oscar")
    result = session.execute(textwrap.dedent("""
        import subprocess, time, urllib.request
        subprocess.Popen(["python3", "-m", "http.server", "9999"], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            try:
                print(urllib.request.urlopen("http://127.0.0.1:9999/").status); break
            except OSError:
                time.sleep(0.1)
    """))
    assert result.stdout.strip() == "200", result
    return session


def test_users_policy_ip_range_holds_every_users_server(stack, docker_client, nadia, oscar):
    users = ipaddress.ip_network(layout(stack).users)
    for name in ("nadia", "oscar"):
        assert ipaddress.ip_address(address_of(stack, docker_client, name)) in users, name


def test_a_user_cannot_reach_another_users_servers(stack, docker_client, nadia, oscar):
    target = address_of(stack, docker_client, "oscar")
    # Any server oscar starts, and his Jupyter server itself.
    assert connect_from_user(nadia, target, 9999).startswith("refused")
    assert connect_from_user(nadia, target, 8888).startswith("refused")
    # The hub reaches both: the listeners are up, only users are fenced.
    assert connect_from_hub(stack, docker_client, target, 9999) == "connected"
    assert connect_from_hub(stack, docker_client, target, 8888) == "connected"


def test_users_reach_the_hub_the_proxy_and_both_databases(stack, docker_client, nadia):
    lay = layout(stack)
    for host, port in (("hub", 8081), ("proxy", 8000), ("mariadb", 3306), ("mongodb", 27017),
                       (lay.hub, 8081), (lay.proxy, 8000), (lay.mariadb, 3306),
                       (lay.mongodb, 27017)):
        assert connect_from_user(nadia, host, port) == "connected", (host, port)
    # ...but no other port of theirs: not the proxy's API, where routes are made (a user
    # with a route could take over another user's URL), which the hub reaches.
    assert connect_from_user(nadia, "proxy", 8001).startswith("refused")
    assert connect_from_hub(stack, docker_client, "proxy", 8001) == "connected"
    assert connect_from_user(nadia, "proxy", 8080).startswith("refused")


@pytest.fixture
def host_listener(stack):
    """A TCP listener of this test on every address of this host, e.g. the network's gateway."""
    server = socket.create_server(("0.0.0.0", 0))
    server.settimeout(0.2)
    yield layout(stack).address("0.1"), server.getsockname()[1]
    server.close()


def test_a_user_cannot_reach_the_host(stack, docker_client, nadia, host_listener):
    gateway, port = host_listener
    assert connect_from_user(nadia, gateway, port).startswith("refused")
    assert connect_from_hub(stack, docker_client, gateway, port) == "connected"


@pytest.fixture(scope="module")
def namespace_listener():
    """A network namespace of this test, linked to the host by a veth pair, with an HTTP
    listener on one address in the blocked documentation range and one in an allowed one.
    Removed afterwards (the veth pair goes with the namespace)."""
    name = f"edahub-t-{secrets.token_hex(3)}"
    host_side, ns_side = f"eh{secrets.token_hex(3)}", f"en{secrets.token_hex(3)}"
    blocked = ipaddress.ip_network(BLOCKED_TEST_RANGE)
    allowed = ipaddress.ip_network(ALLOWED_TEST_RANGE)
    addresses = {net: (str(net[1]), str(net[2])) for net in (blocked, allowed)}
    # Never shadow a network this host already uses (its LAN, say): the test's traffic
    # must stay on this machine.
    clashes = [str(route) for route in host_routes() for net in addresses if route.overlaps(net)]
    assert not clashes, (f"this host already routes {clashes}; the test needs "
                         f"{BLOCKED_TEST_RANGE} and {ALLOWED_TEST_RANGE} unused")

    def ip(*args):
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    ip("netns", "add", name)
    listener = None
    try:
        ip("link", "add", host_side, "type", "veth", "peer", "name", ns_side)
        ip("link", "set", ns_side, "netns", name)
        for net, (host_address, ns_address) in addresses.items():
            ip("addr", "add", f"{host_address}/{net.prefixlen}", "dev", host_side)
            ip("-n", name, "addr", "add", f"{ns_address}/{net.prefixlen}", "dev", ns_side)
        ip("link", "set", host_side, "up")
        ip("-n", name, "link", "set", ns_side, "up")
        ip("-n", name, "link", "set", "lo", "up")
        ip("-n", name, "route", "add", "default", "via", addresses[blocked][0])
        port = 8765
        listener = subprocess.Popen(["ip", "netns", "exec", name, sys.executable, "-m",
                                     "http.server", "--bind", "0.0.0.0", str(port)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while subprocess.run(["ip", "netns", "exec", name, sys.executable, "-c",
                              CONNECT.format(host="127.0.0.1", port=port)],
                             capture_output=True, text=True).stdout.strip() != "connected":
            assert time.monotonic() < deadline, "the namespace's listener did not start"
            time.sleep(0.2)
        yield {"blocked": addresses[blocked][1], "allowed": addresses[allowed][1], "port": port}
    finally:
        if listener is not None:
            listener.terminate()  # by its PID: the listener this fixture started
            listener.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", name], check=False)
        subprocess.run(["ip", "link", "del", host_side], check=False, capture_output=True)


def test_a_user_cannot_reach_a_blocked_range(stack, docker_client, nadia, namespace_listener):
    port = namespace_listener["port"]
    assert connect_from_user(nadia, namespace_listener["blocked"], port).startswith("refused")
    # The same listener, on an address outside the blocked list: reached (so the block is
    # the policy's, not a routing accident), and the hub reaches the blocked one.
    assert connect_from_user(nadia, namespace_listener["allowed"], port) == "connected"
    assert connect_from_hub(stack, docker_client, namespace_listener["blocked"], port) == \
        "connected"


def installed_rules(chain):
    for command in ("iptables-nft", "iptables-legacy"):
        result = subprocess.run([command, "-w", "5", "-S", chain], capture_output=True,
                                text=True)
        if result.returncode == 0:
            return command, result.stdout.splitlines()
    raise AssertionError(f"chain {chain} is not installed")


def test_the_default_rules_fence_off_metadata_private_ranges_and_the_host(stack, nadia):
    lay = layout(stack)
    command, forward = installed_rules(lay.forward_chain)
    rejected = [ipaddress.ip_network(line.split(" -d ")[1].split()[0]) for line in forward
                if "REJECT" in line and " -d " in line]
    # The cloud metadata address and every private range, users' own network first.
    for address in ("169.254.169.254", "10.0.0.1", "172.16.0.1", "192.168.0.1", "100.64.0.1",
                    lay.address("128.5")):
        assert any(ipaddress.ip_address(address) in net for net in rejected), address
    # Nothing is allowed before them but replies and exact hub, database and DNS ports.
    allowed = [line for line in forward if line.endswith("-j RETURN")]
    assert all("ESTABLISHED" in line or "/32" in line and "--dport" in line
               for line in allowed), allowed
    # The host: everything from users to the host's own addresses is rejected.
    _, incoming = installed_rules(lay.input_chain)
    assert [line.split(" -m comment")[0] for line in incoming][-1].startswith(
        f"-A {lay.input_chain}") and incoming[-1].endswith("icmp-admin-prohibited")
    jumps = subprocess.run([command, "-w", "5", "-S", "INPUT"], capture_output=True,
                           text=True).stdout
    assert f"-A INPUT -s {lay.users} -j {lay.input_chain}" in jumps
    jumps = subprocess.run([command, "-w", "5", "-S", "DOCKER-USER"], capture_output=True,
                           text=True).stdout
    assert f"-A DOCKER-USER -s {lay.users} -j {lay.forward_chain}" in jumps


def test_a_removed_rule_is_put_back(stack, docker_client, nadia, oscar):
    lay = layout(stack)
    command, _ = installed_rules(lay.forward_chain)
    subprocess.run([command, "-w", "5", "-D", "DOCKER-USER", "-s", lay.users, "-j",
                    lay.forward_chain], check=True)
    deadline = time.monotonic() + 30
    while subprocess.run([command, "-w", "5", "-C", "DOCKER-USER", "-s", lay.users, "-j",
                          lay.forward_chain]).returncode != 0:
        assert time.monotonic() < deadline, "the netpolicy service did not put the jump back"
        time.sleep(0.5)
    target = address_of(stack, docker_client, "oscar")
    assert connect_from_user(nadia, target, 9999).startswith("refused")
    assert "network policy installed" in stack.logs("netpolicy")


def test_the_provisioning_accounts_log_in_only_from_the_hub(stack, docker_client, nadia):
    # Even with the secrets, which users never see: MariaDB's account accepts the hub's
    # address only, and MongoDB's accounts service (there is no MongoDB account) is not
    # reachable from users' servers. The hub's own use is proved by every spawn.
    code = textwrap.dedent(f"""
        import pymysql, urllib.request
        try:
            pymysql.connect(host="mariadb", user="edahub_provisioner",
                            password={stack.values["EDAHUB_MARIADB_PROVISIONER_PASSWORD"]!r})
            print("mariadb: in")
        except pymysql.err.OperationalError as error:
            print("mariadb: refused", error.args[0])
        try:
            urllib.request.urlopen("http://mongodb-accounts:{MONGODB_ACCOUNTS_PORT}/health",
                                   timeout=5)
            print("mongodb-accounts: in")
        except OSError as error:
            print("mongodb-accounts: refused")
    """)
    result = nadia.execute(code, timeout=60)
    assert result.reply["status"] == "ok", result.error
    assert result.stdout.splitlines() == ["mariadb: refused 1045", "mongodb-accounts: refused"]
    assert connect_from_hub(stack, docker_client, "mongodb-accounts",
                            MONGODB_ACCOUNTS_PORT) == "connected"


def test_one_user_cannot_use_up_mongodbs_connections(stack, nadia, oscar):
    # nadia opens connections until refused; oscar still gets his, and hers work again
    # once she lets go.
    flood = textwrap.dedent("""
        import socket
        held, refused = [], None
        for i in range(60):
            s = socket.socket()
            s.settimeout(3)
            try:
                s.connect(("mongodb", 27017))
                held.append(s)
            except OSError as error:
                refused = type(error).__name__
                break
        print(len(held), refused)
        for s in held:
            s.close()
    """)
    result = nadia.execute(flood, timeout=120)
    assert result.reply["status"] == "ok", result.error
    count, refused = result.stdout.split()
    # Her kernel's own connections count too (none here), so at most the cap.
    assert int(count) <= DATABASE_CONNECTIONS_PER_USER and refused != "None", result.stdout
    assert int(count) >= DATABASE_CONNECTIONS_PER_USER - 2, result.stdout
    assert connect_from_user(oscar, "mongodb", 27017) == "connected"
    time.sleep(1)
    assert connect_from_user(nadia, "mongodb", 27017) == "connected"


def test_no_server_starts_while_the_network_policy_is_down(stack, docker_client, make_user):
    # After a reboot Docker starts the hub and netpolicy together, with an empty firewall
    # until netpolicy runs: a user who starts a server in that window must get nothing.
    session = make_user("pia")
    netpolicy = stack.container(docker_client, "netpolicy")
    netpolicy.stop(timeout=10)
    try:
        response = session.api("POST", "/users/pia/server")
        assert response.status_code == 503, response.text[:300]
        assert "network protection is not in place" in response.json()["message"]
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(f"{stack.prefix}-user-pia")
        assert "netpolicy service of" in stack.logs("hub")
    finally:
        netpolicy.start()
    deadline = time.monotonic() + 90
    netpolicy.reload()
    while netpolicy.attrs["State"].get("Health", {}).get("Status") != "healthy":
        assert time.monotonic() < deadline, "netpolicy did not become healthy again"
        time.sleep(1)
        netpolicy.reload()
    session.start_server()  # the policy is back: the same user starts
    session.stop_server()
