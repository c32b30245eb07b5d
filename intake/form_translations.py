"""A form's text in another language: `forms/<id>.<lang>.toml`.

A translation file holds the whole consent again, every table and key of the English file but
`version` (the English file's applies), with each text translated and everything else — ids,
screening levels, side-effect tiers, list lengths, flags, the clinic's name, the course's
numbers — exactly as in English. Its `[translation]` table says which English version it
translates and whether the clinic's translator has reviewed it. The loader refuses a file whose
structure differs from the English one, naming the first key that differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from intake.definition import (
    ConsentDefinition,
    DefinitionError,
    TranslationMark,
    definition_from,
    read_toml,
)

#: The keys whose values are words to translate; every other value must equal the English one.
TEXT_KEYS = frozenset(
    {
        "title",
        "treatment",
        "purpose",
        "heading",
        "paragraphs",
        "items",
        "intro",
        "action",
        "question",
        "reason",
        "text",
        "meaning",
        "guardian_meaning",
        "clinician_line",
        "side_effects_reminder",
        "plain",
        "headline",
    }
)
#: Keys of the English file a translation leaves out, and the table only a translation has.
ENGLISH_ONLY = frozenset({"version"})
TRANSLATION_TABLE = "translation"


def load_translation(path: Path, english: ConsentDefinition, language: str) -> ConsentDefinition:
    """The form `english` in `language`, from `path`; `DefinitionError` naming the key when
    the file's structure or any value that is not text differs from the English file's."""
    data = read_toml(path)
    english_data = read_toml(path.with_name(f"{english.id}.toml"))
    mark = _mark(data, path, english)
    content = {k: v for k, v in data.items() if k != TRANSLATION_TABLE}
    same_shape(english_data, content, path)
    return definition_from(
        {**content, "version": english.version},
        path,
        english.id,
        language=language,
        translation=mark,
    )


def _mark(data: dict[str, Any], path: Path, english: ConsentDefinition) -> TranslationMark:
    table = data.get(TRANSLATION_TABLE)
    if not isinstance(table, dict):
        raise DefinitionError(path, TRANSLATION_TABLE, "missing table")
    of_version = table.get("of_version")
    reviewed = table.get("reviewed")
    note = table.get("note", "")
    if not isinstance(of_version, str) or not of_version.strip():
        raise DefinitionError(path, "translation.of_version", "must name the English version")
    if not isinstance(reviewed, bool):
        raise DefinitionError(path, "translation.reviewed", "must be true or false")
    if not isinstance(note, str):
        raise DefinitionError(path, "translation.note", "must be a string")
    return TranslationMark(of_version=of_version.strip(), reviewed=reviewed, note=note.strip())


def same_shape(english: Any, translated: Any, path: Path, where: str = "") -> None:
    """Raise `DefinitionError` at the first key where `translated` is not shaped like
    `english`: a missing or extra key, a list of another length, another type, or a value
    that is not text and differs."""
    if isinstance(english, dict):
        if not isinstance(translated, dict):
            raise DefinitionError(path, where.rstrip("."), "must be a table, as in English")
        expected = set(english) - (ENGLISH_ONLY if not where else set())
        for key in sorted(expected - set(translated)):
            raise DefinitionError(path, f"{where}{key}", "missing (the English file has it)")
        for key in sorted(set(translated) - expected):
            raise DefinitionError(path, f"{where}{key}", "not in the English file")
        for key in english:
            if key in expected:
                same_shape(english[key], translated[key], path, f"{where}{key}.")
        return
    key = where.rstrip(".")
    name = key.rsplit(".", 1)[-1].split("[")[0]
    if isinstance(english, list):
        if not isinstance(translated, list):
            raise DefinitionError(path, key, "must be a list, as in English")
        if len(translated) != len(english):
            raise DefinitionError(
                path, key, f"has {len(translated)} entries; the English file has {len(english)}"
            )
        for i, (a, b) in enumerate(zip(english, translated, strict=True)):
            same_shape(a, b, path, f"{key}[{i}].")
        return
    if name in TEXT_KEYS and isinstance(english, str):
        if not isinstance(translated, str) or not translated.strip():
            raise DefinitionError(path, key, "must be the translated text")
        return
    if type(translated) is not type(english) or translated != english:
        raise DefinitionError(path, key, f"must be {english!r}, as in the English file")
