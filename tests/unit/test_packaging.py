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


def test_the_hub_packages_unit_tested_are_the_ones_the_hub_image_installs():
    import re

    dockerfile = (ROOT / "hub" / "Dockerfile").read_text()
    args = dict(re.findall(r"^ARG (\w+)_VERSION=(\S+)$", dockerfile, re.MULTILINE))
    pins = {"JUPYTERHUB": "jupyterhub", "DOCKERSPAWNER": "dockerspawner",
            "OAUTHENTICATOR": "oauthenticator", "NATIVEAUTHENTICATOR": "jupyterhub-nativeauthenticator",
            "PYMYSQL": "PyMySQL", "PYMONGO": "pymongo"}
    test_deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["test"]
    for arg, package in pins.items():
        assert f"{package}=={args[arg]}" in test_deps, (package, args[arg])
