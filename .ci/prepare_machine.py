#!/usr/bin/env python3
"""Prepare a bare CI or development machine for edahub's test suite. Idempotent.

This is the environment's workaround layer (see shared/ENVIRONMENT.md), not part of the
product: the machines here reach package registries but no container registry. Each
``ensure_*`` step checks before it acts, so a warm machine passes in seconds:

1. Debian packages: Docker engine (docker.io), debootstrap, Chromium for browser tests.
2. Compose v2 and buildx CLI plugins, taken from Debian trixie's packages.
3. The Docker daemon, started in the background when it is not answering.
4. The debian:trixie-slim base image, made from Debian packages when it is missing.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from edahub.console import UserError, progress, run, setup_logging  # noqa: E402

# systemd: `systemd-analyze verify` of the generated Fedora CoreOS units; openssh-client:
# ssh-keygen for the SSH-key checks (tests/hosttools).
APT_PACKAGES = ["docker.io", "debootstrap", "chromium", "git", "iproute2", "systemd",
                "openssh-client"]
PLUGIN_DIR = Path("/usr/libexec/docker/cli-plugins")
PLUGIN_PACKAGES = {"docker-compose": "docker-compose", "docker-buildx": "docker-buildx"}
TRIXIE_SOURCES = "deb http://deb.debian.org/debian trixie main\n"
DOCKERD_LOG = Path("/var/log/edahub-dockerd.log")
BASE_IMAGES = {"debian:trixie-slim": "trixie"}


def ensure_apt_packages():
    missing = [p for p in APT_PACKAGES if not _dpkg_installed(p)]
    if not missing:
        return "already installed"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update"], env=env, timeout=600)
    run(["apt-get", "install", "-y", "--no-install-recommends", *missing], env=env, timeout=1800)
    return f"installed {' '.join(missing)}"


def ensure_cli_plugins():
    wanted = [name for name in PLUGIN_PACKAGES if not (PLUGIN_DIR / name).exists()]
    if not wanted:
        return "already installed"
    # A separate sources list and lists folder keep the bookworm system on bookworm.
    with tempfile.TemporaryDirectory(prefix="edahub-trixie-") as tmp:
        tmp = Path(tmp)
        (tmp / "lists" / "partial").mkdir(parents=True)
        (tmp / "sources.list").write_text(TRIXIE_SOURCES)
        apt_opts = [
            "-o", f"Dir::Etc::sourcelist={tmp / 'sources.list'}",
            "-o", "Dir::Etc::sourceparts=-",
            "-o", f"Dir::State::Lists={tmp / 'lists'}",
            "-o", "APT::Get::List-Cleanup=0",
        ]
        run(["apt-get", *apt_opts, "update"], timeout=600)
        run(["apt-get", *apt_opts, "download", *(PLUGIN_PACKAGES[w] for w in wanted)],
            cwd=tmp, timeout=600)
        PLUGIN_DIR.mkdir(parents=True, exist_ok=True)
        for deb in tmp.glob("*.deb"):
            extracted = tmp / ("x-" + deb.stem)
            run(["dpkg", "-x", deb, extracted])
            for plugin in (extracted / "usr/libexec/docker/cli-plugins").glob("docker-*"):
                shutil.copy2(plugin, PLUGIN_DIR / plugin.name)
    still_missing = [name for name in PLUGIN_PACKAGES if not (PLUGIN_DIR / name).exists()]
    if still_missing:
        raise UserError(f"CLI plugins still missing after install: {still_missing}")
    return f"installed {' '.join(wanted)}"


def ensure_docker_daemon():
    if _docker_answers():
        return "already running"
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise UserError("dockerd not found", "install docker.io")
    log = open(DOCKERD_LOG, "ab")
    # Detached in its own session so that it outlives this script and the test run.
    proc = subprocess.Popen([dockerd], stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if _docker_answers():
            return f"started (pid {proc.pid}, log {DOCKERD_LOG})"
        if proc.poll() is not None:
            break
        time.sleep(1)
    tail = DOCKERD_LOG.read_text(errors="replace").splitlines()[-20:]
    raise UserError("the Docker daemon did not start:\n" + "\n".join(tail))


def ensure_base_images():
    made = []
    for tag, suite in BASE_IMAGES.items():
        if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode:
            run([sys.executable, ROOT / "scripts" / "build_base_image.py", "--suite", suite,
                 "--tag", tag], timeout=1800)
            made.append(tag)
    return f"built {' '.join(made)}" if made else "already present"


def ensure_host_validators():
    # The Fedora CoreOS config tests check the generated files with the real tools:
    # Butane and ignition-validate built from their pinned Go modules (into a cache, see
    # edahub.hostprep.validators); systemd-analyze comes with APT_PACKAGES.
    from edahub.hostprep import validators

    done = []
    for name, tool in validators.TOOLS.items():
        if not tool.path.is_file():
            validators.ensure_tool(name)
            done.append(f"built {name} {tool.version}")
    return ", ".join(done) or "already present"


def _dpkg_installed(package):
    result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                            capture_output=True, text=True)
    return result.stdout.strip() == "install ok installed"


def _docker_answers():
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


STEPS = [
    ("Debian packages (Docker engine, debootstrap, Chromium, systemd)", ensure_apt_packages),
    ("Docker Compose v2 and buildx plugins", ensure_cli_plugins),
    ("Docker daemon", ensure_docker_daemon),
    ("Debian base image", ensure_base_images),
    ("Host-config validators (Butane, ignition-validate, systemd-analyze)", ensure_host_validators),
]


def main():
    setup_logging(Path(tempfile.gettempdir()) / "edahub-prepare-machine.log")
    if os.geteuid() != 0:
        print("error: run as root (it installs packages and starts dockerd)", file=sys.stderr)
        return 1
    try:
        for index, (title, step) in enumerate(STEPS, start=1):
            with progress(index, len(STEPS), title) as status:
                status.text = step()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
