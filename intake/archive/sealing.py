"""The sealed PDF of a stored consent: rendered from its submission exactly as signed, against
the very form version it was signed on, then sealed with the clinic's certificate."""

from __future__ import annotations

import json
from collections.abc import Callable

from intake.archive.errors import ArchiveError, os_phrase
from intake.archive.models import Consent
from intake.certificates import ClinicSigner
from intake.definition import FormCatalog
from intake.languages import N_, Said
from intake.pdf import RenderSettings, render_consent
from intake.pdf.seal import seal_pdf, seal_reason
from intake.submission import Submission, validate_submission

#: Why a consent's PDF is not made: the form's text is no longer the one the patient signed.
FORM_CHANGED = N_("form %(form)s changed since version %(version)s was signed")
#: Why a PDF is not made: the clinic's sealing certificate cannot be made, since its folder
#: (`intake.archive.errors.CERTIFICATES`) fails as `what` says ("is full").
NO_CERTIFICATE = N_(
    "the clinic's sealing certificate cannot be made: the certificates folder %(what)s"
)


def certificate_failure(error: OSError) -> ArchiveError:
    """The sealing certificate cannot be made or read because its folder fails, for staff."""
    return ArchiveError(Said(NO_CERTIFICATE, what=os_phrase(error)))


def sealed_consent_pdf(
    consent: Consent,
    catalog: FormCatalog,
    signer: Callable[[], ClinicSigner],
    *,
    render: RenderSettings,
    tsa_url: str = "",
    tablet: str = "",
    password: str | None = None,
    submission: Submission | None = None,
) -> bytes:
    """The consent's PDF, sealed. Raises `ArchiveError` (worded for staff) when its form changed
    since it was signed, or the sealing certificate cannot be made (`signer` is asked for it
    only once the submission is known to render). `tablet`: the name of the tablet that took it.
    With `password`, the copy is encrypted under it before it is sealed (the patient's copy).
    `submission`: the one the row was made from, when the caller holds it (a submit that just
    committed the row), used only if its SHA-256 is the row's; else it is read from the row."""
    assert consent.submission_json is not None
    # The text in the language the patient read (KeyError: no such form, or no current text
    # in that language; the consent stays pending, named by the error's class).
    definition = catalog.get(consent.form_id, consent.language)
    if definition.sha256 != consent.form_sha256:
        raise ArchiveError(Said(FORM_CHANGED, form=consent.form_id, version=consent.form_version))
    if submission is None or submission.sha256 != consent.submission_sha256:
        submission = validate_submission(json.loads(consent.submission_json), catalog)
    try:
        clinic = signer()
    except OSError as error:
        raise certificate_failure(error) from error
    pdf = render_consent(
        definition,
        submission,
        settings=render,
        document_id=consent.id,
        seal=clinic.certificate,
        tablet=tablet,
    )
    return seal_pdf(
        pdf,
        clinic,
        reason=seal_reason(definition, consent.id),
        timestamper_url=tsa_url or None,
        password=password,
    )
