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
