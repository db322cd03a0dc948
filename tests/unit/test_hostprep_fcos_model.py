"""fcos-config's model of a host (``HostConfig``) and its renderers, with no files at all.

Each renderer reads only the model, so one ``HostConfig`` built in memory is enough to
check that the outputs agree with each other; test_hostprep_fcos.py runs the command.
"""

import json

import pytest
import yaml

from edahub.hostprep import fcos

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm0fGXbvOvg2wIzbqgG0d7qmeyQm4yU4Fq5bJ2QwY9e a@b"
DEPLOYMENT = {
    "compose.yaml": fcos.FileContent(b"services: {}\n", 0o644),
    "mariadb/initdb.d/20-run.sh": fcos.FileContent(b"#!/bin/sh\n", 0o755),
}
STORAGE = {
    "second-disk": fcos.Storage(device="/dev/vdb"),
    "boot-disk": fcos.Storage(device=fcos.BOOT_DISK, root_size_mib=16384),
    "docker-on-root": None,
}


def host_config(storage, env=b"EDAHUB_HUB_PORT='8443'\n"):
    choices = fcos.HostChoices(ssh_keys=(KEY,), storage=storage, embed_env=env is not None)
    return fcos.build_host_config(choices, DEPLOYMENT, env)


@pytest.fixture(params=sorted(STORAGE))
def host(request):
    return host_config(STORAGE[request.param])


def test_the_model_cannot_be_changed_after_it_is_built(host):
    with pytest.raises(AttributeError):
        host.env = None
    with pytest.raises(TypeError):
        host.deployment["extra"] = fcos.FileContent(b"", 0o644)


def test_the_env_is_given_exactly_when_it_is_embedded():
    choices = fcos.HostChoices(ssh_keys=(KEY,), storage=None, embed_env=True)
    with pytest.raises(ValueError):
        fcos.build_host_config(choices, DEPLOYMENT, None)


def test_every_local_file_the_butane_config_names_is_in_the_output_folder(host):
    folder = fcos.render_output_folder(host, "out")
    butane = yaml.safe_load(fcos.butane_text(host))
    assert butane == json.loads(json.dumps(fcos.butane_config(host)))
    named = [unit["contents_local"] for unit in butane["systemd"]["units"]]
    named += [entry["contents"]["local"] for entry in butane["storage"].get("files", [])]
    assert named and all(name in folder for name in named)
    for tree in butane["storage"]["trees"]:
        assert all(f"{tree['local']}/{relative}" in folder for relative in host.deployment)


def test_the_ignition_config_embeds_the_env_and_the_deployment_with_their_modes(host):
    ignition = json.loads(fcos.ignition_text(host))
    files = {entry["path"]: entry["mode"] for entry in ignition["storage"]["files"]}
    assert files == {f"{fcos.DEPLOY_DIR}/.env": 0o600,
                     f"{fcos.DEPLOY_DIR}/compose.yaml": 0o644,
                     f"{fcos.DEPLOY_DIR}/mariadb/initdb.d/20-run.sh": 0o755}


def test_butane_lists_the_units_it_does_not_generate_itself(host):
    ignition = [unit["name"] for unit in fcos.ignition_config(host)["systemd"]["units"]]
    butane = [unit["name"] for unit in fcos.butane_config(host)["systemd"]["units"]]
    generated = [fcos.MOUNT_UNIT] if host.storage else []
    assert ignition == butane + generated == [unit.name for unit in fcos.render_units(host)]


def test_partitions_are_spelled_as_each_format_wants():
    host = host_config(STORAGE["boot-disk"])
    assert fcos.butane_config(host)["storage"]["disks"][0]["partitions"] == [
        {"number": 4, "label": "root", "size_mib": 16384, "resize": True},
        {"label": fcos.STORAGE_LABEL, "size_mib": 0}]
    assert fcos.ignition_config(host)["storage"]["disks"][0]["partitions"] == [
        {"number": 4, "label": "root", "sizeMiB": 16384, "resize": True},
        {"label": fcos.STORAGE_LABEL, "sizeMiB": 0}]


def test_without_an_env_nothing_refers_to_one():
    host = host_config(STORAGE["second-disk"], env=None)
    folder = fcos.render_output_folder(host, "out")
    assert fcos.ENV_FILE not in folder
    assert "files" not in fcos.butane_config(host)["storage"]
    assert all(not entry["path"].endswith("/.env")
               for entry in fcos.ignition_config(host)["storage"]["files"])
