"""Command line of scripts/bootstrap.py."""

import argparse
import os
import sys
from pathlib import Path

from . import __version__, bitbucket, installer
from .console import UserError, setup_logging


def build_parser():
    """The argument parser of bootstrap.py."""
    parser = argparse.ArgumentParser(
        prog="bootstrap.py",
        description="Set up and start edahub on this host: checks the host, creates .env "
        "with generated secrets, builds the images, starts the stack and prints the login.",
        epilog="Other commands: " + "; ".join(
            f"`bootstrap.py {name} --help`: {summary}" for name, (_, summary) in SUBCOMMANDS.items()
        ),
    )
    parser.add_argument("--version", action="version",
                        version=f"edahub {__version__} (the version of this folder's files)")
    parser.add_argument("--yes", "-y", action="store_true",
                        help="do not ask for confirmation")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan and change nothing")
    parser.add_argument("--env-file", type=Path, default=installer.ROOT / ".env",
                        help="settings file (default: .env next to compose.yaml)")
    parser.add_argument("--project-name", help="Compose project name (default: edahub)")
    parser.add_argument("--min-free-gib", type=int, default=10,
                        help="free disk space required, in GiB (default: 10)")
    parser.add_argument("--log-file", type=Path, default=installer.ROOT / "bootstrap.log",
                        help="detailed log (default: bootstrap.log)")
    parser.add_argument("--verbose", "-v", action="store_true", help="log details to the console")
    login = parser.add_argument_group(
        "settings and Bitbucket login (docs/login.md); existing .env values are never changed")
    login.add_argument("--set", dest="assignments", action="append", default=[],
                       metavar="KEY=VALUE",
                       help="a setting for .env, e.g. --set EDAHUB_AUTH=bitbucket "
                       "(repeatable; not for secrets)")
    login.add_argument("--bitbucket-client-id", metavar="KEY",
                       help="the Bitbucket OAuth consumer's Key (else $EDAHUB_BITBUCKET_CLIENT_ID, "
                       "else asked)")
    login.add_argument("--bitbucket-client-secret", metavar="SECRET",
                       help="the consumer's Secret; other users of this host can see command "
                       "lines, so prefer $EDAHUB_BITBUCKET_CLIENT_SECRET or the hidden prompt")
    login.add_argument("--bitbucket-client-secret-file", type=Path, metavar="PATH",
                       help="store EDAHUB_BITBUCKET_CLIENT_SECRET_FILE=PATH instead of the secret")
    return parser


SUBCOMMANDS = {
    # name: (module, summary); each module has main(argv) -> exit code.
    "prepare-host": ("edahub.hostprep", "prepare an Atomic host: detect it, Docker's storage on "
                     "Atomic Host, a Fedora CoreOS config (see docs/atomic-host.md)"),
    "status": ("edahub.status", "the platform on one screen: services, users' servers with "
               "memory and CPU, sizes, free disk, and what needs acting on"),
    "upgrade": ("edahub.upgrade", "upgrade a running installation to this folder's version: "
                "back up, add new settings, build, restart the hub (users' servers keep running)"),
    "swarm": ("edahub.swarm", "edahub on a Docker Swarm: check the swarm, deploy or upgrade "
              "the stack (see docs/scale-out.md)"),
    "stop": ("edahub.lifecycle", "stop the whole platform: the hub, users' servers, then the "
             "databases and the network (files and data stay)"),
}


def main(argv=None):
    """Entry point: returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        import importlib

        module = importlib.import_module(SUBCOMMANDS[argv[0]][0])
        return module.main(argv[1:])
    args = build_parser().parse_args(argv)
    inst = installer.Installation(
        env_path=args.env_file.resolve(),
        project_name=args.project_name,
        min_free_gib=args.min_free_gib,
    )
    try:
        inst.requested = bitbucket.parse_assignments(args.assignments)
        if args.dry_run:
            print(installer.plan(inst))
            return 0
        setup_logging(args.log_file, verbose=args.verbose)
        if not args.yes and sys.stdin.isatty():
            answer = input("Set up and start edahub on this host? [Y/n] ").strip().lower()
            if answer not in ("", "y", "yes"):
                print("Nothing changed.")
                return 1
        bitbucket.collect_credentials(
            inst, client_id=args.bitbucket_client_id, client_secret=args.bitbucket_client_secret,
            secret_file=args.bitbucket_client_secret_file, environ=os.environ,
            interactive=sys.stdin.isatty(),
        )
        installer.install(inst)
        return 0
    except UserError as e:
        print(f"\nerror: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; run bootstrap again to resume", file=sys.stderr)
        return 130
