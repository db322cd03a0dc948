""".env.example and docs/settings.md are generated from the schema and must not drift."""

from edahub import settings_docs
from edahub_core.settings import SETTINGS


def test_generated_files_are_up_to_date():
    for path, expected in settings_docs.outputs().items():
        assert path.read_text(encoding="utf-8") == expected, (
            f"{path.name} is out of date: run python3 scripts/generate_settings_docs.py"
        )


def test_every_setting_is_documented_in_both():
    outputs = {p.name: text for p, text in settings_docs.outputs().items()}
    for setting in SETTINGS:
        assert f"\n{setting.key}=" in outputs[".env.example"]
        assert f"`{setting.key}`" in outputs["settings.md"]
