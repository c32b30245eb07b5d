"""Consent definitions: the TOML files under `forms/`, loaded into frozen dataclasses.

A definition is data: every patient-facing word of a consent lives in its TOML file. Its
content hash (SHA-256 of a canonical JSON form) identifies exactly which text a patient saw;
`forms/versions.lock` records the hash of every released version so that text cannot change
without a version bump.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from intake.canonical import canonical_json
from intake.languages import DEFAULT_LANGUAGE, LANGUAGES

ScreeningLevel = Literal["stop", "caution"]
SideEffectTier = Literal["mild", "serious", "severe"]

LOCK_FILE_NAME = "versions.lock"


class DefinitionError(ValueError):
    """A consent definition file is missing, unreadable or malformed."""

    def __init__(self, path: Path, key: str, message: str) -> None:
        self.path = path
        self.key = key
        super().__init__(f"{path}: {key}: {message}" if key else f"{path}: {message}")


@dataclass(frozen=True)
class Section:
    """One part of the consent text: a heading, paragraphs, and an optional list."""

    id: str
    heading: str
    paragraphs: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    #: Show `items` as a numbered list rather than bullets.
    numbered: bool = False


@dataclass(frozen=True)
class SideEffectTierText:
    """A tier of side effects with every item and what the patient must do."""

    tier: SideEffectTier
    heading: str
    intro: str
    items: tuple[str, ...]
    action: str
    #: The one line that must stand out above the rest of the tier ("Call 911 immediately."):
    #: shown first and largest on the tablet and in the PDF ("" for none).
    headline: str = ""
    #: The action tells the patient to contact the clinic: the clinic's phone number follows it.
    contact_clinic: bool = False


@dataclass(frozen=True)
class ScreeningQuestion:
    """A yes/no question; a "yes" is flagged for clinician review at `level`."""

    id: str
    question: str
    level: ScreeningLevel
    #: Why it is flagged; shown to staff, never to the patient.
    reason: str
    #: A "yes" also asks which tier of side effects it was (a reaction at a visit's check-in).
    pick_tier: bool = False
    #: The question in everyday words, shown under it ("" for a question plain enough).
    plain: str = ""


@dataclass(frozen=True)
class Acknowledgment:
    """A statement the patient must tick before signing."""

    id: str
    text: str
    #: The consent to sign and receive records electronically, shown just before the pad.
    esign: bool = False


@dataclass(frozen=True)
class SignatureText:
    """What a signature means, for the patient and for a guardian, and the clinician's line."""

    meaning: str
    guardian_meaning: str
    clinician_line: str


@dataclass(frozen=True)
class Course:
    """How long a signed consent holds, and the treatment schedule its text describes: a loading
    phase of `loading_doses` doses `loading_every_days` apart, then one every
    `maintenance_every_days`; never two injections fewer than `min_interval_days` apart."""

    consent_valid_days: int
    loading_doses: int
    loading_every_days: int
    maintenance_every_days: int
    min_interval_days: int

    def interval_after(self, doses_given: int) -> int:
        """Days from the dose numbered `doses_given` (1 = the first) to the next one."""
        return (
            self.loading_every_days
            if doses_given < self.loading_doses
            else (self.maintenance_every_days)
        )


@dataclass(frozen=True)
class VisitText:
    """What a returning patient reads and signs at a visit's check-in."""

    intro: str
    side_effects_reminder: str
    meaning: str


@dataclass(frozen=True)
class TranslationMark:
    """What a translation file says of itself (its `[translation]` table)."""

    #: The English version it translates: a newer English text leaves it out of date.
    of_version: str
    #: Whether the clinic's translator has reviewed it, as the file says; an admin's review
    #: recorded on the staff pages counts as well (`intake.archive.translation_reviews`).
    reviewed: bool
    note: str


@dataclass(frozen=True)
class ConsentDefinition:
    """A whole consent form, as loaded from `forms/<id>.toml`."""

    id: str
    version: str
    title: str
    treatment: str
    purpose: str
    clinic_name: str
    sections: tuple[Section, ...]
    side_effects: tuple[SideEffectTierText, ...]
    screening: tuple[ScreeningQuestion, ...]
    acknowledgments: tuple[Acknowledgment, ...]
    signature: SignatureText
    course: Course
    visit: VisitText
    visit_screening: tuple[ScreeningQuestion, ...]
    #: What a patient's signature on a withdrawal of this consent means.
    withdrawal_meaning: str
    #: The language of this text; the form's own file is English, a translation its language.
    language: str = DEFAULT_LANGUAGE
    #: A translation's own mark: who translated it, and whether the clinic's translator has
    #: reviewed it. Neither these nor `language` are part of the hashed text.
    translation: TranslationMark | None = None

    @property
    def major_version(self) -> str:
        """The version's first part: a consent stays current across minor versions only."""
        return self.version.split(".", 1)[0]

    def canonical_json(self) -> bytes:
        """The content as canonical JSON: sorted keys, no spaces, UTF-8."""
        content = asdict(self)
        del content["language"], content["translation"]
        return canonical_json(content)

    @cached_property
    def sha256(self) -> str:
        """SHA-256 (hex) of the canonical content: which exact text a patient saw."""
        return hashlib.sha256(self.canonical_json()).hexdigest()

    def question(self, question_id: str) -> ScreeningQuestion:
        return next(q for q in self.screening if q.id == question_id)

    def visit_question(self, question_id: str) -> ScreeningQuestion:
        return next(q for q in self.visit_screening if q.id == question_id)


class _Reader:
    """Reads typed values out of parsed TOML, naming the file and key on any problem."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> DefinitionError:
        return DefinitionError(self.path, key, message)

    def table(self, data: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
        full = f"{where}{key}"
        value = data.get(key)
        if not isinstance(value, dict):
            raise self.fail(full, "missing table" if value is None else "must be a table")
        return value

    def text(self, data: dict[str, Any], key: str, where: str = "", required: bool = True) -> str:
        full = f"{where}{key}"
        value = data.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str):
            raise self.fail(full, "missing" if value is None else "must be a string")
        if required and not value.strip():
            raise self.fail(full, "must not be empty")
        return value.strip()

    def texts(self, data: dict[str, Any], key: str, where: str = "") -> tuple[str, ...]:
        full = f"{where}{key}"
        value = data.get(key, [])
        if not isinstance(value, list):
            raise self.fail(full, "must be a list of strings")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(f"{full}[{i}]", "must be a non-empty string")
        return tuple(item.strip() for item in value)

    def flag(self, data: dict[str, Any], key: str, where: str = "") -> bool:
        value = data.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(f"{where}{key}", "must be true or false")
        return value

    def choice(self, data: dict[str, Any], key: str, allowed: tuple[str, ...], where: str) -> Any:
        value = self.text(data, key, where)
        if value not in allowed:
            raise self.fail(f"{where}{key}", f"must be one of {', '.join(allowed)}")
        return value

    def number(self, data: dict[str, Any], key: str, where: str = "", default: int = 0) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(f"{where}{key}", "must be a whole number of at least 1")
        return value

    def array(self, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = data.get(key)
        if not isinstance(value, list) or not value:
            problem = "missing" if value is None else "must be a non-empty array of tables"
            raise self.fail(key, problem)
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.fail(f"{key}[{i}]", "must be a table")
        return value

    def unique_ids(self, key: str, ids: list[str]) -> None:
        seen: set[str] = set()
        for i, item_id in enumerate(ids):
            if item_id in seen:
                raise self.fail(f"{key}[{i}].id", f"duplicate id {item_id!r}")
            seen.add(item_id)


def read_toml(path: Path) -> dict[str, Any]:
    """A definition file's data; `DefinitionError` when it is missing or not TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DefinitionError(path, "", "file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DefinitionError(path, "", f"not valid TOML: {exc}") from None


def load_definition(path: Path) -> ConsentDefinition:
    """Load and check one definition file; raise `DefinitionError` naming the file and key."""
    return definition_from(read_toml(path), path, path.stem)


def definition_from(
    data: dict[str, Any],
    path: Path,
    expected_id: str,
    language: str = DEFAULT_LANGUAGE,
    translation: TranslationMark | None = None,
) -> ConsentDefinition:
    """The definition `data` (read from `path`) holds, checked key by key."""
    r = _Reader(path)
    form_id = r.text(data, "id")
    if form_id != expected_id:
        raise r.fail("id", f"must match the file name ({expected_id!r})")

    sections = tuple(
        Section(
            id=r.text(s, "id", f"sections[{i}]."),
            heading=r.text(s, "heading", f"sections[{i}]."),
            paragraphs=r.texts(s, "paragraphs", f"sections[{i}]."),
            items=r.texts(s, "items", f"sections[{i}]."),
            numbered=r.flag(s, "numbered", f"sections[{i}]."),
        )
        for i, s in enumerate(r.array(data, "sections"))
    )
    for i, section in enumerate(sections):
        if not section.paragraphs and not section.items:
            raise r.fail(f"sections[{i}]", "needs paragraphs or items")
    r.unique_ids("sections", [s.id for s in sections])

    side_effects = tuple(
        SideEffectTierText(
            tier=r.choice(t, "tier", ("mild", "serious", "severe"), f"side_effects[{i}]."),
            heading=r.text(t, "heading", f"side_effects[{i}]."),
            intro=r.text(t, "intro", f"side_effects[{i}]."),
            items=r.texts(t, "items", f"side_effects[{i}]."),
            action=r.text(t, "action", f"side_effects[{i}]."),
            headline=r.text(t, "headline", f"side_effects[{i}].", required=False),
            contact_clinic=r.flag(t, "contact_clinic", f"side_effects[{i}]."),
        )
        for i, t in enumerate(r.array(data, "side_effects"))
    )
    for i, tier in enumerate(side_effects):
        if not tier.items:
            raise r.fail(f"side_effects[{i}].items", "must list at least one side effect")

    screening = _questions(r, data, "screening")

    acknowledgments = tuple(
        Acknowledgment(
            id=r.text(a, "id", f"acknowledgments[{i}]."),
            text=r.text(a, "text", f"acknowledgments[{i}]."),
            esign=r.flag(a, "esign", f"acknowledgments[{i}]."),
        )
        for i, a in enumerate(r.array(data, "acknowledgments"))
    )
    r.unique_ids("acknowledgments", [a.id for a in acknowledgments])
    if sum(a.esign for a in acknowledgments) != 1:
        raise r.fail("acknowledgments", "exactly one acknowledgment must have esign = true")

    signature = r.table(data, "signature")
    clinic = r.table(data, "clinic")
    visit_screening = _questions(r, data, "visit_screening")
    course = r.table(data, "course")
    loading = r.table(course, "loading", "course.")
    maintenance = r.table(course, "maintenance", "course.")
    visit = r.table(data, "visit")
    withdrawal = r.table(data, "withdrawal")
    return ConsentDefinition(
        id=form_id,
        version=r.text(data, "version"),
        title=r.text(data, "title"),
        treatment=r.text(data, "treatment"),
        purpose=r.text(data, "purpose"),
        clinic_name=r.text(clinic, "name", "clinic."),
        sections=sections,
        side_effects=side_effects,
        screening=screening,
        acknowledgments=acknowledgments,
        signature=SignatureText(
            meaning=r.text(signature, "meaning", "signature."),
            guardian_meaning=r.text(signature, "guardian_meaning", "signature."),
            clinician_line=r.text(signature, "clinician_line", "signature."),
        ),
        course=Course(
            consent_valid_days=r.number(course, "consent_valid_days", "course.", 365),
            loading_doses=r.number(loading, "doses", "course.loading."),
            loading_every_days=r.number(loading, "every_days", "course.loading."),
            maintenance_every_days=r.number(maintenance, "every_days", "course.maintenance."),
            min_interval_days=r.number(course, "min_interval_days", "course."),
        ),
        visit=VisitText(
            intro=r.text(visit, "intro", "visit."),
            side_effects_reminder=r.text(visit, "side_effects_reminder", "visit."),
            meaning=r.text(visit, "meaning", "visit."),
        ),
        visit_screening=visit_screening,
        withdrawal_meaning=r.text(withdrawal, "meaning", "withdrawal."),
        language=language,
        translation=translation,
    )


def _questions(r: _Reader, data: dict[str, Any], key: str) -> tuple[ScreeningQuestion, ...]:
    """The yes/no questions of `key` (`screening` or `visit_screening`)."""
    questions = tuple(
        ScreeningQuestion(
            id=r.text(q, "id", f"{key}[{i}]."),
            question=r.text(q, "question", f"{key}[{i}]."),
            level=r.choice(q, "level", ("stop", "caution"), f"{key}[{i}]."),
            reason=r.text(q, "reason", f"{key}[{i}]."),
            pick_tier=r.flag(q, "pick_tier", f"{key}[{i}]."),
            plain=r.text(q, "plain", f"{key}[{i}].", required=False),
        )
        for i, q in enumerate(r.array(data, key))
    )
    r.unique_ids(key, [q.id for q in questions])
    return questions


class FormCatalog:
    """The definitions in one folder, loaded on first use, with the lock of released versions.

    A form is `<id>.toml` (English); its text in another language is `<id>.<lang>.toml`, with
    exactly the English file's ids, levels and structure (`intake.form_translations`).
    """

    def __init__(self, forms_dir: Path) -> None:
        self.forms_dir = Path(forms_dir)
        self._loaded: dict[tuple[str, str], ConsentDefinition] = {}

    @property
    def lock_path(self) -> Path:
        return self.forms_dir / LOCK_FILE_NAME

    def ids(self) -> list[str]:
        """The forms: every `<id>.toml`, a translation (`<id>.<lang>.toml`) not among them."""
        return sorted(p.stem for p in self.forms_dir.glob("*.toml") if "." not in p.stem)

    def translation_path(self, form_id: str, language: str) -> Path:
        return self.forms_dir / f"{form_id}.{language}.toml"

    def get(self, form_id: str, language: str | None = None) -> ConsentDefinition:
        """The definition with this id, in `language` (English when None); `KeyError` when
        there is no such form, or no current text of it in that language."""
        language = language or DEFAULT_LANGUAGE
        key = (form_id, language)
        if key not in self._loaded:
            if form_id not in self.ids():
                raise KeyError(form_id)
            if language == DEFAULT_LANGUAGE:
                self._loaded[key] = load_definition(self.forms_dir / f"{form_id}.toml")
            else:
                translated = self._translation(form_id, language)
                if translated is None:
                    raise KeyError(f"{form_id}.{language}")
                self._loaded[key] = translated
        return self._loaded[key]

    def _translation(self, form_id: str, language: str) -> ConsentDefinition | None:
        """The form's text in `language` when its file exists and translates the current
        English version; `DefinitionError` when it differs from the English in structure."""
        from intake.form_translations import load_translation

        path = self.translation_path(form_id, language)
        if language not in LANGUAGES or not path.is_file():
            return None
        translated = load_translation(path, self.get(form_id), language)
        assert translated.translation is not None
        return translated if translated.translation.of_version == translated.version else None

    def languages(self, form_id: str) -> list[str]:
        """The languages a patient may read this form in: English, then each current
        translation, in the order of `intake.languages.LANGUAGES`; `KeyError` when there is
        no such form."""
        if form_id not in self.ids():
            raise KeyError(form_id)
        return [lang for lang in LANGUAGES if self._has(form_id, lang)]

    def _has(self, form_id: str, language: str) -> bool:
        try:
            self.get(form_id, language)
        except KeyError:
            return False
        return True

    def translation_problems(self) -> list[str]:
        """Translations that are out of date (they translate an older English version)."""
        from intake.form_translations import load_translation

        problems = []
        for form_id in self.ids():
            english = self.get(form_id)
            for language in LANGUAGES[1:]:
                path = self.translation_path(form_id, language)
                if not path.is_file():
                    continue
                mark = load_translation(path, english, language).translation
                assert mark is not None
                if mark.of_version != english.version:
                    problems.append(
                        f"{path.name} translates version {mark.of_version}, not "
                        f"{english.version}: translate the changes, then set "
                        f"translation.of_version and run `intake form lock`"
                    )
        return problems

    def texts(self) -> list[tuple[str, ConsentDefinition]]:
        """Every current text with its name in the lock: `<id>` for English, `<id>.<lang>`
        for a translation."""
        found = []
        for form_id in self.ids():
            for language in self.languages(form_id):
                name = form_id if language == DEFAULT_LANGUAGE else f"{form_id}.{language}"
                found.append((name, self.get(form_id, language)))
        return found

    def read_lock(self) -> dict[str, dict[str, str]]:
        """{form id (or `<id>.<lang>`): {version: sha256}} of every released version."""
        if not self.lock_path.exists():
            return {}
        try:
            return json.loads(self.lock_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DefinitionError(self.lock_path, "", f"not valid JSON: {exc}") from None

    def lock_problems(self) -> list[str]:
        """Why the current definitions disagree with the lock; empty when they agree."""
        lock = self.read_lock()
        problems = []
        for name, definition in self.texts():
            recorded = lock.get(name, {}).get(definition.version)
            if recorded is None:
                problems.append(
                    f"{name} version {definition.version} is not in {self.lock_path.name}: "
                    "run `intake form lock` after bumping the version"
                )
            elif recorded != definition.sha256:
                problems.append(
                    f"{name} version {definition.version} text changed since it was "
                    "released: bump `version` in the TOML file, then run `intake form lock`"
                )
        return problems

    def write_lock(self) -> list[str]:
        """Record the hash of each current version; never rewrite a released one."""
        lock = self.read_lock()
        added = []
        for name, definition in self.texts():
            versions = lock.setdefault(name, {})
            recorded = versions.get(definition.version)
            if recorded is None:
                versions[definition.version] = definition.sha256
                added.append(f"{name} {definition.version}")
            elif recorded != definition.sha256:
                raise DefinitionError(
                    self.forms_dir / f"{name}.toml",
                    "version",
                    f"version {definition.version} was released with other text; bump it",
                )
        self.lock_path.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n", "utf-8")
        return added
