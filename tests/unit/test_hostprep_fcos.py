"""prepare-host fcos-config: the generated Butane/Ignition config, units, files and refusals.

Offline: no external tool runs here. The real Butane, ignition-validate, systemd-analyze
and ssh-keygen check the same output in tests/hosttools/.
"""

import base64
import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edahub import envfile
from edahub.hostprep import fcos
from edahub.hostprep import main as prepare_host
from edahub.hostprep.fcos import output
from edahub_core.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def quick_bcrypt(monkeypatch):
    """bcrypt's cheapest cost for the admin hash: the same format, a hundred times faster."""
    import bcrypt

    monkeypatch.setattr("edahub.installer.hash_password",
                        lambda password: bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode())


@pytest.fixture(scope="module")
def ssh_key(tmp_path_factory):
    """A well-formed public key and, beside it, its private key's file (keys that
    ssh-keygen makes are checked in tests/hosttools/test_hostprep_ssh_keygen.py)."""
    folder = tmp_path_factory.mktemp("ssh")
    (folder / "id_ed25519.pub").write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm0fGXbvOvg2wIzbqgG0d7qmeyQm4yU4Fq5bJ2QwY9e "
        "admin@example.org\n")
    (folder / "id_ed25519").write_text(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n-----END OPENSSH PRIVATE KEY-----\n")
    return folder / "id_ed25519.pub"


def fcos_config(tmp_path, ssh_key, *args, out="out"):
    """Run `prepare-host fcos-config`; return (exit code, output folder)."""
    code = prepare_host(["fcos-config", "--output-dir", str(tmp_path / out), "--ssh-key-file",
                         str(ssh_key), "--log-file", str(tmp_path / "prepare-host.log"), *args])
    return code, tmp_path / out


def decoded_files(ignition):
    """{path: (mode, bytes)} of an Ignition config's files, whatever their encoding."""
    files = {}
    for entry in ignition["storage"].get("files", []):
        head, data = entry["contents"]["source"].split(",", 1)
        raw = base64.b64decode(data) if head.endswith(";base64") else data.encode()
        if entry["contents"].get("compression") == "gzip":
            raw = gzip.decompress(raw)
        files[entry["path"]] = (entry["mode"], raw)
    return files


# --- the output folder -------------------------------------------------------------


def test_a_separate_disk_config_has_everything_the_host_needs(tmp_path, ssh_key, capsys):
    code, out = fcos_config(tmp_path, ssh_key, "--storage-device", "/dev/disk/by-id/virtio-data")
    assert code == 0, capsys.readouterr().err
    butane = yaml.safe_load((out / fcos.BUTANE_FILE).read_text())
    assert butane["variant"] == "fcos" and butane["version"] == fcos.FCOS_SPEC
    assert butane["passwd"]["users"][0]["ssh_authorized_keys"] == [ssh_key.read_text().strip()]
    disk = butane["storage"]["disks"][0]
    assert disk == {"device": "/dev/disk/by-id/virtio-data", "wipe_table": False, "partitions": [
        {"number": 1, "label": "edahub-docker", "start_mib": 0, "size_mib": 0}]}
    assert butane["storage"]["filesystems"] == [{
        "device": "/dev/disk/by-partlabel/edahub-docker", "path": "/var/lib/docker",
        "format": "xfs", "with_mount_unit": True}]
    assert butane["storage"]["files"] == [{"path": "/var/srv/edahub/.env", "mode": 0o600,
                                           "contents": {"local": "secrets/edahub.env"}}]
    assert [u["name"] for u in butane["systemd"]["units"]] == [fcos.PACKAGES_UNIT, fcos.STACK_UNIT]
    assert all(u["enabled"] for u in butane["systemd"]["units"])

    ignition = json.loads((out / fcos.IGNITION_FILE).read_text())
    assert ignition["ignition"]["version"] == fcos.IGNITION_SPEC
    files = decoded_files(ignition)
    assert files["/var/srv/edahub/compose.yaml"] == (0o644, (ROOT / "compose.yaml").read_bytes())
    for name, (data, mode) in fcos.deployment_files(ROOT).items():
        assert files[f"/var/srv/edahub/{name}"] == (mode, data)
        assert (out / fcos.TREE_DIR / name).stat().st_mode & 0o777 == mode
    assert files["/var/srv/edahub/hub/Dockerfile"][1] == (ROOT / "hub/Dockerfile").read_bytes()
    assert files["/var/srv/edahub/.env"] == (0o600, (out / fcos.ENV_FILE).read_bytes())
    units = {u["name"]: u for u in ignition["systemd"]["units"]}
    assert set(units) == {fcos.PACKAGES_UNIT, fcos.STACK_UNIT, fcos.MOUNT_UNIT}
    assert units[fcos.STACK_UNIT]["contents"] == (out / fcos.UNITS_DIR / fcos.STACK_UNIT).read_text()


def test_the_boot_disk_layout_fixes_the_root_size(tmp_path, ssh_key):
    code, out = fcos_config(tmp_path, ssh_key, "--storage-on-boot-disk", "--root-size", "20G")
    assert code == 0
    disk = yaml.safe_load((out / fcos.BUTANE_FILE).read_text())["storage"]["disks"][0]
    assert disk["device"] == "/dev/disk/by-id/coreos-boot-disk"
    assert disk["partitions"] == [
        {"number": 4, "label": "root", "size_mib": 20480, "resize": True},
        {"label": "edahub-docker", "size_mib": 0},
    ]


def test_docker_on_root_has_no_storage_section(tmp_path, ssh_key):
    code, out = fcos_config(tmp_path, ssh_key, "--docker-on-root")
    assert code == 0
    butane = yaml.safe_load((out / fcos.BUTANE_FILE).read_text())
    assert "disks" not in butane["storage"] and "filesystems" not in butane["storage"]
    assert not (out / fcos.UNITS_DIR / fcos.MOUNT_UNIT).exists()


def test_secrets_stay_out_of_the_butane_file_the_console_and_the_log(tmp_path, ssh_key, capsys):
    code, out = fcos_config(tmp_path, ssh_key, "--docker-on-root")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    values = envfile.read_env_file(out / fcos.ENV_FILE)
    secrets = [values[s.key] for s in SETTINGS if s.secret and values.get(s.key)]
    assert len(secrets) >= 5  # cookie secret, crypt key, admin hash, database passwords
    public = [(out / fcos.BUTANE_FILE).read_text(), (out / fcos.STEPS_FILE).read_text(),
              captured.out, captured.err, (tmp_path / "prepare-host.log").read_text()]
    public += [p.read_text() for p in (out / "host").rglob("*") if p.is_file()]
    for secret in secrets:
        assert not any(secret in text for text in public)
    # Secrets live only in the 0600 files of a 0700 folder.
    assert (out / fcos.ENV_FILE).stat().st_mode & 0o777 == 0o600
    assert (out / "secrets").stat().st_mode & 0o777 == 0o700
    assert (out / fcos.IGNITION_FILE).stat().st_mode & 0o777 == 0o600
    # The admin password is shown once, and only its hash is stored.
    password = re.search(r"password (\S+)", captured.out).group(1)
    assert password not in (out / fcos.ENV_FILE).read_text()
    import bcrypt
    assert bcrypt.checkpw(password.encode(), values["EDAHUB_ADMIN_PASSWORD_HASH"].encode())


def test_without_env_embeds_no_secrets(tmp_path, ssh_key):
    code, out = fcos_config(tmp_path, ssh_key, "--docker-on-root", "--without-env")
    assert code == 0
    assert not (out / "secrets").exists()
    ignition = json.loads((out / fcos.IGNITION_FILE).read_text())
    assert "/var/srv/edahub/.env" not in decoded_files(ignition)
    assert "files" not in yaml.safe_load((out / fcos.BUTANE_FILE).read_text())["storage"]
    assert "create /var/srv/edahub/.env" in (out / fcos.STEPS_FILE).read_text()


def test_running_again_keeps_the_secrets_and_shows_no_new_password(tmp_path, ssh_key, capsys):
    assert fcos_config(tmp_path, ssh_key, "--docker-on-root")[0] == 0
    first = (tmp_path / "out" / fcos.ENV_FILE).read_bytes()
    capsys.readouterr()
    code, out = fcos_config(tmp_path, ssh_key, "--storage-device", "/dev/vdb")
    captured = capsys.readouterr()
    assert code == 0
    assert (out / fcos.ENV_FILE).read_bytes() == first
    assert "kept from the earlier run" in captured.out
    assert "Admin login created" not in captured.out
    assert (out / fcos.UNITS_DIR / fcos.MOUNT_UNIT).exists()  # the new layout replaced the old


def test_an_operators_env_file_is_embedded(tmp_path, ssh_key):
    env = tmp_path / "my.env"
    values, _ = envfile.ensure_env_file(env, {"EDAHUB_HUB_PORT": "8443"},
                                        validate=__import__("edahub_core.settings").settings.load_settings)
    code, out = fcos_config(tmp_path, ssh_key, "--docker-on-root", "--env-file", str(env))
    assert code == 0
    assert (out / fcos.ENV_FILE).read_bytes() == env.read_bytes()


def test_dry_run_writes_nothing(tmp_path, ssh_key, capsys):
    code, out = fcos_config(tmp_path, ssh_key, "--docker-on-root", "--dry-run")
    assert code == 0
    assert not out.exists()
    assert "Dry run: nothing written" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["--docker-on-root"], ["--storage-device", "/dev/vdb"],
                                  ["--storage-on-boot-disk", "--without-env"]])
def test_a_dry_run_lists_exactly_the_files_a_run_writes(tmp_path, ssh_key, capsys, args):
    choices = fcos.HostChoices(
        ssh_keys=fcos.read_ssh_keys([ssh_key]),
        storage=fcos.storage_from_options("/dev/vdb" if "/dev/vdb" in args else None,
                                          "--storage-on-boot-disk" in args, None,
                                          "--docker-on-root" in args),
        embed_env="--without-env" not in args)
    planned = fcos.write_output(choices, tmp_path / "out", ROOT, dry_run=True)
    assert not (tmp_path / "out").exists()
    written = fcos.write_output(choices, tmp_path / "out", ROOT)
    assert planned.files == written.files
    on_disk = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
               if p.is_file()}
    assert on_disk == set(written.files) | {fcos.OUTPUT_MARKER}


def test_existing_host_steps_say_what_needs_a_reboot(tmp_path, ssh_key, capsys):
    code, out = fcos_config(tmp_path, ssh_key, "--storage-device", "/dev/vdb", "--existing-host")
    printed = capsys.readouterr().out
    steps = (out / fcos.STEPS_FILE).read_text()
    assert code == 0 and steps in printed
    assert "## 2. Add Docker Compose v2 and buildx (needs a reboot)" in steps
    assert "rpm-ostree install --idempotent --allow-inactive docker-compose docker-buildx" in steps
    assert "only step 2 needs a reboot" in steps
    assert "sudo sfdisk /dev/vdb" in steps and "var-lib-docker.mount" in steps
    assert "sudo install -m 0600 -o root -g root" in steps
    assert "sudo systemctl enable --now edahub.service" in steps
    # Every file the steps copy from the folder exists in it.
    for relative in re.findall(r"~/edahub-provision/(\S+)", steps):
        assert (out / relative.rstrip("/.")).exists(), relative


def test_existing_host_cannot_repartition_a_running_boot_disk(tmp_path, ssh_key):
    code, out = fcos_config(tmp_path, ssh_key, "--storage-on-boot-disk")
    assert "cannot shrink its root partition" in (out / fcos.STEPS_FILE).read_text()


# --- refusals ----------------------------------------------------------------------


def refused(tmp_path, ssh_key, capsys, *args, key=None):
    code, out = fcos_config(tmp_path, key or ssh_key, *args)
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err and "How to fix:" in err
    assert not out.exists()
    return re.sub(r"\s+", " ", err)


@pytest.mark.parametrize("args, message", [
    ((), "exactly one of --storage-device, --storage-on-boot-disk or --docker-on-root"),
    (("--storage-device", "/dev/vdb", "--docker-on-root"), "exactly one of"),
    (("--storage-on-boot-disk", "--root-size", "6G"), "below Fedora CoreOS's minimum of 8 GiB"),
    (("--storage-on-boot-disk", "--root-size", "50%FREE"), "give a fixed size such as 16G"),
    (("--storage-device", "/dev/vdb", "--root-size", "20G"),
     "--root-size applies only with --storage-on-boot-disk"),
    (("--storage-device", "vdb"), "is not a device path"),
    (("--storage-device", fcos.BOOT_DISK), "is the boot disk"),
    (("--docker-on-root", "--without-env", "--env-file", "x.env"), "contradict each other"),
])
def test_bad_options_are_refused(tmp_path, ssh_key, capsys, args, message):
    assert message in refused(tmp_path, ssh_key, capsys, *args)


def test_a_private_key_is_refused(tmp_path, ssh_key, capsys):
    private = ssh_key.with_suffix("")
    err = refused(tmp_path, ssh_key, capsys, "--docker-on-root", key=private)
    assert "is a private key; it must never leave your machine" in err


def test_no_key_and_junk_keys_are_refused(tmp_path, ssh_key, capsys):
    empty = tmp_path / "empty.pub"
    empty.write_text("# no keys here\n")
    assert "nobody could log in" in refused(tmp_path, ssh_key, capsys, "--docker-on-root", key=empty)
    junk = tmp_path / "junk.pub"
    junk.write_text("hello world\n")
    assert "line 1 is not an SSH public key" in refused(tmp_path, ssh_key, capsys,
                                                        "--docker-on-root", key=junk)


def test_a_folder_fcos_config_did_not_write_is_kept_unless_forced(tmp_path, ssh_key, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _ = fcos_config(tmp_path, ssh_key, "--docker-on-root")
    assert code == 1 and "already holds files that fcos-config did not write" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine"
    assert fcos_config(tmp_path, ssh_key, "--docker-on-root", "--force")[0] == 0
    assert not (out / "notes.txt").exists()


def test_env_settings_that_point_at_this_machine_are_refused(tmp_path, ssh_key, capsys):
    env = tmp_path / "my.env"
    envfile.ensure_env_file(env, {"EDAHUB_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"})
    err = refused(tmp_path, ssh_key, capsys, "--docker-on-root", "--env-file", str(env))
    assert "sets EDAHUB_CA_BUNDLE, a path on this machine" in err


def test_a_different_env_file_does_not_silently_replace_earlier_secrets(tmp_path, ssh_key, capsys):
    assert fcos_config(tmp_path, ssh_key, "--docker-on-root")[0] == 0
    before = (tmp_path / "out" / fcos.ENV_FILE).read_bytes()
    env = tmp_path / "other.env"
    envfile.ensure_env_file(env, {})
    code, out = fcos_config(tmp_path, ssh_key, "--docker-on-root", "--env-file", str(env))
    assert code == 1
    assert "holds other settings than" in capsys.readouterr().err
    assert (out / fcos.ENV_FILE).read_bytes() == before


def test_a_failure_while_writing_leaves_the_previous_folder_whole(tmp_path, ssh_key, monkeypatch):
    assert fcos_config(tmp_path, ssh_key, "--docker-on-root")[0] == 0
    out = tmp_path / "out"
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    write_file = output.write_file

    def disk_fills_up(path, content):
        if path.name == fcos.OUTPUT_MARKER:  # the last file: all the others are written
            raise OSError(28, "No space left on device")
        write_file(path, content)

    monkeypatch.setattr(output, "write_file", disk_fills_up)
    with pytest.raises(OSError):
        fcos_config(tmp_path, ssh_key, "--storage-device", "/dev/vdb")
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


# --- units and deployment ----------------------------------------------------------


def test_the_stack_unit_starts_on_boot_after_docker_and_stops_cleanly():
    unit = fcos.stack_unit()
    assert "Requires=docker.service" in unit and "After=docker.service" in unit
    assert "WantedBy=multi-user.target" in unit
    assert "ExecStop=/usr/bin/docker compose down" in unit
    assert re.search(r"^ExecStart=.*docker compose up --detach --no-build --wait'$", unit, re.M)
    # systemd specifiers and variables escaped, so the shell sees $(...) and %g.
    assert "$$(stat -c %%g /run/docker.sock)" in unit
    # Long enough for the hub to stop users' servers (compose.yaml stop_grace_period).
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    grace = compose["services"]["hub"]["stop_grace_period"]
    assert _seconds(grace) * 3 <= _seconds(re.search(r"TimeoutStopSec=(\S+)", unit).group(1))


def test_the_units_call_only_what_fedora_coreos_has_at_those_paths():
    # The stub root of the systemd-analyze check holds exactly fcos.FCOS_EXECUTABLES.
    executables = set()
    for unit in (fcos.stack_unit(), fcos.packages_unit()):
        for line in unit.splitlines():
            if re.match(r"^Exec\w+=", line):
                executables.add(line.split("=", 1)[1].lstrip("-@:+!").split()[0])
    assert executables == fcos.FCOS_EXECUTABLES == {
        "/usr/bin/docker", "/usr/bin/sh", "/usr/bin/rpm-ostree", "/usr/bin/touch",
        "/usr/bin/systemctl"}


def _seconds(text):
    match = re.fullmatch(r"(\d+)(s|m|min)?", str(text))
    number, unit = int(match.group(1)), match.group(2) or "s"
    return number * (60 if unit in ("m", "min") else 1)


def test_the_mount_unit_name_matches_its_mount_point():
    assert fcos.systemd_escape_path("/var/lib/docker") + ".mount" == fcos.MOUNT_UNIT
    assert fcos.systemd_escape_path("/dev/disk/by-partlabel/edahub-docker") == \
        "dev-disk-by\\x2dpartlabel-edahub\\x2ddocker"
    # What `systemd-escape --path` prints (compared with the real one in tests/hosttools).
    assert fcos.systemd_escape_path("/a b/.c") == "a\\x20b-.c"


def test_the_deployment_holds_every_path_compose_yaml_builds_from_or_mounts():
    deployment = fcos.deployment_files(ROOT)
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    needed = set()
    for service in compose["services"].values():
        build = service.get("build")
        if build:
            context = Path(build["context"])
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            needed.add(dockerfile.as_posix())
            for line in (ROOT / dockerfile).read_text().splitlines():
                match = re.match(r"^COPY\s+(?!--from)(?:--\S+\s+)*(\S+)\s", line)
                if match:
                    needed.add((context / match.group(1)).as_posix().rstrip("/"))
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                needed.add(Path(source).as_posix())
    for path in needed:
        assert any(name == path or name.startswith(path + "/") for name in deployment), path
    assert not any(name.startswith(("scripts/edahub/hostprep", ".env")) or "__pycache__" in name
                   for name in deployment)


def test_the_yaml_writer_round_trips_through_a_yaml_parser():
    from edahub.hostprep import yaml_text

    value = {"a": [{"b": "x: y", "c": yaml_text.Octal(0o600), "d": True}, "yes", "ssh-ed25519 AAA= c@d"],
             "e": {}, "f": [], "g": "/var/srv/edahub", "h": "1.7.0", "i": 0}
    loaded = yaml.safe_load(yaml_text.dump(value))
    assert loaded == {**value, "a": [{"b": "x: y", "c": 0o600, "d": True}, "yes", "ssh-ed25519 AAA= c@d"]}


def test_fcos_config_runs_from_bootstrap_without_a_traceback(tmp_path, ssh_key):
    result = subprocess.run(
        [sys.executable, ROOT / "scripts" / "bootstrap.py", "prepare-host", "fcos-config",
         "--output-dir", tmp_path / "out", "--ssh-key-file", ssh_key, "--storage-device",
         "/dev/vdb", "--log-file", tmp_path / "log"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert "[3/3] Output folder written" in result.stdout


def test_compose_yaml_carries_the_selinux_labels_atomic_hosts_need():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source, target, *options = volume.split(":")
            flags = options[0].split(",") if options else []
            if source.startswith(("./", "/")) and source != "/var/run/docker.sock":
                # Bind mounts of edahub's own folders: relabelled, shared (z), never private (Z).
                assert "z" in flags, f"{name}: {volume} needs :z on an SELinux host"
            elif source == "/var/run/docker.sock":
                # The socket cannot be relabelled: its one user runs unconfined instead.
                assert "z" not in flags and "Z" not in flags
                assert "label=disable" in service.get("security_opt", []), name
            else:
                assert source in compose["volumes"]  # named volumes: Docker labels them
