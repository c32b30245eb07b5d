"""`intake export verify` trusts neither the zip's manifest nor its PDFs: each PDF's seal must be
the clinic's, and the manifest's id, name, birth date and signing time the sealed document's.
Each attack on an export, on SQLite and PostgreSQL, is named."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader, PdfWriter

from intake.archive import export
from intake.archive.service import Archive
from intake.certificates import ClinicCertificate, _make_self_signed, clinic_signer
from intake.definition import FormCatalog
from intake.pdf.seal import seal_pdf
from tests.support.app import Run, on_both_databases
from tests.test_backup import submit

app_config = pytest.fixture(on_both_databases, name="app_config")


@pytest.fixture
def exported(
    intake: Run, archive: Archive, catalog: FormCatalog, demo_data: dict[str, Any], tmp_path: Path
) -> tuple[Path, list[str]]:
    """An export of two consents of two patients, and their ids."""
    ids = [
        submit(archive, catalog, demo_data),
        submit(
            archive,
            catalog,
            demo_data,
            patient={**demo_data["patient"], "legal_name": "Ruth Abara"},
            signature={**demo_data["signature"], "typed_name": "Ruth Abara"},
        ),
    ]
    out = tmp_path / "export.zip"
    result = intake("export", "--since", "2000-01-01", "--out", out)
    assert result.exit_code == 0, result.output
    return out, ids


def rewrite(path: Path, change: Callable[[dict[str, bytes], dict[str, Any]], None]) -> None:
    """The zip written again with `change` applied to its files and its manifest."""
    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    manifest = json.loads(files.pop("manifest.json"))
    change(files, manifest)
    files["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)


def listed_again(files: dict[str, bytes], manifest: dict[str, Any], name: str) -> None:
    """The manifest's entry for `name` made to match the file now there."""
    for entry in manifest["consents"]:
        if entry["file"] == name:
            entry.update(sha256=hashlib.sha256(files[name]).hexdigest(), size=len(files[name]))


def problems(intake: Run, out: Path, *args: str) -> list[str]:
    result = intake("export", "verify", out, *args)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{out}: NOT VERIFIED"
    return [line.removeprefix("  problem: ") for line in lines[1:]]


def test_an_untouched_export_holds_with_the_kept_certificates_or_the_one_trusted(
    intake: Run, archive: Archive, exported: tuple[Path, list[str]], tmp_path: Path
):
    out, _ = exported
    clinic = tmp_path / "clinic.pem"
    clinic.write_bytes(archive.signer().certificate.pem)
    for args in ([], ["--trust", clinic]):
        result = intake("export", "verify", out, *args)
        assert result.exit_code == 0, result.output
        assert result.stdout == f"{out}: 2 consents, every file as the manifest records\n"
    other = tmp_path / "other.pem"
    other.write_bytes(ClinicCertificate.of(_make_self_signed("Other")[1]).pem)
    found = problems(intake, out, "--trust", str(other))
    mine = archive.signer().certificate
    assert len(found) == 2
    assert all(
        p.endswith(f": sealed with a certificate that is not the clinic's: {mine.subject} "
                   f"(SHA-256 {mine.sha256})")
        for p in found
    )  # fmt: skip


def test_a_changed_pdf_with_its_manifest_entry_computed_again_fails(
    intake: Run, exported: tuple[Path, list[str]]
):
    out, (first, second) = exported

    def change(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        # A byte of the content changed, and an update appended to the other (new metadata).
        name = f"consents/{first}.pdf"
        pdf = bytearray(files[name])
        at = pdf.index(b"stream\n") + 20
        pdf[at] ^= 0x01
        files[name] = bytes(pdf)
        listed_again(files, manifest, name)
        name = f"consents/{second}.pdf"
        writer = PdfWriter(PdfReader(io.BytesIO(files[name])), incremental=True)
        writer.add_metadata({"/Subject": "amended"})
        appended = io.BytesIO()
        writer.write(appended)
        files[name] = appended.getvalue()
        listed_again(files, manifest, name)

    rewrite(out, change)
    found = problems(intake, out)
    assert (
        f"consents/{first}.pdf: the content was changed after sealing: its SHA-256 no longer "
        "matches the seal"
    ) in found
    assert any(
        p.startswith(f"consents/{second}.pdf: the file was changed after sealing: ") for p in found
    ), found


def test_ids_swapped_between_two_consents_are_named(intake: Run, exported: tuple[Path, list[str]]):
    out, (first, second) = exported

    def swap(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        a, b = manifest["consents"]
        a["id"], b["id"] = b["id"], a["id"]

    rewrite(out, swap)
    assert sorted(problems(intake, out)) == sorted(
        [
            f"consents/{first}.pdf: the manifest names consent {second}, the sealed document is "
            f"{first}",
            f"consents/{second}.pdf: the manifest names consent {first}, the sealed document is "
            f"{second}",
        ]
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("legal_name", "Zoe O'Brien"),
        ("date_of_birth", "1985-04-13"),
        ("signed_at", "1999-01-02T10:00:00-05:00"),
    ],
)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_patient_field_edited_in_the_manifest_is_named(
    intake: Run, exported: tuple[Path, list[str]], field: str, value: str
):
    out, (first, _) = exported

    def edit(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        next(e for e in manifest["consents"] if e["id"] == first)[field] = value

    rewrite(out, edit)
    result = intake("export", "verify", out)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1:] == [
        f"  problem: consents/{first}.pdf: the manifest's {field} is not the one sealed in the PDF"
    ]
    assert value not in result.stdout


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_pdf_sealed_by_someone_else_with_a_matching_manifest_fails(
    intake: Run,
    archive: Archive,
    exported: tuple[Path, list[str]],
    tmp_path: Path,
    demo_pdf: bytes,
):
    """A forged consent, sealed with another key, put in with its entry computed again."""
    out, (first, _) = exported
    forger = clinic_signer(tmp_path / "forger", clinic_name="Forger")
    forged = seal_pdf(demo_pdf, forger, reason=f"Consent, document {first}")

    def plant(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        files[f"consents/{first}.pdf"] = forged
        listed_again(files, manifest, f"consents/{first}.pdf")

    rewrite(out, plant)
    assert problems(intake, out) == [
        f"consents/{first}.pdf: sealed with a certificate that is not the clinic's: "
        f"{forger.certificate.subject} (SHA-256 {forger.certificate.sha256})"
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_seals_checked_by_a_pool_of_processes_give_the_problems_of_one_in_manifest_order(
    archive: Archive, exported: tuple[Path, list[str]]
):
    """Each consent's problems come back in the manifest's order, from any number of workers:
    a broken seal, a file that is not the one listed, and a missing one, mixed."""
    out, _ = exported
    order: list[str] = []

    def break_some(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        a, b = manifest["consents"]
        order.extend([a["file"], b["file"]])
        pdf = files[a["file"]]
        at = pdf.rindex(b"%%EOF") - 200
        files[a["file"]] = pdf[:at] + bytes([pdf[at] ^ 1]) + pdf[at + 1 :]
        listed_again(files, manifest, a["file"])
        manifest["consents"] = [a, b, {**b, "file": "consents/gone.pdf"}, {**a, "size": 1}]

    rewrite(out, break_some)
    trusted = [archive.signer().certificate]
    by_one = export.verify_export(out, trusted, workers=1)
    by_two = export.verify_export(out, trusted, workers=2)
    assert by_one.problems == by_two.problems
    names = [problem.split(":", 1)[0] for problem in by_two.problems]
    first_file, second_file = order
    assert names[0] == first_file  # the broken seal, checked by a worker
    assert names[-2:] == ["consents/gone.pdf", first_file]
    assert second_file not in names  # its seal holds
    assert by_two.problems[-2] == "consents/gone.pdf: missing from the zip"
    assert by_two.problems[-1].endswith("bytes, the manifest says 1")
