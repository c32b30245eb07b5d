"""The `intake` command: render, form list/show/lock, and its one-line errors with exit code 2."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pypdf import PdfReader

from intake.cli import main
from intake.config import PROJECT_ROOT
from intake.definition import ConsentDefinition, FormCatalog

FORMS_DIR = PROJECT_ROOT / "forms"
B12 = "b12-methylcobalamin"
#: The form's current version, and the one a test bumps it to.
VERSION = FormCatalog(FORMS_DIR).get(B12).version
NEXT = f"{int(VERSION.split('.')[0]) + 1}.0"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def error_lines(result: Result) -> list[str]:
    return result.stderr.splitlines()


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- intake form ... ---------------------------------------------------------------------------


def test_form_list(definition: ConsentDefinition) -> None:
    result = run("form", "list")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{B12}\t{definition.version}\t{definition.title}"]


def test_form_show(definition: ConsentDefinition) -> None:
    result = run("form", "show", B12)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{B12} version {definition.version}"
    assert f"sha256: {definition.sha256}" in lines
    assert "  cobalt_b12_allergy (stop)" in lines
    assert "  heart_disease (caution)" in lines
    assert "  electronic_signature (electronic signature consent)" in lines
    assert "  voluntary" in lines


def test_form_show_json(definition: ConsentDefinition) -> None:
    result = run("form", "show", B12, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["sha256"] == definition.sha256
    assert shown["id"] == B12
    assert shown["version"] == definition.version
    assert shown["screening"][0] == {"id": "cobalt_b12_allergy", "level": "stop"}
    assert [q["level"] for q in shown["screening"]].count("stop") == 3
    assert len(shown["screening"]) == 11
    assert shown["acknowledgments"] == [a.id for a in definition.acknowledgments]
    assert set(shown) == {"id", "version", "sha256", "screening", "acknowledgments"}


def test_form_show_unknown_form() -> None:
    result = run("form", "show", "botox")
    assert result.exit_code == 2
    assert error_lines(result) == [f"error: no form 'botox' in {FORMS_DIR} (known: {B12})"]
    assert result.stdout == ""


def test_broken_definition_is_one_line(forms_copy: Path) -> None:
    toml = forms_copy / f"{B12}.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('level = "stop"', 'level = "halt"', 1),
        encoding="utf-8",
    )
    for args in (["form", "list"], ["form", "show", B12], ["form", "lock"]):
        result = run("--forms-dir", str(forms_copy), *args)
        assert result.exit_code == 2, args
        assert error_lines(result) == [
            f"error: {toml}: screening[0].level: must be one of stop, caution"
        ]


def test_form_lock_adds_a_bumped_version(forms_copy: Path) -> None:
    toml = forms_copy / f"{B12}.toml"
    text = toml.read_text(encoding="utf-8")
    text = text.replace(f'version = "{VERSION}"', f'version = "{NEXT}"').replace(
        "mild diarrhea", "nausea"
    )
    toml.write_text(text, encoding="utf-8")

    result = run("--forms-dir", str(forms_copy), "form", "lock")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"locked {B12} {NEXT}\n"
    lock = json.loads((forms_copy / "versions.lock").read_text(encoding="utf-8"))
    assert {VERSION, NEXT} <= set(lock[B12])

    again = run("--forms-dir", str(forms_copy), "form", "lock")
    assert again.exit_code == 0
    assert again.stdout == "versions.lock already records every form version\n"


def test_form_lock_refuses_changed_released_text(forms_copy: Path) -> None:
    toml = forms_copy / f"{B12}.toml"
    lock_before = (forms_copy / "versions.lock").read_bytes()
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("mild diarrhea", "nausea"), encoding="utf-8"
    )
    result = run("--forms-dir", str(forms_copy), "form", "lock")
    assert result.exit_code == 2
    assert error_lines(result) == [
        f"error: {toml}: version: version {VERSION} was released with other text; bump it"
    ]
    assert (forms_copy / "versions.lock").read_bytes() == lock_before


# --- intake render -----------------------------------------------------------------------------


def test_render_invalid_submission_lists_every_problem(
    demo_data: dict[str, Any], tmp_path: Path
) -> None:
    demo_data["patient"]["date_of_birth"] = "12/04/1985"
    demo_data["patient"]["email"] = "zoe@"
    demo_data["acknowledgments"]["voluntary"] = False
    demo_data["signature"]["strokes"] = [[[-5, 1]]]
    source = write_json(tmp_path / "sub.json", demo_data)
    out = tmp_path / "consent.pdf"

    result = run("render", "--input", str(source), "--out", str(out))
    assert result.exit_code == 2
    assert error_lines(result) == [
        "error: patient.date_of_birth: must be a date written YYYY-MM-DD",
        "error: patient.email: is not an email address (name@example.org)",
        "error: acknowledgments.voluntary: must be ticked to go on",
        "error: signature.strokes[0][0]: lies outside the signature pad",
    ]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub.json"]


def test_render_unknown_form(demo_data: dict[str, Any], tmp_path: Path) -> None:
    demo_data["form"] = "botox"
    source = write_json(tmp_path / "sub.json", demo_data)
    result = run("render", "--input", str(source), "--out", str(tmp_path / "c.pdf"))
    assert result.exit_code == 2
    assert error_lines(result) == [f"error: form: is not a known form (known: {B12})"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"form": ', "not valid JSON: Expecting value: line 1 column 10 (char 9)"),
        ("", "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8 text"),
        (None, "cannot read: No such file or directory"),
    ],
    ids=["truncated", "empty", "not-utf8", "missing"],
)
def test_render_unreadable_input_names_the_file(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    source = tmp_path / "sub.json"
    if isinstance(content, bytes):
        source.write_bytes(content)
    elif content is not None:
        source.write_text(content, encoding="utf-8")
    result = run("render", "--input", str(source), "--out", str(tmp_path / "c.pdf"))
    assert result.exit_code == 2
    [line] = error_lines(result)
    assert line.startswith(f"error: {source}: {message}")


@pytest.mark.parametrize(
    "args", [["--out", "c.pdf"], ["--demo", "--input", "sub.json", "--out", "c.pdf"]]
)
def test_render_needs_exactly_one_source(args: list[str]) -> None:
    result = run("render", *args)
    assert result.exit_code == 2
    assert "give either --input FILE or --demo" in result.stderr


def test_render_demo(tmp_path: Path) -> None:
    out = tmp_path / "demo.pdf"
    result = run("render", "--demo", "--out", str(out))
    assert result.exit_code == 0, result.output
    pdf = out.read_bytes()
    assert result.stdout == f"wrote {out} ({len(pdf)} bytes)\n"
    assert pdf.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Zoë O'Brien" in text
    assert [p.name for p in tmp_path.iterdir()] == ["demo.pdf"], "no temporary file left behind"


def test_render_input_file_replaces_an_old_pdf(demo_data: dict[str, Any], tmp_path: Path) -> None:
    demo_data["patient"]["legal_name"] = demo_data["signature"]["typed_name"] = "Ada Lovelace"
    source = write_json(tmp_path / "sub.json", demo_data)
    out = tmp_path / "consent.pdf"
    out.write_bytes(b"an older file")
    result = run("render", "--input", str(source), "--out", str(out))
    assert result.exit_code == 0, result.output
    reader = PdfReader(out)
    assert "Ada Lovelace" in "\n".join(page.extract_text() for page in reader.pages)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["consent.pdf", "sub.json"]


def test_render_to_a_missing_folder(tmp_path: Path) -> None:
    out = tmp_path / "absent" / "demo.pdf"
    result = run("render", "--demo", "--out", str(out))
    assert result.exit_code == 2
    assert error_lines(result) == [f"error: {out}: cannot write: No such file or directory"]
