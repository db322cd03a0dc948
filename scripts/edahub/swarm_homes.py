"""`python3 scripts/bootstrap.py swarm move-home USER NODE`: move a user's home to another
node of the swarm (docs/scale-out.md, "When a node is out of service").

On a swarm a home is a volume on one node, the node labelled edahub.home.<volume>, and the
user's server always starts there. To take a node out of service for good, an admin moves
its users' homes: this copies the volume to NODE and moves the label, so the user's next
start runs on NODE with their files.

How: two one-off Swarm services from the users' image on a private internal overlay
network made for the move, a sender on the home's node (the volume read-only) and a
receiver on NODE (the volume created there, with the home size as on a first start).
The sender streams a tar of the home to the receiver; both count the bytes and hash the
stream, and the move counts only if the two agree. Then the label moves. The old copy is
kept on the old node until the admin removes it.

Refused, with nothing changed: a name outside the username policy, a user with a running
server, a home no node holds, a target that is the home's node, not a worker, or not
ready and active, a home's node that Swarm cannot run the sender on (drained or down:
restore from a backup instead), and a target that already holds a non-empty volume of that
name.
"""

import secrets
import sys
import time

from .console import UserError, progress
from edahub_core.names import (SWARM_HOME_LABEL_PREFIX, USER_HOME, USER_PREFIX_LABEL,
                               USERNAME_RULE, container_name, home_volume_name, valid_username)

COPY_PORT = 7700

# Both run as root in the users' image (python3 and GNU tar), so the files keep their owners
# and modes. Each prints one line: "<what> <bytes> <sha256 of the tar stream>".
RECEIVER = f"""
import hashlib, os, socket, subprocess, sys
if os.listdir({USER_HOME!r}):
    print("not-empty"); sys.exit(3)
listener = socket.create_server(("", {COPY_PORT}))
listener.settimeout(600)
connection, _ = listener.accept()
tar = subprocess.Popen(["tar", "-x", "-p", "--numeric-owner", "-C", {USER_HOME!r}, "-f", "-"],
                       stdin=subprocess.PIPE)
digest, size = hashlib.sha256(), 0
while chunk := connection.recv(1 << 16):
    digest.update(chunk); size += len(chunk); tar.stdin.write(chunk)
tar.stdin.close()
code = tar.wait()
print("received", size, digest.hexdigest())
sys.exit(code)
"""

SENDER = f"""
import hashlib, socket, subprocess, sys, time
deadline = time.monotonic() + 300
while True:
    try:
        connection = socket.create_connection((sys.argv[1], {COPY_PORT}), timeout=10)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(1)
tar = subprocess.Popen(["tar", "-c", "--numeric-owner", "-C", {USER_HOME!r}, "-f", "-", "."],
                       stdout=subprocess.PIPE)
digest, size = hashlib.sha256(), 0
while chunk := tar.stdout.read(1 << 16):
    digest.update(chunk); size += len(chunk); connection.sendall(chunk)
connection.shutdown(socket.SHUT_WR)
connection.recv(1)
print("sent", size, digest.hexdigest())
sys.exit(tar.wait())
"""

TERMINAL = {"complete", "failed", "rejected", "shutdown", "orphaned", "remove"}


def node_name(node):
    return node.attrs["Description"]["Hostname"]


def find_node(client, name):
    """The node whose hostname or ID is ``name``."""
    for node in client.nodes.list():
        if name in (node_name(node), node.id):
            return node
    raise UserError(f"no node of this swarm is called {name}", "docker node ls lists them")


def home_node(client, label):
    nodes = client.nodes.list(filters={"node.label": f"{label}=true"})
    if len(nodes) > 1:
        raise UserError(f"more than one node is labelled {label}: "
                        f"{', '.join(node_name(n) for n in nodes)}",
                        "keep the label on the node that holds the home only "
                        "(docker node update --label-rm)")
    return nodes[0] if nodes else None


def usable(node):
    return (node.attrs["Spec"].get("Availability") == "active"
            and node.attrs["Status"].get("State") == "ready")


def plan(client, settings, username, target_name):
    """(volume, label, source node, target node) of a move; UserError if it may not start."""
    if not valid_username(username):
        raise UserError(f"{username!r} is not a username of edahub ({USERNAME_RULE})",
                        "give the name as the hub's admin page shows it")
    volume = home_volume_name(settings.user_prefix, username)
    label = f"{SWARM_HOME_LABEL_PREFIX}{volume}"
    server = container_name(settings.user_prefix, username)
    if any(service.name == server  # the filter matches names that start so too
           for service in client.services.list(filters={"name": server})):
        raise UserError(f"{username}'s server runs (service {server})",
                        "stop it first (the hub's admin page, or the user's own), then move "
                        "the home")
    source = home_node(client, label)
    if source is None:
        raise UserError(f"no node holds {username}'s home (no node is labelled {label})",
                        "the user has not started a server on this swarm yet, or the "
                        "label was removed: label the node that holds the volume "
                        f"(docker node update --label-add {label}=true <node>)")
    target = find_node(client, target_name)
    if target.id == source.id:
        raise UserError(f"{username}'s home is already on {node_name(source)}",
                        "name another node")
    if target.attrs["Spec"].get("Role") != "worker" or not usable(target):
        raise UserError(f"{node_name(target)} cannot run users' servers: it is a "
                        f"{target.attrs['Spec'].get('Role')}, "
                        f"{target.attrs['Spec'].get('Availability')}/"
                        f"{target.attrs['Status'].get('State')}",
                        "move the home to an active, ready worker")
    if not usable(source):
        raise UserError(f"the home's node {node_name(source)} is "
                        f"{source.attrs['Spec'].get('Availability')}/"
                        f"{source.attrs['Status'].get('State')}: Swarm runs nothing there, "
                        "so the copy cannot run on it",
                        f"make it active for the move (docker node update --availability "
                        f"active {node_name(source)}; its users start again only when they "
                        f"ask), or restore {username}'s home from a backup on "
                        f"{node_name(target)} and move the label by hand (docs/scale-out.md)")
    return volume, label, source, target


def move_home(client, settings, username, target_name, image=None, stream=None,
              timeout=3600):
    """Move ``username``'s home to the node ``target_name``; returns the bytes copied."""
    from docker.types import DriverConfig, EndpointSpec, Mount, RestartPolicy

    stream = stream or sys.stdout
    volume, label, source, target = plan(client, settings, username, target_name)
    image = image or settings.singleuser_image
    run_id = secrets.token_hex(3)
    print(f"Moving {username}'s home {volume} from {node_name(source)} to "
          f"{node_name(target)}", file=stream)
    network = client.networks.create(f"edahub-move-{run_id}", driver="overlay", internal=True,
                                     labels={"org.edahub.move-home": volume})
    services = []
    try:
        options = {"size": settings.user_home_size} if settings.user_home_size else None
        common = dict(image=image, user="0", networks=[network.id],
                      restart_policy=RestartPolicy(condition="none"),
                      endpoint_spec=EndpointSpec(mode="dnsrr"),
                      labels={"org.edahub.move-home": volume})
        receiver = f"edahub-move-{run_id}-to"
        services.append(client.services.create(
            name=receiver, command=["python3", "-c", RECEIVER],
            constraints=[f"node.id == {target.id}"],
            # no_copy: a new volume starts empty, not with the image's own home files.
            mounts=[Mount(target=USER_HOME, source=volume, type="volume", no_copy=True,
                          labels={USER_PREFIX_LABEL: settings.user_prefix},
                          driver_config=DriverConfig("local", options))], **common))
        services.append(client.services.create(
            name=f"edahub-move-{run_id}-from", command=["python3", "-c", SENDER, receiver],
            constraints=[f"node.id == {source.id}"],
            mounts=[Mount(target=USER_HOME, source=volume, type="volume", read_only=True)],
            **common))
        with progress(1, 2, "Copying the home", stream) as status:
            reports = wait_for_copy(services, timeout)
            status.text = f"{reports['received'][0]} bytes, the same on both sides"
        sent, received = reports["sent"], reports["received"]
        if sent != received:
            raise UserError(f"the copy differs from the home (sent {sent[0]} bytes, sha256 "
                            f"{sent[1]}; received {received[0]}, {received[1]})",
                            "nothing was moved; run the command again")
        with progress(2, 2, f"Moving the label {label}", stream):
            set_label(target, label, True)
            set_label(source, label, False)
    finally:
        for service in services:
            service.remove()
        remove_network(network)
    print(f"{username}'s home is on {node_name(target)} now ({received[0]} bytes, sha256 "
          f"{received[1][:16]}...); their next start runs there. The old copy stays on "
          f"{node_name(source)}: once {username} has checked their files, remove it there "
          f"with `docker volume rm {volume}`.", file=stream)
    return received[0]


def wait_for_copy(services, timeout, interval=1.0):
    """{"sent": (bytes, sha256), "received": (...)} once both one-off services ended;
    UserError with what they said if either failed."""
    deadline = time.monotonic() + timeout
    while True:
        states = {}
        for service in services:
            tasks = service.tasks()
            states[service.name] = tasks[0]["Status"]["State"] if tasks else "new"
        ended = [state in TERMINAL for state in states.values()]
        if all(ended) or any(state in TERMINAL - {"complete"} for state in states.values()):
            break
        if time.monotonic() > deadline:
            raise UserError(f"the copy did not end within {timeout}s ({states})",
                            "nothing was moved; see docker service logs of the services above")
        time.sleep(interval)
    reports, said = {}, []
    for service in services:
        text = b"".join(service.logs(stdout=True, stderr=True)).decode(errors="replace")
        said.append(f"{service.name}: {text.strip()[-500:]}")
        for line in text.splitlines():
            words = line.split()
            if len(words) == 3 and words[0] in ("sent", "received") and words[1].isdigit():
                reports[words[0]] = (int(words[1]), words[2])
            if words == ["not-empty"]:
                raise UserError("the target node already holds a volume of that name with "
                                "files in it", "nothing was moved; look at that volume on the "
                                "target node and remove it if it is stale (docker volume rm)")
    if set(reports) != {"sent", "received"} or any(
            state != "complete" for state in states.values()):
        raise UserError("the copy failed:\n  " + "\n  ".join(said),
                        "nothing was moved; fix what the lines above say and run it again")
    return reports


def set_label(node, label, present):
    node.reload()
    spec = node.attrs["Spec"]
    labels = spec.setdefault("Labels", {})
    if present:
        labels[label] = "true"
    else:
        labels.pop(label, None)
    node.update(spec)


def remove_network(network, attempts=30):
    """Remove the move's network (its services' tasks may still be detaching)."""
    for _ in range(attempts):
        try:
            network.remove()
            return
        except Exception:
            time.sleep(1)
    network.remove()
