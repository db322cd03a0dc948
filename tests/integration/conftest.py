"""Users of the shared test stack, made the way people are: sign up, approval, login."""

import secrets

import pytest

from hubclient import HubSession


@pytest.fixture(scope="session")
def admin(stack):
    session = HubSession(stack.base_url, stack.admin_user)
    assert session.log_in(stack.admin_password), "the bootstrap admin could not log in"
    return session


@pytest.fixture(scope="session")
def make_user(stack, admin):
    """make_user(name) -> a logged-in HubSession for an approved account."""
    made = {}

    def make(name):
        if name not in made:
            password = "pw-" + secrets.token_hex(8)
            session = HubSession(stack.base_url, name)
            session.sign_up(password)
            admin.authorize(name)
            assert session.log_in(password), f"{name} could not log in after approval"
            session.password = password
            made[name] = session
        return made[name]

    return make


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
