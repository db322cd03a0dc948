#!/usr/bin/env python3
"""Measure edahub's start-up and spawn times on this machine and print the numbers.

    python3 scripts/benchmark.py [--users 10] [--mariadb-image IMG --mongodb-image IMG]

It starts a private stack from compose.yaml (its own project, network, port and user
prefix, like the integration tests), then measures:

- stack start: `docker compose up --wait` until the hub answers /hub/health;
- one spawn: the hub API request to start a server until the server reports ready;
- N users spawning at once: p50 and slowest, and how many failed;
- memory of one idle user container (no kernel), from the engine's stats.

Everything it started is removed at the end. Needs the test dependencies
(`python3 scripts/run_tests.py` installs them into .venv; run this with .venv/bin/python).
"""

import argparse
import os
import secrets
import statistics
import subprocess
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
    args = parser.parse_args()

    import docker
    import requests

    from edahub import envfile
    from edahub.installer import hash_password
    from edahub.settings import load_settings
    from hubclient import HubSession

    run_id = secrets.token_hex(3)
    project, prefix = f"edahub-bench-{run_id}", f"edahubbench{run_id}"
    with tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "bench.env"
        admin_password = secrets.token_hex(12)
        with __import__("socket").socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        overrides = {
            "EDAHUB_HUB_PORT": str(port), "EDAHUB_HUB_BIND_ADDRESS": "127.0.0.1",
            "EDAHUB_NETWORK_NAME": project, "EDAHUB_USER_PREFIX": prefix,
            "EDAHUB_ADMIN_PASSWORD_HASH": hash_password(admin_password),
            "EDAHUB_DOCKER_GID": str(os.stat("/var/run/docker.sock").st_gid),
        }
        if args.mariadb_image:
            overrides["EDAHUB_MARIADB_IMAGE"] = args.mariadb_image
        if args.mongodb_image:
            overrides["EDAHUB_MONGODB_IMAGE"] = args.mongodb_image
        if args.ca_bundle:
            overrides["EDAHUB_CA_BUNDLE"] = args.ca_bundle
        envfile.ensure_env_file(env_file, overrides, validate=load_settings)
        compose = ["docker", "compose", "--project-directory", str(ROOT), "-f",
                   str(ROOT / "compose.yaml"), "--env-file", str(env_file), "-p", project]
        base_url = f"http://127.0.0.1:{port}"
        client = docker.from_env()
        try:
            subprocess.run([*compose, "build", "hub", "singleuser"], check=True,
                           capture_output=True)
            started = time.monotonic()
            subprocess.run([*compose, "up", "--detach", "--wait"], check=True,
                           capture_output=True)
            while requests.get(f"{base_url}/hub/health", timeout=5).status_code != 200:
                time.sleep(0.2)
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

            with ThreadPoolExecutor(max_workers=args.users) as pool:
                times = list(pool.map(spawn, names[1:]))
            ok = sorted(t for t in times if t is not None)
            failed = len(times) - len(ok)
            if ok:
                print(f"{args.users} users spawning at once: p50 {statistics.median(ok):.1f} s, "
                      f"slowest {ok[-1]:.1f} s, failed {failed}")
            else:
                print(f"{args.users} users spawning at once: all {failed} failed")
        finally:
            subprocess.run([*compose, "down", "--volumes", "--timeout", "120"],
                           capture_output=True)
            for c in client.containers.list(all=True,
                                            filters={"label": f"org.edahub.user-prefix={prefix}"}):
                c.remove(force=True)
            for volume in client.volumes.list():
                if volume.name.startswith(f"{prefix}-home-"):
                    volume.remove(force=True)


if __name__ == "__main__":
    main()
