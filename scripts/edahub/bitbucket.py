"""bootstrap's part of Bitbucket login: the consumer's key and secret, and what to register.

The secret is taken from a flag, the environment or a hidden prompt, handed to
``.env`` (mode 0600) or recorded as ``EDAHUB_BITBUCKET_CLIENT_SECRET_FILE``, and never
printed or logged. docs/login.md describes the whole setup.
"""

import getpass
import re

from . import envfile
from .console import UserError, log
from edahub_core.settings import SETTINGS_BY_KEY, load_settings

CLIENT_ID = "EDAHUB_BITBUCKET_CLIENT_ID"
CLIENT_SECRET = "EDAHUB_BITBUCKET_CLIENT_SECRET"
CLIENT_SECRET_FILE = f"{CLIENT_SECRET}_FILE"


def parse_assignments(assignments):
    """``--set KEY=VALUE`` options as a dict; only known settings, never secrets."""
    requested = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        key = key.strip()
        if not sep or key not in SETTINGS_BY_KEY:
            name = re.match(r"[A-Za-z0-9_]*", key).group()  # never echo what may be a value
            raise UserError(
                f"--set {name or '...'}: not KEY=VALUE with a known setting",
                "use a name from docs/settings.md, e.g. --set EDAHUB_AUTH=bitbucket",
            )
        if SETTINGS_BY_KEY[key].secret:
            raise UserError(
                f"--set {key}: secrets are not taken by --set (the command line is visible "
                "to other users of this host)",
                "put it in the environment or .env, or let bootstrap ask for it",
            )
        requested[key] = value.strip()
    return requested


def consumer_form(public_url):
    """What to enter in Bitbucket's 'Add OAuth consumer' form for this hub."""
    return "\n".join([
        "Register edahub with Bitbucket: in your workspace open Settings > Workspace settings >",
        "OAuth consumers > Add consumer, and enter:",
        "    Name:          edahub",
        f"    Callback URL:  {public_url}/hub/oauth_callback",
        f"    URL:           {public_url}   (optional)",
        "    Permissions:   Account: Read   (nothing else; the workspace list needs only this)",
        "Save it, then open the consumer to see its Key and Secret.",
    ])


def collect_credentials(inst, client_id=None, client_secret=None, secret_file=None,
                        environ=None, interactive=False):
    """Add the consumer's key and secret to ``inst.requested`` for ``.env``.

    Sources: the flags (always; a value that differs from ``.env`` is then refused by
    ensure_env_file), the environment (EDAHUB_BITBUCKET_CLIENT_ID,
    EDAHUB_BITBUCKET_CLIENT_SECRET or ..._FILE) for what ``.env`` lacks, and last a
    prompt, hidden for the secret, when ``interactive``; before prompting it prints what
    to register at Bitbucket. Does nothing unless the login is Bitbucket.
    """
    environ = environ or {}
    existing = envfile.read_env_file(inst.env_path) if inst.env_path.exists() else {}
    known = {**inst.requested, **{k: v for k, v in existing.items() if v}}
    if (known.get("EDAHUB_AUTH") or "native") != "bitbucket":
        return
    flags = {CLIENT_ID: client_id, CLIENT_SECRET: client_secret,
             CLIENT_SECRET_FILE: str(secret_file) if secret_file else None}
    found = {k: v.strip() for k, v in flags.items() if v}

    def given(key):
        return any(source.get(name) for source in (known, found)
                   for name in (key, f"{key}_FILE"))

    for key in (CLIENT_ID, CLIENT_SECRET, CLIENT_SECRET_FILE):
        if not given(key.removesuffix("_FILE")) and environ.get(key):
            found[key] = environ[key].strip()
    missing = [key for key in (CLIENT_ID, CLIENT_SECRET) if not given(key)]
    if missing and interactive:
        public_url = load_settings({"EDAHUB_PUBLIC_URL": known.get("EDAHUB_PUBLIC_URL", "")},
                                   keys=["EDAHUB_PUBLIC_URL"]).public_url
        if not public_url:
            raise UserError(
                "EDAHUB_PUBLIC_URL is needed before registering with Bitbucket: the "
                "callback URL is made from it",
                "add --set EDAHUB_PUBLIC_URL=https://<your host> (or set it in .env)",
            )
        print(consumer_form(public_url) + "\n", flush=True)
        if CLIENT_ID in missing:
            found[CLIENT_ID] = input("Bitbucket consumer Key: ").strip()
        if CLIENT_SECRET in missing:
            found[CLIENT_SECRET] = getpass.getpass("Bitbucket consumer Secret (not shown): ").strip()
    for key in found:
        log.info("%s taken from the %s", key, "prompt" if key in missing else "command line "
                 "or environment")
    inst.requested.update({k: v for k, v in found.items() if v})
