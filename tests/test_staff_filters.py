"""The staff pages' Jinja filters: times in the clinic's zone, days, forms, why a PDF waits."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from intake.staff.filters import as_sentence, day, form_title, local_time, treatment, why_waiting
from tests.support.app import B12, app_settings, new_app


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "CLINIC_TIMEZONE": "America/Toronto"}


def test_a_stored_time_is_shown_in_the_clinics_zone(app):
    with app.app_context():
        shown = local_time(datetime(2026, 1, 5, 15, 30, tzinfo=UTC))
    assert shown == "Jan 5, 2026, 10:30 AM (UTC-05:00)"


def test_a_signing_time_keeps_its_own_offset(app):
    with app.app_context():
        assert local_time("2026-07-01T09:05:00+00:00") == "Jul 1, 2026, 9:05 AM (UTC)"
        assert local_time(None) == ""


def test_days():
    assert day(date(2026, 3, 9)) == "Mar 9, 2026"
    assert day(None) == ""


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        (None, ""),
        ("the archive folder is full", "the archive folder is full"),
        ("KeyError", "the app failed while making it (KeyError)"),
    ],
)
def test_why_a_pdf_waits(reason: str | None, shown: str):
    assert why_waiting(reason) == shown


def test_why_a_pdf_waits_in_the_pages_language(tmp_path):
    app = new_app(app_settings(tmp_path, CLINIC_LANGUAGE="es"))
    try:
        with app.test_request_context("/"):
            assert why_waiting("the archive folder is full") == "la carpeta del archivo está llena"
            assert why_waiting("the archive database is read-only") == (
                "la base de datos del archivo es de solo lectura"
            )
            assert why_waiting("the archive folder cannot be written (EXDEV)") == (
                "la carpeta del archivo no se puede escribir (EXDEV)"
            )
            assert why_waiting("KeyError") == "la aplicación falló al crearlo (KeyError)"
    finally:
        app.extensions["archive"].dispose()


def test_as_sentence_keeps_the_other_letters():
    assert as_sentence("the PDF waits") == "The PDF waits"
    assert as_sentence("") == ""


def test_a_form_no_longer_in_the_catalog_is_named_by_its_id(app, catalog):
    with app.app_context():
        assert form_title(B12) == catalog.get(B12).title
        assert treatment(B12) == catalog.get(B12).treatment
        assert form_title("gone-form") == treatment("gone-form") == "gone-form"


def test_the_filters_are_registered_on_the_app(app):
    rendered = app.jinja_env.from_string("{{ d | day }} {{ r | why_waiting | as_sentence }}")
    with app.app_context():
        assert rendered.render(d=date(2026, 3, 9), r="KeyError") == (
            "Mar 9, 2026 The app failed while making it (KeyError)"
        )
