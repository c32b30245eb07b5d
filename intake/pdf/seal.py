"""Seal a consent PDF with the clinic's certificate (PAdES), and check a seal. No Flask here.

Sealing is the very last write to a consent: a PAdES signature over every byte of the file, so
any later change, even one appended as an incremental update, shows when the seal is checked.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.pdf_utils.crypt import AuthStatus
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation import (
    EmbeddedPdfSignature,
    validate_pdf_signature,
    validate_pdf_timestamp,
)
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from intake.certificates import ClinicCertificate, ClinicSigner
from intake.definition import ConsentDefinition
from intake.languages import N_, Said, said_n
from intake.pdf import ltv
from intake.pdf.metadata import keywords_document_id, parse_document_id
from intake.pdf.pdfa import same_description, without_claim

SEAL_FIELD = "ClinicSeal"
#: Room for the signed attributes, the signature value and the DER framing of the seal, on top of
#: the certificates it embeds; a few times what they take, and pyHanko refuses to write a seal
#: that does not fit rather than truncate it.
SEAL_MARGIN_BYTES = 4096
#: A clinic certificate from a CA may carry either usage; the self-signed one carries both.
SEAL_KEY_USAGE = KeyUsageConstraints(
    key_usage=frozenset({"digital_signature", "non_repudiation"}), match_all_key_usages=False
)
#: What a file too deeply nested to read is reported as (pyHanko's parser recurses per level).
TOO_DEEP = N_("not a readable PDF: its objects are nested too deeply")
#: What may follow a seal and keep it whole: validation data and document timestamps.
LTA_UPDATES = ModificationLevel.LTA_UPDATES

# pyHanko logs each certificate it cannot validate as a warning with the whole traceback; the
# report names the same failure in a line of its own, so those records would only repeat it
# (on the terminal of `intake verify`, in the server's log).
logging.getLogger("pyhanko.sign.validation.generic_cms").setLevel(logging.ERROR)


def seal_reason(definition: ConsentDefinition, document_id: str) -> str:
    """The signature's reason field: what was signed, without any patient details."""
    return f"Consent {definition.id} version {definition.version}, document {document_id}"


def document_id(pdf: bytes, report: SealReport, password: str | None = None) -> str | None:
    """The consent id a checked PDF names: in its seal's reason, else in its keywords."""
    for label, value in report.facts:
        if label == "reason" and (found := parse_document_id(value)):
            return found
    return keywords_document_id(pdf, password)


def seal_pdf(
    pdf: bytes,
    clinic: ClinicSigner,
    *,
    reason: str,
    timestamper_url: str | None = None,
    password: str | None = None,
) -> bytes:
    """The PDF with the clinic's PAdES signature (SHA-256) appended as its last revision.

    With `timestamper_url`, an RFC 3161 timestamp from that authority goes into the signature;
    with a certificate from a CA besides (`clinic.roots`), the seal is PAdES B-LTA (ltv.py): the
    chain's OCSP answers or CRLs are fetched and embedded, then a document timestamp is added.
    With `password`, the PDF is first encrypted (AES-256, revision 6) and the encrypted file is
    sealed, so the copy that travels is both unreadable without the password and tamper-evident.
    """
    if password is not None:
        pdf = _encrypted(pdf, password)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    if password is not None:
        writer.encrypt(password)
    signer = PdfSigner(
        PdfSignatureMetadata(
            field_name=SEAL_FIELD,
            md_algorithm="sha256",
            subfilter=SigSeedSubFilter.PADES,
            reason=reason,
            **(ltv.signing_options(clinic.roots) if timestamper_url and clinic.roots else {}),
        ),
        signer=clinic.signer,
        timestamper=HTTPTimeStamper(timestamper_url) if timestamper_url else None,
    )
    room = _room_for_seal(clinic, timestamper_url)
    if timestamper_url:
        # pyHanko's own entry point: it releases what the timestamp's network calls opened.
        return signer.sign_pdf(writer, bytes_reserved=room).getvalue()
    signed = _thread_loop().run_until_complete(signer.async_sign_pdf(writer, bytes_reserved=room))
    return signed.getvalue()


class _KeptLoop:
    """A thread's own event loop, closed when the thread ends (and its locals go)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        self.loop.close()


_LOOPS = threading.local()


def _thread_loop() -> asyncio.AbstractEventLoop:
    """An event loop of this thread's own, for seals that open nothing on the network:
    pyHanko's `sign_pdf` makes and closes a loop for each seal (some 0.15 ms of CPU, its
    self-pipe's sockets opened and closed each time)."""
    kept = getattr(_LOOPS, "kept", None)
    if kept is None:
        kept = _LOOPS.kept = _KeptLoop()
    return kept.loop


def _room_for_seal(clinic: ClinicSigner, timestamper_url: str | None) -> int | None:
    """Hex digits to reserve for the signature, or None to let pyHanko estimate.

    pyHanko estimates by making a throwaway signature first, which doubles the cost of sealing.
    Without a timestamp the size is known up front; a timestamp authority's answer is not, and
    its network round trip outweighs the estimate anyway.
    """
    if timestamper_url:
        return None
    embedded = sum(len(certificate.dump()) for certificate in clinic.signer.cert_registry)
    return 2 * (embedded + SEAL_MARGIN_BYTES)


def _encrypted(pdf: bytes, password: str) -> bytes:
    """A full rewrite of the PDF, encrypted with AES-256 (security handler revision 6). PDF/A
    forbids encryption, so the copy no longer claims to be PDF/A."""
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(without_claim(pdf))))
    # The PDF 2.0 MAC extension (ISO 32004) is left off: few readers on a patient's phone know
    # it, and the seal already makes any change evident.
    writer.encrypt(password, password, pdf_mac=False)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass
class SealReport:
    """What checking a sealed PDF found: plain-language facts, and every reason it fails."""

    facts: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: The PAdES baseline level found ("B-B" ... "B-LTA"), and why it is no higher.
    level: str = ""
    short_of: list[str] = field(default_factory=list)
    timestamped: bool = False

    @property
    def holds(self) -> bool:
        return not self.problems


def check_seal(
    pdf: bytes,
    trusted: list[ClinicCertificate],
    *,
    password: str | None = None,
    roots: list[asn1_x509.Certificate] | None = None,
) -> SealReport:
    """Check that the seal is intact, covers the whole file, and is made with a trusted certificate;
    and name the PAdES level it reaches (`report.level`, ltv.py).

    `trusted` is the list of certificates a seal may be made with: every one the clinic has kept,
    or the one a person checking the file was given. `roots`: the CA certificates the validation
    data of a B-LT or B-LTA seal is checked against, offline (None: not checked).
    """
    report = SealReport()
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        if reader.encrypted:
            if password is None:
                report.problems.append(
                    N_("the file is encrypted: give its password with --password")
                )
                return report
            if reader.decrypt(password).status == AuthStatus.FAILED:
                report.problems.append(N_("the password does not open this file"))
                return report
        signatures = reader.embedded_regular_signatures
    except (PdfError, ValueError) as exc:
        report.problems.append(Said(N_("not a readable PDF: %(why)s"), why=str(exc)))
        return report
    except RecursionError:
        report.problems.append(TOO_DEEP)
        return report
    if not signatures:
        report.problems.append(
            N_("the file carries no seal: it was never sealed, or the seal was removed")
        )
        return report

    try:
        _check_signatures(pdf, signatures, trusted, report, password)
        _check_level(reader, signatures[-1], report, roots)
    except RecursionError:
        report.problems.append(TOO_DEEP)
        return report
    if report.holds:
        report.facts.append((N_("covers"), N_("the whole file, unchanged since sealing")))
    return report


def _check_signatures(
    pdf: bytes,
    signatures: list,
    trusted: list[ClinicCertificate],
    report: SealReport,
    password: str | None = None,
) -> None:
    """Add what each embedded signature shows, and what is wrong with it, to `report`."""
    context = ValidationContext(trust_roots=[c.asn1 for c in trusted], allow_fetching=False)
    for signature in signatures:
        status = validate_pdf_signature(
            signature, signer_validation_context=context, key_usage_settings=SEAL_KEY_USAGE
        )
        signer = ClinicCertificate.of(x509.load_der_x509_certificate(status.signing_cert.dump()))
        report.facts.append((N_("sealed with"), f"{signer.subject} (SHA-256 {signer.sha256})"))
        if "/Reason" in signature.sig_object:
            report.facts.append((N_("reason"), str(signature.sig_object["/Reason"])))
        if status.signer_reported_dt is not None:
            report.facts.append((N_("sealed at"), status.signer_reported_dt.isoformat()))

        if not status.intact:
            report.problems.append(
                N_("the content was changed after sealing: its SHA-256 no longer matches the seal")
            )
        elif not status.valid:
            report.problems.append(N_("the seal's signature does not match its certificate"))
        if status.coverage != SignatureCoverageLevel.ENTIRE_FILE and not _archival_updates(
            pdf, signature, status, password
        ):
            added = len(pdf) - (signature.byte_range[2] + signature.byte_range[3])
            report.problems.append(
                said_n(
                    "the file was changed after sealing: %(num)s byte added after the sealed "
                    "part (an incremental update, or data appended)",
                    "the file was changed after sealing: %(num)s bytes added after the sealed "
                    "part (an incremental update, or data appended)",
                    added,
                )
            )
        if signer.sha256 not in {c.sha256 for c in trusted}:
            report.problems.append(
                Said(
                    N_("sealed with a certificate that is not the clinic's: %(subject)s"),
                    subject=f"{signer.subject} (SHA-256 {signer.sha256})",
                )
            )
        elif not status.trusted:
            indication = status.trust_problem_indic
            report.problems.append(
                Said(
                    N_("the clinic certificate does not validate: %(why)s"),
                    why=indication.name.lower().replace("_", " "),
                )
                if indication
                else N_("the clinic certificate does not validate")
            )

        timestamp = status.timestamp_validity
        if timestamp is not None:
            authority = x509.load_der_x509_certificate(timestamp.signing_cert.dump())
            report.facts.append(
                (
                    N_("timestamp"),
                    Said(
                        N_("%(when)s by %(authority)s")
                        if timestamp.trusted
                        else N_("%(when)s by %(authority)s (an authority not in the trusted list)"),
                        when=timestamp.timestamp,
                        authority=authority.subject.rfc4514_string(),
                    ),
                )
            )
            if not (timestamp.intact and timestamp.valid):
                report.problems.append(N_("the timestamp does not match the seal"))
        report.timestamped = timestamp is not None


def _archival_updates(
    pdf: bytes,
    signature: EmbeddedPdfSignature,
    status: PdfSignatureStatus,
    password: str | None = None,
) -> bool:
    """Whether all that follows the sealed revision is validation data and document timestamps
    (B-LT, B-LTA), the last of them covering the rest of the file."""
    if status.coverage != SignatureCoverageLevel.ENTIRE_REVISION or not status.docmdp_ok:
        return False
    if status.modification_level is None or status.modification_level > LTA_UPDATES:
        return False
    sealed_end = signature.byte_range[2] + signature.byte_range[3]
    if not pdf.rstrip(b"\r\n").endswith(b"%%EOF"):
        return False  # bytes after the last revision
    if not same_description(pdf[:sealed_end], pdf, password):
        return False
    timestamps = signature.reader.embedded_timestamp_signatures
    if not timestamps:
        return True
    last = timestamps[-1]
    covered = validate_pdf_timestamp(last, validation_context=ValidationContext(trust_roots=[]))
    if not (covered.intact and covered.valid):
        return False
    # The last timestamp's own validation data may follow it.
    return covered.coverage == SignatureCoverageLevel.ENTIRE_FILE or (
        covered.coverage == SignatureCoverageLevel.ENTIRE_REVISION
        and covered.modification_level is not None
        and covered.modification_level <= LTA_UPDATES
    )


def _check_level(
    reader: PdfFileReader,
    signature: EmbeddedPdfSignature,
    report: SealReport,
    roots: list[asn1_x509.Certificate] | None,
) -> None:
    """Name the PAdES level of the (last) seal, and add what breaks it to the problems."""
    level = ltv.assess(reader, signature, report.timestamped, roots)
    report.level = level.level
    report.short_of = level.short_of
    report.facts.append((N_("level"), f"PAdES {level.level}"))
    report.problems += level.problems
