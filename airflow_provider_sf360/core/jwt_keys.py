"""A key pair for the JWT bearer flow: an RSA private key for the connection and a certificate for the app.

Pure module, no Airflow import; only the command that generates keys imports it (``cryptography.x509``).
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

DEFAULT_CERTIFICATE_DAYS = 730


def generate_jwt_key_pair(
    common_name: str, *, days: int = DEFAULT_CERTIFICATE_DAYS, bits: int = 2048
) -> tuple[str, str]:
    """A new RSA private key (PKCS#8 PEM) and a self-signed X.509 certificate (PEM) for the app.

    :param common_name: the certificate's subject CN (shown in Salesforce's app settings).
    :param days: how long the certificate is valid.
    :param bits: the RSA key size.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()
