"""Certificates the tests make: a clinic's PKCS#12 file and a timestamp authority's key pair."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

P12_PASSWORD = "p12 secret"


def self_signed(
    common_name: str, days: int, usage: x509.ExtensionType
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """An RSA key and a self-signed certificate for it, valid from yesterday for `days` days,
    with one critical extension saying what it is for."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def make_p12(path: Path, common_name: str = "Skin Heaven Medical Spa") -> x509.Certificate:
    """A PKCS#12 file (password `P12_PASSWORD`, mode 0600) as a clinic would get one: an RSA key
    and a certificate for signing."""
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    certificate, key = self_signed(common_name, 365, usage)
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"clinic",
            key,
            certificate,
            None,
            serialization.BestAvailableEncryption(P12_PASSWORD.encode()),
        )
    )
    path.chmod(0o600)
    return certificate


def make_timestamp_authority() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A timestamp authority's certificate (time stamping only) and key."""
    usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING])
    return self_signed("Loopback timestamp authority", 30, usage)
