"""Deleting a user keeps their data by default; the admin command drops it for good."""

import pytest

from edahub_core.names import database_name

pytestmark = pytest.mark.integration

def inspect(stack, docker_client, username):
    """Whether ``username``'s MariaDB database and MongoDB account exist, as root sees them
    from inside the database containers (the hub's own rights cannot list anything)."""
    name = database_name(username)
    databases = stack.as_mariadb_root(docker_client, "SHOW DATABASES").split()
    found = stack.as_mongodb_root(
        docker_client, f"print(db.getSiblingDB('{name}').getUser('{name}') !== null)")
    return {"mariadb_db": name in databases,
            "mongodb_user": found.strip().splitlines()[-1] == "true"}


def volume_exists(docker_client, name):
    return any(v.name == name for v in docker_client.volumes.list())


def test_deleted_users_keep_their_data_until_an_admin_drops_it(stack, docker_client, admin, make_user):
    hub = docker_client.containers.get(f"{stack.project}-hub-1")
    frank = make_user("frank")
    frank.start_server()
    frank.stop_server()
    volume = f"{stack.prefix}-home-frank"
    assert inspect(stack, docker_client, "frank") == {"mariadb_db": True, "mongodb_user": True}

    assert admin.api("DELETE", "/users/frank").status_code == 204
    assert inspect(stack, docker_client, "frank") == {"mariadb_db": True, "mongodb_user": True}
    assert volume_exists(docker_client, volume)

    refused = hub.exec_run(["python3", "-m", "edahub_hub.userdata", "drop", "frank"])
    assert refused.exit_code == 1 and b"--yes" in refused.output
    assert inspect(stack, docker_client, "frank") == {"mariadb_db": True, "mongodb_user": True}

    dropped = hub.exec_run(["python3", "-m", "edahub_hub.userdata", "drop", "frank", "--yes"])
    assert dropped.exit_code == 0, dropped.output.decode()
    assert f"removed home volume {volume}" in dropped.output.decode()
    assert inspect(stack, docker_client, "frank") == {"mariadb_db": False, "mongodb_user": False}
    assert not volume_exists(docker_client, volume)
