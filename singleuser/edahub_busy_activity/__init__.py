"""A Jupyter server extension: a kernel that is busy computing counts as activity.

jupyter_server counts a kernel's messages as activity, so a long computation that prints
nothing looks idle, and the hub's idle culler (EDAHUB_CULL_IDLE_TIMEOUT) would stop the
server under it. This extension marks the server active whenever one of its kernels is
busy, through the hook jupyter_server offers for it: any web-app setting whose name ends
in ``_last_activity`` counts in ``ServerWebApplication.last_activity()``, which
jupyterhub-singleuser reports to the hub.

Enabled for every user's server by the image (jupyter_server_config.d), outside the home.
"""

import os
from datetime import datetime, timezone

from tornado.ioloop import PeriodicCallback

SETTING = "edahub_busy_kernels_last_activity"


def check_every_ms(environ=os.environ):
    """How often to look: as often as the server reports activity to the hub
    (JUPYTERHUB_ACTIVITY_INTERVAL), between 1 and 5 seconds."""
    try:
        seconds = int(environ.get("JUPYTERHUB_ACTIVITY_INTERVAL", "5"))
    except ValueError:
        seconds = 5
    return 1000 * min(5, max(1, seconds))


def _jupyter_server_extension_points():
    return [{"module": "edahub_busy_activity"}]


def busy_kernels(kernel_manager):
    """The ids of the kernels that are computing right now."""
    busy = []
    for kernel_id in kernel_manager.list_kernel_ids():
        kernel = kernel_manager.get_kernel(kernel_id)
        if getattr(kernel, "execution_state", None) == "busy":
            busy.append(kernel_id)
    return busy


def _load_jupyter_server_extension(serverapp):
    settings = serverapp.web_app.settings

    def mark_busy_kernels_active():
        if busy_kernels(serverapp.kernel_manager):
            settings[SETTING] = datetime.now(timezone.utc)

    PeriodicCallback(mark_busy_kernels_active, check_every_ms()).start()
    serverapp.log.info("edahub: busy kernels count as activity")
