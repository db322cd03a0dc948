"""The real Butane translator and Ignition validator, built from their upstream Go modules.

The test suite checks every generated Fedora CoreOS config with them, and
.ci/prepare_machine.py builds them ahead of a test run. Versions are pinned here, once.
Binaries go to a cache folder (never into the repository), one file per version:
``$EDAHUB_TOOLS_DIR``, else ``$XDG_CACHE_HOME/edahub/tools``, else ``~/.cache/edahub/tools``.

Built with ``go mod download`` + ``go build`` rather than ``go install module@version``:
the result is the same, but ``go install`` also asks the module proxy for the module's
version list, which some proxies refuse for Butane.
"""

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..console import UserError


@dataclass(frozen=True)
class Tool:
    """A Go command of an upstream module, pinned to one version."""

    name: str
    module: str
    version: str
    package: str  # inside the module
    version_variable: str  # set with -ldflags -X, as the upstream build scripts do

    @property
    def path(self):
        """Where the built binary of this version lives."""
        return tools_dir() / f"{self.name}-{self.version}"


TOOLS = {
    # Ignition 2.26.0 is what Fedora CoreOS stable runs (docs, August 2026): the config
    # must be valid for that Ignition. Its binary is upstream's `ignition-validate`.
    "ignition-validate": Tool("ignition-validate", "github.com/coreos/ignition/v2", "v2.26.0",
                              "./validate", "github.com/coreos/ignition/v2/internal/version.Raw"),
    # Butane 0.29.0: current release; translates fcos 1.7.0 to Ignition 3.6.0.
    "butane": Tool("butane", "github.com/coreos/butane", "v0.29.0", "./internal",
                   "github.com/coreos/butane/internal/version.Raw"),
}


def tools_dir():
    """The cache folder for the built tools."""
    if os.environ.get("EDAHUB_TOOLS_DIR"):
        return Path(os.environ["EDAHUB_TOOLS_DIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "edahub" / "tools"


def ensure_tool(name, timeout=900):
    """The path of the pinned tool ``name``, building it first if it is not cached.

    Raises ``UserError`` saying why when it cannot be built (no Go, no module proxy).
    """
    tool = TOOLS[name]
    if tool.path.is_file() and os.access(tool.path, os.X_OK):
        return tool.path
    go = shutil.which("go")
    if go is None:
        raise UserError(
            f"{tool.name} {tool.version} is not built and Go is not installed to build it",
            "install Go 1.24 or newer (e.g. apt-get install golang-go) and run again, or run "
            "python3 .ci/prepare_machine.py",
        )
    # A local toolchain only; module-mode flags of the caller must not leak in.
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="-mod=readonly", CGO_ENABLED="0")
    download = subprocess.run([go, "mod", "download", "-json", f"{tool.module}@{tool.version}"],
                              capture_output=True, text=True, env=env, timeout=timeout)
    try:
        source = json.loads(download.stdout)["Dir"]
    except (ValueError, KeyError):
        raise UserError(
            f"cannot download {tool.module}@{tool.version} from the Go module proxy:\n"
            + (download.stdout + download.stderr).strip()[-1500:],
            "check access to the Go module proxy (GOPROXY) and run again",
        ) from None
    tool.path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{tool.name}.", dir=tool.path.parent)
    os.close(fd)
    try:
        build = subprocess.run(
            [go, "build", "-C", source, "-trimpath",
             "-ldflags", f"-X {tool.version_variable}={tool.version}", "-o", partial, tool.package],
            capture_output=True, text=True, env=env, timeout=timeout,
        )
        if build.returncode != 0:
            raise UserError(
                f"building {tool.name} {tool.version} failed:\n{(build.stdout + build.stderr)[-2000:]}",
                "check the Go version (go version; 1.24 or newer) and run again",
            )
        os.chmod(partial, 0o755)
        os.replace(partial, tool.path)
    finally:
        Path(partial).unlink(missing_ok=True)
    return tool.path

