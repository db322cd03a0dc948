"""Health checks of the hub's image: `python3 -m edahub_hub.healthcheck [proxy]`.

Without an argument (the image's HEALTHCHECK, hub/Dockerfile): the hub answers
/hub/health on its own port, 8081, whatever the proxy does. With ``proxy`` (the proxy
service's check, compose.yaml): configurable-http-proxy answers its own /_chp_healthz on
the public port, over HTTPS when EDAHUB_TLS_CERT is set. Neither checks the certificate:
it names the public host, not 127.0.0.1.
"""

import os
import ssl
import sys
import urllib.request


def url_for(what):
    if what == "proxy":
        scheme = "https" if os.environ.get("EDAHUB_TLS_CERT") else "http"
        return f"{scheme}://127.0.0.1:8000/_chp_healthz"
    return "http://127.0.0.1:8081/hub/health"


def main(argv=None):
    """Exit 0 when the hub (or the proxy) answers, 1 otherwise."""
    argv = sys.argv[1:] if argv is None else argv
    url = url_for(argv[0] if argv else "hub")
    context = ssl._create_unverified_context() if url.startswith("https") else None
    try:
        with urllib.request.urlopen(url, timeout=4, context=context) as response:
            return 0 if response.status == 200 else 1
    except OSError as e:
        print(f"{url}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
