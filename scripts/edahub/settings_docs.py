"""Generate .env.example and docs/settings.md from the settings schema.

`python3 scripts/generate_settings_docs.py` rewrites both; `--check` exits non-zero when
either is out of date (the unit tests run the same check).
"""

import sys
from pathlib import Path

from .envfile import render_env_example
from edahub_core.settings import RULES, SETTINGS

ROOT = Path(__file__).resolve().parent.parent.parent
GENERATED = "<!-- Generated from scripts/edahub_core/settings.py by scripts/generate_settings_docs.py; do not edit. -->"


def render_settings_markdown():
    """The text of docs/settings.md: one table per group of settings."""
    out = [
        "# Settings reference",
        "",
        GENERATED,
        "",
        "edahub reads its settings from `.env` next to `compose.yaml` (created by",
        "`python3 scripts/bootstrap.py`, mode 0600). An empty value means the default.",
        "Any secret may instead be given as `<KEY>_FILE=/path/to/file`. Bootstrap refuses",
        "unknown `EDAHUB_` keys and malformed values with a message that names the fix; the",
        "hub checks its own settings again when it starts. Apply a change with",
        "`docker compose up -d`, or run bootstrap again to have every setting checked first.",
    ]
    group = None
    for setting in SETTINGS:
        if setting.group != group:
            group = setting.group
            out += ["", f"## {group}", "", "| Setting | Type | Default | Description |",
                    "| --- | --- | --- | --- |"]
        if setting.generate:
            default = "generated"
        elif setting.default is None:
            default = "required"
        else:
            default = f"`{setting.default}`" if setting.default else "(empty)"
        secret = " **Secret.**" if setting.secret else ""
        out.append(f"| `{setting.key}` | {setting.type_name.replace('|', '&#124;')} | "
                   f"{default} | {setting.description}{secret} |")
    out += ["", "## Rules between settings", "",
            "Checked by bootstrap and by the hub at start; a broken rule stops both with the "
            "same message.", ""]
    out += [f"- {rule.description}" for rule in RULES]
    return "\n".join(out) + "\n"


def outputs():
    """Each generated file with its expected text."""
    return {
        ROOT / ".env.example": render_env_example(),
        ROOT / "docs" / "settings.md": render_settings_markdown(),
    }


def main(argv=None):
    """Write the generated files, or with --check report which are stale."""
    argv = sys.argv[1:] if argv is None else argv
    stale = [path for path, text in outputs().items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)} "
                  "(run python3 scripts/generate_settings_docs.py)")
        return 1 if stale else 0
    for path, text in outputs().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0
