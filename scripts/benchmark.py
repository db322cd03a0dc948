#!/usr/bin/env python3
"""Measure edahub's start-up and spawn times on this machine, beside stock JupyterHub.

    python3 scripts/benchmark.py [--users 10] [--users 20] [--singles 5] [--rounds 1]
                                 [--stock] [--kernels] [--set KEY=VALUE ...]
                                 [--mariadb-image IMG --mongodb-image IMG]

It builds edahub's images under tags of its own, then, for each round, measures each
system on a fresh start and removes it again (with --stock: edahub, stock, edahub,
stock, ... alternating, so machine noise hits both alike):

- start: until the hub answers /hub/health (edahub: `docker compose up --wait`);
- one spawn: the hub API request to start a server until the server reports ready, for
  --singles new users one after another (median and range);
- N users spawning at once, for each --users N: p50 and slowest, how many failed, and how
  long the hub's login page took to answer meanwhile (slowest of one request every 0.5 s);
- where the time of a spawn goes: for each spawn, from the request, when the user's
  databases were ready (edahub; from the hub's log), the container was created, it
  started, the server listened (its log) and the hub reported it ready (medians);
- for each burst, the CPU-seconds per spawn of each part: the hub and each service of
  the platform, users' servers, the Docker engine (dockerd, containerd and its shims),
  this benchmark's own polling, and the machine in all (the rest is everything else);
- memory of one idle user container (no kernel), from the engine's stats;
- with --kernels (edahub only), each kernel of the users' image, from kernel start to its
  first result, as a notebook does (first on a new home, again, and with the language's
  data tools twice; for Go one compiling both database drivers).

Stock is JupyterHub 6.1.1 with DockerSpawner 14.0.0 and configurable-http-proxy 5.3.0,
the same pinned packages edahub's hub image holds, run from that image with stock
settings: a ten-line config that names only what DockerSpawner needs to work at all (the
users' image, a network, where the hub listens) and a test login (DummyAuthenticator).
Both spawn edahub's users' image. It prints each measure with the ratio edahub / stock.

--set passes a setting to edahub's .env, e.g. `--set EDAHUB_USER_CPU_LIMIT=0`.
Everything it started is removed at the end. Needs the test dependencies
(`python3 scripts/run_tests.py` installs them into .venv; run this with .venv/bin/python).
"""

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests")]

STOCK_CONFIG = """
c = get_config()  # noqa
c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
c.DockerSpawner.image = {image!r}
c.DockerSpawner.network_name = {network!r}
c.JupyterHub.hub_ip = "0.0.0.0"
c.JupyterHub.hub_connect_ip = {hub!r}
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.services = [{{"name": "bench", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": "admin", "services": ["bench"]}}]
c.JupyterHub.db_url = "sqlite:////tmp/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/tmp/jupyterhub_cookie_secret"
c.ConfigurableHTTPProxy.pid_file = "/tmp/jupyterhub-proxy.pid"
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, action="append",
                        help="users spawning at once (repeatable; default 10)")
    parser.add_argument("--singles", type=int, default=3,
                        help="single spawns, one after another, per round")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--stock", action="store_true",
                        help="also measure stock JupyterHub + DockerSpawner, alternating")
    parser.add_argument("--mariadb-image", default="")
    parser.add_argument("--mongodb-image", default="")
    parser.add_argument("--ca-bundle", default="")
    parser.add_argument("--kernels", action="store_true",
                        help="also time each kernel from start to first result")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for the stack's .env (repeatable)")
    parser.add_argument("--logs", type=Path, help="save edahub's service logs in this folder")
    args = parser.parse_args()
    args.users = args.users or [10]

    import docker

    from stacktools import image_ids, remove_images

    run_id = secrets.token_hex(3)
    # Tags of its own, removed at the end: the benchmark never replaces an operator's images.
    images = {"EDAHUB_HUB_IMAGE": f"edahub-hub:bench-{run_id}",
              "EDAHUB_SINGLEUSER_IMAGE": f"edahub-singleuser:bench-{run_id}"}
    client = docker.from_env()
    results = {"edahub": {}, "stock": {}}
    built_ids = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for round_number in range(1, args.rounds + 1):
                for system in (["edahub", "stock"] if args.stock else ["edahub"]):
                    print(f"--- round {round_number}: {system}", flush=True)
                    runner = edahub_system if system == "edahub" else stock_system
                    with runner(args, client, images, Path(tmp), run_id, round_number) as hub:
                        if not built_ids:
                            built_ids = image_ids(images.values())
                        measure(hub, args, results[system], client)
                        if args.kernels and system == "edahub" and round_number == 1:
                            hub.admin.start_server()
                            assert hub.admin.open_server().status_code == 200
                            time_kernels(hub.admin)
        finally:
            remove_images(list(images.values()), built_ids)
    report(results, args)


class Hub:
    """A running hub to measure: its URL, an admin API session and its users' containers."""

    def __init__(self, base_url, token, container_of, platform, admin=None):
        import requests

        self.base_url = base_url
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"token {token}"
        self.container_of = container_of
        self.platform = platform  # component -> its container's name; "hub" first
        self.hub_container = platform["hub"]
        self.admin = admin
        self.started = None
        self.made = 0
        self.requested = {}  # user -> wall-clock time of the spawn request
        self.ready = {}  # user -> wall-clock time the hub first reported the server ready

    def new_users(self, count):
        names = [f"bench{self.made + i}" for i in range(count)]
        self.made += count
        response = self.api.post(f"{self.base_url}/hub/api/users", json={"usernames": names},
                                 timeout=60)
        assert response.status_code == 201, response.text
        return names

    def request_spawn(self, name):
        """Ask the hub to start ``name``'s server; False if it refused."""
        self.requested[name] = time.time()
        response = self.api.post(f"{self.base_url}/hub/api/users/{name}/server", timeout=300)
        return response.status_code in (201, 202)

    def spawn(self, name, timeout=300, poll=0.05):
        """Seconds from the API request to the server reported ready; None if it failed."""
        if not self.request_spawn(name):
            return None
        while time.time() - self.requested[name] < timeout:
            model = self.api.get(f"{self.base_url}/hub/api/users/{name}", timeout=30).json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                self.ready[name] = time.time()
                return self.ready[name] - self.requested[name]
            if not model.get("pending") and not server:
                return None
            time.sleep(poll)
        return None

    def burst(self, names, timeout=600):
        """Start ``names``' servers at once; seconds to ready for each (None: failed), and
        the login page's response times meanwhile.

        One watcher lists all users every 0.5 s (per-user polling would load the hub it
        measures with hundreds of requests a second); the ready time of a server is when
        a listing first shows it ready, so a slow listing delays it.
        """
        import threading

        import requests

        pending, times, page_times = set(names), dict.fromkeys(names), []
        done = threading.Event()

        def probe_page():  # a person opening the login page, every 0.5 s
            while not done.is_set():
                t = time.monotonic()
                requests.get(f"{self.base_url}/hub/login", timeout=120)
                page_times.append(time.monotonic() - t)
                done.wait(0.5)

        with ThreadPoolExecutor(max_workers=len(names) + 1) as pool:
            asked = {name: pool.submit(self.request_spawn, name) for name in names}
            prober = pool.submit(probe_page)
            deadline = time.time() + timeout
            while pending and time.time() < deadline:
                models = self.api.get(f"{self.base_url}/hub/api/users", timeout=120).json()
                now = time.time()
                for model in models:
                    name = model["name"]
                    if name not in pending or not asked[name].done():
                        continue
                    server = model.get("servers", {}).get("")
                    if server and server.get("ready"):
                        self.ready[name] = now
                        times[name] = now - self.requested[name]
                        pending.discard(name)
                    elif not asked[name].result() or (not model.get("pending") and not server):
                        pending.discard(name)  # refused or failed: stays None
                time.sleep(0.5)
            done.set()
            prober.result()
        return [times[name] for name in names], page_times

    def where_the_time_goes(self, client, names):
        """Per phase, the seconds from each request to it (lists, one value per user)."""
        import re

        hub_log = client.containers.get(self.hub_container).logs(timestamps=True).decode(
            errors="replace")
        phases = {}
        for name in names:
            if name not in self.ready:
                continue
            t0 = self.requested[name]
            add = lambda phase, when: phases.setdefault(phase, []).append(when - t0)  # noqa: E731
            databases = re.search(rf"^(\S+) .*Databases of {re.escape(name)} ready", hub_log,
                                  re.MULTILINE)
            if databases:
                add("databases ready", docker_time(databases.group(1)))
            container = client.containers.get(self.container_of(name))
            add("container created", docker_time(container.attrs["Created"]))
            add("container started", docker_time(container.attrs["State"]["StartedAt"]))
            for line in container.logs(timestamps=True).decode(errors="replace").splitlines():
                if "is running at" in line:
                    add("server listening", docker_time(line.split(" ", 1)[0]))
                    break
            add("hub reports it ready", self.ready[name])
        return phases


def docker_time(stamp):
    """Seconds since the epoch of the engine's RFC 3339 time (nanoseconds, Z)."""
    from datetime import datetime

    whole, _, fraction = stamp.rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(whole + "+00:00").timestamp()
    return seconds + float(f"0.{fraction or 0}")


@contextmanager
def edahub_system(args, client, images, tmp, run_id, round_number):
    from edahub import envfile
    from edahub.compose import ComposeProject
    from edahub.installer import hash_password
    from edahub.lifecycle import stop_platform
    from edahub_core.settings import load_settings
    from hubclient import HubSession
    from stacktools import free_network_prefix, free_port, remove_user_resources, wait_for_hub

    project, prefix = f"edahub-bench-{run_id}-{round_number}", f"edahubbench{run_id}r{round_number}"
    env_file = tmp / f"{project}.env"
    admin_password = secrets.token_hex(12)
    port = free_port()
    overrides = {
        "EDAHUB_HUB_PORT": str(port), "EDAHUB_HUB_BIND_ADDRESS": "127.0.0.1",
        "EDAHUB_HTTP_REDIRECT_PORT": str(free_port()),
        "EDAHUB_NETWORK_NAME": project, "EDAHUB_USER_PREFIX": prefix,
        "EDAHUB_NETWORK_PREFIX": free_network_prefix(client),
        "EDAHUB_ADMIN_PASSWORD_HASH": hash_password(admin_password),
        "EDAHUB_DOCKER_GID": str(os.stat("/var/run/docker.sock").st_gid),
        **images,
    }
    for key, value in (("EDAHUB_MARIADB_IMAGE", args.mariadb_image),
                       ("EDAHUB_MONGODB_IMAGE", args.mongodb_image),
                       ("EDAHUB_CA_BUNDLE", args.ca_bundle)):
        if value:
            overrides[key] = value
    overrides.update(item.split("=", 1) for item in args.set)
    envfile.ensure_env_file(env_file, overrides, validate=load_settings)
    compose = ComposeProject(env_file, project)
    base_url = f"http://127.0.0.1:{port}"
    try:
        compose.run("build", "hub", "singleuser", timeout=3600)
        started = time.monotonic()
        compose.run("up", "--detach", "--wait", "--no-build", timeout=600)
        wait_for_hub(base_url, timeout=120)
        elapsed = time.monotonic() - started
        admin = HubSession(base_url, "admin")
        assert admin.log_in(admin_password)
        token = admin.api("POST", "/users/admin/tokens",
                          json={"note": "benchmark", "expires_in": 3600}).json()["token"]
        platform = {service: f"{project}-{service}-1" for service in
                    ("hub", "proxy", "mariadb", "mongodb", "mongodb-accounts", "netpolicy")}
        hub = Hub(base_url, token, lambda name: f"{prefix}-user-{name}", platform, admin=admin)
        hub.started = elapsed
        yield hub
    finally:
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
            for service in ("hub", "mongodb-accounts", "netpolicy"):
                (args.logs / f"{project}-{service}.log").write_text(compose.logs(service, 100000))
        try:
            stop_platform(compose, prefix, timeout=60, volumes=True, remove_policy=True,
                          stream=sys.stderr)
        finally:
            remove_user_resources(client, prefix)


@contextmanager
def stock_system(args, client, images, tmp, run_id, round_number):
    """Stock JupyterHub + DockerSpawner in a container of the hub image, on a network of
    its own; users are prefixed so that their containers and volumes can be removed."""
    from stacktools import free_port, wait_for_hub

    name = f"stock-bench-{run_id}-{round_number}"
    token = secrets.token_hex(32)
    config = tmp / f"{name}.py"
    config.write_text(STOCK_CONFIG.format(image=images["EDAHUB_SINGLEUSER_IMAGE"], network=name,
                                          hub=name, token=token))
    config.chmod(0o644)
    port = free_port()
    network = client.networks.create(name, driver="bridge")
    hub = None
    try:
        started = time.monotonic()
        hub = client.containers.run(
            images["EDAHUB_HUB_IMAGE"], ["jupyterhub", "--config", "/srv/stock_config.py"],
            name=name, detach=True, network=name, ports={"8000/tcp": ("127.0.0.1", port)},
            group_add=[str(os.stat("/var/run/docker.sock").st_gid)],
            volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"},
                     str(config): {"bind": "/srv/stock_config.py", "mode": "ro"}})
        base_url = f"http://127.0.0.1:{port}"
        wait_for_hub(base_url, timeout=120)
        measured = Hub(base_url, token, lambda user: f"jupyter-{user}", {"hub": name})
        measured.started = time.monotonic() - started
        yield measured
    finally:
        # DockerSpawner's defaults: containers jupyter-<user>, volumes none.
        for container in client.containers.list(all=True, filters={"network": name}):
            if container.name != name:
                container.remove(force=True)
        if hub is not None:
            hub.remove(force=True)
        network.remove()


def measure(hub, args, into, client):
    """Append this round's figures of ``hub`` to ``into`` (measure -> list of values)."""
    add = lambda key, value: into.setdefault(key, []).append(value)  # noqa: E731
    add("start (s)", hub.started)
    print(f"start: {hub.started:.1f} s", flush=True)
    first_users = hub.new_users(args.singles)
    singles = [hub.spawn(name) for name in first_users]
    for t in singles:
        add("one spawn (s)", t)
    print("one spawn: " + ", ".join(f"{t:.2f} s" if t else "FAILED" for t in singles), flush=True)
    add_phases(add, "one spawn", hub.where_the_time_goes(client, first_users))
    time.sleep(3)
    container = client.containers.get(hub.container_of(first_users[0]))
    mem = container.stats(stream=False)["memory_stats"]
    used = (mem.get("usage", 0) - mem.get("stats", {}).get("inactive_file", 0)) / 2**20
    add("idle user container (MiB)", used)
    print(f"memory of one idle user container: {used:.0f} MiB", flush=True)
    for count in args.users:
        names = hub.new_users(count)
        cpu_before = cpu_seconds(client, hub, names)
        times, page_times = hub.burst(names)
        cpu_used = {part: used - cpu_before.get(part, 0)
                    for part, used in cpu_seconds(client, hub, names).items()}
        ok = sorted(t for t in times if t is not None)
        add(f"{count} at once: p50 (s)", statistics.median(ok) if ok else None)
        add(f"{count} at once: slowest (s)", ok[-1] if ok else None)
        add(f"{count} at once: failed", len(times) - len(ok))
        add(f"{count} at once: login page, slowest (s)", max(page_times))
        print(f"{count} users spawning at once: " + (
            f"p50 {statistics.median(ok):.1f} s, slowest {ok[-1]:.1f} s, "
            f"failed {len(times) - len(ok)}" if ok else f"all {len(times)} failed")
            + f"; login page slowest {max(page_times):.2f} s", flush=True)
        add_phases(add, f"{count} at once", hub.where_the_time_goes(client, names))
        for part, used in cpu_used.items():
            add(f"{count} at once, CPU-s per spawn: {part}", used / count)
        print(f"{count} at once, CPU-seconds per spawn: " + ", ".join(
            f"{part} {used / count:.2f}" for part, used in cpu_used.items()), flush=True)


ENGINE = ("dockerd", "containerd")  # and every containerd-shim: the engine's own processes


def cpu_seconds(client, hub, users):
    """CPU-seconds used so far: the machine in all, each platform container, ``users``'
    servers together, the engine's processes, and this benchmark (its polling)."""
    import docker

    def container_cpu(name):
        try:
            stats = client.containers.get(name).stats(stream=False, one_shot=True)
        except docker.errors.NotFound:
            return 0.0
        return stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9

    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:9]]
    used = {"machine, all": (sum(fields) - fields[3] - fields[4]) / tick}
    for part, name in hub.platform.items():
        used[part] = container_cpu(name)
    used["users' servers"] = sum(container_cpu(hub.container_of(user)) for user in users)
    engine = 0.0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            comm = (proc / "comm").read_text().strip()
            if comm in ENGINE or comm.startswith("containerd-shim"):
                values = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                engine += (int(values[11]) + int(values[12])) / tick
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
    used["Docker engine"] = engine
    used["this benchmark"] = time.process_time()
    return used


def add_phases(add, label, phases):
    """Record and print the median of each phase of ``label``'s spawns."""
    medians = {phase: statistics.median(values) for phase, values in phases.items()}
    for phase, value in medians.items():
        add(f"{label}, {phase} (s, median)", value)
    print(f"{label}, median seconds from the request: "
          + ", ".join(f"{phase} {value:.2f}" for phase, value in medians.items()), flush=True)


def report(results, args):
    """The table: each measure's median over rounds (and range), with edahub / stock."""
    print("\n| measure | edahub | stock | edahub / stock |\n|---|---|---|---|")
    for key, values in results["edahub"].items():
        def summary(vals):
            vals = [v for v in vals if v is not None]
            if not vals:
                return None, "-"
            mid = statistics.median(vals)
            spread = f" ({min(vals):.2f}-{max(vals):.2f})" if len(vals) > 1 else ""
            return mid, (f"{mid:.0f}" if "failed" in key else f"{mid:.2f}") + spread
        ours, ours_text = summary(values)
        stock, stock_text = summary(results["stock"].get(key, []))
        ratio = f"{ours / stock:.2f}" if ours is not None and stock else "-"
        print(f"| {key} | {ours_text} | {stock_text} | {ratio} |")


# Per kernel language: a first cell, and a cell loading the language's data tools.
KERNEL_CELLS = {
    "python": ("print(6 * 7)",
               "import pandas, scipy, matplotlib.pyplot, sqlalchemy, pymysql, pymongo\nprint(42)"),
    "r": ('cat(6 * 7, "\\n")',
          "suppressPackageStartupMessages({library(dplyr); library(ggplot2); library(RMariaDB)})\n"
          'cat(42, "\\n")'),
    "go": ("%%\nfmt.Println(6 * 7)",
           'import (\n    _ "github.com/go-sql-driver/mysql"\n'
           '    _ "go.mongodb.org/mongo-driver/v2/mongo"\n)\n%%\nfmt.Println(6 * 7)'),
    "julia": ("println(6 * 7)", "using DataFrames, MySQL, Mongoc\nprintln(6 * 7)"),
}


def time_kernels(session):
    """Print, for each kernel of ``session``'s server, the seconds to a cell's first result.

    Each measurement starts a new kernel (HubSession.execute), so it includes the kernel's
    start: first on the server's new home volume (cold caches, e.g. Go's build cache),
    then the same cell again, then the cell with the data tools, twice.
    """
    specs = session.server_api("GET", "/kernelspecs").json()["kernelspecs"]
    for name, spec in sorted(specs.items()):
        first, data_tools = KERNEL_CELLS[spec["spec"]["language"].lower()]
        timings = []
        for code in (first, first, data_tools, data_tools):
            started = time.monotonic()
            result = session.execute(code, kernel_name=name, timeout=900)
            elapsed = time.monotonic() - started
            ok = result.reply["status"] == "ok" and "42" in result.stdout
            timings.append(f"{elapsed:.1f} s" if ok else f"FAILED ({result.error})")
        print(f"kernel {spec['spec']['display_name']} ({name}), start to first result: "
              f"first {timings[0]}, again {timings[1]}; with data tools {timings[2]}, "
              f"again {timings[3]}")


if __name__ == "__main__":
    main()
