"""The unit tests' one rule: no external tools.

tests/unit runs offline in seconds, on a machine without Go, Docker, Butane or systemd.
A unit test that starts one of the tools below fails at once and says where it belongs:
tests/hosttools/, marked ``hosttools``.
"""

import os
import subprocess
from pathlib import Path

import pytest

HOST_TOOLS = {"go", "docker", "butane", "ignition-validate", "systemd-analyze", "systemd-escape",
              "ssh-keygen"}


def _tool_name(args):
    """The tool of ``HOST_TOOLS`` that Popen(``args``) would start, or None."""
    program = args if isinstance(args, (str, bytes, os.PathLike)) else (list(args) or [""])[0]
    name = Path(os.fsdecode(program).split(" ")[0]).name  # a shell line: its first word
    # edahub.hostprep.validators caches its builds as butane-<version> and so on.
    return next((tool for tool in HOST_TOOLS if name == tool or name.startswith(f"{tool}-v")),
                None)


class _NoHostToolsPopen(subprocess.Popen):
    def __init__(self, args, *more, **kwargs):
        tool = _tool_name(args)
        if tool:
            pytest.fail(f"a unit test ran {tool}; tests/unit runs no external tools. Move the "
                        "test to tests/hosttools/ and mark it hosttools.", pytrace=False)
        super().__init__(args, *more, **kwargs)


@pytest.fixture(autouse=True)
def no_host_tools(monkeypatch):
    """Refuse to start Go, Docker, Butane, ignition-validate, systemd's tools or ssh-keygen."""
    monkeypatch.setattr(subprocess, "Popen", _NoHostToolsPopen)
