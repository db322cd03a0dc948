"""Deleting a user keeps their data by default; the admin command drops it for good."""

import json

import pytest

from edahub_core.names import database_name

pytestmark = pytest.mark.integration

# What the provisioning account sees of one user's data, from inside the hub container.
INSPECT = """
import json, os, sys
import pymysql, pymongo
name = sys.argv[1]
conn = pymysql.connect(host="mariadb", user="edahub_provisioner",
                       password=os.environ["EDAHUB_MARIADB_PROVISIONER_PASSWORD"])
cur = conn.cursor(); cur.execute("SHOW DATABASES LIKE %s", (name,))
mariadb_db = bool(cur.fetchall())
client = pymongo.MongoClient(host="mongodb", username="edahub_provisioner", authSource="admin",
                             password=os.environ["EDAHUB_MONGODB_PROVISIONER_PASSWORD"])
mongodb_user = bool(client[name].command("usersInfo", name)["users"])
print(json.dumps({"mariadb_db": mariadb_db, "mongodb_user": mongodb_user}))
"""


def inspect(hub, username):
    result = hub.exec_run(["python3", "-c", INSPECT, database_name(username)])
    assert result.exit_code == 0, result.output.decode()[-2000:]
    return json.loads(result.output.decode().strip().splitlines()[-1])


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
