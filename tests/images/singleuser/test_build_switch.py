"""singleuser/build-switch.sh reads a build switch exactly as the settings read the setting.

compose.yaml hands the image's build switches (EDAHUB_SINGLEUSER_JULIA, _CRAN) to the
build as written in .env, which bootstrap has validated with the settings' parser. The
Dockerfile's layers read them with build-switch.sh, so the two must agree on every
spelling, and the script must refuse what the settings refuse.
"""

import subprocess
from pathlib import Path

import pytest

from edahub_core.settings import SETTINGS_BY_KEY

SCRIPT = Path(__file__).resolve().parents[3] / "singleuser" / "build-switch.sh"
SPELLINGS = ["true", "True", "YES", "on", "1", "false", "False", "no", "OFF", "0", "maybe", "2",
             "tru e"]


@pytest.mark.parametrize("key", ["EDAHUB_SINGLEUSER_JULIA", "EDAHUB_SINGLEUSER_CRAN"])
@pytest.mark.parametrize("value", SPELLINGS)
def test_the_build_reads_a_switch_as_the_settings_do(key, value):
    result = subprocess.run(["sh", str(SCRIPT), "WITH_X", value],
                            capture_output=True, text=True, timeout=10)
    try:
        expected = SETTINGS_BY_KEY[key].parse(value)
    except ValueError:
        assert result.returncode != 0
        assert f'WITH_X="{value}" is neither true nor false' in result.stderr
        assert "--build-arg WITH_X=true" in result.stderr  # the fix
    else:
        assert result.returncode == 0, result.stderr
        assert result.stdout == ("true\n" if expected else "false\n")
