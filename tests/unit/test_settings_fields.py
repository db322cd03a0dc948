"""``Settings`` has one typed field per setting, and the code reads only those fields.

A misspelt ``settings.<name>`` fails here, in the unit tests, rather than when the hub or
bootstrap reaches that line.
"""

import ast
import dataclasses
import types
import typing
from pathlib import Path

import pytest

from edahub_core.settings import SETTINGS, Settings, keys_for_service, load_settings

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {s.key: s.generate() for s in SETTINGS if s.generate}
FIELDS = [f.name for f in dataclasses.fields(Settings)]
# What else code may read from a Settings: its methods.
METHODS = {"get", "values", "from_values"}
# ``settings`` variables that are not edahub's Settings: (file, attribute read).
NOT_EDAHUB_SETTINGS = {
    ("scripts/edahub/hostprep/atomic.py", "items"),  # docker-storage-setup's settings, a dict
}


def test_the_fields_are_the_schemas_attributes_in_order():
    assert FIELDS == [s.attribute for s in SETTINGS]


def runtime_types(annotation):
    """The classes a value of ``annotation`` may be: ``tuple[str, ...] | None`` -> (tuple, NoneType)."""
    members = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return tuple(typing.get_origin(m) or m for m in members)


@pytest.mark.parametrize("values", [
    {},  # every default
    {**{s.key: s.example for s in SETTINGS if s.example},  # the examples in .env.example
     "EDAHUB_PUBLIC_URL": "https://eda.example.org",
     "EDAHUB_ADMIN_PASSWORD_HASH": "$2b$12$" + "a" * 53},
], ids=["defaults", "examples"])
def test_every_value_has_its_fields_type(values):
    settings = load_settings({**SECRETS, **values})
    for field in dataclasses.fields(Settings):
        value = getattr(settings, field.name)
        assert isinstance(value, runtime_types(field.type)), (field.name, value, field.type)


def test_a_misspelt_attribute_is_an_error():
    settings = load_settings(SECRETS)
    with pytest.raises(AttributeError):
        settings.hub_prot
    # No attribute can be added; a frozen slots dataclass refuses with a TypeError on
    # Python 3.11 (a quirk of its generated __setattr__), which is still a refusal.
    with pytest.raises((AttributeError, TypeError)):
        settings.hub_prot = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.hub_port = 1


def test_settings_not_loaded_are_unset_not_none():
    settings = load_settings({"EDAHUB_HUB_PORT": "8443"}, keys=["EDAHUB_HUB_PORT"])
    assert settings.hub_port == 8443
    assert dict(settings.values) == {"hub_port": 8443}
    with pytest.raises(AttributeError, match="public_url"):
        settings.public_url
    with pytest.raises(KeyError):
        settings.get("EDAHUB_PUBLIC_URL")
    assert repr(settings) == "Settings(hub_port=8443)"


def test_equality_and_repr_hide_nothing_but_secrets():
    settings = load_settings(SECRETS)
    assert settings == load_settings(SECRETS)
    assert settings != load_settings({**SECRETS, "EDAHUB_HUB_PORT": "8001"})
    assert settings.get("EDAHUB_HUB_PORT") == settings.hub_port == 8000
    shown = repr(settings)
    assert "hub_port=8000" in shown and "cookie_secret=(hidden)" in shown
    assert not any(secret in shown for secret in SECRETS.values())


def source_files():
    """The code that reads settings: the hub's configuration and modules, the scripts."""
    files = [ROOT / "hub" / "jupyterhub_config.py", *sorted((ROOT / "hub" / "edahub_hub").glob("*.py")),
             *sorted((ROOT / "scripts").rglob("*.py"))]
    assert len(files) > 10
    return files


def settings_reads(path):
    """(line, name) for each ``settings.<name>`` and ``<x>.settings.<name>`` in ``path``'s code.

    Parsed, not grepped, so that comments and strings ("docs/settings.md") do not count.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            owner = node.value
            if ((isinstance(owner, ast.Name) and owner.id == "settings")
                    or (isinstance(owner, ast.Attribute) and owner.attr == "settings")):
                yield node.lineno, node.attr


def test_the_scan_finds_reads_in_code_and_skips_text(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""See docs/settings.md."""\n'
                      "port = settings.hub_prot  # settings.in_a_comment\n"
                      'print(f"{inst.settings.public_url}", "settings.in_a_string")\n')
    assert sorted(settings_reads(sample)) == [(2, "hub_prot"), (3, "public_url")]


def test_code_reads_only_settings_that_exist():
    known = set(FIELDS) | METHODS
    unknown = []
    reads = 0
    for path in source_files():
        relative = path.relative_to(ROOT).as_posix()
        for line, name in settings_reads(path):
            reads += 1
            if name not in known and (relative, name) not in NOT_EDAHUB_SETTINGS:
                unknown.append(f"{relative}:{line}: settings.{name}")
    assert reads > 30  # the scan does find the hub's and the scripts' reads
    assert not unknown, ("no such setting (a Settings field is the setting's key in "
                         "lowercase without EDAHUB_):\n" + "\n".join(unknown))


def test_the_hub_reads_only_the_settings_compose_passes_it():
    passed = {s.attribute for s in SETTINGS if s.key in keys_for_service("hub")}
    config = ROOT / "hub" / "jupyterhub_config.py"
    read = {name for _, name in settings_reads(config)} - METHODS
    assert read, "the scan found no settings read by the hub's configuration"
    assert read <= passed, f"the hub reads settings it never receives: {sorted(read - passed)}"
