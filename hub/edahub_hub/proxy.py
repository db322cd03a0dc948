"""The proxy's container: `python3 -m edahub_hub.proxy` (compose.yaml, service proxy).

configurable-http-proxy runs in a container of its own, without the Docker socket and
without the hub's state: the only process facing the network is not the one that can
start containers. It serves the public port (8000, HTTPS when EDAHUB_TLS_CERT is set,
with plain HTTP on 8080 redirected), and takes route changes from the hub on its API
port (8001) with EDAHUB_PROXY_AUTH_TOKEN; users' servers cannot reach that port (the
network policy). Routes live in the proxy, so a restart of the hub drops none.
"""

import os
import sys

from edahub_core.settings import SettingsError, keys_for_service, load_settings

PUBLIC_PORT = 8000
API_PORT = 8001
HUB_URL = "http://hub:8081"  # compose.yaml's hub service, on the stack's network


def proxy_command(settings):
    """The configurable-http-proxy command line for ``settings``."""
    from edahub_hub import https

    command = ["configurable-http-proxy", "--ip", "0.0.0.0", "--port", str(PUBLIC_PORT),
               "--api-ip", "0.0.0.0", "--api-port", str(API_PORT),
               # Until the hub has registered its routes (and for any unknown path): the hub.
               "--default-target", HUB_URL, "--error-target", f"{HUB_URL}/hub/error",
               "--log-level", "info"]
    if settings.user_subdomains:
        # Routes name a host (<user>.<the hub's host>), as JupyterHub makes them then.
        command.append("--host-routing")
    if settings.tls_cert:
        command += ["--ssl-cert", https.CERT, "--ssl-key", https.KEY,
                    *https.redirect_options(settings.public_url)]
    return command


def main():
    try:
        settings = load_settings(os.environ, keys=keys_for_service("proxy"))
    except SettingsError as error:
        print(f"edahub: the proxy cannot start: {error}", file=sys.stderr, flush=True)
        return 1
    if settings.tls_cert:
        from edahub_hub import https

        problem = https.tls_problem(settings.tls_cert, settings.tls_key)
        if problem:
            print(f"edahub: the proxy cannot start: {problem}", file=sys.stderr, flush=True)
            return 1
    environ = dict(os.environ, CONFIGPROXY_AUTH_TOKEN=settings.proxy_auth_token)
    command = proxy_command(settings)
    os.execvpe(command[0], command, environ)


if __name__ == "__main__":
    sys.exit(main())
