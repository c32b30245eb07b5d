"""The sealed PDF of a stored consent: rendered from its submission exactly as signed, against
the very form version it was signed on, then sealed with the clinic's certificate."""

from __future__ import annotations

import json
from collections.abc import Callable

from intake.archive.errors import ArchiveError, storage_reason
from intake.archive.models import Consent
from intake.certificates import ClinicSigner
from intake.definition import FormCatalog
from intake.pdf import RenderSettings, render_consent
from intake.pdf.seal import seal_pdf, seal_reason
from intake.submission import validate_submission


def sealed_consent_pdf(
    consent: Consent,
    catalog: FormCatalog,
    signer: Callable[[], ClinicSigner],
    *,
    render: RenderSettings,
    tsa_url: str = "",
    tablet: str = "",
    password: str | None = None,
) -> bytes:
    """The consent's PDF, sealed. Raises `ArchiveError` (worded for staff) when its form changed
    since it was signed, or the sealing certificate cannot be made (`signer` is asked for it
    only once the submission is known to render). `tablet`: the name of the tablet that took it.
    With `password`, the copy is encrypted under it before it is sealed (the patient's copy)."""
    assert consent.submission_json is not None
    data = json.loads(consent.submission_json)
    # The text in the language the patient read (KeyError: no such form, or no current text
    # in that language; the consent stays pending, named by the error's class).
    definition = catalog.get(consent.form_id, consent.language)
    if definition.sha256 != consent.form_sha256:
        raise ArchiveError(
            f"form {consent.form_id} changed since version {consent.form_version} was signed"
        )
    submission = validate_submission(data, catalog)
    try:
        clinic = signer()
    except OSError as error:
        raise ArchiveError(
            "the clinic's sealing certificate cannot be made: "
            + (storage_reason(error, "the certificates folder") or type(error).__name__)
        ) from error
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
