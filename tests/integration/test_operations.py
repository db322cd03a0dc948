"""Day-2 operations on the real stack: bounded logs, the operator's announcement, quiet
JupyterLab (no news prompt)."""

import pytest

pytestmark = pytest.mark.integration

ROTATED = {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}


def test_every_container_of_the_stack_rotates_its_log(stack, docker_client, running_server):
    running_server("lena")
    for service in ("hub", "mariadb", "mongodb"):
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
