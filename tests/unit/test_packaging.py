"""What bootstrap installs on a host agrees with the project's declared dependencies."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bootstraps_requirements_are_the_projects_dependencies():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = (ROOT / "scripts" / "requirements.txt").read_text().splitlines()
    required = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert sorted(required) == sorted(declared)


def test_the_packages_are_declared_for_the_editable_install():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = sorted(p.name for p in (ROOT / "scripts").iterdir() if (p / "__init__.py").is_file())
    assert sorted(config["packages"]) == packages
