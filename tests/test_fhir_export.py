"""`intake export --format fhir`, on SQLite and PostgreSQL: real sealed consents (English, drawn;
Spanish; by typed name with a witness), a course (a visit's check-in, an injection, its
correction, a withdrawal), written as FHIR R4B NDJSON with the PDFs beside it; every resource
written passes both validators (`fhir.resources` R4B and FHIR.js); `export verify` checks the
folder and names what was changed in it."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from intake.archive.accounts import Accounts
from intake.archive.audit import Actor
from intake.archive.injections import InjectionEntry, Injections
from intake.archive.lots import Lots, NewLot
from intake.archive.service import Archive
from intake.archive.visits import Visits
from intake.archive.withdrawals import WithdrawalRequest, withdraw
from intake.fhir import folder as fhir_folder
from intake.fhir.administration import BODY_SITES
from intake.fhir.export import export_fhir
from intake.fhir.verify import verify_fhir_export
from tests.support.app import Run, on_both_databases
from tests.support.course import DEVICE, TABLET, checkin, enrolled_tablet
from tests.support.fhir_validators import fhir_js_errors, fhir_resources_errors, invalid_resources
from tests.support.staff import PASSWORD, add_consent, events, make_staff, patient

pytestmark = pytest.mark.usefixtures("fast_passwords")
app_config = pytest.fixture(on_both_databases, name="app_config")

B12 = "b12-methylcobalamin"


def today() -> date:
    return datetime.now().astimezone().date()


def spanish(demo_data: dict[str, Any], name: str) -> dict[str, Any]:
    data = patient(demo_data, name, flagged=False)
    data["language"] = "es"
    return data


def typed_with_witness(demo_data: dict[str, Any], name: str, witness) -> dict[str, Any]:
    data = patient(demo_data, name, flagged=False)
    data["signature"] = {
        "typed_name": name,
        "method": "typed",
        "witness": {"staff_id": witness.id, "name": witness.name},
    }
    return data


@pytest.fixture
def course(archive: Archive, demo_data: dict[str, Any]) -> dict[str, str]:
    """An archive with three sealed consents and a whole course under the first: a check-in,
    an injection and its correction, and the consent's withdrawal."""
    clinician = make_staff(archive, "clinician")
    made = {
        "english": add_consent(archive, patient(demo_data, "Vera Visit", flagged=True)),
        "spanish": add_consent(archive, spanish(demo_data, "Lucía Pérez")),
        "typed": add_consent(archive, typed_with_witness(demo_data, "Tomás Typed", clinician)),
    }
    consent = archive.get(made["english"])
    patient_id = consent.patient_id
    assert patient_id is not None
    tablet_id = enrolled_tablet(archive)
    visit = Visits(archive).start(patient_id, tablet_id, Actor(), today=today())
    definition = archive.catalog.get(B12)
    made["visit_record"] = Visits(archive).check_in(
        visit.id, tablet_id, checkin(definition), TABLET, device=DEVICE
    )
    new_lot = NewLot("Methylcobalamin injection", "1 mg/ml", "Hillside Pharmacy", "B12-041",
                     today() + timedelta(days=200))  # fmt: skip
    lot_id = Lots(archive).add(new_lot, Actor(), today=today()).id
    token = Accounts(archive).login(clinician.email, PASSWORD, Actor())
    entry = InjectionEntry(
        lot_id=lot_id,
        dose_mg=1.0,
        volume_ml=1.0,
        site="deltoid",
        side="left",
        given_at=datetime.now().astimezone() - timedelta(minutes=5),
    )
    injections = Injections(archive)
    given = injections.record(
        visit.id, entry, clinician, token=token, password=PASSWORD, code="",
        actor=Actor(), today=today(),
    )  # fmt: skip
    made["injection"] = given.injection_id
    corrected_entry = InjectionEntry(**{**entry.__dict__, "site": "gluteal", "side": "right"})
    made["correction"] = injections.correct(
        given.injection_id, corrected_entry, "Wrong site recorded", clinician,
        token=token, password=PASSWORD, code="", actor=Actor(),
    ).injection_id  # fmt: skip
    made["withdrawal_record"] = withdraw(
        archive, made["english"], WithdrawalRequest(today(), "Moving away"), clinician, Actor()
    )
    made["patient"] = patient_id
    return made


@pytest.fixture
def exported(intake: Run, course: dict[str, str], tmp_path: Path) -> Path:
    out = tmp_path / "fhir"
    result = intake("export", "--format", "fhir", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {out}: 3 consents and 4 course records")
    return out


def resources(out: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(out.glob("*.ndjson")):
        with path.open(encoding="utf-8") as file:
            for line in file:
                yield json.loads(line)


def by_type(out: Path) -> dict[str, dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for resource in resources(out):
        found.setdefault(resource["resourceType"], {})[resource["id"]] = resource
    return found


def test_every_resource_written_passes_both_validators(exported: Path):
    written = list(resources(exported))
    kinds = {r["resourceType"] for r in written}
    assert kinds == set(fhir_folder.TYPES)
    assert invalid_resources(written) == {}


def test_the_folder_has_one_ndjson_a_type_the_pdfs_and_a_bulk_data_manifest(
    exported: Path, course: dict[str, str], archive: Archive
):
    manifest = json.loads((exported / "manifest.json").read_text())
    assert manifest["request"] == "intake export --format fhir"
    assert datetime.fromisoformat(manifest["transactionTime"]).tzinfo is not None
    outputs = {o["type"]: o for o in manifest["output"]}
    files = {f["url"]: f for f in manifest["extension"]["intake"]["files"]}
    for output in outputs.values():
        path = exported / output["url"]
        data = path.read_bytes()
        assert output["count"] == len(data.splitlines()) == files[output["url"]]["count"]
        assert files[output["url"]]["sha256"] == hashlib.sha256(data).hexdigest()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert outputs["Consent"]["count"] == 3 and outputs["Patient"]["count"] == 3
    assert outputs["DocumentReference"]["count"] == 3 + 4
    assert outputs["MedicationAdministration"]["count"] == 2
    pdfs = sorted(p.stem for p in (exported / "documents").iterdir())
    assert len(pdfs) == 7 and course["english"] in pdfs and course["visit_record"] in pdfs
    stored = archive.get(course["english"])
    assert (
        stored.pdf_sha256
        == hashlib.sha256(
            (exported / "documents" / f"{course['english']}.pdf").read_bytes()
        ).hexdigest()
    )
    # No patient data in any file name.
    names = " ".join(str(p.relative_to(exported)) for p in exported.rglob("*"))
    assert "Vera" not in names and "Lucía" not in names
    assert stat.S_IMODE(exported.stat().st_mode) == 0o700
    assert len(events(archive, "consents exported")) == 1


def test_consents_carry_status_policy_provisions_and_the_sealed_pdf(
    exported: Path, course: dict[str, str], archive: Archive, catalog
):
    found = by_type(exported)
    english = found["Consent"][course["english"]]
    assert english["status"] == "inactive"  # withdrawn
    assert english["provision"]["period"]["end"] == today().isoformat()
    assert found["Consent"][course["spanish"]]["status"] == "active"
    acknowledgments = catalog.get(B12).acknowledgments
    codes = [p["code"][0]["coding"][0]["code"] for p in english["provision"]["provision"]]
    assert codes == [a.id for a in acknowledgments]
    attachment = english["sourceAttachment"]
    pdf = (exported / attachment["url"]).read_bytes()
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(pdf).digest()).decode()
    sha256 = attachment["extension"][0]["valueBase64Binary"]
    assert base64.b64decode(sha256).hex() == archive.get(course["english"]).pdf_sha256
    assert attachment["size"] == len(pdf) and attachment["contentType"] == "application/pdf"
    definition = catalog.get(B12)
    assert english["policy"] == [{"uri": f"urn:intake:questionnaire:{B12}|{definition.version}"}]


def test_questionnaires_one_a_version_and_language_with_every_item_and_the_text_hash(
    exported: Path, course: dict[str, str], catalog
):
    found = by_type(exported)
    lock = catalog.read_lock()
    check_in_url = f"urn:intake:questionnaire:{B12}:check-in"
    by_language = {
        q["language"]: q for q in found["Questionnaire"].values() if q["url"] != check_in_url
    }
    assert set(by_language) == {"en-US", "es-US"}
    assert len(found["Questionnaire"]) == 3
    for language, name in (("en-US", B12), ("es-US", f"{B12}.es")):
        questionnaire = by_language[language]
        definition = catalog.get(B12, language[:2])
        assert questionnaire["version"] == definition.version
        assert questionnaire["identifier"][0]["value"] == lock[name][definition.version]
        link_ids = _link_ids(questionnaire["item"])
        assert {f"screening.{q.id}" for q in definition.screening} <= link_ids
        assert {f"acknowledgments.{a.id}" for a in definition.acknowledgments} <= link_ids
        assert {f"section.{s.id}" for s in definition.sections} <= link_ids
    spanish_text = json.dumps(by_language["es-US"], ensure_ascii=False)
    assert catalog.get(B12, "es").acknowledgments[0].text in spanish_text
    assert "Antecedentes" in spanish_text or "Alergias" in spanish_text

    response = found["QuestionnaireResponse"][course["spanish"]]
    es = by_language["es-US"]
    assert response["questionnaire"] == f"{es['url']}|{es['version']}"
    answers = {i["linkId"]: i["answer"] for i in _leaves(response["item"])}
    assert answers["patient.legal_name"] == [{"valueString": "Lucía Pérez"}]
    assert set(answers) <= _link_ids(es["item"])
    check_in = found["QuestionnaireResponse"][course["visit_record"]]
    (asked,) = (q for q in found["Questionnaire"].values() if q["url"] == check_in_url)
    definition = catalog.get(B12)
    assert check_in["questionnaire"] == f"{check_in_url}|{definition.version}"
    assert [i["linkId"] for i in check_in["item"]] == [
        f"check-in.{q.id}" for q in definition.visit_screening
    ]
    assert all(i["answer"] == [{"valueBoolean": False}] for i in check_in["item"])
    assert {i["linkId"] for i in check_in["item"]} <= _link_ids(asked["item"])
    flagged = found["QuestionnaireResponse"][course["english"]]
    answers = {i["linkId"]: i["answer"] for i in _leaves(flagged["item"])}
    assert answers["screening.heart_disease"][0]["valueCoding"]["code"] == "Y"
    assert answers["screening.lebers_disease"][0]["valueCoding"]["code"] == "N"


def _link_ids(items: list[dict[str, Any]]) -> set[str]:
    found = set()
    for item in items:
        found.add(item["linkId"])
        found |= _link_ids(item.get("item", []))
    return found


def _leaves(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        if "answer" in item:
            yield item
        yield from _leaves(item.get("item", []))


def test_signatures_seals_and_injections(exported: Path, course: dict[str, str]):
    found = by_type(exported)
    provenance = found["Provenance"]
    typed = provenance[f"{course['typed']}-signed"]
    kinds = [s["type"][0]["code"] for s in typed["signature"]]
    assert kinds == ["1.2.840.10065.1.12.1.7", "1.2.840.10065.1.12.1.11"]  # patient, witness
    assert typed["signature"][1]["who"]["display"] == "Clara Clinician"
    drawn = provenance[f"{course['spanish']}-signed"]
    assert [a["type"]["coding"][0]["code"] for a in drawn["agent"]] == ["author"]
    for document_id in found["DocumentReference"]:
        seal = provenance[f"{document_id}-sealed"]
        assert seal["target"] == [{"reference": f"DocumentReference/{document_id}"}]
    assert f"{course['visit_record']}-signed" in provenance

    old = found["MedicationAdministration"][course["injection"]]
    new = found["MedicationAdministration"][course["correction"]]
    assert old["status"] == "entered-in-error" and new["status"] == "completed"
    assert old["dosage"]["site"]["coding"][0]["code"] == "16217701000119102"
    assert new["dosage"]["site"]["coding"][1]["code"] == "RG"
    assert new["dosage"]["route"]["coding"][0]["code"] == "78421000"
    assert new["contained"][0]["batch"]["lotNumber"] == "B12-041"
    assert new["dosage"]["dose"] == {
        "value": 1.0, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"
    }  # fmt: skip
    assert new["performer"][0]["actor"]["display"] == "Clara Clinician"
    documents = found["DocumentReference"]
    old_doc = next(d for d in documents.values() if d.get("status") == "superseded")
    new_doc = next(d for d in documents.values() if "relatesTo" in d)
    assert new_doc["relatesTo"][0]["target"]["reference"] == f"DocumentReference/{old_doc['id']}"
    assert {"reference": f"Consent/{course['english']}"} in new["supportingInformation"]


def test_every_body_site_has_a_snomed_code():
    assert len(BODY_SITES) == 6
    for snomed, v2 in BODY_SITES.values():
        assert snomed[0].isdigit() and v2[0].isalpha()


def test_an_untouched_export_verifies(intake: Run, exported: Path):
    result = intake("export", "verify", exported)
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("every reference resolved\n")
    assert " 7 sealed PDFs" in result.stdout


def _problems(out: Path, archive: Archive) -> list[str]:
    return verify_fhir_export(out, [archive.signer().certificate], workers=1).problems


def _rewrite_ndjson(out: Path, kind: str, change) -> None:
    """The NDJSON file of `kind` changed by `change` (each resource), its manifest entry
    updated to match: only the deeper checks can see it."""
    path = out / f"{kind}.ndjson"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    data = "".join(
        json.dumps(change(r), ensure_ascii=False, separators=(",", ":")) + "\n" for r in lines
    ).encode()
    path.write_bytes(data)
    manifest = json.loads((out / "manifest.json").read_text())
    for entry in manifest["extension"]["intake"]["files"]:
        if entry["url"] == path.name:
            entry.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    (out / "manifest.json").write_text(json.dumps(manifest))


def test_verify_names_each_change(exported: Path, archive: Archive, course: dict[str, str]):
    assert _problems(exported, archive) == []
    pdf = exported / "documents" / f"{course['spanish']}.pdf"
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 1
    pdf.write_bytes(bytes(data))
    (exported / "documents" / "extra.pdf").write_bytes(b"%PDF-1.7")
    patient_file = exported / "Patient.ndjson"
    patient_file.write_bytes(patient_file.read_bytes() + b"\n")
    problems = _problems(exported, archive)
    assert f"documents/{course['spanish']}.pdf: its SHA-1 is not the one its resources give" in (
        problems
    )
    assert "documents/extra.pdf: in the folder, but nothing lists it" in problems
    assert "Patient.ndjson: not the file the manifest records (SHA-256 or size)" in problems
    assert not any("Lucía" in p or "Vera" in p for p in problems)


def test_verify_finds_a_reference_to_nothing_and_a_forged_seal(
    exported: Path, archive: Archive, course: dict[str, str]
):
    def drop_one(resource: dict[str, Any]) -> dict[str, Any]:
        if resource["id"] == course["typed"]:
            resource["patient"] = {"reference": "Patient/" + "0" * 32}
        return resource

    _rewrite_ndjson(exported, "Consent", drop_one)
    problems = _problems(exported, archive)
    assert problems == [f"Consent/{course['typed']}: Patient/{'0' * 32} is not in the export"]


def test_an_interrupted_export_leaves_nothing_that_looks_complete(
    archive: Archive, course: dict[str, str], tmp_path: Path, monkeypatch
):
    (tmp_path / "exports").mkdir()
    out = tmp_path / "exports" / "fhir"
    calls = {"n": 0}
    real = fhir_folder.Folder.pdf

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(fhir_folder.Folder, "pdf", failing)
    with pytest.raises(KeyboardInterrupt):
        export_fhir(archive, None, out, Actor())
    assert not out.exists()
    assert list((tmp_path / "exports").iterdir()) == []
    assert events(archive, "consents exported") == []


def test_since_keeps_the_consents_the_records_rely_on(
    intake: Run, course: dict[str, str], tmp_path: Path, archive: Archive
):
    out = tmp_path / "later"
    tomorrow = (today() + timedelta(days=1)).isoformat()
    result = intake("export", "--format", "fhir", "--since", tomorrow, "--out", out)
    assert result.exit_code == 0, result.output
    assert _problems(out, archive) == []
    again = intake("export", "--format", "fhir", "--out", out)
    assert again.exit_code == 2 and "already exists" in again.stderr
    bad = intake("export", "--format", "fhir", "--since", "01/02/2026", "--out", tmp_path / "x")
    assert bad.exit_code == 2
    assert bad.stderr == "error: --since: must be a date written YYYY-MM-DD\n"


BROKEN = [
    # A Consent without its scope and category, a Patient with a field FHIR has not.
    {"resourceType": "Consent", "id": "a", "status": "active"},
    {"resourceType": "Patient", "id": "b", "nickname": "Zo"},
    # A MedicationAdministration whose status is no code of its value set (FHIR.js) and whose
    # dose is text (fhir.resources).
    {
        "resourceType": "MedicationAdministration",
        "id": "c",
        "status": "given",
        "medicationCodeableConcept": {"text": "B12"},
        "subject": {"reference": "Patient/b"},
        "effectiveDateTime": "2026-12-01T10:00:00-05:00",
    },
]


def test_each_validator_rejects_a_broken_resource():
    js = fhir_js_errors(BROKEN)
    assert any("scope" in e for e in js[0]) and any("category" in e for e in js[0])
    assert any("nickname" in e for e in js[1])
    assert any("status" in e for e in js[2])
    assert any("scope" in e for e in fhir_resources_errors(BROKEN[0]))
    assert any("nickname" in e for e in fhir_resources_errors(BROKEN[1]))
    dose_as_text = {**BROKEN[2], "status": "completed", "dosage": {"dose": {"value": "one"}}}
    assert any("value" in e for e in fhir_resources_errors(dose_as_text))
    assert fhir_js_errors([{**BROKEN[2], "status": "completed"}]) == [[]]


def test_the_validators_are_installed_under_ci():
    """Under CI the npm validator is there (`make test` installs it); a skip would hide it."""
    if os.environ.get("CI") == "true":
        assert fhir_js_errors([{"resourceType": "Patient", "id": "p"}]) == [[]]


def test_a_voided_consent_is_entered_in_error_and_pages_of_one_row_give_the_same_export(
    archive: Archive, course: dict[str, str], tmp_path: Path, monkeypatch
):
    """The keyset walk over consents that share a signing day and records made the same second
    loses and repeats nothing, one row a page."""
    from intake.fhir import export

    archive.void(course["typed"], "Taken by mistake", Actor())
    whole = tmp_path / "whole"
    export_fhir(archive, None, whole, Actor())
    monkeypatch.setattr(export, "PAGE", 1)
    paged = tmp_path / "paged"
    export_fhir(archive, None, paged, Actor())
    for path in sorted(whole.glob("*.ndjson")):
        assert (paged / path.name).read_bytes() == path.read_bytes(), path.name
    found = by_type(whole)
    assert found["Consent"][course["typed"]]["status"] == "entered-in-error"
    assert found["DocumentReference"][course["typed"]]["status"] == "entered-in-error"
    assert found["Consent"][course["spanish"]]["status"] == "active"
    assert _problems(paged, archive) == []


def test_a_stored_pdf_that_is_not_its_rows_stops_the_export(
    intake: Run, archive: Archive, demo_data: dict[str, Any], tmp_path: Path
):
    consent_id = add_consent(archive, patient(demo_data, "Ruth Abara"))
    recorded = archive.get(consent_id).pdf_sha256
    stored = archive.blobs.path(recorded)
    stored.chmod(0o600)
    changed = bytearray(stored.read_bytes())
    changed[len(changed) // 3] ^= 1
    stored.write_bytes(bytes(changed))
    (tmp_path / "exports").mkdir()
    out = tmp_path / "exports" / "fhir"
    result = intake("export", "--format", "fhir", "--out", out)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: consent {consent_id}: the stored PDF's SHA-256 "
        f"{hashlib.sha256(changed).hexdigest()} does not match the archive's record ({recorded})"
    ]
    assert list((tmp_path / "exports").iterdir()) == []
    assert events(archive, "consents exported") == []


@pytest.mark.parametrize("app_config", [{"STORAGE": "database"}], indirect=True)
def test_from_database_storage(
    intake: Run, archive: Archive, demo_data: dict[str, Any], tmp_path: Path
):
    consent_id = add_consent(archive, patient(demo_data, "Ruth Abara"))
    out = tmp_path / "fhir"
    assert intake("export", "--format", "fhir", "--out", out).exit_code == 0
    assert (out / "documents" / f"{consent_id}.pdf").read_bytes() == archive.pdf(consent_id)
    assert intake("export", "verify", out).exit_code == 0


def test_an_export_of_nothing_lists_no_output_and_verifies(intake: Run, tmp_path: Path):
    out = tmp_path / "fhir"
    result = intake("export", "--format", "fhir", "--since", "2026-01-01", "--out", out)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["output"] == [] and manifest["error"] == []
    assert manifest["request"] == "intake export --format fhir --since 2026-01-01"
    verified = intake("export", "verify", out)
    assert verified.exit_code == 0, verified.output
    assert verified.stdout.startswith(f"{out}: 0 resources and 0 sealed PDFs")


def test_verify_of_a_folder_without_a_manifest(intake: Run, tmp_path: Path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "Patient.ndjson").write_text("{}\n")
    result = intake("export", "verify", tmp_path / "half")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1] == (
        "  problem: no manifest.json in the folder: not a finished FHIR export"
    )


def test_verify_holds_each_consents_response_against_its_sealed_submission(
    exported: Path, archive: Archive, course: dict[str, str]
):
    def rename(resource: dict[str, Any]) -> dict[str, Any]:
        if resource["id"] == course["spanish"]:
            patient_group = resource["item"][0]
            patient_group["item"][0]["answer"] = [{"valueString": "Lucia Perez"}]
        return resource

    _rewrite_ndjson(exported, "QuestionnaireResponse", rename)
    assert _problems(exported, archive) == [
        f"documents/{course['spanish']}.pdf: the manifest's legal_name is not the one sealed "
        "in the PDF"
    ]


class Counted:
    """A progress that keeps what it was told."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.done = 0

    def start(self, total: int) -> None:
        assert self.total is None, "started twice"
        self.total = total

    def advance(self, n: int = 1) -> None:
        self.done += n


def test_the_progress_reaches_its_total_on_export_and_verify(
    archive: Archive, course: dict[str, str], tmp_path: Path
):
    made, checked = Counted(), Counted()
    out = tmp_path / "fhir"
    export_fhir(archive, None, out, Actor(), made)
    # 3 patients, 3 consents, 4 records.
    assert made.total == made.done == 10
    check = verify_fhir_export(out, [archive.signer().certificate], checked, workers=1)
    assert check.holds, check.problems
    assert checked.total == checked.done == check.resources


def test_a_check_in_answered_yes_carries_its_detail_and_validates(catalog):
    from intake.fhir.questionnaires import check_in_questionnaire, check_in_response

    definition = catalog.get(B12)
    question = next(q for q in definition.visit_screening if q.pick_tier)
    body = {
        "form": {"id": B12, "version": definition.version, "sha256": definition.sha256},
        "answers": [
            {
                "id": question.id,
                "yes": True,
                "tier": "mild",
                "tier_heading": "Mild",
                "items": ["Soreness at the site"],
            },
        ],  # fmt: skip
        "signed_at": "2026-12-01T10:15:00-05:00",
    }
    response = check_in_response("a" * 32, "b" * 32, body)
    assert response is not None
    (item,) = response["item"]
    assert item["answer"][0]["valueBoolean"] is True
    detail = item["answer"][0]["item"][0]
    assert detail == {
        "linkId": f"check-in.{question.id}.detail",
        "answer": [{"valueString": "Mild: Soreness at the site"}],
    }
    asked = check_in_questionnaire(B12, definition.version, definition.sha256, definition)
    assert invalid_resources([asked, response]) == {}
