"""PAdES baseline levels: what a seal needs to prove itself for years, and which level a sealed
file reaches. No Flask here.

- B-B: the signature alone (what the self-signed default without a timestamp authority gives);
- B-T: with an RFC 3161 timestamp of the signature (TSA_URL);
- B-LT: with the validation data in the file (the chain, OCSP answers or CRLs, in the DSS), so no
  network is needed to check the certificate was good when it sealed;
- B-LTA: with a document timestamp over all that, which `intake archive timestamp` renews before
  its own certificate expires.

B-LT needs a certificate from a CA that publishes revocation status: the self-signed seal has
none, so with it B-T is the most a seal can reach.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass, field
from datetime import datetime

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.general import extract_certificate_info
from pyhanko.sign.signers import PdfTimeStamper
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation import DocumentSecurityStore, EmbeddedPdfSignature
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from intake.languages import N_, Said

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")

# pyHanko logs every step of the long-term validation it cannot take; the level's reason says
# the same in one line.
logging.getLogger("pyhanko.sign.validation.ades").setLevel(logging.ERROR)


def signing_options(roots: tuple[asn1_x509.Certificate, ...]) -> dict:
    """What `PdfSignatureMetadata` takes for a B-LTA seal: the validation data gathered (online,
    at sealing) against `roots` and embedded, then a document timestamp."""
    return {
        "embed_validation_info": True,
        "use_pades_lta": True,
        "validation_context": ValidationContext(trust_roots=list(roots), allow_fetching=True),
    }


def expected_level(ca_certificate: bool, timestamp_authority: bool) -> tuple[str, str]:
    """The level the settings ask for, and why it is no higher ("" at B-LTA)."""
    if not timestamp_authority:
        return "B-B", "no timestamp authority is set (TSA_URL)"
    if not ca_certificate:
        return "B-T", (
            "the self-signed certificate has no OCSP responder or CRL to prove it was good, so "
            "no validation data can be embedded (set SIGNING_P12 to a CA's certificate)"
        )
    return "B-LTA", ""


@dataclass
class LevelReport:
    """The level a seal reaches, and why it reaches no higher."""

    level: str = "B-B"
    #: Why the next level is not reached, in plain words.
    short_of: list[str] = field(default_factory=list)
    #: What breaks the level found (validation data that does not prove the seal offline).
    problems: list[str] = field(default_factory=list)


def _revocation_data(reader: PdfFileReader) -> bool:
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return False
    return bool(dss.ocsps or dss.crls)


def assess(
    reader: PdfFileReader,
    signature: EmbeddedPdfSignature,
    timestamped: bool,
    roots: list[asn1_x509.Certificate] | None,
) -> LevelReport:
    """The level `signature` reaches in the file. From B-LT on, the validation data is checked
    against `roots` with no network at all (pyHanko's AdES long-term validation); with `roots`
    None, the level is named from what the file carries, unchecked."""
    report = LevelReport()
    if not timestamped:
        report.short_of.append(N_("the seal carries no timestamp"))
        return report
    report.level = "B-T"
    if not _revocation_data(reader):
        report.short_of.append(N_("the file carries no validation data (no OCSP answer or CRL)"))
        return report
    report.level = "B-LT"
    later = [
        ts
        for ts in reader.embedded_timestamp_signatures
        if ts.signed_revision > signature.signed_revision
    ]
    if later:
        report.level = "B-LTA"
    else:
        report.short_of.append(N_("no document timestamp covers the validation data"))
    if roots is None:
        return report
    if not roots:
        report.problems.append(
            Said(
                N_("the validation data cannot be checked: no CA certificate is kept (%(files)s)"),
                files="CERTIFICATES_DIR/ca-*.pem",
            )
        )
        return report
    result = asyncio.run(ades_lta_validation(signature, _offline_spec(roots)))
    if result.ades_subindic != AdESPassed.OK:
        report.problems.append(
            Said(
                N_(
                    "the validation data in the file does not prove the seal without "
                    "network: %(why)s"
                ),
                why=result.ades_subindic.name.lower().replace("_", " "),
            )
        )
    return report


def _offline_spec(roots: list[asn1_x509.Certificate]) -> PdfSignatureValidationSpec:
    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(trust_roots=roots),
                revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )


def add_archival_timestamp(
    pdf: bytes, tsa_url: str, roots: list[asn1_x509.Certificate] | tuple = ()
) -> bytes:
    """`pdf` with a new document timestamp from `tsa_url` appended as a revision, after the
    validation data of the last one (its chain, OCSP answers or CRLs, fetched now against
    `roots`): the B-LTA chain renewed before that timestamp's certificate expires."""
    reader = PdfFileReader(io.BytesIO(pdf))
    context = ValidationContext(trust_roots=list(roots), allow_fetching=True)
    stamper = PdfTimeStamper(HTTPTimeStamper(tsa_url))
    out = stamper.update_archival_timestamp_chain(reader, context, in_place=False)
    return out.getvalue()


def last_timestamp_expiry(pdf: bytes) -> datetime | None:
    """When the certificate of the file's last timestamp (its last document timestamp, else the
    seal's own) expires; None for a file with no timestamp."""
    reader = PdfFileReader(io.BytesIO(pdf))
    if reader.embedded_timestamp_signatures:
        token = reader.embedded_timestamp_signatures[-1].signed_data
    elif reader.embedded_regular_signatures:
        signer_info = reader.embedded_regular_signatures[-1].signer_info
        token = next(extract_tst_data_iter(signer_info, signed=False), None)
        if token is None:
            return None
    else:
        return None
    certificate = extract_certificate_info(token).signer_cert
    return certificate["tbs_certificate"]["validity"]["not_after"].native
