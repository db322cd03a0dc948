"""Reading and writing the operator's ``.env`` file.

``.env`` is the one place where an installation's settings and secrets live. It is read
by Docker Compose (variable interpolation in compose.yaml) and by bootstrap. Rules:

- created with mode 0600, written atomically (temporary file, then rename);
- existing values are never overwritten; missing keys are appended;
- values are written single-quoted, which both Compose and python-dotenv take literally
  (a bcrypt hash contains ``$``, which would otherwise be interpolated).
"""

import io
import os
import tempfile
from pathlib import Path

from edahub_core.settings import SETTINGS, SettingsError

ENV_MODE = 0o600


def parse_env_text(text, source=".env"):
    """Parse ``.env`` text into a dict; malformed lines are errors naming the line.

    Values are never echoed in errors: they may be secrets.
    """
    from dotenv.parser import parse_stream

    values = {}
    problems = []
    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        if binding.error:
            problems.append(f"{source} line {line}: not KEY=VALUE (or a # comment)")
        elif binding.key is not None:
            if binding.value is None:
                problems.append(f"{source} line {line}: {binding.key} has no '=value'")
            elif binding.key in values:
                problems.append(f"{source} line {line}: {binding.key} is set twice")
            else:
                values[binding.key] = binding.value
    if problems:
        raise SettingsError(
            "cannot read " + source + ":\n  - " + "\n  - ".join(problems),
            f"correct those lines in {source}, or move it aside and run bootstrap again "
            "to create a fresh one",
        )
    return values


def read_env_file(path):
    """Read and parse the ``.env`` file at ``path`` (see ``parse_env_text``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SettingsError(f"{path} is not UTF-8 text", "save it as UTF-8") from None
    return parse_env_text(text, source=str(path))


def quote(value):
    """Quote a value so that Compose and python-dotenv both read it back unchanged."""
    if "'" in value or "\n" in value:
        raise SettingsError(
            "a setting value contains a single quote or a newline",
            "use a value without ' or line breaks",
        )
    return f"'{value}'"


def render_env_example():
    """The text of ``.env.example``: every setting, grouped, with its description."""
    out = [
        "# edahub settings. Copy to .env, or let `python3 scripts/bootstrap.py` create .env",
        "# with generated secrets. An empty value means the default shown above it.",
        "# Secrets may also be given as <KEY>_FILE=/path/to/file.",
    ]
    group = None
    for setting in SETTINGS:
        if setting.group != group:
            group = setting.group
            out += ["", f"# --- {group} " + "-" * max(3, 70 - len(group))]
        out += _wrap_comment(setting.description)
        if setting.generate:
            out.append("# Required; bootstrap generates it when empty.")
        elif setting.default is None:
            out.append("# Required.")
        elif setting.default:
            out.append(f"# Default: {setting.default}")
        if setting.example:
            out.append(f"# Example: {setting.example}")
        out.append(f"{setting.key}=")
    return "\n".join(out) + "\n"


def _wrap_comment(text, width=88):
    import textwrap

    return ["# " + line for line in textwrap.wrap(text, width - 2)]


def missing_values(existing, overrides=None):
    """The settings to add to ``existing``: explicit overrides, then generated secrets.

    Existing non-empty values always win; a key present but empty is filled only for
    secrets that must be generated or for explicit overrides.
    """
    overrides = overrides or {}
    additions = {}
    for setting in SETTINGS:
        if existing.get(setting.key):
            continue
        if f"{setting.key}_FILE" in existing:
            continue
        if setting.key in overrides:
            additions[setting.key] = overrides[setting.key]
        elif setting.secret and f"{setting.key}_FILE" in overrides:
            additions[f"{setting.key}_FILE"] = overrides[f"{setting.key}_FILE"]
        elif setting.generate is not None:
            additions[setting.key] = setting.generate()
    return additions


def ensure_env_file(path, overrides=None, validate=None):
    """Create ``path`` or add what it lacks; return (values, added_keys).

    ``validate`` (e.g. ``settings.load_settings``) is called on the complete values
    before anything is written, so an invalid file is reported and left untouched.

    A new file starts from the ``.env.example`` template with generated secrets filled in.
    An existing file keeps every line as it is; missing keys are appended at its end, and
    a key that is present but empty is filled in place.
    """
    path = Path(path)
    exists = path.exists()
    existing = read_env_file(path) if exists else {}
    additions = missing_values(existing, overrides)
    if exists and not additions:
        if validate:
            validate(existing)
        _enforce_mode(path)
        return existing, []
    text = path.read_text(encoding="utf-8") if exists else render_env_example()
    text = _fill(text, additions)
    values = parse_env_text(text, source=str(path))  # never write what we cannot read back
    if validate:
        validate(values)
    atomic_write(path, text)
    return read_env_file(path), sorted(additions)


def _fill(text, additions):
    lines = text.splitlines()
    remaining = dict(additions)
    for i, line in enumerate(lines):
        key, sep, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        if sep and key in remaining and value.strip().strip("'\"") == "":
            lines[i] = f"{key}={quote(remaining.pop(key))}"
    if remaining:
        lines += ["", "# Added by scripts/bootstrap.py"]
        lines += [f"{k}={quote(v)}" for k, v in remaining.items()]
    return "\n".join(lines) + "\n"


def set_values(path, updates):
    """Set ``updates`` in the existing ``.env`` at ``path`` (replacing those keys)."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    remaining = dict(updates)
    for i, line in enumerate(lines):
        key = line.partition("=")[0].strip().removeprefix("export ").strip()
        if key in remaining:
            lines[i] = f"{key}={quote(remaining.pop(key))}"
    lines += [f"{k}={quote(v)}" for k, v in remaining.items()]
    text = "\n".join(lines) + "\n"
    parse_env_text(text, source=str(path))
    atomic_write(path, text)


def atomic_write(path, text, mode=ENV_MODE):
    """Write ``text`` to ``path`` with ``mode`` via a temporary file and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _enforce_mode(path):
    if path.stat().st_mode & 0o077:
        os.chmod(path, ENV_MODE)
