"""Settings for Bitbucket login and HTTPS: values, rules between them, compose wiring."""

import pytest
import yaml

from edahub_core.settings import RULES, SETTINGS, SettingsError, keys_for_service, load_settings
from edahub_hub import https

GENERATED = {s.key: s.generate() for s in SETTINGS if s.generate}
BITBUCKET = {"EDAHUB_AUTH": "bitbucket", "EDAHUB_PUBLIC_URL": "https://eda.example.org",
             "EDAHUB_BITBUCKET_CLIENT_ID": "key", "EDAHUB_BITBUCKET_CLIENT_SECRET": "secret"}


def load(**values):
    return load_settings({**GENERATED, **values})


def problems(**values):
    with pytest.raises(SettingsError) as raised:
        load(**values)
    return str(raised.value)


def test_allow_lists_are_parsed_normalized_and_defaults_point_at_bitbucket():
    settings = load(**BITBUCKET, EDAHUB_BITBUCKET_ALLOWED_USERS="Alice, bob,,alice",
                    EDAHUB_BITBUCKET_ALLOWED_WORKSPACES="eda-lab,stats_2")
    assert settings.bitbucket_allowed_users == ("alice", "bob")
    assert settings.bitbucket_allowed_workspaces == ("eda-lab", "stats_2")
    assert settings.bitbucket_url == "https://bitbucket.org"
    assert settings.bitbucket_api_url == "https://api.bitbucket.org"
    assert settings.bitbucket_allow_all is False
    assert settings.http_redirect_port == 8080


def test_workspaces_are_slugs_never_display_names():
    text = problems(**BITBUCKET, EDAHUB_BITBUCKET_ALLOWED_WORKSPACES="EDA Lab")
    assert "'EDA Lab': must be workspace IDs (slugs)" in text and "not display names" in text


@pytest.mark.parametrize("url", ["eda.example.org", "https://eda.example.org/hub",
                                 "https://eda.example.org?x=1", "ftp://eda.example.org",
                                 "https://user@eda.example.org", "https://eda.example.org:99999"])
def test_public_url_must_be_scheme_host_and_port(url):
    assert "EDAHUB_PUBLIC_URL=" in problems(EDAHUB_PUBLIC_URL=url)


def test_every_bitbucket_requirement_is_reported_at_once():
    text = problems(EDAHUB_AUTH="bitbucket")
    for needed in ("EDAHUB_BITBUCKET_CLIENT_ID: required", "EDAHUB_BITBUCKET_CLIENT_SECRET: required",
                   "EDAHUB_PUBLIC_URL: required with EDAHUB_AUTH=bitbucket",
                   "with no allow rule: nobody could log in"):
        assert needed in text
    assert "How to fix" in text


@pytest.mark.parametrize("rule", [
    {"EDAHUB_BITBUCKET_ALLOWED_USERS": "alice"},
    {"EDAHUB_BITBUCKET_ALLOWED_WORKSPACES": "eda-lab"},
    {"EDAHUB_BITBUCKET_ADMIN_USERS": "alice"},
    {"EDAHUB_BITBUCKET_ALLOW_ALL": "true"},
    {"EDAHUB_BITBUCKET_ALLOW_ALL": "true", "EDAHUB_BITBUCKET_ADMIN_USERS": "alice"},
])
def test_any_allow_rule_is_enough(rule):
    assert load(**BITBUCKET, **rule).auth == "bitbucket"


def test_allow_all_with_allow_lists_is_a_contradiction():
    text = problems(**BITBUCKET, EDAHUB_BITBUCKET_ALLOW_ALL="true",
                    EDAHUB_BITBUCKET_ALLOWED_USERS="alice")
    assert "EDAHUB_BITBUCKET_ALLOW_ALL=true lets every Bitbucket account in" in text


def test_secret_from_file_satisfies_the_rule(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    values = {**BITBUCKET, "EDAHUB_BITBUCKET_CLIENT_SECRET": "",
              "EDAHUB_BITBUCKET_CLIENT_SECRET_FILE": str(secret),
              "EDAHUB_BITBUCKET_ADMIN_USERS": "alice"}
    assert load(**values).bitbucket_client_secret == "from-a-file"


def test_the_secret_is_never_echoed():
    text = problems(**{**BITBUCKET, "EDAHUB_BITBUCKET_CLIENT_SECRET": "hush-hush-123"},
                    EDAHUB_BITBUCKET_ALLOWED_USERS="bad name!")
    assert "hush-hush-123" not in text


def test_tls_needs_both_files_and_an_https_public_url():
    assert "set both (HTTPS) or neither" in problems(EDAHUB_TLS_CERT="/srv/tls/cert.pem",
                                                     EDAHUB_PUBLIC_URL="https://eda.example.org")
    assert "must be the https:// URL the certificate is for" in problems(
        EDAHUB_TLS_CERT="/c.pem", EDAHUB_TLS_KEY="/k.pem", EDAHUB_PUBLIC_URL="http://eda.example.org")
    settings = load(EDAHUB_TLS_CERT="/c.pem", EDAHUB_TLS_KEY="/k.pem",
                    EDAHUB_PUBLIC_URL="https://eda.example.org")
    assert settings.tls_cert == "/c.pem"


def test_rules_only_apply_to_settings_a_consumer_loads():
    # bootstrap's port check loads two settings; the Bitbucket rules do not fire there.
    values = {"EDAHUB_AUTH": "bitbucket", "EDAHUB_HUB_PORT": "8000"}
    assert load_settings(values, keys=["EDAHUB_HUB_PORT"]).hub_port == 8000
    hub_keys = set(keys_for_service("hub"))
    for rule in RULES:  # the hub receives every setting its rules need
        assert set(rule.keys) <= hub_keys, rule.keys


def test_compose_publishes_the_redirect_port_and_hands_over_files_as_secrets():
    from pathlib import Path

    compose = yaml.safe_load((Path(__file__).resolve().parents[2] / "compose.yaml").read_text())
    hub, proxy = compose["services"]["hub"], compose["services"]["proxy"]
    assert any(port.endswith(":8080") and "EDAHUB_HTTP_REDIRECT_PORT" in port
               for port in proxy["ports"])
    assert {"tls_cert", "tls_key", "bitbucket_client_secret"} <= set(hub["secrets"])
    assert set(proxy["secrets"]) == {"tls_cert", "tls_key"}
    assert compose["secrets"]["tls_key"]["file"] == "${EDAHUB_TLS_KEY:-/dev/null}"
    # The health checks: the hub's (in the image) on its own port; the proxy's speaks
    # HTTPS when a certificate is set.
    dockerfile = (Path(__file__).resolve().parents[2] / "hub" / "Dockerfile").read_text()
    assert 'CMD ["python3", "-m", "edahub_hub.healthcheck"]' in dockerfile
    assert proxy["healthcheck"]["test"] == ["CMD", "python3", "-m", "edahub_hub.healthcheck",
                                            "proxy"]


def test_the_proxy_container_serves_https_with_the_operators_files(monkeypatch):
    from edahub_core.settings import keys_for_service, load_settings
    from edahub_hub import proxy

    environ = {"EDAHUB_PROXY_AUTH_TOKEN": "ab" * 32, "EDAHUB_TLS_CERT": "/srv/tls/cert.pem",
               "EDAHUB_TLS_KEY": "/srv/tls/key.pem",
               "EDAHUB_PUBLIC_URL": "https://eda.example.org:8443"}
    settings = load_settings(environ, keys=keys_for_service("proxy"))
    command = proxy.proxy_command(settings)
    assert command[:5] == ["configurable-http-proxy", "--ip", "0.0.0.0", "--port", "8000"]
    assert command[command.index("--ssl-cert") + 1] == https.CERT
    assert command[command.index("--ssl-key") + 1] == https.KEY
    assert command[-4:] == ["--redirect-port", "8080", "--redirect-to", "8443"]
    assert command[command.index("--default-target") + 1] == "http://hub:8081"
    plain = proxy.proxy_command(load_settings({"EDAHUB_PROXY_AUTH_TOKEN": "ab" * 32},
                                              keys=keys_for_service("proxy")))
    assert "--ssl-cert" not in plain and "--redirect-port" not in plain


def test_the_proxy_redirects_http_to_the_public_https_port():
    assert https.redirect_options("https://eda.example.org") == [
        "--redirect-port", "8080", "--redirect-to", "443"]
    assert https.redirect_options("https://127.0.0.1:8443")[-1] == "8443"


def test_certificate_check(tls_files, tmp_path):
    assert https.tls_problem("c", "k", cert=tls_files.cert, key=tls_files.key) is None
    stranger = tmp_path / "other-key.pem"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    stranger.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    problem = https.tls_problem("/host/cert.pem", "/host/key.pem", cert=tls_files.cert,
                                key=str(stranger))
    assert "are not a PEM certificate and its matching private key" in str(problem)
    empty = tmp_path / "empty"
    empty.write_text("")
    problem = https.tls_problem("/host/cert.pem", "/host/key.pem", cert=str(empty), key=str(stranger))
    assert "EDAHUB_TLS_CERT=/host/cert.pem reached the hub as an empty file" in str(problem)


def test_a_certificate_file_that_never_reached_the_hub_is_an_error_not_a_traceback(tmp_path):
    problem = https.tls_problem("/host/cert.pem", "/host/key.pem",
                                cert=str(tmp_path / "missing"), key=str(tmp_path / "missing"))
    assert "EDAHUB_TLS_CERT=/host/cert.pem did not reach the hub as a readable file" in str(problem)
    problem = https.tls_problem("/host/cert.pem", "/host/key.pem", cert=str(tmp_path),
                                key=str(tmp_path))  # a directory
    assert "did not reach the hub as a readable file" in str(problem)


def test_user_subdomains_need_the_hubs_public_url_and_route_by_host():
    from edahub_core.settings import SettingsError, keys_for_service, load_settings
    from edahub_hub import proxy

    token = {"EDAHUB_PROXY_AUTH_TOKEN": "ab" * 32}
    with pytest.raises(SettingsError, match="EDAHUB_USER_SUBDOMAINS: needs EDAHUB_PUBLIC_URL"):
        load_settings({**token, "EDAHUB_USER_SUBDOMAINS": "true"}, keys=keys_for_service("proxy"))
    settings = load_settings({**token, "EDAHUB_USER_SUBDOMAINS": "true",
                              "EDAHUB_PUBLIC_URL": "http://eda.example.org"},
                             keys=keys_for_service("proxy"))
    assert "--host-routing" in proxy.proxy_command(settings)
