"""Console output and subprocess handling shared by the installer scripts.

The console stays short: one progress line per step, with its duration. A command's
own output goes to the log file and is shown only when the command fails.
"""

import logging
import shlex
import subprocess
import sys
import time
from contextlib import contextmanager

from edahub_core.errors import UserError  # noqa: F401 (re-exported for the scripts)

log = logging.getLogger("edahub")


def setup_logging(log_path=None, verbose=False):
    """Send detailed logs to ``log_path`` (if given) and warnings to the console."""
    root = logging.getLogger("edahub")
    root.setLevel(logging.DEBUG)
    root.handlers.clear()
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root.addHandler(console)
    if log_path:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        root.addHandler(handler)


def format_duration(seconds):
    """Format a duration the way progress lines show it: ``0.4s``, ``12s``, ``2m41s``."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s"


@contextmanager
def progress(index, total, title, stream=None):
    """Print ``[3/8] title ... done (2m41s)`` around a step; ``failed`` if it raises.

    The body may set ``status.text`` (e.g. "already present") to replace ``done``.
    """
    stream = stream or sys.stdout
    status = _Status()
    print(f"[{index}/{total}] {title} ...", end=" ", flush=True, file=stream)
    log.info("step %d/%d: %s", index, total, title)
    started = time.monotonic()
    try:
        yield status
    except BaseException:
        print(f"failed ({format_duration(time.monotonic() - started)})", file=stream, flush=True)
        raise
    print(f"{status.text} ({format_duration(time.monotonic() - started)})", file=stream, flush=True)


class _Status:
    text = "done"


def run(cmd, *, check=True, input=None, env=None, cwd=None, timeout=None, redact=()):
    """Run ``cmd``, logging its output; on failure raise with the tail of that output.

    ``redact`` lists strings (secrets) that must never reach the log or an error message.
    """
    shown = _redact(shlex.join(str(c) for c in cmd), redact)
    log.debug("running: %s", shown)
    try:
        proc = subprocess.run(
            [str(c) for c in cmd],
            input=input,
            env=env,
            cwd=cwd,
            timeout=timeout,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except FileNotFoundError as e:
        raise UserError(f"command not found: {cmd[0]}", f"install {cmd[0]} and try again") from e
    except subprocess.TimeoutExpired as e:
        raise UserError(f"command timed out after {timeout}s: {shown}") from e
    output = _redact(proc.stdout or "", redact)
    if output:
        log.debug("output of %s:\n%s", shown, output)
    if check and proc.returncode != 0:
        tail = "\n".join(output.splitlines()[-25:])
        raise UserError(f"command failed (exit {proc.returncode}): {shown}\n{tail}")
    proc.stdout = output
    return proc


def _redact(text, secrets):
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text
