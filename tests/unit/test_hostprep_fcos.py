"""prepare-host fcos-config: the generated Butane/Ignition config, units, files and refusals.

Offline: no external tool runs here. The real Butane, ignition-validate, systemd-analyze
and ssh-keygen check the same output in tests/hosttools/.
"""

import ast
import base64
import gzip
import json
import re
import shlex
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
        "format": "xfs", "mount_options": ["prjquota"], "with_mount_unit": True}]
    assert butane["storage"]["files"] == [{"path": "/var/srv/edahub/.env", "mode": 0o600,
                                           "contents": {"local": "secrets/edahub.env"}}]
    assert [u["name"] for u in butane["systemd"]["units"]] == [
        fcos.PACKAGES_UNIT, fcos.STACK_UNIT, fcos.BACKUP_SERVICE, fcos.BACKUP_TIMER]

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
    assert set(units) == {fcos.PACKAGES_UNIT, fcos.STACK_UNIT, fcos.BACKUP_SERVICE,
                          fcos.BACKUP_TIMER, fcos.MOUNT_UNIT}
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
    assert "## 2. Add Docker Compose v2, buildx and Python (needs a reboot)" in steps
    assert ("rpm-ostree install --idempotent --allow-inactive docker-compose docker-buildx "
            "python3 python3-docker python3-dotenv python3-bcrypt") in steps
    assert "only step 2 needs a reboot" in steps
    assert "sudo sfdisk /dev/vdb" in steps and "var-lib-docker.mount" in steps
    assert "sudo install -m 0600 -o root -g root" in steps
    assert "sudo systemctl enable --now edahub.service" in steps
    # The backup timer too, its service only installed (the timer starts it).
    assert "sudo systemctl enable --now edahub-backup.timer" in steps
    assert "enable --now edahub-backup.service" not in steps
    assert re.search(r"sudo install -m 0644 \S+/edahub-backup\.service \S+/edahub-backup\.timer "
                     r"/etc/systemd/system/$", steps, re.M)
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
    assert "ExecStop=/usr/bin/python3 /var/srv/edahub/scripts/bootstrap.py stop" in unit
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
    for unit in (fcos.stack_unit(), fcos.packages_unit(), fcos.backup_service()):
        for line in unit.splitlines():
            if re.match(r"^Exec\w+=", line):
                executables.add(line.split("=", 1)[1].lstrip("-@:+!").split()[0])
    assert executables == fcos.FCOS_EXECUTABLES == {
        "/usr/bin/docker", "/usr/bin/sh", "/usr/bin/rpm-ostree", "/usr/bin/touch",
        "/usr/bin/systemctl", "/usr/bin/python3"}


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


# --- nightly backups ---------------------------------------------------------------


def test_the_backup_timer_is_enabled_and_its_service_is_not(tmp_path, ssh_key):
    code, out = fcos_config(tmp_path, ssh_key, "--docker-on-root")
    assert code == 0
    butane = yaml.safe_load((out / fcos.BUTANE_FILE).read_text())
    butane = {u["name"]: u for u in butane["systemd"]["units"]}
    ignition = json.loads((out / fcos.IGNITION_FILE).read_text())
    ignition = {u["name"]: u for u in ignition["systemd"]["units"]}
    for units in (butane, ignition):
        assert units[fcos.BACKUP_TIMER]["enabled"] is True
        # Started by its timer: no [Install], and no "enabled" key (Butane leaves it out).
        assert "enabled" not in units[fcos.BACKUP_SERVICE]
        assert all(units[name]["enabled"] is True for name in units if name != fcos.BACKUP_SERVICE)
    timer = (out / fcos.UNITS_DIR / fcos.BACKUP_TIMER).read_text()
    assert ignition[fcos.BACKUP_TIMER]["contents"] == timer
    for line in (f"OnCalendar={fcos.BACKUP_SCHEDULE}", "RandomizedDelaySec=30min",
                 "Persistent=true", "WantedBy=timers.target"):
        assert re.search(rf"^{re.escape(line)}$", timer, re.M), line
    service = (out / fcos.UNITS_DIR / fcos.BACKUP_SERVICE).read_text()
    assert ignition[fcos.BACKUP_SERVICE]["contents"] == service
    assert "[Install]" not in service


def test_the_backup_service_runs_backup_py_into_the_folder_layout_names():
    unit = fcos.backup_service()
    lines = unit.splitlines()
    assert [line.split("=", 1)[1] for line in lines if line.startswith("ExecStart=")] == [
        fcos.BACKUP_COMMAND]
    assert shlex.split(fcos.BACKUP_COMMAND) == [
        "/usr/bin/python3", f"{fcos.DEPLOY_DIR}/scripts/backup.py", "create",
        "--output-dir", fcos.BACKUP_DIR, "--keep", str(fcos.BACKUP_KEEP)]
    for line in ("Type=oneshot", f"WorkingDirectory={fcos.DEPLOY_DIR}",
                 f"Requires={fcos.STACK_UNIT}", f"After={fcos.STACK_UNIT}",
                 f"ConditionPathExists={fcos.DEPLOY_DIR}/.env"):
        assert line in lines, line
    assert fcos.BACKUP_DIR == "/var/srv/edahub-backups" and fcos.BACKUP_KEEP == 14


def test_backup_py_accepts_the_arguments_the_backup_service_passes(monkeypatch):
    # backup.py's real parser, with nothing behind it that needs Docker.
    from edahub import backup

    seen = {}

    def create_backup(inst, output_dir):
        seen["output_dir"] = output_dir
        return output_dir / "20260101T030000Z"

    def prune_backups(output_dir, keep):
        seen["pruned"] = (output_dir, keep)
        return []

    monkeypatch.setattr(backup, "setup_logging", lambda *args, **kwargs: None)
    monkeypatch.setattr(backup, "Installation", lambda **kwargs: kwargs)
    monkeypatch.setattr(backup, "create_backup", create_backup)
    monkeypatch.setattr(backup, "prune_backups", prune_backups)
    _, script, *args = shlex.split(fcos.BACKUP_COMMAND)
    assert script == f"{fcos.DEPLOY_DIR}/scripts/backup.py"
    assert backup.main(args) == 0
    assert seen == {"output_dir": Path(fcos.BACKUP_DIR),
                    "pruned": (Path(fcos.BACKUP_DIR), fcos.BACKUP_KEEP)}
    # A renamed option would fail here, as it would on the host.
    with pytest.raises(SystemExit):
        backup.main([*args[:1], "--output-directory", fcos.BACKUP_DIR])


# Fedora's package for each module that scripts/backup.py and bootstrap.py need.
FEDORA_PYTHON_PACKAGES = {"docker": "python3-docker", "dotenv": "python3-dotenv",
                          "bcrypt": "python3-bcrypt"}


def test_python_and_the_modules_of_the_scripts_are_layered():
    for script in ("backup.py", "bootstrap.py"):
        text = (ROOT / "scripts" / script).read_text()
        needed = re.search(r"ensure_dependencies\(.*, (\([^)]*\))\)", text).group(1)
        modules = ast.literal_eval(needed)
        # A new module needs its Fedora package in LAYERED_PACKAGES (and in the map above).
        assert set(modules) <= set(FEDORA_PYTHON_PACKAGES), (script, modules)
        assert {FEDORA_PYTHON_PACKAGES[m] for m in modules} <= set(fcos.LAYERED_PACKAGES)
    assert {"python3", "docker-compose", "docker-buildx"} <= set(fcos.LAYERED_PACKAGES)
    execs = [line for line in fcos.packages_unit().splitlines() if "rpm-ostree install" in line]
    assert execs and execs[0].endswith(" " + " ".join(fcos.LAYERED_PACKAGES))


def test_the_deployment_runs_the_operators_commands_on_its_own(tmp_path):
    deployment = fcos.deployment_files(ROOT)
    for script in ("scripts/backup.py", "scripts/bootstrap.py"):
        assert deployment[script].mode == 0o755
    assert "scripts/requirements.txt" in deployment
    host = tmp_path / "edahub"
    for name, content in deployment.items():
        output.write_file(host / name, content)
    # Each command as the host runs it, from the copy alone: the checkout's own scripts
    # folder (on this venv's path) is taken off, so a file the deployment lacks fails.
    checkout_scripts = str(ROOT / "scripts")
    runner = ("import runpy, sys; from pathlib import Path; "
              "sys.path[:] = [p for p in sys.path "
              f"if Path(p or '.').resolve() != Path({checkout_scripts!r})]; "
              "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")
    for script, command, shown in (("backup.py", "create", "--keep"),
                                   ("bootstrap.py", "status", "usage:"),
                                   ("bootstrap.py", "stop", "usage:"),
                                   ("bootstrap.py", "upgrade", "usage:")):
        result = subprocess.run([sys.executable, "-c", runner, host / "scripts" / script, command,
                                 "--help"], cwd=host, capture_output=True, text=True, timeout=60,
                                stdin=subprocess.DEVNULL)
        assert result.returncode == 0 and shown in result.stdout, (script, command, result.stderr)


# --- project quotas for home size limits -------------------------------------------


@pytest.mark.parametrize("storage", [fcos.Storage(device="/dev/vdb"),
                                     fcos.Storage(device=fcos.BOOT_DISK, root_size_mib=16384)])
def test_dockers_storage_is_mounted_with_project_quotas(storage):
    choices = fcos.HostChoices(ssh_keys=("ssh-ed25519 AAAA a@b",), storage=storage, embed_env=False)
    host = fcos.build_host_config(choices, {}, None)
    assert fcos.DOCKER_MOUNT_OPTIONS == ("prjquota",)
    assert fcos.butane_config(host)["storage"]["filesystems"][0]["mount_options"] == ["prjquota"]
    assert fcos.ignition_config(host)["storage"]["filesystems"][0]["mountOptions"] == ["prjquota"]
    # As Butane writes it (tests/hosttools compares with the real one): after Type=.
    mount = fcos.mount_unit(storage)
    assert "[Mount]\nWhere=/var/lib/docker\nWhat=/dev/disk/by-partlabel/edahub-docker\n" \
        "Type=xfs\nOptions=prjquota\n\n[Install]" in mount
    units = {unit.name: unit for unit in fcos.render_units(host)}
    assert units[fcos.MOUNT_UNIT].contents == mount
