"""A form's text in Spanish: the same structure as the English file (refused, naming the key,
when it differs), its own hash in the lock, marked not yet reviewed, and carrying every part
of the clinic's document."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from intake.config import PROJECT_ROOT
from intake.definition import DefinitionError, FormCatalog

FORMS_DIR = PROJECT_ROOT / "forms"
B12 = "b12-methylcobalamin"
ES = f"{B12}.es.toml"


@pytest.fixture
def forms(tmp_path: Path) -> Path:
    folder = tmp_path / "forms"
    shutil.copytree(FORMS_DIR, folder)
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), "utf-8")


def refusal(forms: Path) -> DefinitionError:
    with pytest.raises(DefinitionError) as caught:
        FormCatalog(forms).get(B12, "es")
    assert str(caught.value).startswith(str(forms / ES))
    return caught.value


def test_the_spanish_file_is_no_form_of_its_own():
    catalog = FormCatalog(FORMS_DIR)
    assert catalog.ids() == [B12]
    assert catalog.languages(B12) == ["en", "es"]
    with pytest.raises(KeyError):
        catalog.get(f"{B12}.es")


def test_the_spanish_text_has_the_english_structure_and_its_own_hash():
    catalog = FormCatalog(FORMS_DIR)
    en, es = catalog.get(B12), catalog.get(B12, "es")
    assert (es.language, es.version, es.id) == ("es", en.version, en.id)
    assert es.sha256 != en.sha256
    assert [s.id for s in es.sections] == [s.id for s in en.sections]
    assert [len(s.items) for s in es.sections] == [len(s.items) for s in en.sections]
    assert [(t.tier, len(t.items)) for t in es.side_effects] == [
        (t.tier, len(t.items)) for t in en.side_effects
    ]
    assert [(q.id, q.level) for q in es.screening] == [(q.id, q.level) for q in en.screening]
    assert [(q.id, q.level, q.pick_tier) for q in es.visit_screening] == [
        (q.id, q.level, q.pick_tier) for q in en.visit_screening
    ]
    assert [(a.id, a.esign) for a in es.acknowledgments] == [
        (a.id, a.esign) for a in en.acknowledgments
    ]
    assert es.course == en.course
    assert es.title.startswith("Consentimiento informado")


def test_the_spanish_text_is_marked_not_yet_reviewed():
    mark = FormCatalog(FORMS_DIR).get(B12, "es").translation
    assert mark is not None and mark.reviewed is False
    assert "pendiente de revisión" in mark.note
    assert FormCatalog(FORMS_DIR).get(B12).translation is None


def test_the_spanish_text_carries_the_clinic_document():
    es = FormCatalog(FORMS_DIR).get(B12, "es")
    text = json.dumps(es.__dict__, default=lambda o: o.__dict__, ensure_ascii=False)
    # Every benefit, the three tiers with what to do, the schedule.
    for phrase in (
        "Aumenta la energía",
        "Refuerza el sistema inmunitario",
        "Acelera el metabolismo y ayuda a controlar el peso",
        "Mejora el estado de ánimo y la agudeza mental",
        "Combate el estrés y la irritabilidad",
        "llame al 911 de inmediato",
        "hasta 72 horas después de la inyección",
        "Busque atención médica de inmediato",
        "una vez por semana durante 4 semanas y luego una vez al mes",
        "No contiene cianuro",
        "no están aprobados por la Administración de Alimentos y Medicamentos",
    ):
        assert phrase in text, phrase


def test_the_lock_records_each_language_and_holds_it(forms: Path):
    catalog = FormCatalog(FORMS_DIR)
    lock = catalog.read_lock()
    version = catalog.get(B12).version
    assert lock[f"{B12}.es"][version] == catalog.get(B12, "es").sha256
    assert catalog.lock_problems() == [] and catalog.translation_problems() == []
    edit(forms / ES, '"diarrea leve"', '"náuseas leves"')
    problems = FormCatalog(forms).lock_problems()
    assert problems == [
        f"{B12}.es version {version} text changed since it was released: bump `version` in "
        "the TOML file, then run `intake form lock`"
    ]
    with pytest.raises(DefinitionError) as caught:
        FormCatalog(forms).write_lock()
    assert caught.value.key == "version"


def test_a_newer_english_version_leaves_the_translation_out_until_it_follows(forms: Path):
    edit(forms / f"{B12}.toml", 'version = "1.2"', 'version = "1.3"')
    catalog = FormCatalog(forms)
    assert catalog.languages(B12) == ["en"]
    with pytest.raises(KeyError):
        catalog.get(B12, "es")
    assert catalog.translation_problems() == [
        f"{ES} translates version 1.2, not 1.3: translate the changes, then set "
        "translation.of_version and run `intake form lock`"
    ]
    assert catalog.write_lock() == [f"{B12} 1.3"]
    edit(forms / ES, 'of_version = "1.2"', 'of_version = "1.3"')
    catalog = FormCatalog(forms)
    assert catalog.languages(B12) == ["en", "es"]
    assert catalog.write_lock() == [f"{B12}.es 1.3"]


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        # Another id, level, tier or flag than the English file's.
        ('id = "kidney_disease"', 'id = "kidneys"', "screening[4].id", "'kidney_disease'"),
        (
            'id = "heart_disease"\nquestion = "¿Tiene alguna enfermedad del corazón?"\n'
            'level = "caution"',
            'id = "heart_disease"\nquestion = "¿Tiene alguna enfermedad del corazón?"\n'
            'level = "stop"',
            "screening[8].level",
            "'caution'",
        ),
        ('tier = "serious"', 'tier = "severe"', "side_effects[1].tier", "'serious'"),
        ("numbered = true\n", "", "sections[4].numbered", "missing"),
        ("pick_tier = true\n", "pick_tier = false\n", "visit_screening[2].pick_tier", "True"),
        ("esign = true\n", "", "acknowledgments[8].esign", "missing"),
        ("doses = 4", "doses = 5", "course.loading.doses", "must be 4"),
        ('name = "Skin Heaven Medical Spa"', 'name = "Spa"', "clinic.name", "as in the English"),
        # A list of another length.
        (
            '    "diarrea leve",\n',
            "",
            "side_effects[0].items",
            "has 2 entries; the English file has 3",
        ),
        # A key the English file does not have, or lacks one it has.
        (
            'id = "voluntary"\n',
            'id = "voluntary"\nextra = "x"\n',
            "acknowledgments[2].extra",
            "not in the English",
        ),
        ("[withdrawal]", "[withdrawn]", "withdrawal", "missing"),
        # A text left empty.
        ('heading = "Sobre el producto"', 'heading = ""', "sections[7].heading", "translated text"),
    ],
)
def test_a_translation_that_differs_in_structure_is_refused_naming_the_key(
    forms: Path, old: str, new: str, key: str, message: str
):
    edit(forms / ES, old, new)
    error = refusal(forms)
    assert error.key == key
    assert message in str(error)


def test_a_translation_must_say_what_it_translates(forms: Path):
    edit(forms / ES, 'of_version = "1.2"\n', "")
    assert refusal(forms).key == "translation.of_version"
    shutil.copy(FORMS_DIR / ES, forms / ES)
    edit(forms / ES, "reviewed = false", 'reviewed = "no"')
    assert refusal(forms).key == "translation.reviewed"


def test_a_language_the_project_does_not_speak_is_no_translation(forms: Path):
    shutil.copy(forms / ES, forms / f"{B12}.fr.toml")
    catalog = FormCatalog(forms)
    assert catalog.ids() == [B12] and catalog.languages(B12) == ["en", "es"]
