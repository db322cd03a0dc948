"""prepare-host fcos-config reads the keys ssh-keygen makes (OpenSSH, Debian `openssh-client`).

tests/unit/test_hostprep_fcos.py checks the same with fixed key text, offline.
"""

import shutil
import subprocess

import pytest

from edahub.console import UserError
from edahub.hostprep import fcos

pytestmark = pytest.mark.hosttools


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory):
    """(public key file, private key file) made by the real ssh-keygen."""
    ssh_keygen = shutil.which("ssh-keygen")
    if ssh_keygen is None:
        # Not one of .ci/prepare_machine.py's packages; the offline tests cover key parsing.
        pytest.skip("ssh-keygen is not installed (Debian package `openssh-client`)")
    folder = tmp_path_factory.mktemp("ssh")
    subprocess.run([ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-C", "admin@example.org",
                    "-f", folder / "id_ed25519"], check=True, timeout=60, stdin=subprocess.DEVNULL)
    return folder / "id_ed25519.pub", folder / "id_ed25519"


def test_a_public_key_from_ssh_keygen_is_read(key_pair):
    public, _ = key_pair
    assert fcos.read_ssh_keys([public]) == (public.read_text().strip(),)


def test_a_private_key_from_ssh_keygen_is_refused(key_pair):
    _, private = key_pair
    with pytest.raises(UserError, match="is a private key"):
        fcos.read_ssh_keys([private])
