"""What the operator commands share (`bootstrap.py stop|status|upgrade`): which
installation they act on, and reading its settings."""

from pathlib import Path

from . import envfile
from .console import UserError
from edahub_core.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent.parent


def add_installation_arguments(parser):
    """--env-file and --project-name, as bootstrap itself has them."""
    parser.add_argument("--env-file", type=Path, default=ROOT / ".env",
                        help="settings file (default: .env next to compose.yaml)")
    parser.add_argument("--project-name", help="Compose project name (default: edahub)")


def read_settings(env_file, keys):
    """The settings ``keys`` of the installation's ``env_file``; UserError with the fix.

    Only what the command needs is checked, so a .env that lacks a newer setting can
    still be stopped or looked at.
    """
    if not env_file.exists():
        raise UserError(f"{env_file} does not exist",
                        "run this from the installation's folder, or pass --env-file")
    try:
        return load_settings(envfile.read_env_file(env_file), keys=keys)
    except SettingsError as error:
        raise UserError(f"{env_file}: {error}") from None
