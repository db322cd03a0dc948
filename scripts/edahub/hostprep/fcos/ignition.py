"""The Ignition config of a ``HostConfig``: what the host boots with.

It is what Butane makes of the Butane config (``butane.py``), written here so that
fcos-config needs no Butane installed; unlike the Butane config it embeds every file,
the .env included, so it is as secret as .env itself.
"""

import base64
import gzip
import json

from .layout import DEPLOY_DIR, DOCKER_MOUNT_OPTIONS, DOCKER_ROOT, IGNITION_SPEC
from .units import render_units

# Ignition spells the partition fields in camelCase.
_PARTITION_FIELDS = {"number": "number", "label": "label", "start_mib": "startMiB",
                     "size_mib": "sizeMiB", "resize": "resize"}


def data_url(contents):
    """An Ignition ``contents`` object embedding ``contents`` (gzip when it is smaller)."""
    plain = ";base64," + base64.b64encode(contents).decode()
    packed = ";base64," + base64.b64encode(gzip.compress(contents, 9, mtime=0)).decode()
    if len(packed) + len("gzip") < len(plain):
        return {"compression": "gzip", "source": "data:" + packed}
    return {"compression": "", "source": "data:" + plain}


def ignition_config(host):
    """The Ignition config (a dict) that the Butane config of ``host`` translates to."""
    storage = {}
    if host.storage:
        storage["disks"] = [{
            "device": host.storage.device,
            "wipeTable": False,
            "partitions": [{_PARTITION_FIELDS[name]: value
                            for name, value in partition._asdict().items() if value is not None}
                           for partition in host.storage.partitions()],
        }]
        storage["filesystems"] = [{"device": host.storage.partition, "format": "xfs",
                                   "mountOptions": list(DOCKER_MOUNT_OPTIONS),
                                   "path": DOCKER_ROOT}]
    files = []
    if host.env is not None:
        files.append({"path": f"{DEPLOY_DIR}/.env", "contents": data_url(host.env), "mode": 0o600})
    for relative, (data, mode) in host.deployment.items():
        files.append({"path": f"{DEPLOY_DIR}/{relative}", "contents": data_url(data), "mode": mode})
    storage["files"] = files
    return {
        "ignition": {"version": IGNITION_SPEC},
        "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": list(host.ssh_keys)}]},
        "storage": storage,
        "systemd": {"units": [_unit(unit) for unit in render_units(host)]},
    }


def _unit(unit):
    # Butane leaves "enabled" out for a unit it does not enable (fields in its order).
    if unit.enabled:
        return {"contents": unit.contents, "enabled": True, "name": unit.name}
    return {"contents": unit.contents, "name": unit.name}


def ignition_text(host):
    """The Ignition config as the JSON file the host boots with."""
    return json.dumps(ignition_config(host), indent=2) + "\n"
