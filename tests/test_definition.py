"""The consent definition loader, the B12 text it carries, and the lock of released versions."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from intake.config import PROJECT_ROOT
from intake.definition import ConsentDefinition, DefinitionError, FormCatalog, load_definition

FORMS_DIR = PROJECT_ROOT / "forms"
B12 = "b12-methylcobalamin"
B12_TOML = FORMS_DIR / f"{B12}.toml"
#: The form's current version, and the one a test bumps it to.
VERSION = FormCatalog(FORMS_DIR).get(B12).version
NEXT = f"{int(VERSION.split('.')[0]) + 1}.0"


def all_text(definition: ConsentDefinition) -> str:
    """Every string of the definition joined by newlines, to search the whole consent at once."""

    def walk(value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [s for v in value.values() for s in walk(v)]
        if isinstance(value, list | tuple):
            return [s for v in value for s in walk(v)]
        return []

    return "\n".join(walk(asdict(definition)))


def section(definition: ConsentDefinition, section_id: str):
    return next(s for s in definition.sections if s.id == section_id)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- The loader returns frozen data ------------------------------------------------------------


def test_definition_is_frozen(definition: ConsentDefinition) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        definition.title = "Something else"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        definition.side_effects[0].action = "Ignore it"  # type: ignore[misc]
    assert isinstance(definition.side_effects[0].items, tuple)


# --- The B12 definition carries the clinic's document faithfully -------------------------------


def test_what_b12_is_and_deficiency_symptoms(definition: ConsentDefinition) -> None:
    text = " ".join(section(definition, "what-is-b12").paragraphs)
    assert "proper functioning of the brain and nervous system, and the production of blood" in text
    assert "supports memory and other cognitive functions" in text
    assert "key component in the production of hemoglobin" in text
    assert "important for maintaining sufficient energy levels" in text
    assert section(definition, "deficiency").items == (
        "depression and mood disorders",
        "problems with memory",
        "anemia",
        "low blood pressure",
        "high homocysteine levels",
    )
    absorption = " ".join(section(definition, "absorption").paragraphs)
    assert "intramuscular injection is absorbed by the body more quickly than an oral" in absorption


def test_benefits(definition: ConsentDefinition) -> None:
    assert section(definition, "benefits").items == (
        "Increases energy",
        "Boosts the immune system",
        "Increases metabolism and assists in weight management",
        "Improves mood and mental alertness",
        "Combats stress and irritability",
    )


def test_methylcobalamin_and_the_three_reasons(definition: ConsentDefinition) -> None:
    product = section(definition, "product")
    text = " ".join(product.paragraphs)
    assert "we inject methylcobalamin into a large muscle group" in text
    assert "most usable and active form of vitamin B12" in text
    assert "converts homocysteine into methionine" in text
    assert "cross the blood-brain barrier (a highly selective permeability barrier" in text
    assert "essential methyl groups needed for detoxification" in text
    assert product.numbered
    no_cyanide, stays_longer, extra_benefits = product.items
    assert no_cyanide.startswith("It does not contain cyanide.")
    assert "Cyanide prevents cells from using oxygen" in no_cyanide
    assert "more harmful to the heart and brain than to other organs" in no_cyanide
    assert (
        "remains in the body for a longer period of time, and at higher levels, than "
        "cyanocobalamin" in stays_longer
    )
    assert "reducing nerve pain" in extra_benefits
    assert "irritability, stress and anxiety" in extra_benefits


def test_cyanocobalamin_paragraph(definition: ConsentDefinition) -> None:
    text = " ".join(section(definition, "cyanocobalamin").paragraphs)
    assert "Cyanocobalamin is a synthetic version of vitamin B12 created in a lab" in text
    assert "least expensive supplement option" in text
    assert "the most stable form of vitamin B12" in text
    assert "through the presence of a cyanide molecule" in text
    assert "forcing the liver to dispose of the cyanide molecule" in text
    assert "not used by Skin Heaven Medical Spa" in text


def test_schedule(definition: ConsentDefinition) -> None:
    text = " ".join(section(definition, "schedule").paragraphs)
    assert "once weekly for 4 weeks" in text
    assert "then once every month for routine maintenance" in text
    assert "There is no upper limit for the intake of vitamin B12" in text
    assert "the risk of toxicity or overdose is extremely low" in text


def test_every_side_effect_in_its_tier(definition: ConsentDefinition) -> None:
    tiers = {t.tier: t for t in definition.side_effects}
    assert [t.tier for t in definition.side_effects] == ["mild", "serious", "severe"]
    assert tiers["mild"].items == (
        "pain, redness, or itching at the site of the injection",
        "mild diarrhea",
        "a swelling sensation in the body",
    )
    assert tiers["serious"].items == (
        "muscle cramps",
        "irregular heartbeat",
        "unusual weakness or tiredness",
        "swelling of the ankles or feet",
    )
    assert tiers["severe"].items == (
        "itching and swelling of the face, throat, or tongue",
        "breathing difficulties",
        "severe dizziness",
        "sudden vision changes",
        "slurred speech",
    )


def test_what_to_do_for_each_tier(definition: ConsentDefinition) -> None:
    tiers = {t.tier: t for t in definition.side_effects}
    assert "If any of these persist or worsen, tell a clinician" in tiers["mild"].action
    assert "licensed medical professional" in tiers["mild"].action
    assert "require immediate medical attention" in tiers["serious"].action
    assert "very rare but require emergency intervention" in tiers["severe"].intro
    assert "call 911" in tiers["severe"].action
    assert "up to 72 hours after the injection" in tiers["severe"].action


def test_screening_questions_and_levels(definition: ConsentDefinition) -> None:
    assert {q.id: q.level for q in definition.screening} == {
        "cobalt_b12_allergy": "stop",
        "lebers_disease": "stop",
        "previous_b12_reaction": "stop",
        "low_potassium": "caution",
        "kidney_disease": "caution",
        "polycythemia_vera": "caution",
        "pregnant_breastfeeding": "caution",
        "bleeding_or_blood_thinners": "caution",
        "heart_disease": "caution",
        "fever_or_infection": "caution",
        "interacting_medicines_or_alcohol": "caution",
    }
    assert [q.level for q in definition.screening].count("stop") == 3
    assert [q.level for q in definition.screening].count("caution") == 8
    questions = {q.id: q.question for q in definition.screening}
    assert "cobalt" in questions["cobalt_b12_allergy"]
    assert "Leber's disease" in questions["lebers_disease"]
    assert "family" in questions["lebers_disease"]
    assert "blood thinner" in questions["bleeding_or_blood_thinners"]
    for medicine in ("chloramphenicol", "colchicine", "methotrexate", "pyrimethamine", "alcohol"):
        assert medicine in questions["interacting_medicines_or_alcohol"]
    blood_thinners = definition.question("bleeding_or_blood_thinners")
    assert "Never tell a patient to stop a prescribed anticoagulant" in blood_thinners.reason


def test_acknowledgments_and_one_esign(definition: ConsentDefinition) -> None:
    assert [a.id for a in definition.acknowledgments] == [
        "read_and_understood",
        "questions_answered",
        "voluntary",
        "may_withdraw",
        "no_guarantee",
        "not_medical_care",
        "history_truthful",
        "compounded_not_fda_approved",
        "electronic_signature",
    ]
    esign = [a for a in definition.acknowledgments if a.esign]
    assert [a.id for a in esign] == ["electronic_signature"]
    assert "paper copy" in esign[0].text


@pytest.mark.parametrize("typo", ["Intramusclar", "Metal Alertness", "cynanide", "((", "useable"])
def test_no_seed_typo_survives(definition: ConsentDefinition, typo: str) -> None:
    assert typo.casefold() not in all_text(definition).casefold()


# --- The lock of released versions -------------------------------------------------------------


def test_real_forms_agree_with_the_lock() -> None:
    assert FormCatalog(FORMS_DIR).lock_problems() == []


def test_changed_text_without_version_bump_is_a_problem(forms_copy: Path) -> None:
    edit(forms_copy / f"{B12}.toml", '"mild diarrhea"', '"mild nausea"')
    problems = FormCatalog(forms_copy).lock_problems()
    assert len(problems) == 1
    assert problems[0].startswith(f"{B12} version {VERSION} text changed")
    assert "bump `version`" in problems[0]


def test_bumped_version_without_lock_is_a_problem(forms_copy: Path) -> None:
    edit(forms_copy / f"{B12}.toml", f'version = "{VERSION}"', f'version = "{NEXT}"')
    problems = FormCatalog(forms_copy).lock_problems()
    assert problems == [
        f"{B12} version {NEXT} is not in versions.lock: "
        "run `intake form lock` after bumping the version"
    ]


def test_write_lock_adds_a_bumped_version_and_keeps_the_old(forms_copy: Path) -> None:
    old_hash = FormCatalog(forms_copy).get(B12).sha256
    toml = forms_copy / f"{B12}.toml"
    edit(toml, '"mild diarrhea"', '"mild nausea"')
    edit(toml, f'version = "{VERSION}"', f'version = "{NEXT}"')
    catalog = FormCatalog(forms_copy)
    assert catalog.write_lock() == [f"{B12} {NEXT}"]
    lock = json.loads((forms_copy / "versions.lock").read_text(encoding="utf-8"))
    assert lock[B12][VERSION] == old_hash
    assert lock[B12][NEXT] == catalog.get(B12).sha256
    assert FormCatalog(forms_copy).lock_problems() == []
    assert FormCatalog(forms_copy).write_lock() == []


def test_write_lock_refuses_to_rewrite_a_released_version(forms_copy: Path) -> None:
    lock_before = (forms_copy / "versions.lock").read_bytes()
    edit(forms_copy / f"{B12}.toml", '"mild diarrhea"', '"mild nausea"')
    with pytest.raises(DefinitionError) as caught:
        FormCatalog(forms_copy).write_lock()
    assert caught.value.key == "version"
    assert f"{B12}.toml" in str(caught.value)
    assert "released with other text; bump it" in str(caught.value)
    assert (forms_copy / "versions.lock").read_bytes() == lock_before


def test_unreadable_lock_names_the_lock_file(forms_copy: Path) -> None:
    (forms_copy / "versions.lock").write_text("{not json", encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        FormCatalog(forms_copy).lock_problems()
    assert str(caught.value).startswith(f"{forms_copy / 'versions.lock'}: not valid JSON")


# --- Broken definitions name the file and the key ----------------------------------------------

TINY = """\
id = "tiny"
version = "1"
title = "Tiny consent"
treatment = "Tiny treatment"
purpose = "To test the loader."

[clinic]
name = "Test Clinic"

[[sections]]
id = "about"
heading = "About"
paragraphs = ["A paragraph."]
items = ["An item."]

[[side_effects]]
tier = "mild"
heading = "Mild"
intro = "Mild side effects:"
items = ["a rash"]
action = "Tell us."

[[screening]]
id = "allergy"
question = "Are you allergic?"
level = "stop"
reason = "Allergy."

[[screening]]
id = "fever"
question = "Do you have a fever?"
level = "caution"
reason = "Fever."

[[acknowledgments]]
id = "read"
text = "I have read it."

[[acknowledgments]]
id = "esign"
esign = true
text = "I agree to sign electronically."

[signature]
meaning = "I consent."
guardian_meaning = "I consent for the patient."
clinician_line = "Discussed."

[course]
min_interval_days = 6
loading = { doses = 2, every_days = 7 }
maintenance = { every_days = 30 }

[visit]
intro = "Welcome back."
side_effects_reminder = "Side effects: a rash."
meaning = "My answers are true."

[[visit_screening]]
id = "reaction"
question = "Any reaction since the last one?"
level = "stop"
reason = "Reaction."
pick_tier = true

[withdrawal]
meaning = "I withdraw."
"""


def test_tiny_definition_loads(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    definition = load_definition(path)
    assert (definition.id, definition.clinic_name) == ("tiny", "Test Clinic")
    assert [q.level for q in definition.screening] == ["stop", "caution"]
    course = definition.course
    assert (course.consent_valid_days, course.min_interval_days) == (365, 6)
    assert [course.interval_after(n) for n in (1, 2, 3)] == [7, 30, 30]
    assert [(q.id, q.pick_tier) for q in definition.visit_screening] == [("reaction", True)]
    assert definition.withdrawal_meaning == "I withdraw."


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ('title = "Tiny consent"', 'title = "Tiny', "", "not valid TOML"),
        ('title = "Tiny consent"\n', "", "title", "missing"),
        ('title = "Tiny consent"', "title = 3", "title", "must be a string"),
        ('purpose = "To test the loader."', 'purpose = "  "', "purpose", "must not be empty"),
        ('name = "Test Clinic"', 'nom = "Test Clinic"', "clinic.name", "missing"),
        ('level = "stop"', 'level = "maybe"', "screening[0].level", "must be one of stop, caution"),
        ('tier = "mild"', 'tier = "mildish"', "side_effects[0].tier", "must be one of mild"),
        ('id = "fever"', 'id = "allergy"', "screening[1].id", "duplicate id 'allergy'"),
        ('id = "tiny"', 'id = "small"', "id", "must match the file name ('tiny')"),
        ('items = ["a rash"]', "items = []", "side_effects[0].items", "at least one side effect"),
        ('items = ["An item."]', 'items = ["  "]', "sections[0].items[0]", "non-empty string"),
        (
            'paragraphs = ["A paragraph."]\nitems = ["An item."]',
            "",
            "sections[0]",
            "needs paragraphs or items",
        ),
        ("esign = true\n", "", "acknowledgments", "exactly one acknowledgment must have esign"),
        (
            'esign = true\ntext = "I agree',
            'esign = "yes"\ntext = "I agree',
            "acknowledgments[1].esign",
            "true or false",
        ),
        ("[signature]", "[signed]", "signature", "missing table"),
    ],
)
def test_broken_definition_names_file_and_key(
    tmp_path: Path, old: str, new: str, key: str, message: str
) -> None:
    assert old in TINY
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    assert caught.value.key == key
    prefix = f"{path}: {key}: " if key else f"{path}: "
    assert str(caught.value).startswith(prefix)
    assert message in str(caught.value)


def test_missing_file_is_a_definition_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="file not found"):
        load_definition(tmp_path / "absent.toml")


# --- The canonical hash ------------------------------------------------------------------------


def test_hash_is_stable_and_matches_the_lock() -> None:
    first, second = load_definition(B12_TOML), load_definition(B12_TOML)
    assert first is not second
    assert first.canonical_json() == second.canonical_json()
    assert first.sha256 == second.sha256
    lock = json.loads((FORMS_DIR / "versions.lock").read_text(encoding="utf-8"))
    assert lock[B12][first.version] == first.sha256


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('title = "Informed Consent:', 'title = "Informed consent:'),
        ('"mild diarrhea"', '"mild  diarrhea"'),
        ('"slurred speech"', '"slurred speech."'),
        ("once weekly for 4 weeks", "once weekly for 5 weeks"),
        ('reason = "General injection screening."', 'reason = "General screening."'),
        ('level = "stop"\nreason = "Previous', 'level = "caution"\nreason = "Previous'),
        ("numbered = true\nitems", "numbered = false\nitems"),
        ('text = "I am choosing', 'text = "I am freely choosing'),
        ('clinician_line = "Clinician:', 'clinician_line = "Clinician -'),
        ('name = "Skin Heaven Medical Spa"', 'name = "Skin Heaven Spa"'),
    ],
)
def test_hash_changes_when_any_text_changes(forms_copy: Path, old: str, new: str) -> None:
    path = forms_copy / f"{B12}.toml"
    before = load_definition(path).sha256
    edit(path, old, new)
    assert load_definition(path).sha256 != before
