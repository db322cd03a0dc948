"""Command line of scripts/bootstrap.py."""

import argparse
import sys
from pathlib import Path

from . import installer
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
    return parser


SUBCOMMANDS = {
    # name: (module, summary); each module has main(argv) -> exit code.
    "prepare-host": ("edahub.hostprep", "prepare an Atomic host: detect it, Docker's storage on "
                     "Atomic Host, a Fedora CoreOS config (see docs/atomic-host.md)"),
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
        dry_run=args.dry_run,
    )
    try:
        if args.dry_run:
            print(installer.plan(inst))
            return 0
        setup_logging(args.log_file, verbose=args.verbose)
        if not args.yes and sys.stdin.isatty():
            answer = input("Set up and start edahub on this host? [Y/n] ").strip().lower()
            if answer not in ("", "y", "yes"):
                print("Nothing changed.")
                return 1
        installer.install(inst)
        return 0
    except UserError as e:
        print(f"\nerror: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; run bootstrap again to resume", file=sys.stderr)
        return 130
