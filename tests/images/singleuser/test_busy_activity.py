"""singleuser/edahub_busy_activity: a busy kernel marks its server active (no Docker)."""

import importlib.util
import json
import logging
from pathlib import Path
from types import SimpleNamespace

FOLDER = Path(__file__).resolve().parents[3] / "singleuser" / "edahub_busy_activity"


def load_extension():
    spec = importlib.util.spec_from_file_location("edahub_busy_activity", FOLDER / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Kernels:
    def __init__(self, states):
        self.states = states

    def list_kernel_ids(self):
        return list(self.states)

    def get_kernel(self, kernel_id):
        return SimpleNamespace(execution_state=self.states[kernel_id])


def loaded(monkeypatch, states):
    module = load_extension()
    callbacks = []

    class Periodic:
        def __init__(self, callback, interval):
            callbacks.append((callback, interval))

        def start(self):
            pass

    monkeypatch.setattr(module, "PeriodicCallback", Periodic)
    app = SimpleNamespace(web_app=SimpleNamespace(settings={}), kernel_manager=Kernels(states),
                          log=logging.getLogger("test"))
    module._load_jupyter_server_extension(app)
    [(callback, interval)] = callbacks
    return module, app, callback, interval


def test_a_busy_kernel_marks_the_server_active(monkeypatch):
    module, app, check, interval = loaded(monkeypatch, {"k1": "idle", "k2": "busy"})
    assert interval <= 10_000  # within an activity report of the hub's
    check()
    assert app.web_app.settings[module.SETTING] is not None
    # jupyter_server counts every setting named *_last_activity (the documented hook).
    assert module.SETTING.endswith("_last_activity")


def test_idle_kernels_mark_nothing(monkeypatch):
    module, app, check, _ = loaded(monkeypatch, {"k1": "idle", "k2": "starting"})
    check()
    assert module.SETTING not in app.web_app.settings


def test_the_image_enables_it_for_every_server():
    config = json.loads((FOLDER / "edahub_busy_activity.json").read_text())
    assert config == {"ServerApp": {"jpserver_extensions": {"edahub_busy_activity": True}}}
    assert load_extension()._jupyter_server_extension_points() == [{"module": "edahub_busy_activity"}]


def test_it_looks_as_often_as_the_server_reports_activity():
    module = load_extension()
    assert module.check_every_ms({"JUPYTERHUB_ACTIVITY_INTERVAL": "2"}) == 2000
    assert module.check_every_ms({"JUPYTERHUB_ACTIVITY_INTERVAL": "300"}) == 5000
    assert module.check_every_ms({"JUPYTERHUB_ACTIVITY_INTERVAL": "0"}) == 1000
    assert module.check_every_ms({"JUPYTERHUB_ACTIVITY_INTERVAL": "x"}) == 5000
    assert module.check_every_ms({}) == 5000
