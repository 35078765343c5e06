"""Throwaway TLS material generated at start with ``cryptography``.

A CA, a server certificate for ``IP:127.0.0.1`` and ``DNS:localhost`` signed by it, and an RSA key
plus self-signed certificate for the JWT bearer flow (salesforce.md section 2.3: "Sign with the
private key whose X.509 certificate is uploaded to the app"). Files go to a temp dir, never the repo.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class CertBundle:
    """Paths and PEM texts of the generated material."""

    ca_file: Path
    server_cert_file: Path
    server_key_file: Path
    server_key_pem: str
    jwt_key_file: Path
    jwt_key_pem: str
    jwt_cert_pem: str


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _cert(
    subject: str, key: rsa.RSAPrivateKey, issuer: str, issuer_key: rsa.RSAPrivateKey, ca: bool
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def generate(directory: Path) -> CertBundle:
    """Create the CA, the server certificate and the JWT key in ``directory``."""
    ca_key, server_key, jwt_key = _key(), _key(), _key()
    ca_cert = _cert("sf360 Salesforce Emulator CA", ca_key, "sf360 Salesforce Emulator CA", ca_key, ca=True)
    server_cert = _cert("127.0.0.1", server_key, "sf360 Salesforce Emulator CA", ca_key, ca=False)
    jwt_cert = _cert("sf360 emulator JWT", jwt_key, "sf360 emulator JWT", jwt_key, ca=False)
    pem = serialization.Encoding.PEM
    ca_file = directory / "emulator-ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(pem))
    server_cert_file = directory / "server-cert.pem"
    server_cert_file.write_bytes(server_cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    server_key_file = directory / "server-key.pem"
    server_key_pem = _pem_key(server_key)
    server_key_file.write_text(server_key_pem)
    jwt_key_pem = _pem_key(jwt_key)
    jwt_key_file = directory / "jwt-private-key.pem"
    jwt_key_file.write_text(jwt_key_pem)
    for f in (server_key_file, jwt_key_file):
        f.chmod(0o600)
    return CertBundle(
        ca_file=ca_file,
        server_cert_file=server_cert_file,
        server_key_file=server_key_file,
        server_key_pem=server_key_pem,
        jwt_key_file=jwt_key_file,
        jwt_key_pem=jwt_key_pem,
        jwt_cert_pem=jwt_cert.public_bytes(pem).decode(),
    )
