"""HTTPS at the hub's proxy: the mounted certificate, its check, the HTTP redirect.

compose.yaml hands the operator's EDAHUB_TLS_CERT and EDAHUB_TLS_KEY to the hub and the
proxy as the read-only files CERT and KEY (compose secrets; empty files when unset) and
publishes the proxy container's REDIRECT_PORT as EDAHUB_HTTP_REDIRECT_PORT. There
configurable-http-proxy serves HTTPS on 8000 and answers plain HTTP on REDIRECT_PORT with
a 301 to https (its --redirect-port/--redirect-to; edahub_hub/proxy.py). The hub checks
the pair too, so a bad one stops both with the same message.
"""

import os
from urllib.parse import urlsplit

from edahub_core.errors import UserError

CERT = "/run/secrets/tls_cert"
KEY = "/run/secrets/tls_key"
REDIRECT_PORT = 8080


def tls_problem(host_cert, host_key, cert=CERT, key=KEY):
    """None when the mounted certificate and key can serve TLS, else a UserError.

    ``host_cert``/``host_key`` are the operator's paths, named in the message.
    """
    import ssl

    uid = os.getuid()
    for path, setting, host_path in ((cert, "EDAHUB_TLS_CERT", host_cert),
                                     (key, "EDAHUB_TLS_KEY", host_key)):
        try:
            with open(path, "rb") as f:
                empty = not f.read(1)
        except PermissionError:
            return UserError(
                f"{setting}={host_path} is not readable by the hub, which runs as uid {uid}",
                f"let uid {uid} read it, e.g. `chown {uid} {host_path} && chmod 600 {host_path}` "
                f"(or `setfacl -m u:{uid}:r {host_path}`), then `docker compose up -d`",
            )
        except OSError as e:  # missing (a compose file without the secret), a directory...
            return UserError(
                f"{setting}={host_path} did not reach the hub as a readable file "
                f"({e.strerror})",
                "point it at the PEM file itself and start the stack with edahub's "
                "compose.yaml, which hands it to the hub",
            )
        if empty:
            return UserError(
                f"{setting}={host_path} reached the hub as an empty file",
                "point it at the PEM file itself (not a directory or an empty file)",
            )
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError) as e:
        return UserError(
            f"EDAHUB_TLS_CERT={host_cert} and EDAHUB_TLS_KEY={host_key} are not a PEM "
            f"certificate and its matching private key ({getattr(e, 'reason', None) or e})",
            "point EDAHUB_TLS_CERT at the certificate with its chain and EDAHUB_TLS_KEY at "
            "the unencrypted key it was issued for",
        )
    return None


def redirect_options(public_url):
    """configurable-http-proxy's options for plain HTTP on REDIRECT_PORT, redirected to
    ``public_url``'s port."""
    https_port = urlsplit(public_url).port or 443
    return ["--redirect-port", str(REDIRECT_PORT), "--redirect-to", str(https_port)]


XSRF_OPTION = "--ServerApp.tornado_settings="


def secure_xsrf_cookie(spawner):
    """pre_spawn_hook: a user's server marks its _xsrf cookie Secure, as the hub does.

    jupyter_server gives that cookie only a path (the server's base URL), and its
    tornado_settings replace those options whole: pass the same path, plus secure.
    """
    options = {"xsrf_cookie_kwargs": {"path": spawner.server.base_url, "secure": True}}
    spawner.args = [arg for arg in spawner.args if not arg.startswith(XSRF_OPTION)]
    spawner.args.append(XSRF_OPTION + repr(options))  # traitlets reads a Python literal
