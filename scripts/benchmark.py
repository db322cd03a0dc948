#!/usr/bin/env python3
"""Measure edahub's start-up and spawn times on this machine and print the numbers.

    python3 scripts/benchmark.py [--users 10] [--kernels] [--set KEY=VALUE ...]
                                 [--mariadb-image IMG --mongodb-image IMG]

It starts a private stack from compose.yaml (its own project, network, port and user
prefix, like the integration tests), then measures:

- stack start: `docker compose up --wait` until the hub answers /hub/health;
- one spawn: the hub API request to start a server until the server reports ready;
- N users spawning at once: p50 and slowest, and how many failed;
- memory of one idle user container (no kernel), from the engine's stats;
- with --kernels, each kernel of the users' image, from kernel start to its first result
  (the hub's kernel API and websocket, as a notebook does): a first cell on a new home
  volume, the same cell again, and twice a cell loading the language's data tools (for
  Go, one compiling both database drivers).

--set passes a setting to the stack's .env, e.g. `--set EDAHUB_SINGLEUSER_JULIA=false`
where Julia cannot be downloaded.

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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10, help="users spawning at once")
    parser.add_argument("--mariadb-image", default="")
    parser.add_argument("--mongodb-image", default="")
    parser.add_argument("--ca-bundle", default="")
    parser.add_argument("--kernels", action="store_true",
                        help="also time each kernel from start to first result")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for the stack's .env (repeatable)")
    args = parser.parse_args()

    import docker
    import requests

    from edahub import envfile
    from edahub.compose import ComposeProject
    from edahub.installer import hash_password
    from edahub.lifecycle import stop_platform
    from edahub_core.settings import load_settings
    from hubclient import HubSession
    from stacktools import (free_network_prefix, free_port, image_ids, remove_images,
                            remove_user_resources, wait_for_hub)

    run_id = secrets.token_hex(3)
    project, prefix = f"edahub-bench-{run_id}", f"edahubbench{run_id}"
    # Tags of its own, removed at the end: the benchmark never replaces an operator's images.
    images = {"EDAHUB_HUB_IMAGE": f"edahub-hub:bench-{run_id}",
              "EDAHUB_SINGLEUSER_IMAGE": f"edahub-singleuser:bench-{run_id}"}
    with tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "bench.env"
        admin_password = secrets.token_hex(12)
        port = free_port()
        overrides = {
            "EDAHUB_HUB_PORT": str(port), "EDAHUB_HUB_BIND_ADDRESS": "127.0.0.1",
            "EDAHUB_HTTP_REDIRECT_PORT": str(free_port()),
            "EDAHUB_NETWORK_NAME": project, "EDAHUB_USER_PREFIX": prefix,
            "EDAHUB_NETWORK_PREFIX": free_network_prefix(docker.from_env()),
            "EDAHUB_ADMIN_PASSWORD_HASH": hash_password(admin_password),
            "EDAHUB_DOCKER_GID": str(os.stat("/var/run/docker.sock").st_gid),
            **images,
        }
        if args.mariadb_image:
            overrides["EDAHUB_MARIADB_IMAGE"] = args.mariadb_image
        if args.mongodb_image:
            overrides["EDAHUB_MONGODB_IMAGE"] = args.mongodb_image
        if args.ca_bundle:
            overrides["EDAHUB_CA_BUNDLE"] = args.ca_bundle
        overrides.update(item.split("=", 1) for item in args.set)
        envfile.ensure_env_file(env_file, overrides, validate=load_settings)
        compose = ComposeProject(env_file, project)
        base_url = f"http://127.0.0.1:{port}"
        client = docker.from_env()
        built_ids = []
        try:
            compose.run("build", "hub", "singleuser", timeout=3600)
            built_ids = image_ids(images.values())
            started = time.monotonic()
            compose.run("up", "--detach", "--wait", "--no-build", timeout=600)
            wait_for_hub(base_url, timeout=120)
            print(f"stack start (compose up --wait, hub healthy): {time.monotonic() - started:.1f} s")

            admin = HubSession(base_url, "admin")
            assert admin.log_in(admin_password)
            # Users are created by the admin API (the signup flow is not what is measured).
            names = [f"bench{i}" for i in range(args.users + 1)]
            admin.api("POST", "/users", json={"usernames": names})
            token = admin.api("POST", "/users/admin/tokens",
                              json={"note": "benchmark", "expires_in": 3600}).json()["token"]
            api = requests.Session()
            api.headers["Authorization"] = f"token {token}"

            def spawn(name, timeout=300):
                t0 = time.monotonic()
                response = api.post(f"{base_url}/hub/api/users/{name}/server", timeout=60)
                if response.status_code not in (201, 202):
                    return None
                while time.monotonic() - t0 < timeout:
                    model = api.get(f"{base_url}/hub/api/users/{name}", timeout=30).json()
                    server = model.get("servers", {}).get("")
                    if server and server.get("ready"):
                        return time.monotonic() - t0
                    if not model.get("pending") and not server:
                        return None
                    time.sleep(0.25)
                return None

            one = spawn(names[0])
            print(f"one spawn (API request to ready): {one:.1f} s" if one else "one spawn: FAILED")
            time.sleep(3)
            container = client.containers.get(f"{prefix}-user-{names[0]}")
            mem = container.stats(stream=False)["memory_stats"]
            used = mem.get("usage", 0) - mem.get("stats", {}).get("inactive_file", 0)
            print(f"memory of one idle user container: {used / 2**20:.0f} MiB")

            if args.users:
                with ThreadPoolExecutor(max_workers=args.users) as pool:
                    times = list(pool.map(spawn, names[1:]))
                ok = sorted(t for t in times if t is not None)
                failed = len(times) - len(ok)
                if ok:
                    print(f"{args.users} users spawning at once: p50 "
                          f"{statistics.median(ok):.1f} s, slowest {ok[-1]:.1f} s, failed {failed}")
                else:
                    print(f"{args.users} users spawning at once: all {failed} failed")
            if args.kernels:
                admin.start_server()
                assert admin.open_server().status_code == 200
                time_kernels(admin)
        finally:
            try:
                stop_platform(compose, prefix, timeout=60, volumes=True, remove_policy=True,
                              stream=sys.stderr)
            finally:
                remove_user_resources(client, prefix)
            remove_images(list(images.values()), built_ids)


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
