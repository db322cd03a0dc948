"""Small helpers shared by the test fixtures and scripts/benchmark.py."""

import socket

from edahub_core.names import USER_PREFIX_LABEL, home_volume_template


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def remove_user_resources(client, prefix):
    """Remove the users' containers and home volumes of the stack whose user prefix is ``prefix``."""
    for container in client.containers.list(all=True,
                                            filters={"label": f"{USER_PREFIX_LABEL}={prefix}"}):
        container.remove(force=True)
    for volume in client.volumes.list():
        if volume.name.startswith(home_volume_template(prefix).format(username="")):
            volume.remove(force=True)
