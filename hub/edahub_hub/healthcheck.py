"""The hub container's health check: `python3 -m edahub_hub.healthcheck` (hub/Dockerfile).

Asks the proxy for /hub/health on port 8000, over HTTPS when EDAHUB_TLS_CERT is set.
It checks that the local proxy and hub answer, not the certificate: that names the
public host, not 127.0.0.1.
"""

import os
import ssl
import sys
import urllib.request


def main():
    """Exit 0 when the hub answers through its proxy, 1 otherwise."""
    if os.environ.get("EDAHUB_TLS_CERT"):
        url, context = "https://127.0.0.1:8000/hub/health", ssl._create_unverified_context()
    else:
        url, context = "http://127.0.0.1:8000/hub/health", None
    try:
        with urllib.request.urlopen(url, timeout=4, context=context) as response:
            return 0 if response.status == 200 else 1
    except OSError as e:
        print(f"{url}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
