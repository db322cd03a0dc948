"""Day-2 operations on the real stack: bounded logs, the operator's announcement, quiet
JupyterLab (no news prompt)."""

import textwrap

import pytest

pytestmark = pytest.mark.integration

ROTATED = {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}


def test_every_container_of_the_stack_rotates_its_log(stack, docker_client, running_server):
    running_server("lena")
    for service in ("hub", "proxy", "netpolicy", "mariadb", "mongodb", "mongodb-accounts"):
        assert stack.container(docker_client, service).attrs["HostConfig"]["LogConfig"] == \
            ROTATED, service
    user = docker_client.containers.get(f"{stack.prefix}-user-lena")
    assert user.attrs["HostConfig"]["LogConfig"] == ROTATED


def test_the_operators_announcement_is_on_the_hubs_pages(stack, admin):
    announcement = stack.values["EDAHUB_ANNOUNCEMENT"]
    assert announcement, "the test stack sets EDAHUB_ANNOUNCEMENT"
    assert announcement in admin.get("/hub/home").text
    assert announcement in admin.get("/hub/login").text


def test_jupyterlab_asks_nobody_to_fetch_news(running_server):
    lena = running_server("lena")
    response = lena.get("/user/lena/lab/api/settings/@jupyterlab/apputils-extension:notification")
    assert response.status_code == 200, response.text[:300]
    # The image's overrides.json becomes the settings' defaults (jupyterlab_server's
    # _override); the user has set nothing of their own.
    defaults = {key: spec.get("default")
                for key, spec in response.json()["schema"]["properties"].items()}
    assert defaults["fetchNews"] == "false"
    assert defaults["checkForUpdates"] is False


def test_prometheus_reads_the_metrics_with_its_token_and_nothing_else(stack, running_server):
    import re

    import requests

    running_server("lena")  # a spawn happened and a server runs
    token = stack.values["EDAHUB_METRICS_TOKEN"]
    bearer = {"Authorization": f"Bearer {token}"}
    scraped = requests.get(f"{stack.base_url}/hub/metrics", headers=bearer, timeout=30)
    assert scraped.status_code == 200
    running = re.search(r"^jupyterhub_running_servers (\S+)$", scraped.text, re.MULTILINE)
    assert running and float(running.group(1)) >= 1
    # A histogram labelled with status (and reason): the successful spawns' count.
    spawns = [float(value) for labels, value in re.findall(
        r"^jupyterhub_server_spawn_duration_seconds_count\{([^}]*)\} (\S+)$", scraped.text,
        re.MULTILINE) if 'status="success"' in labels]
    assert spawns and sum(spawns) >= 1, scraped.text[:2000]
    # Without the token: nothing. With it: nothing but the metrics.
    anonymous = requests.get(f"{stack.base_url}/hub/metrics", timeout=30, allow_redirects=False)
    assert anonymous.status_code == 403 and "jupyterhub_running_servers" not in anonymous.text
    assert requests.get(f"{stack.base_url}/hub/api/users", headers=bearer,
                        timeout=30).status_code == 403


def run_status(stack):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, str(root / "scripts" / "bootstrap.py"), "status",
                           "--env-file", str(stack.env_file), "--project-name", stack.project],
                          capture_output=True, text=True, timeout=300)


def test_status_shows_services_servers_sizes_and_disk_on_one_screen(stack, running_server):
    lena = running_server("lena")
    # A few MiB in her home and each of her databases, so they are among the largest the
    # status lists.
    stored = lena.execute(textwrap.dedent("""
        import os, pymongo, pymysql
        open(os.path.expanduser("~/status-test.bin"), "wb").write(os.urandom(2**21))
        pymongo.MongoClient(os.environ["MONGODB_URI"]).get_default_database().blobs \\
            .insert_many([{"b": os.urandom(2**20)} for _ in range(3)])
        conn = pymysql.connect(read_default_file=os.path.expanduser("~/.my.cnf"),
                               autocommit=True)
        cur = conn.cursor()
        cur.execute("CREATE TABLE IF NOT EXISTS blobs (b LONGBLOB)")
        for _ in range(3):
            cur.execute("INSERT INTO blobs VALUES (%s)", (os.urandom(2**20),))
    """))
    assert stored.reply["status"] == "ok", stored.error
    result = run_status(stack)
    out = result.stdout
    assert result.returncode == (1 if "To act on:" in out else 0), out + result.stderr
    for service in ("hub", "proxy", "netpolicy", "mariadb", "mongodb", "mongodb-accounts"):
        assert f"  {service:<16} running/healthy" in out, out
    assert f"{stack.prefix}-user-lena" in out and "memory " in out and "of 1.0 GiB" in out
    assert f"{stack.prefix}-home-lena" in out
    assert "mariadb u_lena_" in out and "mongodb u_lena_" in out
    assert "Disk (Docker's data):" in out and "Versions: edahub " in out
    assert len(out.splitlines()) < 80, "more than one screen"


def test_status_names_a_stopped_network_policy_as_something_to_act_on(stack):
    stack.run_compose("stop", "netpolicy", timeout=120)
    try:
        result = run_status(stack)
    finally:
        stack.run_compose("start", "netpolicy", timeout=120)
        stack.compose.wait_until_ready(["netpolicy"], timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{'netpolicy':<16} exited" in result.stdout
    assert "users' servers are not fenced in" in result.stdout


def test_users_see_their_memory_use_against_their_limit(stack, running_server):
    lena = running_server("lena")
    # What JupyterLab's status bar shows (jupyter-resource-usage), from the user's server.
    response = lena.server_api("GET", "/metrics/v1")
    assert response.status_code == 200, response.text[:300]
    metrics = response.json()
    limit = metrics["limits"]["memory"]["rss"]
    assert limit == 2**30, "the test stack's EDAHUB_USER_MEM_LIMIT is 1G"
    assert 0 < metrics["rss"] < limit


def test_a_user_picks_an_admins_profile_and_nothing_else(stack, make_user, docker_client):
    pia = make_user("pia")
    container = f"{stack.prefix}-user-pia"
    # What the admin did not offer is refused, and nothing starts.
    for options in ({"profile": "huge"}, {"profile": "large", "mem_limit": "16G"}):
        response = pia.api("POST", "/users/pia/server", json=options)
        assert response.status_code >= 400, (options, response.status_code)
        assert "profile" in response.text or "server options" in response.text, response.text
        pia.wait_for_server(ready=False, timeout=60)
        assert not docker_client.containers.list(all=True, filters={"name": container})
    response = pia.api("POST", "/users/pia/server", json={"profile": "large"})
    assert response.status_code in (201, 202), response.text[:300]
    pia.wait_for_server(ready=True, timeout=180)
    limits = docker_client.containers.get(container).attrs["HostConfig"]
    assert limits["Memory"] == 1536 * 2**20, limits
    assert limits["CpuQuota"] / limits["CpuPeriod"] == 0.5, limits
    pia.stop_server()
    # JupyterHub keeps a user's last choice; choosing "standard" gives the standard limits.
    response = pia.api("POST", "/users/pia/server", json={"profile": "standard"})
    assert response.status_code in (201, 202), response.text[:300]
    pia.wait_for_server(ready=True, timeout=180)
    assert docker_client.containers.get(container).attrs["HostConfig"]["Memory"] == 2**30
    pia.stop_server()
