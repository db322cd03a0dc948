"""edahub_core.names renders users' names exactly as DockerSpawner 14 does.

The operator tools (backup, the drop command, the tests) find users' containers and home
volumes by name without DockerSpawner, through ``escape_username``, a copy of the private
``DockerSpawner._escape``. This test is what makes relying on that copy safe: when a
DockerSpawner upgrade changes its escaping, it fails here, not in an operator's backup.
"""

import re
import sys
from types import SimpleNamespace

import pytest
from dockerspawner import DockerSpawner

from edahub_core.names import (container_name, container_name_template, escape_username,
                               home_volume_name, home_volume_template)

HOSTILE = [
    "alice", "Alice", "ALICE", "aLiCe42", "0", "42", "x" * 300,
    "o'brien", 'say"cheese', "`tick`", "dot.ted", "a.b", "a_b", "a-b", "-", "--", "-2d",
    "_", ".", "..", "", " ", "  x  ", "a/b", "../etc", "back\\slash", "a:b",
    "name@example.org", "50%", "%2F", "{username}", "{0}",
    "a\tb", "a\nb", "\x00", "\x0f", "\x1b[31m", "\x7f",  # control characters
    "Ünïcödé", "İstanbul", "ß", "ǅungla", "ｆｕｌｌｗｉｄｔｈ", "用户", "Ωmega", "e\u0301",
    "😀", "👩‍🔬", "🏳️‍🌈", "\U0010ffff",
]


@pytest.mark.parametrize("username", HOSTILE, ids=ascii)
def test_escape_username_is_dockerspawners_escape(username):
    assert escape_username(username) == DockerSpawner._escape(username)


def test_every_character_escapes_alike():
    # Each character alone, across ASCII (control characters too: escapism writes bytes
    # below 0x10 as one hex digit), Latin, Greek, CJK and emoji (not surrogates, which no
    # str from a web request holds).
    ranges = [range(0, 0x800), range(0x3000, 0x3100), range(0x4E00, 0x4F00),
              range(0xFF00, 0xFFF0), range(0x1F300, 0x1F700), range(sys.maxunicode - 2,
                                                                    sys.maxunicode + 1)]
    different = [hex(cp) for r in ranges for cp in r
                 if escape_username(chr(cp)) != DockerSpawner._escape(chr(cp))]
    assert different == []


def test_escaped_names_are_valid_docker_names():
    for username in HOSTILE:
        assert re.fullmatch(r"[a-z0-9-]*", escape_username(username))
        assert re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", container_name("edahub", username))


@pytest.fixture
def spawner_for():
    """An EdahubSpawner with the templates jupyterhub_config.py gives it, for one user."""
    from jupyterhub.objects import Hub

    from edahub_hub.spawner import EdahubSpawner

    def make(prefix, username):
        user = SimpleNamespace(name=username, url="/user/x/")
        return EdahubSpawner(user=user, hub=Hub(), name_template=container_name_template(prefix),
                             volumes={home_volume_template(prefix): "/home/jovyan"})

    return make


@pytest.mark.parametrize("prefix", ["edahub", "lab-2.test"])
@pytest.mark.parametrize("username", HOSTILE, ids=ascii)
def test_container_and_volume_names_are_what_dockerspawner_renders(spawner_for, prefix,
                                                                   username):
    spawner = spawner_for(prefix, username)
    assert spawner.escape is DockerSpawner._escape  # the escaping the config relies on
    assert spawner.object_name == container_name(prefix, username)
    assert list(spawner.volume_binds) == [home_volume_name(prefix, username)]
