"""The clinic's sealing certificate: loaded from a PKCS#12 file, or made once and kept.

Layout of the certificates folder (the only code that knows it):

- `current-seal.pem`: the self-signed certificate and its private key, made on first use when no
  PKCS#12 file is configured (readable by its owner only);
- `<sha256>.pem`: every certificate the clinic has ever sealed with, named by its fingerprint and
  never deleted, so a consent sealed years ago still verifies after the certificate is replaced;
- `ca-<sha256>.pem`: every CA certificate a PKCS#12 file brought with the clinic's (its chain,
  and for instance the timestamp authority's root): the roots among them are what a seal's
  validation data (B-LT, B-LTA) is checked against, without any network.

No Flask here: the CLI, the web app and the tests call the same functions.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from intake.safe_write import make_folders, write_file

if TYPE_CHECKING:  # pyHanko is imported when a signer is made, not by every `intake` command
    from pyhanko.sign.signers import SimpleSigner

log = logging.getLogger(__name__)

CURRENT_SEAL = "current-seal.pem"
#: How the name of a kept CA certificate starts (`ca-<sha256>.pem`).
AUTHORITY_PREFIX = "ca-"
#: A consent is kept for years (a minor's until 21 plus the retention setting); the self-signed
#: certificate must outlive every consent it seals, or their seals would read as expired.
SELF_SIGNED_YEARS = 40
DEFAULT_CLINIC_NAME = "Clinic"
#: The name of any file the folder keeps (`current-seal.pem`, `<sha256>.pem`).
_FILE_NAME = re.compile(r"[A-Za-z0-9._-]+\.pem")


class CertificateError(Exception):
    """The configured certificate cannot be used (unreadable file, wrong password, no key)."""


@dataclass(frozen=True)
class ClinicCertificate:
    """A certificate the clinic seals consents with, as a person checking one would name it."""

    #: The subject as an RFC 4514 string ("CN=Clinic consent seal,O=Clinic").
    subject: str
    #: SHA-256 of the DER certificate, lowercase hex: what the Signing record page prints.
    sha256: str
    certificate: x509.Certificate

    @classmethod
    def of(cls, certificate: x509.Certificate) -> ClinicCertificate:
        return cls(
            subject=certificate.subject.rfc4514_string(),
            sha256=certificate.fingerprint(hashes.SHA256()).hex(),
            certificate=certificate,
        )

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def asn1(self) -> asn1_x509.Certificate:
        """The same certificate as pyHanko takes it."""
        return _asn1_certificate(self.certificate)


@dataclass(frozen=True)
class ClinicSigner:
    """The current sealing certificate with its private key, ready for `seal_pdf()`."""

    certificate: ClinicCertificate
    #: pyHanko's signer holding the key; kept so each consent does not reload it.
    signer: SimpleSigner
    #: The self-signed CA certificates the PKCS#12 file brought (none for the self-signed
    #: seal): what the validation data of a B-LTA seal is gathered and checked against.
    roots: tuple[asn1_x509.Certificate, ...] = ()


def clinic_signer(
    certificates_dir: Path,
    *,
    p12: Path | None = None,
    p12_password: str = "",
    clinic_name: str = DEFAULT_CLINIC_NAME,
) -> ClinicSigner:
    """The clinic's signer: from the PKCS#12 file when one is given, else the self-signed one.

    Either way the certificate is kept under `certificates_dir`, so that it stays trusted by
    `intake verify` after it is replaced.
    """
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from intake.seal_signer import SealSigner

    if p12 is not None:
        key, certificate, chain = _read_p12(p12, p12_password)
    else:
        key, certificate = _self_signed(certificates_dir, clinic_name)
        chain = []
    keep_certificate(certificates_dir, certificate)
    for authority in chain:
        keep_certificate(certificates_dir, authority, prefix=AUTHORITY_PREFIX)
    return ClinicSigner(
        certificate=ClinicCertificate.of(certificate),
        signer=SealSigner(
            signing_cert=_asn1_certificate(certificate),
            signing_key=asn1_keys.PrivateKeyInfo.load(
                key.private_bytes(
                    serialization.Encoding.DER,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            ),
            cert_registry=SimpleCertificateStore.from_certs(
                [_asn1_certificate(c) for c in [certificate, *chain]]
            ),
        ),
        roots=tuple(_asn1_certificate(c) for c in chain if _self_issued(c)),
    )


def _self_issued(certificate: x509.Certificate) -> bool:
    return certificate.issuer == certificate.subject


def kept_roots(certificates_dir: Path) -> list[asn1_x509.Certificate]:
    """The self-signed CA certificates kept (`ca-<sha256>.pem`), as pyHanko takes them."""
    roots = []
    for path in certificate_files(certificates_dir):
        if path.name.startswith(AUTHORITY_PREFIX):
            certificate = x509.load_pem_x509_certificate(path.read_bytes())
            if _self_issued(certificate):
                roots.append(_asn1_certificate(certificate))
    return roots


def kept_certificates(certificates_dir: Path) -> list[ClinicCertificate]:
    """Every certificate the clinic has sealed with (none when the folder does not exist)."""
    return [
        ClinicCertificate.of(x509.load_pem_x509_certificate(path.read_bytes()))
        for path in certificate_files(certificates_dir)
        if path.name != CURRENT_SEAL and not path.name.startswith(AUTHORITY_PREFIX)
    ]


def certificate_files(certificates_dir: Path) -> list[Path]:
    """Every file the folder keeps, the self-signed key's too: what a backup copies."""
    return sorted(certificates_dir.glob("*.pem"))


def is_certificate_file(name: str) -> bool:
    """Whether `name` is one the certificates folder could keep (a backup's entry, say)."""
    return _FILE_NAME.fullmatch(name) is not None


def restore_certificate_file(certificates_dir: Path, name: str, data: bytes) -> None:
    """Put back a file of a backup's certificates folder. A kept certificate already here is
    never overwritten; a different self-signed one is replaced, and stays trusted."""
    make_folders(certificates_dir)
    target = certificates_dir / name
    if name == CURRENT_SEAL:
        if target.exists() and target.read_bytes() != data:
            keep_certificate(certificates_dir, x509.load_pem_x509_certificate(target.read_bytes()))
        write_file(target, data)
    elif not target.exists():
        write_file(target, data, mode=0o644, replace=False)


def keep_certificate(
    certificates_dir: Path, certificate: x509.Certificate, *, prefix: str = ""
) -> Path:
    """Store a certificate as `<prefix><sha256>.pem` unless it is already there; never
    overwrite one."""
    kept = ClinicCertificate.of(certificate)
    path = certificates_dir / f"{prefix}{kept.sha256}.pem"
    if not path.exists():
        make_folders(certificates_dir)
        # Linked into place only if absent: two processes never replace each other's file.
        write_file(path, kept.pem, mode=0o644, replace=False)
    return path


def read_certificate(path: Path) -> ClinicCertificate:
    """A certificate from a PEM or DER file, such as one given to `intake verify --trust`."""
    data = path.read_bytes()
    try:
        if b"-----BEGIN" in data:
            return ClinicCertificate.of(x509.load_pem_x509_certificate(data))
        return ClinicCertificate.of(x509.load_der_x509_certificate(data))
    except ValueError as exc:
        raise CertificateError(f"{path}: not a certificate (PEM or DER): {exc}") from exc


def _read_p12(
    path: Path, password: str
) -> tuple[pkcs12.PKCS12PrivateKeyTypes, x509.Certificate, list[x509.Certificate]]:
    try:
        key, certificate, chain = pkcs12.load_key_and_certificates(
            path.read_bytes(), password.encode() if password else None
        )
    except OSError as exc:
        raise CertificateError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise CertificateError(f"{path}: not a PKCS#12 file, or the wrong password") from exc
    if key is None or certificate is None:
        raise CertificateError(f"{path}: holds no private key and certificate")
    return key, certificate, list(chain)


def _self_signed(
    certificates_dir: Path, clinic_name: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The self-signed certificate under `certificates_dir`, made on first use."""
    path = certificates_dir / CURRENT_SEAL
    if not path.exists():
        key, certificate = _make_self_signed(clinic_name)
        pem = certificate.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        make_folders(certificates_dir)
        if write_file(path, pem, mode=0o600, replace=False):
            made = ClinicCertificate.of(certificate)
            log.warning(
                "No SIGNING_P12 configured: made a self-signed clinic certificate %s "
                "(SHA-256 %s) in %s; consents are sealed with it",
                made.subject,
                made.sha256,
                path,
            )
    data = path.read_bytes()
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateError(f"{path}: not the elliptic-curve key this folder keeps")
    return key, x509.load_pem_x509_certificate(data)


def _make_self_signed(clinic_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{clinic_name} consent seal"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, clinic_name),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * SELF_SIGNED_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            # A document seal: digitalSignature and nonRepudiation (contentCommitment), no more.
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
