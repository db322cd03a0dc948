"""Users of the shared test stack, made the way people are: sign up, approval, login."""

import pytest

from hubclient import log_in_as, user_maker


@pytest.fixture(scope="session")
def admin(stack):
    return log_in_as(stack.base_url, stack.admin_user, stack.admin_password)


@pytest.fixture(scope="session")
def make_user(stack, admin):
    """make_user(name) -> a logged-in HubSession for an approved account."""
    return user_maker(stack.base_url, admin)


@pytest.fixture(scope="session")
def running_server(make_user):
    """running_server(name) -> that user, logged in, with their server running.

    The server is started when it is not running (first use, or after a disruptive test
    stopped it), so a test never depends on what an earlier one left. Tests that stop a
    server use users of their own, never one handed out here.
    """

    def start(name):
        session = make_user(name)
        model = session.server_model()
        if not (model and model.get("ready")):
            session.spawn_seconds = session.start_server()
            response = session.open_server()
            assert response.status_code == 200, f"{name}'s JupyterLab: HTTP {response.status_code}"
        return session

    return start


@pytest.fixture
def alice_server(running_server):
    """alice, with her server running: the main user of the platform tests."""
    return running_server("alice")
