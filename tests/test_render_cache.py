"""The form's own paragraphs laid out once and reused (`intake/pdf/layout_cache.py`, the font
subsets of `fonts.py`): never another form text's, language's or page size's; the same bytes
warm as in a fresh process; bounded; safe under threads; and no patient's words kept."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pikepdf
from cryptography import x509
from pypdf import PdfReader

from intake.certificates import ClinicCertificate
from intake.config import PROJECT_ROOT
from intake.definition import FormCatalog
from intake.pdf import render_consent
from intake.pdf.bullets import _kept as _kept_bullets
from intake.pdf.layout_cache import (
    LAYOUTS_KEPT,
    forget_layouts,
    form_layout,
    kept_layouts,
)
from intake.pdf.render import RenderSettings
from intake.submission import validate_submission
from tests.support.app import B12, DEMO_DOCUMENT_ID, FORMS_DIR, demo_submission
from tests.support.certificates import self_signed
from tests.support.pdf import pdf_words

CREATED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
#: Patients whose names give the fonts different characters past ASCII, in different orders.
NAMES = ("Zoë O'Brien", "Łukasz Żółć", "王小明", "Ana María Núñez", "Jo Smith")


def patient(name: str, language: str = "en") -> dict[str, Any]:
    data = demo_submission()
    data["patient"]["legal_name"] = data["signature"]["typed_name"] = name
    if language != "en":
        data["language"] = language
    return data


def render(data: dict[str, Any], catalog: FormCatalog, page_size: str = "letter") -> bytes:
    submission = validate_submission(data, catalog)
    definition = catalog.get(submission.form_id, submission.language)
    return render_consent(
        definition,
        submission,
        settings=RenderSettings(page_size=page_size),
        document_id=DEMO_DOCUMENT_ID,
        created=CREATED,
    )


#: Renders the cases given (name, language, page size) in a process of its own, in order, and
#: prints each PDF in hex, one a line.
FRESH = """
import json, sys
from tests.test_render_cache import NAMES, patient, render
from intake.certificates import ClinicCertificate
from intake.definition import FormCatalog
from tests.support.app import FORMS_DIR
catalog = FormCatalog(FORMS_DIR)
order = json.loads(sys.argv[1])
for name, language, page_size in order:
    print(render(patient(name, language), catalog, page_size).hex())
"""

CASES = [
    *[(name, "en", "letter") for name in NAMES],
    # Spanish text has letters past ASCII all through: a name with some of them (í, ú, ñ)
    # gives them other codes in the document than a name with none.
    (NAMES[3], "es", "letter"),
    (NAMES[4], "es", "letter"),
    (NAMES[0], "es", "letter"),
    (NAMES[1], "en", "a4"),
]


def fresh_process(order: list[tuple[str, str, str]]) -> list[bytes]:
    result = subprocess.run(
        [sys.executable, "-c", FRESH, json.dumps(order)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [bytes.fromhex(line) for line in result.stdout.split()]


def test_a_warm_render_is_the_bytes_of_a_fresh_process(catalog: FormCatalog):
    """A fresh process (every layout, drawing and font subset made anew) renders each patient
    in the order given; this process renders them warm, in the reverse order after others, so
    each reuses paragraphs drawn for another patient whose characters came in another order."""
    forget_layouts()
    for name in reversed(NAMES):
        render(patient(name), catalog)
    warm = {case: render(patient(case[0], case[1]), catalog, case[2]) for case in reversed(CASES)}
    cold = fresh_process(CASES)
    assert len(cold) == len(CASES)
    for case, pdf in zip(CASES, cold, strict=True):
        assert warm[case] == pdf, case
    # And the same input twice in one process is the same bytes.
    assert render(patient(NAMES[2]), catalog) == warm[(NAMES[2], "en", "letter")]
    # Different patients are different files, each with its own name in it.
    assert len({warm[case] for case in CASES}) == len(CASES)
    for name in NAMES:
        assert name.split()[0] in pdf_words(warm[(name, "en", "letter")])


def test_a_changed_word_in_the_form_changes_the_pdf(tmp_path: Path, catalog: FormCatalog):
    """One word of the form's TOML changed in a copy of the forms folder: its PDF says the new
    word, never the old one laid out for the original, and the original still says its own."""
    forms = tmp_path / "forms"
    shutil.copytree(FORMS_DIR, forms)
    toml = forms / f"{B12}.toml"
    text = toml.read_text(encoding="utf-8")
    old = "It mainly supports the proper functioning"
    assert text.count(old) == 1
    toml.write_text(text.replace(old, "It chiefly supports the proper functioning"), "utf-8")
    changed = FormCatalog(forms)
    original = render(patient(NAMES[0]), catalog)
    edited = render(patient(NAMES[0]), changed)
    assert changed.get(B12).sha256 != catalog.get(B12).sha256
    assert edited != original
    assert "It chiefly supports" in pdf_words(edited)
    assert "It mainly supports" not in pdf_words(edited)
    # Back to the original text: its own words, the very bytes it had.
    assert render(patient(NAMES[0]), catalog) == original
    assert "It mainly supports" in pdf_words(original)


def test_spanish_english_and_page_sizes_each_have_their_own_layout(catalog: FormCatalog):
    forget_layouts()
    english = render(patient(NAMES[0]), catalog)
    spanish = render(patient(NAMES[0], "es"), catalog)
    a4 = render(patient(NAMES[0]), catalog, "a4")
    sha, es_sha = catalog.get(B12).sha256, catalog.get(B12, "es").sha256
    assert sha != es_sha
    assert set(kept_layouts()) == {
        (sha, "en", "letter"),
        (es_sha, "es", "letter"),
        (sha, "en", "a4"),
    }
    assert len({english, spanish, a4}) == 3
    en_words, es_words = pdf_words(english), pdf_words(spanish)
    assert "What is vitamin B12?" in en_words and "What is vitamin B12?" not in es_words
    assert "¿Qué es la vitamina B12?" in es_words
    first_en = PdfReader(io.BytesIO(english)).pages[0].mediabox
    first_a4 = PdfReader(io.BytesIO(a4)).pages[0].mediabox
    assert (round(first_en.width), round(first_a4.width)) == (612, 595)


def test_the_layouts_kept_are_bounded_and_the_least_recently_used_goes(catalog: FormCatalog):
    forget_layouts()
    sha = catalog.get(B12).sha256
    first = render(patient(NAMES[0]), catalog)
    for n in range(LAYOUTS_KEPT + 5):
        form_layout(f"{n:064x}", "en", "letter")
    kept = kept_layouts()
    assert len(kept) == LAYOUTS_KEPT
    assert (sha, "en", "letter") not in kept
    assert kept[-1] == (f"{LAYOUTS_KEPT + 4:064x}", "en", "letter")
    # Laid out anew, the consent is the same file.
    assert render(patient(NAMES[0]), catalog) == first


def test_threads_rendering_at_once_write_what_one_thread_writes(catalog: FormCatalog):
    """Eight threads (as gunicorn's gthread workers run renders), every layout new, each
    patient rendered by several threads at once: each PDF is the one rendered alone."""
    forget_layouts()
    cases = [NAMES[n % len(NAMES)] for n in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda name: render(patient(name), catalog), cases))
    alone = {name: render(patient(name), catalog) for name in NAMES}
    for name, pdf in zip(cases, together, strict=True):
        assert pdf == alone[name], name


def test_no_patient_words_are_kept(catalog: FormCatalog):
    forget_layouts()
    name = "Quentin Zyxwvut"
    data = patient(name)
    data["health"]["allergies"] = "Penicillin-zyxwvut rash"
    pdf = render(data, catalog)
    assert "Zyxwvut" in pdf_words(pdf)
    (key,) = kept_layouts()
    layout = form_layout(*key)
    assert len(layout) > 50
    kept = repr([vars(laid) for laid in layout._paragraphs.values()])  # noqa: SLF001
    assert "yxwvut" not in kept and "Penicillin" not in kept
    assert "What is vitamin B12?" in kept
    # The rows' bullets kept (bullets.py): the labels, not the patient's values.
    bullets = repr(_kept_bullets)
    assert "Legal name" in bullets
    assert "yxwvut" not in bullets and "Quentin" not in bullets and "Penicillin" not in bullets
    # The clinician's block's table kept (kept_table.py): its labels only.
    tables = repr(layout.tables)
    assert "Clinician name" in tables and "yxwvut" not in tables and "Quentin" not in tables


def test_a_previews_mark_is_one_stream_every_page_draws_first(catalog: FormCatalog):
    """The preview mark is stored once and drawn beneath each page's own content; a consent
    about to be sealed has no such stream."""
    submission = validate_submission(patient(NAMES[0]), catalog)
    definition = catalog.get(submission.form_id)
    certificate, _key = self_signed("Clinic consent seal", 30, x509.KeyUsage(
        digital_signature=True, content_commitment=True, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    ))  # fmt: skip
    seal = ClinicCertificate.of(certificate)
    with pikepdf.open(io.BytesIO(render(patient(NAMES[0]), catalog))) as pdf:
        firsts = {page.obj.Contents[0].objgen for page in pdf.pages}
        assert len(pdf.pages) >= 5 and len(firsts) == 1
        assert all(len(page.obj.Contents) == 2 for page in pdf.pages)
    sealed = render_consent(definition, submission, document_id=DEMO_DOCUMENT_ID, seal=seal)
    with pikepdf.open(io.BytesIO(sealed)) as pdf:
        assert all(isinstance(page.obj.Contents, pikepdf.Stream) for page in pdf.pages)
