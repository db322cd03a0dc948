"""The README's Layout table matches the tree."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def layout_paths():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return [path for row in re.findall(r"^\| (.+?) \|", table, re.MULTILINE)
            for path in re.findall(r"`([^`]+)`", row)]


def test_every_path_in_the_layout_table_exists():
    missing = [p for p in layout_paths() if not (ROOT / p).exists()]
    assert missing == []


def test_every_top_level_folder_and_package_is_in_the_layout_table():
    listed = {p.rstrip("/") for p in layout_paths()}
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")
               and p.name not in {"test-artifacts", "backups"}} | {".ci"}
    folders -= {"tests", "scripts"}  # listed by their parts, below
    parts = {f"scripts/{p.name}" for p in (ROOT / "scripts").iterdir()
             if (p / "__init__.py").is_file() or p.suffix == ".py"}
    parts |= {f"tests/{p.name}" for p in (ROOT / "tests").iterdir()
              if p.is_dir() and p.name != "__pycache__"}
    unlisted = sorted(name for name in folders | parts
                      if name not in listed and not any(l.startswith(name + "/") for l in listed))
    assert unlisted == []


def test_the_settings_summary_lists_every_setting_in_its_group():
    from edahub_core.settings import SETTINGS

    readme = (ROOT / "README.md").read_text()
    table = readme.split("| Group | Settings |", 1)[1].split("\n\n", 1)[0]
    listed = {row.split("|")[1].strip(): re.findall(r"`(EDAHUB_\w+)`", row)
              for row in table.splitlines()[2:] if row.startswith("|")}
    expected = {}
    for setting in SETTINGS:
        expected.setdefault(setting.group, []).append(setting.key)
    assert listed == expected
