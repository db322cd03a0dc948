"""What the operator commands share (`bootstrap.py stop|status|upgrade`, backup.py):
which installation they act on, reading its settings, and what Docker says of it."""

from pathlib import Path

from . import envfile
from .console import UserError, run
from edahub_core.names import USER_PREFIX_LABEL
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


def user_servers(user_prefix, running_only=False):
    """The names of this installation's users' containers (stopped ones too, unless
    ``running_only``), found by the user-prefix label the hub puts on them."""
    result = run(["docker", "ps", *([] if running_only else ["--all"]), "--format",
                  "{{.Names}}", "--filter", f"label={USER_PREFIX_LABEL}={user_prefix}"],
                 timeout=60)
    return sorted(result.stdout.split())


def image_version(image):
    """The edahub version an image carries (its OCI version label), or "unknown"."""
    result = run(["docker", "image", "inspect", "--format",
                  '{{index .Config.Labels "org.opencontainers.image.version"}}', image],
                 timeout=60, check=False)
    return result.stdout.strip() or "unknown"
