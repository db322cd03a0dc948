"""Command line of `scripts/bootstrap.py prepare-host` (see docs/atomic-host.md)."""

import argparse
import re
import sys
import time
from pathlib import Path

from ..console import UserError, format_duration, progress, run, setup_logging
from . import atomic, fcos
from .detect import HostKind, describe, detect_host

ROOT = Path(__file__).resolve().parents[3]


def build_parser():
    """The argument parser of `bootstrap.py prepare-host`."""
    parser = argparse.ArgumentParser(
        prog="bootstrap.py prepare-host",
        description="Prepare an Atomic host for edahub: detect it, set up Docker's storage "
        "on CentOS/RHEL Atomic Host, or generate a Fedora CoreOS host's Butane/Ignition "
        "config. See docs/atomic-host.md.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    detect = commands.add_parser("detect", help="tell what kind of host this is (changes nothing)")
    _add_root(detect)

    storage = commands.add_parser(
        "storage", help="Atomic Host: grow Docker's storage with docker-storage-setup",
        description="Write /etc/sysconfig/docker-storage-setup and run docker-storage-setup, "
        "after checking that the sizes fit. Run it as root on the Atomic Host.",
    )
    storage.add_argument("--root-size", metavar="SIZE",
                         help="the fixed size the root LV (where /var/lib/docker lives) grows "
                         "to, e.g. 20G (ROOT_SIZE)")
    storage.add_argument("--devs", metavar="DEVICE", nargs="+", default=[],
                         help="empty disks to add to the volume group (DEVS)")
    storage.add_argument("--vg", metavar="NAME",
                         help="volume group for the disks and the container volume (VG; default: "
                         "the root's)")
    storage.add_argument("--container-lv-size", metavar="SIZE",
                         help="also give /var/lib/docker a logical volume of its own of this size "
                         "(CONTAINER_ROOT_LV_*), e.g. 60%%FREE")
    storage.add_argument("--dry-run", action="store_true", help="show the plan and change nothing")
    storage.add_argument("--force", action="store_true",
                         help="also on hosts that are not an Atomic Host, replace a configuration "
                         "file edahub did not write, and accept data-losing changes")
    storage.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    _add_root(storage)
    _add_log(storage)

    config = commands.add_parser(
        "fcos-config", help="Fedora CoreOS: write a Butane/Ignition config for a new host, and "
        "the steps for an existing one",
        description="Run it on your workstation, in the edahub checkout. It writes a folder "
        "with the Butane config, the Ignition config to boot a new host with, the files to "
        "place on the host and existing-host.md.",
    )
    config.add_argument("--output-dir", type=Path, required=True, metavar="DIR",
                        help="folder to write (created; replaced only if fcos-config wrote it)")
    config.add_argument("--ssh-key-file", type=Path, action="append", default=[], metavar="FILE",
                        help="public SSH key(s) of the `core` user (repeatable)")
    where = config.add_argument_group("Docker's storage (choose one)")
    where.add_argument("--storage-device", metavar="DEVICE",
                       help="a whole second disk for /var/lib/docker, e.g. /dev/disk/by-id/...")
    where.add_argument("--storage-on-boot-disk", action="store_true",
                       help="a partition after the root on the boot disk")
    where.add_argument("--root-size", metavar="SIZE",
                       help=f"root partition size with --storage-on-boot-disk (default "
                       f"{fcos.DEFAULT_ROOT_SIZE}, at least 8G)")
    where.add_argument("--docker-on-root", action="store_true",
                       help="no separate storage: keep /var/lib/docker on the root filesystem")
    config.add_argument("--env-file", type=Path, metavar="FILE",
                        help="embed this edahub .env (default: generate one with new secrets, or "
                        "keep the one of an earlier run)")
    config.add_argument("--without-env", action="store_true",
                        help="embed no .env (no secrets in the Ignition config); place it on the "
                        "host yourself")
    config.add_argument("--existing-host", action="store_true",
                        help="also print the steps for an FCOS host that already runs")
    config.add_argument("--dry-run", action="store_true", help="show what would be written")
    config.add_argument("--force", action="store_true",
                        help="replace an output folder or .env that fcos-config did not write")
    _add_log(config)
    return parser


def _add_root(parser):
    parser.add_argument("--root", type=Path, default=Path("/"), metavar="DIR",
                        help="where the host's root is mounted (default /; /host when run in a "
                        "privileged container)")


def _add_log(parser):
    parser.add_argument("--log-file", type=Path, default=ROOT / "prepare-host.log",
                        help="detailed log (default: prepare-host.log in the checkout)")
    parser.add_argument("--verbose", "-v", action="store_true", help="log details to the console")


def main(argv=None, runner=run, stdin=None):
    """Entry point of `prepare-host`: returns the exit code. ``runner`` runs host commands."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        if args.command == "detect":
            print(describe(detect_host(args.root)))
            return 0
        setup_logging(args.log_file, verbose=args.verbose)
        if args.command == "storage":
            return run_storage(args, runner, stdin or sys.stdin)
        return run_fcos_config(args)
    except UserError as e:
        print(f"\nerror: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; nothing is left half-written, run the command again", file=sys.stderr)
        return 130


_NAME = re.compile(r"^[A-Za-z0-9_.+/-]+$")


def storage_request(args):
    """The ``StorageRequest`` for the options of `prepare-host storage`."""
    for dev in args.devs:
        if not _NAME.match(dev):
            raise UserError(f"--devs {dev!r} is not a device name", "give e.g. /dev/vdb")
    if args.vg and not re.match(r"^[A-Za-z0-9_.+-]+$", args.vg):
        raise UserError(f"--vg {args.vg!r} is not a volume group name",
                        "use letters, digits and _ . + -")
    return atomic.StorageRequest(
        root_size=atomic.parse_size(args.root_size, "--root-size") if args.root_size else None,
        devs=tuple(dict.fromkeys(args.devs)),
        vg=args.vg,
        container_lv_size=(atomic.parse_size(args.container_lv_size, "--container-lv-size")
                           if args.container_lv_size else None),
    )


def run_storage(args, runner, stdin):
    """`prepare-host storage`: the ``atomic.STEPS`` with progress lines."""
    job = atomic.StorageJob(
        host=detect_host(args.root), request=storage_request(args),
        commands=atomic.HostCommands(args.root, runner), force=args.force, dry_run=args.dry_run,
    )
    if job.host.kind is not HostKind.ATOMIC_HOST and args.force:
        print(f"Warning: {job.host.name} is not an Atomic Host; going on because of --force.",
              file=sys.stderr)
    started = time.monotonic()
    steps = atomic.STEPS
    for index, step in enumerate(steps, start=1):
        if step is atomic.CHANGES[0] and not (args.dry_run or args.yes or job.unchanged) \
                and stdin.isatty():
            answer = input(f"Change Docker's storage on {job.host.name} as above? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("Nothing changed.")
                return 1
        with progress(index, len(steps), step.__doc__.strip().rstrip(".")) as status:
            status.text = step(job)
    if args.dry_run:
        if job.config_changed:
            print(f"\nDry run: nothing changed. {atomic.shown_path(job.config_path, job)} would read:\n")
        else:
            print("\nDry run: nothing changed, and nothing would.")
            return 0
        print("    " + job.config_text.rstrip("\n").replace("\n", "\n    "))
    else:
        print(f"\nDocker's storage is ready ({format_duration(time.monotonic() - started)}). "
              "Next: python3 scripts/bootstrap.py")
    return 0


def run_fcos_config(args):
    """`prepare-host fcos-config`: check the options, write the folder, say what next."""
    if args.without_env and args.env_file:
        raise UserError("--without-env and --env-file contradict each other", "keep one of them")
    steps = [
        ("SSH keys read", lambda: fcos.read_ssh_keys(args.ssh_key_file)),
        ("Storage layout checked", lambda: fcos.storage_from_options(
            args.storage_device, args.storage_on_boot_disk, args.root_size, args.docker_on_root)),
    ]
    found = []
    total = len(steps) + 1
    for index, (title, step) in enumerate(steps, start=1):
        with progress(index, total, title) as status:
            found.append(step())
            status.text = _describe_step(found[-1])
    keys, storage = found
    choices = fcos.HostChoices(ssh_keys=keys, storage=storage, embed_env=not args.without_env,
                               env_file=args.env_file)
    title = "Output folder planned" if args.dry_run else "Output folder written"
    with progress(total, total, title) as status:
        result = fcos.write_output(choices, args.output_dir, ROOT, force=args.force,
                                   dry_run=args.dry_run)
        status.text = str(result.output_dir)
    print(f"\n.env: {result.env_state}")
    if args.dry_run:
        print("Dry run: nothing written. It would write:")
        print("  " + "\n  ".join(result.files[:12])
              + (f"\n  ... and {len(result.files) - 12} more" if len(result.files) > 12 else ""))
        return 0
    if result.admin_password:
        print(f"\n    Admin login created: user {result.admin_user!r}, password "
              f"{result.admin_password}\n"
              "    It is shown only now and stored nowhere in clear: save it in a password manager.\n")
    out = result.output_dir
    print(f"\nNew host: boot Fedora CoreOS with {out / fcos.IGNITION_FILE} "
          f"({result.ignition_bytes // 1024} KiB; it holds the secrets: keep it private).")
    print("  The first boot layers Docker Compose and Python and reboots once; the stack then")
    print("  builds its images and starts (several minutes). Watch it with: journalctl -fu edahub")
    print(f"  A backup runs every night into {fcos.BACKUP_DIR} ({fcos.BACKUP_TIMER}).")
    print(f"Existing host: follow {out / fcos.STEPS_FILE}.")
    if args.existing_host:
        print("\n" + (out / fcos.STEPS_FILE).read_text())
    return 0


def _describe_step(value):
    if isinstance(value, tuple):
        return f"{len(value)} key(s)"
    if value is None:
        return "Docker's data stays on the root filesystem"
    if value.on_boot_disk:
        return (f"root {value.root_size_mib // 1024} GiB, then {fcos.DOCKER_ROOT} on the rest of "
                "the boot disk")
    return f"{fcos.DOCKER_ROOT} on all of {value.device}"
