"""`python3 scripts/bootstrap.py upgrade`: a running installation to this folder's version.

Run it after putting the new release's files in place (`git pull`, or unpacking them over
the old ones; `.env` stays). In order, stopping at the first problem:

1. check the engine and ``.env`` against this version's settings: a setting this version
   no longer knows (removed or renamed) stops the upgrade, named with its successor when
   there is one, before anything changes;
2. add to ``.env`` the settings this version generates (new secrets and tokens); existing
   values are never changed (first, because Compose refuses a file without them, the
   backup's commands included; the running containers do not read .env);
3. back up everything, the hub's state included (``scripts/backup.py create``);
4. build the images (``docker compose build``; through Docker's cache);
5. prepare the databases for this version's account model, adding only (MariaDB's
   provisioning procedures; MongoDB's root accepting the mongodb-accounts service):
   ``provisioning.py``, nothing changes on volumes made since 0.2.1;
6. ``docker compose up -d``: Compose recreates what changed. The hub migrates its
   database as it starts (``JupyterHub.upgrade_db``, with SQLite's own copy beside it)
   and finds every user's server again: users' servers and kernels keep running;
7. take the old rights away: MariaDB's provisioning account keeps the procedures only,
   MongoDB's old account is dropped.
"""

import argparse
import sys
import time
from pathlib import Path

from . import __version__, envfile, hostchecks
from .backup import create_backup
from .console import UserError, format_duration, progress, run, setup_logging
from .installer import ROOT, Installation, stream_build
from .operator import add_installation_arguments, image_version
from .provisioning import narrow_old_rights, prepare_databases
from edahub_core.settings import SettingsError, load_settings

STEPS = 7


def upgrade(inst, backup_dir, backup=True, stream=None):
    stream = stream or sys.stdout
    with progress(1, STEPS, "Checking the engine and .env", stream) as status:
        hostchecks.check_docker_engine()
        if not inst.env_path.exists():
            raise UserError(f"{inst.env_path} does not exist",
                            "run this from the installation's folder, or pass --env-file; "
                            "for a first installation run bootstrap.py without `upgrade`")
        existing = envfile.read_env_file(inst.env_path)
        additions = envfile.missing_values(existing)
        try:
            # Unknown keys (removed or renamed settings) and bad values stop it here.
            load_settings({**existing, **additions})
        except SettingsError as error:
            raise UserError(f"{inst.env_path} does not suit edahub {__version__}: {error.what}",
                            "edit .env as the message says (docs/settings.md lists every "
                            "setting), then run the upgrade again; nothing was changed") from None
        before = image_version(load_settings(existing, keys=["EDAHUB_HUB_IMAGE"]).hub_image)
        status.text = f"from edahub {before} to {__version__}"
    with progress(2, STEPS, "Adding new settings to .env", stream) as status:
        values, added = envfile.ensure_env_file(inst.env_path, validate=load_settings)
        status.text = f"added {', '.join(added)}" if added else "nothing to add"
    with progress(3, STEPS, "Backing up (databases, homes, the hub's state)", stream) as status:
        if backup:
            folder = create_backup(inst, backup_dir)
            status.text = f"written to {folder}"
        else:
            status.text = "skipped (--no-backup)"
    inst.settings = load_settings(values)
    with progress(4, STEPS, "Building the images", stream):
        stream_build(inst.compose("--progress", "plain", "build", "hub", "singleuser"))
    with progress(5, STEPS, "Preparing the databases (adding only)", stream) as status:
        status.text = prepare_databases(inst)
    with progress(6, STEPS, "Restarting what changed (users' servers keep running)", stream):
        run(inst.compose("up", "--detach", "--no-build", "--wait"), timeout=900)
    with progress(7, STEPS, "Taking the hub's old database rights away", stream) as status:
        status.text = narrow_old_rights(inst)
    return before, added


def main(argv=None):
    """Command line of `bootstrap.py upgrade`."""
    parser = argparse.ArgumentParser(
        prog="bootstrap.py upgrade",
        description="Upgrade a running installation to the version of this folder: check "
        ".env, back up, add new settings, build, restart what changed. Users' servers keep "
        "running.")
    add_installation_arguments(parser)
    parser.add_argument("--backup-dir", type=Path, default=ROOT / "backups",
                        help="where the backup before the upgrade goes (default: backups/)")
    parser.add_argument("--no-backup", action="store_true",
                        help="skip the backup (only if you have just taken one)")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    setup_logging(ROOT / "bootstrap.log")
    inst = Installation(env_path=args.env_file.resolve(), project_name=args.project_name)
    started = time.monotonic()
    try:
        if not args.yes:
            if not sys.stdin.isatty():
                raise UserError("an upgrade restarts the hub", "add --yes to confirm")
            answer = input(f"Upgrade this installation to edahub {__version__}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("Nothing changed.")
                return 1
        before, _ = upgrade(inst, args.backup_dir, backup=not args.no_backup)
    except UserError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    print(f"Upgraded from edahub {before} to {__version__} "
          f"({format_duration(time.monotonic() - started)}).")
    return 0
