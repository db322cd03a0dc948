"""bootstrap with Bitbucket login: where the secret comes from, where it goes, the errors.

Only bootstrap's .env step runs (no Docker): the checks before it need an engine.
"""

import getpass
import stat
import sys

import pytest

from edahub import cli, envfile, hostchecks, installer
from edahub_core.settings import SETTINGS, SettingsError, keys_for_service, load_settings

SECRET = "s3cr3t-consumer-value-7Qx"


@pytest.fixture
def bootstrap(monkeypatch, tmp_path, capsys):
    """bootstrap(*args) -> (exit code, console text, log text), running the .env step only."""
    monkeypatch.setattr(installer, "STEPS", [installer.ensure_env_file])
    monkeypatch.setattr(hostchecks, "docker_socket_gid", lambda: None)
    monkeypatch.delenv("EDAHUB_BITBUCKET_CLIENT_ID", raising=False)
    monkeypatch.delenv("EDAHUB_BITBUCKET_CLIENT_SECRET", raising=False)
    log = tmp_path / "bootstrap.log"

    def run(*args):
        code = cli.main(["--yes", "--env-file", str(tmp_path / ".env"), "--log-file", str(log),
                         *map(str, args)])
        out = capsys.readouterr()
        return code, out.out + out.err, log.read_text() if log.exists() else ""

    return run


def env_values(tmp_path):
    return envfile.read_env_file(tmp_path / ".env")


def test_secret_by_flag_goes_only_to_env_with_mode_0600(bootstrap, tmp_path):
    code, console, log = bootstrap(*bitbucket(), "--bitbucket-client-id", "key-123",
                                   "--bitbucket-client-secret", SECRET)
    assert code == 0, console
    values = env_values(tmp_path)
    assert values["EDAHUB_BITBUCKET_CLIENT_SECRET"] == SECRET
    assert values["EDAHUB_BITBUCKET_CLIENT_ID"] == "key-123"
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert SECRET not in console and SECRET not in log
    # What to enter in Bitbucket's consumer form, exactly.
    assert "Callback URL:  https://eda.example.org/hub/oauth_callback" in console
    assert "Permissions:   Account: Read" in console
    assert not values.get("EDAHUB_ADMIN_PASSWORD_HASH")  # no native admin password made


def test_secret_from_the_environment(bootstrap, tmp_path, monkeypatch):
    monkeypatch.setenv("EDAHUB_BITBUCKET_CLIENT_ID", "key-env")
    monkeypatch.setenv("EDAHUB_BITBUCKET_CLIENT_SECRET", SECRET)
    code, console, log = bootstrap(*bitbucket())
    assert code == 0, console
    assert env_values(tmp_path)["EDAHUB_BITBUCKET_CLIENT_SECRET"] == SECRET
    assert SECRET not in console and SECRET not in log


def test_secret_by_hidden_prompt_after_the_form_is_shown(bootstrap, tmp_path, monkeypatch, capsys):
    class Terminal:
        def isatty(self):
            return True

    asked = []

    def fake_input(prompt):
        asked.append(("input", prompt, capsys.readouterr().out))
        return "key-typed"

    def fake_getpass(prompt):
        asked.append(("getpass", prompt, capsys.readouterr().out))
        return SECRET

    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr("builtins.input", fake_input)
    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    code, console, log = bootstrap(*bitbucket())
    assert code == 0, console
    assert [(how, prompt) for how, prompt, _ in asked] == [
        ("input", "Bitbucket consumer Key: "),
        ("getpass", "Bitbucket consumer Secret (not shown): "),
    ]
    assert "Callback URL:  https://eda.example.org/hub/oauth_callback" in asked[0][2]
    assert env_values(tmp_path)["EDAHUB_BITBUCKET_CLIENT_SECRET"] == SECRET
    assert SECRET not in console and SECRET not in log


def test_secret_file_is_recorded_not_copied(bootstrap, tmp_path):
    secret_file = tmp_path / "bitbucket-secret"
    secret_file.write_text(SECRET + "\n")
    code, console, _ = bootstrap(*bitbucket(), "--bitbucket-client-id", "key-123",
                                 "--bitbucket-client-secret-file", secret_file)
    assert code == 0, console
    text = (tmp_path / ".env").read_text()
    assert SECRET not in text
    assert env_values(tmp_path)["EDAHUB_BITBUCKET_CLIENT_SECRET_FILE"] == str(secret_file)
    assert load_settings(env_values(tmp_path)).bitbucket_client_secret == SECRET


def bitbucket(public_url="https://eda.example.org", workspaces="eda-lab"):
    args = ["--set", "EDAHUB_AUTH=bitbucket", "--set", f"EDAHUB_PUBLIC_URL={public_url}"]
    return args + (["--set", f"EDAHUB_BITBUCKET_ALLOWED_WORKSPACES={workspaces}"] if workspaces else [])


CONSUMER = ["--bitbucket-client-id", "key-123", "--bitbucket-client-secret", SECRET]
# The documented errors (docs/settings.md, "Rules between settings"), the same in
# bootstrap and in the hub, which loads only its own settings.
BAD = {
    "missing-secret": ([*bitbucket(), "--bitbucket-client-id", "key-123"],
                       "EDAHUB_BITBUCKET_CLIENT_SECRET: required with EDAHUB_AUTH=bitbucket"),
    "malformed-public-url": ([*bitbucket(public_url="eda.example.org"), *CONSUMER],
                             "EDAHUB_PUBLIC_URL='eda.example.org': must be an http:// or "
                             "https:// URL"),
    "no-allow-rule": ([*bitbucket(workspaces=""), *CONSUMER],
                      "EDAHUB_AUTH=bitbucket with no allow rule: nobody could log in"),
}


@pytest.mark.parametrize("args, message", BAD.values(), ids=BAD.keys())
def test_bad_settings_stop_bootstrap_with_the_documented_error(bootstrap, tmp_path, args, message):
    code, console, _ = bootstrap(*args)
    assert code == 1
    assert message in console
    assert "How to fix:" in console and "Traceback" not in console
    assert SECRET not in console
    assert not (tmp_path / ".env").exists()  # all checks come before .env is written


@pytest.mark.parametrize("change, message", [
    ({"EDAHUB_BITBUCKET_CLIENT_SECRET": ""}, BAD["missing-secret"][1]),
    ({"EDAHUB_PUBLIC_URL": "eda.example.org"}, BAD["malformed-public-url"][1]),
    ({"EDAHUB_BITBUCKET_ALLOWED_WORKSPACES": ""}, BAD["no-allow-rule"][1]),
], ids=BAD.keys())
def test_the_hub_and_bootstrap_give_the_same_message(change, message):
    values = {"EDAHUB_AUTH": "bitbucket", "EDAHUB_PUBLIC_URL": "https://eda.example.org",
              "EDAHUB_BITBUCKET_CLIENT_ID": "key-123", "EDAHUB_BITBUCKET_CLIENT_SECRET": SECRET,
              "EDAHUB_BITBUCKET_ALLOWED_WORKSPACES": "eda-lab", **change}
    for keys in (None, keys_for_service("hub")):  # bootstrap checks all, the hub its own
        with pytest.raises(SettingsError) as raised:
            load_settings({**generated_secrets(), **values}, keys=keys)
        assert message in str(raised.value)


def generated_secrets():
    return {s.key: s.generate() for s in SETTINGS if s.generate}


def test_an_existing_value_is_never_changed(bootstrap, tmp_path):
    (tmp_path / ".env").write_text("EDAHUB_AUTH=native\n")
    code, console, _ = bootstrap(*bitbucket(), "--bitbucket-client-id", "k",
                                 "--bitbucket-client-secret", SECRET)
    assert code == 1
    assert "EDAHUB_AUTH is already set" in console and "('native')" in console
    assert (tmp_path / ".env").read_text() == "EDAHUB_AUTH=native\n"


def test_a_different_secret_is_refused_without_showing_either(bootstrap, tmp_path):
    bootstrap(*bitbucket(), "--bitbucket-client-id", "k", "--bitbucket-client-secret", SECRET)
    before = (tmp_path / ".env").read_text()
    code, console, log = bootstrap("--bitbucket-client-secret", "another-secret-value")
    assert code == 1
    assert "EDAHUB_BITBUCKET_CLIENT_SECRET is already set" in console
    assert SECRET not in console + log and "another-secret-value" not in console + log
    assert (tmp_path / ".env").read_text() == before


def test_secrets_are_not_taken_by_set(bootstrap, tmp_path):
    code, console, _ = bootstrap("--set", f"EDAHUB_BITBUCKET_CLIENT_SECRET={SECRET}")
    assert code == 1
    assert "secrets are not taken by --set" in console
    assert SECRET not in console
    code, console, _ = bootstrap("--set", f"EDAHUB_BITBUCKET_CLIENT_SECRET:{SECRET}")  # a typo
    assert code == 1 and "not KEY=VALUE" in console and SECRET not in console
    assert not (tmp_path / ".env").exists()


def test_switching_from_native_to_bitbucket_keeps_every_value(bootstrap, tmp_path):
    assert bootstrap()[0] == 0  # a native installation
    native = env_values(tmp_path)
    assert native["EDAHUB_ADMIN_PASSWORD_HASH"]
    text = (tmp_path / ".env").read_text()
    text = text.replace("EDAHUB_AUTH=\n", "EDAHUB_AUTH=bitbucket\n")
    text = text.replace("EDAHUB_PUBLIC_URL=\n", "EDAHUB_PUBLIC_URL=https://eda.example.org\n")
    text = text.replace("EDAHUB_BITBUCKET_ADMIN_USERS=\n", "EDAHUB_BITBUCKET_ADMIN_USERS=alice\n")
    (tmp_path / ".env").write_text(text)
    code, console, _ = bootstrap("--bitbucket-client-id", "k", "--bitbucket-client-secret", SECRET)
    assert code == 0, console
    after = env_values(tmp_path)
    for key, value in native.items():
        if value:
            assert after[key] == value, key
    assert after["EDAHUB_AUTH"] == "bitbucket"
