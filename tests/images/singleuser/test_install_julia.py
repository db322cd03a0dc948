"""singleuser/install-julia.sh, the Julia download-and-verify step, against a local server.

Julia's own download server is unreachable where CI runs, so the step is tested here
without Docker: a local HTTP server lays out tarballs the way julialang-s3 does, and the
script must install one only when its SHA-256 matches, and otherwise fail with the fix
and leave nothing behind.
"""

import hashlib
import http.server
import io
import re
import subprocess
import tarfile
import threading
from functools import partial
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "singleuser" / "install-julia.sh"
DOCKERFILE = ROOT / "singleuser" / "Dockerfile"
VERSION = "1.12.7"
TARBALL = f"linux/x64/1.12/julia-{VERSION}-linux-x86_64.tar.gz"


def fake_julia_tarball(with_binary=True):
    """A gzipped tarball shaped like Julia's: julia-<version>/bin/julia and friends."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        files = {"share/julia/base/version_git.jl": b"# stand-in\n"}
        if with_binary:
            files["bin/julia"] = f"#!/bin/sh\necho 'julia version {VERSION}'\n".encode()
        for name, content in files.items():
            info = tarfile.TarInfo(f"julia-{VERSION}/{name}")
            info.size = len(content)
            info.mode = 0o755 if name.startswith("bin/") else 0o644
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server (a stand-in for julialang-s3) and the folder it serves."""
    root = tmp_path / "mirror"
    (root / TARBALL).parent.mkdir(parents=True)
    handler = partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def install(url, sha256, dest, **env):
    return subprocess.run(
        ["bash", str(SCRIPT), VERSION, sha256, str(dest)],
        env={"PATH": "/usr/bin:/bin", "JULIA_MIRROR": url, "JULIA_ARCH": "x86_64", **env},
        capture_output=True, text=True, timeout=60,
    )


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_installs_when_the_checksum_matches(mirror, tmp_path):
    root, url = mirror
    tarball = fake_julia_tarball()
    (root / TARBALL).write_bytes(tarball)
    dest = tmp_path / "opt" / f"julia-{VERSION}"
    result = install(url, hashlib.sha256(tarball).hexdigest(), dest)
    assert result.returncode == 0, result.stderr
    assert "sha256 verified" in result.stdout
    julia = subprocess.run([dest / "bin" / "julia"], capture_output=True, text=True, timeout=10)
    assert julia.stdout == f"julia version {VERSION}\n"
    assert (dest / "share" / "julia" / "base" / "version_git.jl").is_file()
    assert leftovers(dest.parent) == [dest.name]  # no temporary folder left next to it


def test_a_wrong_checksum_fails_clearly_and_leaves_nothing(mirror, tmp_path):
    root, url = mirror
    tarball = fake_julia_tarball()
    (root / TARBALL).write_bytes(tarball)
    dest = tmp_path / "opt" / f"julia-{VERSION}"
    wrong = hashlib.sha256(b"something else").hexdigest()
    result = install(url, wrong, dest)
    assert result.returncode != 0
    assert "checksum mismatch" in result.stderr
    assert f"expected {wrong}, got {hashlib.sha256(tarball).hexdigest()}" in result.stderr
    assert "fix:" in result.stderr
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_a_missing_release_fails_clearly_and_leaves_nothing(mirror, tmp_path):
    _, url = mirror  # serves nothing at the tarball's path
    dest = tmp_path / "opt" / f"julia-{VERSION}"
    result = install(url, "0" * 64, dest)
    assert result.returncode != 0
    assert f"could not download {url}/{TARBALL}" in result.stderr
    assert leftovers(dest.parent) == []


def test_an_archive_without_julia_is_refused(mirror, tmp_path):
    root, url = mirror
    tarball = fake_julia_tarball(with_binary=False)
    (root / TARBALL).write_bytes(tarball)
    dest = tmp_path / "opt" / f"julia-{VERSION}"
    result = install(url, hashlib.sha256(tarball).hexdigest(), dest)
    assert result.returncode != 0
    assert "has no bin/julia" in result.stderr
    assert leftovers(dest.parent) == []


def test_an_existing_installation_is_never_replaced(mirror, tmp_path):
    root, url = mirror
    tarball = fake_julia_tarball()
    (root / TARBALL).write_bytes(tarball)
    dest = tmp_path / "opt" / f"julia-{VERSION}"
    dest.mkdir(parents=True)
    (dest / "keep.txt").write_text("mine")
    result = install(url, hashlib.sha256(tarball).hexdigest(), dest)
    assert result.returncode != 0
    assert "already exists" in result.stderr
    assert leftovers(dest) == ["keep.txt"]


@pytest.mark.parametrize("version, sha256, message", [
    ("latest", "0" * 64, "is not a Julia version"),
    (VERSION, "abc", "is not a SHA-256 checksum"),
], ids=["version", "checksum"])
def test_malformed_arguments_are_refused_before_any_download(tmp_path, version, sha256, message):
    result = subprocess.run(["bash", str(SCRIPT), version, sha256, str(tmp_path / "julia")],
                            env={"PATH": "/usr/bin:/bin", "JULIA_MIRROR": "http://127.0.0.1:9"},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert message in result.stderr
    assert leftovers(tmp_path) == []


def test_the_dockerfile_pins_a_release_and_its_checksums():
    args = dict(re.findall(r"^ARG (JULIA_[A-Z0-9_]+)=(\S+)$", DOCKERFILE.read_text(), re.M))
    assert re.fullmatch(r"\d+\.\d+\.\d+", args["JULIA_VERSION"])
    for arch in ("AMD64", "ARM64"):
        assert re.fullmatch(r"[0-9a-f]{64}", args[f"JULIA_SHA256_{arch}"]), arch
