"""Deleting a user keeps their data by default; the admin command drops it for good."""

import pytest

from edahub_core.names import database_name

pytestmark = pytest.mark.integration

def inspect(hub, username):
    """Whether ``username``'s MariaDB database and MongoDB account exist, as root sees them
    from inside the database containers (the hub's own rights cannot list anything)."""
    name = database_name(username)
    client = hub.client
    project = hub.labels["com.docker.compose.project"]
    mariadb = client.containers.get(f"{project}-mariadb-1").exec_run(
        ["sh", "-c", 'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" exec mariadb -uroot -N -e '
         '"SHOW DATABASES LIKE \'$0\'"', name])
    mongodb = client.containers.get(f"{project}-mongodb-1").exec_run(
        ["sh", "-c", 'exec mongosh --quiet -u root -p "$MONGO_INITDB_ROOT_PASSWORD" '
         '--authenticationDatabase admin --eval "print(db.getSiblingDB(\'$0\')'
         '.getUser(\'$0\') !== null)"', name])
    assert mariadb.exit_code == 0 and mongodb.exit_code == 0, (mariadb.output, mongodb.output)
    return {"mariadb_db": name in mariadb.output.decode().split(),
            "mongodb_user": mongodb.output.decode().strip().splitlines()[-1] == "true"}


def volume_exists(docker_client, name):
    return any(v.name == name for v in docker_client.volumes.list())


def test_deleted_users_keep_their_data_until_an_admin_drops_it(stack, docker_client, admin, make_user):
    hub = docker_client.containers.get(f"{stack.project}-hub-1")
    frank = make_user("frank")
    frank.start_server()
    frank.stop_server()
    volume = f"{stack.prefix}-home-frank"
    assert inspect(hub, "frank") == {"mariadb_db": True, "mongodb_user": True}

    assert admin.api("DELETE", "/users/frank").status_code == 204
    assert inspect(hub, "frank") == {"mariadb_db": True, "mongodb_user": True}
    assert volume_exists(docker_client, volume)

    refused = hub.exec_run(["python3", "-m", "edahub_hub.userdata", "drop", "frank"])
    assert refused.exit_code == 1 and b"--yes" in refused.output
    assert inspect(hub, "frank") == {"mariadb_db": True, "mongodb_user": True}

    dropped = hub.exec_run(["python3", "-m", "edahub_hub.userdata", "drop", "frank", "--yes"])
    assert dropped.exit_code == 0, dropped.output.decode()
    assert f"removed home volume {volume}" in dropped.output.decode()
    assert inspect(hub, "frank") == {"mariadb_db": False, "mongodb_user": False}
    assert not volume_exists(docker_client, volume)
