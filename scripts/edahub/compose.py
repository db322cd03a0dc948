"""One Docker Compose project of edahub: its command line, its services' states, bounded waits.

bootstrap, backup, the benchmark and the tests all drive the stack through this class,
so the command line (project directory, compose file, env file, project name), the
parsing of ``docker compose ps`` and the waits are written once.
"""

import json
import time
from dataclasses import dataclass
from pathlib import Path

from .console import UserError, run

ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class ServiceState:
    """One service's container as ``docker compose ps`` reports it."""

    service: str
    container: str
    state: str  # running, exited, created, restarting, ...
    health: str  # healthy, unhealthy, starting, or "" when the service has no check
    published_ports: tuple = ()

    @property
    def running(self):
        """The container runs (whatever its health)."""
        return self.state == "running"

    @property
    def ready(self):
        """Running, and healthy if it has a health check."""
        return self.running and self.health in ("", "healthy")


def parse_ps(text):
    """``docker compose ps --format json`` output as {service: ServiceState}.

    Compose prints either one JSON array (up to 2.20) or one JSON object per line (since
    2.21); lines that are not JSON (warnings) are skipped.
    """
    states = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith(("{", "[")):
            continue
        parsed = json.loads(line)
        for entry in parsed if isinstance(parsed, list) else [parsed]:
            ports = tuple(sorted({p["PublishedPort"] for p in entry.get("Publishers") or []
                                  if p.get("PublishedPort")}))
            states[entry["Service"]] = ServiceState(
                service=entry["Service"], container=entry.get("Name", ""),
                state=entry.get("State", ""), health=entry.get("Health", ""),
                published_ports=ports)
    return states


@dataclass(frozen=True)
class ComposeProject:
    """edahub's compose.yaml with one env file, as one Compose project."""

    env_file: Path
    name: str | None = None  # None: compose.yaml's own (`name: edahub`)
    root: Path = ROOT

    def command(self, *args):
        """The ``docker compose`` command line for ``args``."""
        cmd = ["docker", "compose", "--project-directory", str(self.root),
               "-f", str(self.root / "compose.yaml"), "--env-file", str(self.env_file)]
        if self.name:
            cmd += ["--project-name", self.name]
        return [*cmd, *map(str, args)]

    def run(self, *args, timeout=600, check=True, input=None):
        """Run ``docker compose args`` (output logged; on failure a UserError with its tail)."""
        return run(self.command(*args), timeout=timeout, check=check, input=input)

    def services(self):
        """{service: ServiceState} of every container of the project, stopped ones too."""
        result = self.run("ps", "--all", "--format", "json", timeout=60, check=False)
        if result.returncode != 0:
            return {}
        return parse_ps(result.stdout)

    def wait_until_ready(self, services, timeout, interval=1.0):
        """Wait until each of ``services`` runs (and is healthy, if it has a check).

        Returns the states; raises UserError naming what is not ready after ``timeout``
        seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            states = self.services()
            waiting = [s for s in services if s not in states or not states[s].ready]
            if not waiting:
                return states
            if time.monotonic() >= deadline:
                found = ", ".join(
                    f"{s}: {states[s].state}{'/' + states[s].health if states[s].health else ''}"
                    if s in states else f"{s}: no container" for s in waiting)
                raise UserError(f"not ready after {timeout}s: {found}",
                                "read the logs (`docker compose logs SERVICE`)")
            time.sleep(interval)

    def logs(self, service, tail=200):
        """The last ``tail`` lines of ``service``'s log (empty if it has none)."""
        return self.run("logs", "--no-color", "--tail", str(tail), service, timeout=60,
                        check=False).stdout
