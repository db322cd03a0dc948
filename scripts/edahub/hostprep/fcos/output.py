"""The output folder of `fcos-config`: rendered from a ``HostConfig``, written atomically.

The folder holds the Butane config, the Ignition config, existing-host.md, the .env
(``secrets/``, mode 0700) and the host's files at their paths on the host (``host/``),
which the Butane config and the steps for an existing host refer to.
"""

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ...console import UserError
from .butane import butane_text
from .deployment import deployment_files
from .existing_host import existing_host_steps
from .hostconfig import FileContent, build_host_config
from .hostenv import choose_env_source, make_host_env
from .ignition import ignition_text
from .layout import (BUTANE_FILE, ENV_FILE, IGNITION_FILE, OUTPUT_MARKER, SECRETS_DIR, STEPS_FILE,
                     TREE_DIR, UNITS_DIR)
from .units import render_units

MARKER_TEXT = b"Written by scripts/bootstrap.py prepare-host fcos-config; it may replace this folder.\n"


@dataclass(frozen=True)
class FcosResult:
    """What `fcos-config` wrote or would write."""

    output_dir: Path
    files: list
    env_state: str
    ignition_bytes: int = 0
    admin_password: str | None = None
    admin_user: str = "admin"


def render_output_folder(host, output_dir):
    """Every file of the output folder for ``host``: {relative path: FileContent}.

    ``output_dir`` is the folder as the operator named it, for the steps' commands.
    """
    files = {
        BUTANE_FILE: FileContent(butane_text(host).encode(), 0o644),
        # The Ignition config embeds .env: as secret as .env itself.
        IGNITION_FILE: FileContent(ignition_text(host).encode(), 0o600),
        STEPS_FILE: FileContent(existing_host_steps(host, output_dir).encode(), 0o644),
    }
    if host.env is not None:
        files[ENV_FILE] = FileContent(host.env, 0o600)
    for relative, content in host.deployment.items():
        files[f"{TREE_DIR}/{relative}"] = content
    for unit in render_units(host):
        files[f"{UNITS_DIR}/{unit.name}"] = FileContent(unit.contents.encode(), 0o644)
    files[OUTPUT_MARKER] = FileContent(MARKER_TEXT, 0o644)
    return files


def listing(files):
    """The names of ``files`` as the summary shows them: the configs, the steps and .env
    first, then the host's files in order."""
    first = [name for name in (BUTANE_FILE, IGNITION_FILE, STEPS_FILE, ENV_FILE) if name in files]
    return first + sorted(set(files) - set(first) - {OUTPUT_MARKER})


def write_output(choices, output_dir, source_root, force=False, dry_run=False):
    """Write the output folder for ``choices`` and the checkout at ``source_root``:
    atomically (built aside, then renamed into place), keeping the .env of an earlier run
    so its secrets do not change."""
    out = Path(output_dir).absolute()
    ours = _check_output_dir(out, force)
    deployment = deployment_files(source_root)
    earlier_env = out / ENV_FILE if ours and (out / ENV_FILE).is_file() else None
    env_source = None
    if choices.embed_env:
        env_source = choose_env_source(choices.env_file, earlier_env, force=force)
        env_state = env_source.state
    else:
        env_state = "not embedded (--without-env): place .env on the host yourself"
    if dry_run:
        # A dry run generates no secrets: an empty .env stands in for the one a run would
        # write, which changes no file's name.
        host = build_host_config(choices, deployment, b"" if choices.embed_env else None)
        return FcosResult(output_dir=out, files=listing(render_output_folder(host, output_dir)),
                          env_state="would be " + env_state if choices.embed_env else env_state)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        host_env = None
        if env_source is not None:
            with tempfile.TemporaryDirectory(prefix=".env.", dir=staging) as scratch:
                host_env = make_host_env(env_source, scratch)
        host = build_host_config(choices, deployment, host_env.data if host_env else None)
        files = render_output_folder(host, output_dir)
        if host.env is not None:
            (staging / SECRETS_DIR).mkdir(mode=0o700)
        for name, content in files.items():
            write_file(staging / name, content)
        _replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return FcosResult(
        output_dir=out, files=listing(files), env_state=env_state,
        ignition_bytes=len(files[IGNITION_FILE].data),
        admin_password=host_env.admin_password if host_env else None,
        admin_user=host_env.admin_user if host_env else "admin",
    )


def _check_output_dir(out, force):
    """Refuse an output folder fcos-config did not write; True if an earlier run wrote it."""
    ours = (out / OUTPUT_MARKER).is_file()
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder", "give --output-dir a folder path")
    if out.is_dir() and any(out.iterdir()) and not ours and not force:
        raise UserError(f"{out} already holds files that fcos-config did not write",
                        "give an empty or new --output-dir, or re-run with --force to replace it")
    return ours


def write_file(path, content):
    """Write ``content`` (a ``FileContent``) to ``path``, which is created with its mode
    so that a secret is never readable by others, not even for a moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, content.mode), "wb") as f:
        f.write(content.data)
    os.chmod(path, content.mode)  # the umask may have narrowed the mode


def _replace_dir(staging, out):
    """Move ``staging`` to ``out``; an old ``out`` is removed only after the move."""
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        os.rename(out, old / "previous")
        os.rename(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, out)
