"""The generated Fedora CoreOS configs, checked by the real tools.

- Butane (built from github.com/coreos/butane) translates the Butane config with
  ``--strict``: any warning fails.
- ignition-validate (built from github.com/coreos/ignition/v2) accepts the Ignition
  config edahub writes, and Butane's own translation, without a word of output.
- Butane's translation and edahub's Ignition config are the same config.
- ``systemd-analyze verify`` accepts the units, in a root that has Fedora CoreOS's
  executables and units where the units expect them; ``systemd-escape`` names the mount
  unit as edahub does.

The tools are built once into a cache (edahub.hostprep.validators); a missing tool
that cannot be built fails these tests rather than skipping them. Each check is shown
to reject a broken input, so a pass means something.
"""

import base64
import gzip
import json
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from edahub.console import UserError
from edahub.hostprep import fcos, validators
from edahub.hostprep import main as prepare_host

pytestmark = pytest.mark.hosttools

VARIANTS = {
    "second-disk": ["--storage-device", "/dev/disk/by-id/virtio-edahub-data"],
    "boot-disk": ["--storage-on-boot-disk", "--root-size", "12G"],
    "docker-on-root": ["--docker-on-root"],
    "without-env": ["--storage-device", "/dev/vdb", "--without-env"],
}
# The host's own unit folder is copied into the stub root; these come from Fedora CoreOS.
FCOS_UNITS = {
    "docker.service": "[Unit]\nDescription=Docker (stub)\nRequires=docker.socket\n"
                      "[Service]\nExecStart=/usr/bin/true\n",
    "docker.socket": "[Unit]\nDescription=Docker socket (stub)\n[Socket]\nListenStream=/run/docker.sock\n",
    "zincati.service": "[Unit]\nDescription=Zincati (stub)\n[Service]\nExecStart=/usr/bin/true\n",
}
HOST_UNIT_DIR = Path("/usr/lib/systemd/system")


@pytest.fixture(scope="session")
def tool():
    """The path of a pinned tool, built on first use."""
    def get(name):
        try:
            return validators.ensure_tool(name)
        except UserError as e:
            pytest.fail(f"the real {name} is needed to check the Fedora CoreOS config and "
                        f"could not be built:\n{e}")
    return get


@pytest.fixture(scope="session")
def systemd_analyze():
    path = shutil.which("systemd-analyze")
    if path is None or not HOST_UNIT_DIR.is_dir():
        pytest.fail("systemd-analyze (Debian package `systemd`) is needed to check the units: "
                    "apt-get install systemd, or run python3 .ci/prepare_machine.py")
    return path


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def generated(request, tmp_path_factory):
    """An output folder of fcos-config, one per storage variant."""
    folder = tmp_path_factory.mktemp(request.param)
    key = folder / "key.pub"
    key.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm0fGXbvOvg2wIzbqgG0d7qmeyQm4yU4Fq5bJ2QwY9e test\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("edahub.installer.hash_password", quick_hash)
        code = prepare_host(["fcos-config", "--output-dir", str(folder / "out"), "--ssh-key-file",
                             str(key), "--log-file", str(folder / "log"), *VARIANTS[request.param]])
    assert code == 0
    return folder / "out"


def quick_hash(password):
    import bcrypt

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


def run_tool(*cmd, cwd=None):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120, cwd=cwd)


def butane(tool, folder, source=fcos.BUTANE_FILE):
    return run_tool(tool("butane"), "--strict", "--pretty", "--files-dir", folder, folder / source)


# --- Butane ------------------------------------------------------------------------


def test_the_tools_are_the_pinned_versions(tool):
    for name, shown in (("butane", "Butane"), ("ignition-validate", "Ignition")):
        result = run_tool(tool(name), "--version")
        assert (result.stdout + result.stderr).strip() == f"{shown} {validators.TOOLS[name].version}"


def test_butane_translates_the_config_strictly_without_a_warning(tool, generated):
    result = butane(tool, generated)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert json.loads(result.stdout)["ignition"]["version"] == fcos.IGNITION_SPEC


def test_butanes_translation_is_the_ignition_config_edahub_wrote(tool, generated):
    theirs = json.loads(butane(tool, generated).stdout)
    ours = json.loads((generated / fcos.IGNITION_FILE).read_text())
    assert normalised(ours) == normalised(theirs)


def test_strict_butane_would_fail_on_a_warning(tool, tmp_path):
    # A partition on a second disk without a number: Butane warns (reuse by label).
    (tmp_path / "bad.bu").write_text(
        "variant: fcos\nversion: 1.7.0\nstorage:\n  disks:\n    - device: /dev/vdb\n"
        "      partitions:\n        - label: x\n")
    result = butane(tool, tmp_path, "bad.bu")
    assert result.returncode != 0 and "warning" in result.stderr.lower()


# --- Ignition ----------------------------------------------------------------------


def test_ignition_validate_accepts_edahubs_ignition_config(tool, generated):
    result = run_tool(tool("ignition-validate"), generated / fcos.IGNITION_FILE)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


def test_ignition_validate_accepts_butanes_translation(tool, generated, tmp_path):
    translated = tmp_path / "butane.ign"
    translated.write_text(butane(tool, generated).stdout)
    result = run_tool(tool("ignition-validate"), translated)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


def test_ignition_validate_reports_warnings_and_errors(tool, generated, tmp_path):
    config = json.loads((generated / fcos.IGNITION_FILE).read_text())
    unit = config["systemd"]["units"][0]
    # An enabled unit without [Install]: only a warning (exit status 0), which the checks
    # above would still catch because they require no output at all.
    unit["contents"] = unit["contents"].split("[Install]")[0]
    warned = tmp_path / "warned.ign"
    warned.write_text(json.dumps(config))
    result = run_tool(tool("ignition-validate"), warned)
    assert result.returncode == 0 and "warning" in (result.stdout + result.stderr).lower()
    unit["contents"] += "\nnot a unit line\n"
    broken = tmp_path / "broken.ign"
    broken.write_text(json.dumps(config))
    result = run_tool(tool("ignition-validate"), broken)
    assert result.returncode != 0 and "invalid unit content" in result.stdout + result.stderr


# --- systemd -----------------------------------------------------------------------


@pytest.fixture
def fcos_root(tmp_path, systemd_analyze):
    """A root with this machine's systemd units plus Fedora CoreOS's docker and zincati
    units, and stand-ins for the executables the units run (nothing else)."""
    root = tmp_path / "root"
    shutil.copytree(HOST_UNIT_DIR, root / "usr/lib/systemd/system", symlinks=True)
    for name, text in FCOS_UNITS.items():
        unit = root / "usr/lib/systemd/system" / name
        unit.unlink(missing_ok=True)
        unit.write_text(text)
    for executable in fcos.FCOS_EXECUTABLES | {"/usr/bin/true"}:
        stub = root / executable.lstrip("/")
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    (root / "etc/systemd/system").mkdir(parents=True)
    return root


def verify(systemd_analyze, root, units):
    for name, text in units.items():
        (root / "etc/systemd/system" / name).write_text(text)
    return run_tool(systemd_analyze, "verify", f"--root={root}",
                    *(f"/etc/systemd/system/{name}" for name in units))


def test_systemd_analyze_verify_accepts_the_units(systemd_analyze, fcos_root, generated):
    folder = generated / fcos.UNITS_DIR
    units = {path.name: path.read_text() for path in sorted(folder.iterdir())}
    assert {fcos.STACK_UNIT, fcos.PACKAGES_UNIT, fcos.BACKUP_SERVICE, fcos.BACKUP_TIMER} <= set(units)
    result = verify(systemd_analyze, fcos_root, units)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


def test_systemd_analyze_verify_reports_a_broken_unit(systemd_analyze, fcos_root):
    broken = fcos.stack_unit().replace("Type=oneshot", "Type=oneshoot") + "Bogus=1\n"
    result = verify(systemd_analyze, fcos_root, {fcos.STACK_UNIT: broken})
    assert "oneshoot" in result.stderr and "Bogus" in result.stderr


def test_systemd_analyze_verify_reports_a_missing_executable(systemd_analyze, fcos_root):
    moved = fcos.stack_unit().replace("ExecCondition=/usr/bin/docker compose version",
                                      "ExecCondition=/usr/local/bin/docker compose version")
    assert moved != fcos.stack_unit()
    result = verify(systemd_analyze, fcos_root, {fcos.STACK_UNIT: moved})
    assert result.returncode != 0 and "/usr/local/bin/docker" in result.stderr


def test_systemd_analyze_verify_reports_a_broken_timer(systemd_analyze, fcos_root):
    broken = fcos.backup_timer().replace(fcos.BACKUP_SCHEDULE, "*-*-* 27:00:00")
    result = verify(systemd_analyze, fcos_root, {fcos.BACKUP_TIMER: broken,
                                                 fcos.BACKUP_SERVICE: fcos.backup_service(),
                                                 fcos.STACK_UNIT: fcos.stack_unit()})
    assert result.returncode != 0 and "Failed to parse calendar specification" in result.stderr


def test_systemd_escape_names_paths_as_edahub_does():
    escape = shutil.which("systemd-escape")
    if escape is None:
        pytest.fail("systemd-escape (Debian package `systemd`) is needed: apt-get install systemd")
    for path in ("/var/lib/docker", "/dev/disk/by-partlabel/edahub-docker", "/a b/.c"):
        real = run_tool(escape, "--path", path)
        assert real.returncode == 0, real.stderr
        assert fcos.systemd_escape_path(path) == real.stdout.strip()


# --- comparing Ignition configs ----------------------------------------------------


def normalised(config):
    """An Ignition config with file contents decoded and lists in a fixed order."""
    config = json.loads(json.dumps(config))
    for entry in config.get("storage", {}).get("files", []):
        contents = entry.pop("contents")
        head, data = contents["source"].split(",", 1)
        raw = (base64.b64decode(data) if head.endswith(";base64")
               else urllib.parse.unquote_to_bytes(data))
        if contents.get("compression") == "gzip":
            raw = gzip.decompress(raw)
        entry["data"] = raw.decode("utf-8", errors="replace")
    for section, key in (("storage", "files"), ("storage", "filesystems"), ("storage", "disks"),
                         ("systemd", "units")):
        items = config.get(section, {}).get(key)
        if items:
            items.sort(key=lambda item: item.get("path") or item.get("name") or item.get("device"))
    return config


def test_butane_and_edahub_agree_on_executable_files(tool, tmp_path):
    # A checkout whose deployment has an executable script (mode 0755 on the host).
    source = tmp_path / "checkout"
    for name in fcos.DEPLOYMENT_PATHS:
        path = source / name
        if "." in Path(name).name:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"# {name}\n")
        else:
            path.mkdir(parents=True)
            (path / "README.md").write_text(f"# {name}\n")
    script = source / "mariadb/initdb.d/20-run.sh"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    choices = fcos.HostChoices(ssh_keys=("ssh-ed25519 AAAAC3Nza test",), storage=None,
                               embed_env=False)
    fcos.write_output(choices, tmp_path / "out", source)
    ours = json.loads((tmp_path / "out" / fcos.IGNITION_FILE).read_text())
    theirs = json.loads(butane(tool, tmp_path / "out").stdout)
    assert normalised(ours) == normalised(theirs)
    modes = {entry["path"]: entry["mode"] for entry in ours["storage"]["files"]}
    assert modes["/var/srv/edahub/mariadb/initdb.d/20-run.sh"] == 0o755
    assert modes["/var/srv/edahub/compose.yaml"] == 0o644
