"""The FAKE Bitbucket wired to a test stack: its accounts, the test CA, the stack's settings.

Where the fake runs: in the test process, on the Docker host's address on the default
bridge (docker0, e.g. 172.17.0.1). The browser and the requests-based client on this host
reach that address directly, and so does the hub in its container (through its
network's gateway), so both sides use the same URL and no name has to resolve anywhere:
the hub is pointed at the fake only by EDAHUB_BITBUCKET_URL and
EDAHUB_BITBUCKET_API_URL, settings operators have too. No compose override is needed.
"""

import datetime
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest

from fake_bitbucket import FakeBitbucket

HUB_UID = 800  # the hub image's user, which must be able to read its key and secret files
ALLOWED_WORKSPACE = "eda-lab"


@dataclass
class TLSFiles:
    """A test CA and a certificate it signed for 127.0.0.1 and localhost."""

    ca: str
    cert: str
    key: str


def docker_host_address(docker_client):
    """This host's address on Docker's default bridge, which containers reach too."""
    bridge = docker_client.networks.get("bridge").attrs
    for config in bridge["IPAM"]["Config"]:
        if config.get("Gateway"):
            return config["Gateway"]
    # Some engines do not record the gateway: ask the kernel for the bridge's address.
    import fcntl
    import socket
    import struct

    name = bridge["Options"].get("com.docker.network.bridge.name", "docker0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        packed = fcntl.ioctl(sock.fileno(), 0x8915,  # SIOCGIFADDR
                             struct.pack("256s", name[:15].encode()))
    return socket.inet_ntoa(packed[20:24])


def hand_to_hub(path, text):
    """Write a secret file that only the hub's user can read, as docs/https.md says."""
    path.write_text(text)
    os.chmod(path, 0o600)
    try:
        os.chown(path, HUB_UID, -1)
    except PermissionError:  # not root: a test file, so let everyone read it instead
        os.chmod(path, 0o644)
    return str(path)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A CA made for this session, and a server certificate and key it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edahub test CA (tests only)")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "cert.pem").write_bytes(cert.public_bytes(pem))
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return TLSFiles(ca=str(folder / "ca.pem"), cert=str(folder / "cert.pem"),
                    key=hand_to_hub(folder / "key.pem", key_pem))


@pytest.fixture(scope="session")
def fake_bitbucket(docker_client):
    """The fake Bitbucket, with accounts for every access rule the tests exercise."""
    fake = FakeBitbucket(docker_host_address(docker_client), client_id="edahub-test-key",
                         client_secret=secrets.token_urlsafe(24), callback_url="")
    # Allowed by username (EDAHUB_BITBUCKET_ALLOWED_USERS).
    fake.add_account("alice", "Alice Analyst", [("alice", "Alice Analyst")])
    fake.add_account("carol", "Carol Coder")
    # Admin (EDAHUB_BITBUCKET_ADMIN_USERS).
    fake.add_account("boss", "Boss Admin")
    # In no allow rule.
    fake.add_account("mallory", "Mallory Outsider", [("other-team", "Other Team")])
    # A member of the allowed workspace, which comes on the second page of 100.
    many = [(f"ws-{n:03d}", f"Workspace {n}") for n in range(120)]
    many[110] = (ALLOWED_WORKSPACE, "EDA Lab")
    fake.add_account("wendy", "Wendy Workspace", many)
    # A workspace whose display name is the allowed slug, but whose slug is not.
    fake.add_account("dora", "Dora Decoy", [("eda-lab-fans", ALLOWED_WORKSPACE)])
    fake.start()
    yield fake
    fake.stop()


def bitbucket_settings(fake, tls, port):
    """(.env overrides, base URL) of a stack on ``port`` with Bitbucket login and HTTPS.

    The consumer's secret goes in as EDAHUB_BITBUCKET_CLIENT_SECRET_FILE, so the
    secret-file path through compose to the hub is exercised too.
    """
    base_url = f"https://127.0.0.1:{port}"
    fake.callback_url = f"{base_url}/hub/oauth_callback"
    secret_file = hand_to_hub(Path(tls.key).parent / "bitbucket-client-secret", fake.client_secret)
    overrides = {
        "EDAHUB_AUTH": "bitbucket",
        "EDAHUB_PUBLIC_URL": base_url,
        "EDAHUB_TLS_CERT": tls.cert,
        "EDAHUB_TLS_KEY": tls.key,
        "EDAHUB_BITBUCKET_CLIENT_ID": fake.client_id,
        "EDAHUB_BITBUCKET_CLIENT_SECRET_FILE": secret_file,
        "EDAHUB_BITBUCKET_URL": fake.site_url,
        "EDAHUB_BITBUCKET_API_URL": fake.api_url,
        "EDAHUB_BITBUCKET_ALLOWED_USERS": "alice,carol",
        "EDAHUB_BITBUCKET_ALLOWED_WORKSPACES": ALLOWED_WORKSPACE,
        "EDAHUB_BITBUCKET_ADMIN_USERS": "boss",
    }
    return overrides, base_url
