"""The staff pages in the staff member's own language: the choice in the header is kept on the
account (audited), every staff page then speaks it, the clinic's language is the default, and
a patient's language pick on the tablet never changes it."""

from __future__ import annotations

import errno
import html
import pickle
import re
from datetime import timedelta
from pathlib import Path

import pytest
from babel.dates import format_date
from sqlalchemy import text as sql
from sqlalchemy import update

from intake.archive.accounts import Accounts
from intake.archive.audit import Actor
from intake.archive.models import Consent
from intake.archive.passwords import TOO_SHORT
from intake.archive.reasons import Reason
from intake.archive.sealing import certificate_failure
from intake.archive.staff import StaffError, too_many
from intake.languages import Said, language_in_sentence, language_name_in, said_n, say_in
from tests.support.app import app_settings, new_app
from tests.support.staff import (
    EMAILS,
    PASSWORD,
    StaffActions,
    add_consent,
    events,
    make_staff,
    staff_row,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_staff_pages_speak_the_clinics_language_until_one_is_picked(desk, client):
    page = text(client.get("/staff/"))
    assert '<html lang="en-US"' in page
    assert "Start a patient session" in page and "Log out" in page
    assert 'aria-pressed="true">English</button>' in page


def test_the_language_picked_is_kept_on_the_account_and_audited(desk, client, archive):
    response = desk.post("/staff/me/language", {"lang": "es", "next": "/staff/"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/")
    assert staff_row(archive, EMAILS["front-desk"]).language == "es"
    (event,) = events(archive, "staff language changed")
    assert event.target == staff_row(archive, EMAILS["front-desk"]).id
    page = text(client.get("/staff/"))
    assert '<html lang="es-US"' in page
    assert "Iniciar una sesión de paciente" in page and "Cerrar sesión" in page
    assert "Buscar consentimientos" in page and "Start a patient session" not in page
    assert 'aria-pressed="true">Español</button>' in page
    # The role by its Spanish name.
    assert '<span class="role">recepción</span>' in page
    # A form's labels and a flash message speak it too.
    assert "Firmado desde" in page
    # The same pick again is not a change.
    desk.post("/staff/me/language", {"lang": "es", "next": "/staff/"})
    assert len(events(archive, "staff language changed")) == 1


def test_the_language_stays_with_the_account_across_logins(desk, client, archive):
    desk.post("/staff/me/language", {"lang": "es", "next": "/staff/me"})
    desk.post("/staff/logout")
    # Before login nobody is known: the clinic's language.
    assert "Inicio de sesión" not in text(client.get("/staff/login"))
    desk.login_as("front-desk")
    page = text(client.get("/staff/me"))
    assert "Mi cuenta" in page and "Cambiar mi contraseña" in page


def test_a_bad_language_or_a_foreign_next_changes_nothing(desk, client, archive):
    response = desk.post("/staff/me/language", {"lang": "xx", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]
    assert staff_row(archive, EMAILS["front-desk"]).language is None
    with pytest.raises(StaffError):
        Accounts(archive).set_language(staff_row(archive, EMAILS["front-desk"]).id, "xx", Actor())
    assert events(archive, "staff language changed") == []


def test_the_language_post_needs_its_csrf_token(desk, client, archive):
    client.post("/staff/me/language", data={"lang": "es", "next": "/staff/me"})
    assert staff_row(archive, EMAILS["front-desk"]).language is None


def test_a_patients_language_pick_does_not_change_the_staff_pages(desk, client, archive):
    with client.session_transaction() as session:
        session["lang"] = "es"
    page = text(client.get("/staff/"))
    assert '<html lang="en-US"' in page and "Start a patient session" in page


def test_the_clinics_language_is_the_default(tmp_path):
    app = new_app(app_settings(tmp_path, CLINIC_LANGUAGE="es"))
    try:
        page = text(app.test_client().get("/staff/login"))
        assert '<html lang="es-US"' in page and "Inicio de sesión del personal" in page
    finally:
        app.extensions["archive"].dispose()


def test_spanish_error_pages_and_flashes(desk, client, archive, demo_data):
    desk.post("/staff/me/language", {"lang": "es", "next": "/staff/"})
    missing = client.get("/staff/consents/" + "0" * 32)
    assert missing.status_code == 404 and "No encontrado" in text(missing)
    forbidden = client.get("/staff/accounts")
    assert forbidden.status_code == 403 and "No corresponde a su rol" in text(forbidden)
    consent_id = add_consent(archive, demo_data)
    page = text(client.get(f"/staff/consents/{consent_id}"))
    assert "PDF firmado" in page and "Nombre legal" in page
    # Days as Spanish writes them ("29 nov 2026"), on the list too.
    signed_on = archive.get(consent_id).signed_on
    spanish_day = format_date(signed_on, "d MMM y", locale="es")
    assert spanish_day in text(client.get("/staff/"))
    assert signed_on.strftime("%b %-d, %Y") not in text(client.get("/staff/"))
    desk.post("/staff/logout")
    assert "Se cerró su sesión." in text(client.get("/staff/login"))


def test_spanish_pages_say_the_archives_own_messages_in_spanish(desk, client, archive, demo_data):
    """The messages the archive and the seal check build at run time (the password rules, the
    throttle's wait, a seal's problem) in the staff member's language."""
    desk.post("/staff/me/language", {"lang": "es", "next": "/staff/"})
    guessable = "iloveyou12345"
    weak = text(
        desk.post(
            "/staff/me/password",
            {"current_password": PASSWORD, "password": guessable, "confirm": guessable},
        )
    )
    assert "Contraseña nueva es demasiado fácil de adivinar" in weak
    assert "too easy to guess" not in weak
    new = "a brand new tablet phrase"
    for _ in range(3):
        wrong = text(
            desk.post(
                "/staff/me/password",
                {"current_password": "not my password!", "password": new, "confirm": new},
            )
        )
        assert "Contraseña actual no es su contraseña actual" in wrong
    waiting = text(
        desk.post(
            "/staff/me/password", {"current_password": PASSWORD, "password": new, "confirm": new}
        )
    )
    assert re.search(r"Demasiados intentos fallidos\. Espere 1[45] segundos y vuelva", waiting)
    assert "Too many" not in waiting and " seconds" not in waiting

    consent_id = add_consent(archive, demo_data)
    stored = Path(archive.blobs.path(archive.get(consent_id).pdf_sha256))
    stored.write_bytes(stored.read_bytes() + b"\n% appended later\n")
    page = text(client.get(f"/staff/consents/{consent_id}"))
    assert "NO VERIFICADO" in page
    assert "el archivo se modificó después del sellado: se añadieron" in page
    assert "bytes después de la parte sellada" in page and "added after" not in page
    assert "Leído y firmado en inglés" in page, "a language's name mid-sentence, lower case"


def test_why_a_pdf_waits_is_said_in_spanish_and_an_older_rows_english_as_it_was(
    desk, client, archive, demo_data
):
    """Why a consent's PDF is not made is kept on its row as a msgid and values, so a Spanish
    staff page says it in Spanish (the consent's page and every page's banner); a reason that
    older code kept as plain English shows as it was written."""
    desk.post("/staff/me/language", {"lang": "es", "next": "/staff/"})
    consent_id = add_consent(archive, demo_data, seal=False)
    with archive.transaction() as session:
        session.execute(update(Consent).values(form_sha256="0" * 64))
    assert not archive.finish(consent_id, Actor())
    consent = archive.get(consent_id)
    version = consent.form_version
    assert (
        consent.last_error == f"form {consent.form_id} changed since version {version} was signed"
    )
    with archive.sessions() as session:
        kept = session.scalar(sql(f"SELECT last_error FROM {Consent.__tablename__}"))
    assert kept.startswith('{"said":"form %(form)s changed since version %(version)s') and (
        version in kept
    )
    changed = f"El formulario {consent.form_id} cambió después de firmarse la versión {version}"
    page = text(client.get(f"/staff/consents/{consent_id}"))
    assert f"{changed}. Las respuestas" in page and "changed since" not in page
    banner = text(client.get("/staff/"))
    assert f"{changed}: 1 consentimiento" in banner

    full = certificate_failure(OSError(errno.ENOSPC, "No space left on device")).args[0]
    assert isinstance(full, Said)
    with archive.transaction() as session:
        session.execute(update(Consent).values(last_error=full))
    assert archive.get(consent_id).last_error == (
        "the clinic's sealing certificate cannot be made: the certificates folder is full"
    )
    page = text(client.get(f"/staff/consents/{consent_id}"))
    assert (
        "No se puede crear el certificado de sellado de la clínica: la carpeta de certificados "
        "está llena." in page
    )
    assert "cannot be made" not in page

    older = "the clinic's sealing certificate cannot be made: the certificates folder is full"
    with archive.transaction() as session:
        session.execute(Consent.__table__.update().values(last_error=older))
    page = text(client.get(f"/staff/consents/{consent_id}"))
    assert f"{older[0].upper()}{older[1:]}. Las respuestas" in page


def test_a_reason_column_keeps_a_said_whole_and_anything_else_as_written():
    column = Reason(200)
    full = certificate_failure(OSError(errno.EDQUOT, "Disk quota exceeded")).args[0]
    stored = column.process_bind_param(full, None)
    back = column.process_result_value(stored, None)
    assert isinstance(back, Said) and back == full and stored != full
    assert back.in_language("es").endswith(
        "carpeta de certificados está llena (superó su cuota de disco)"
    )
    # What JSON cannot hold, or what would not fit, is kept as its English, cut to fit.
    wait = too_many(timedelta(seconds=61))
    assert column.process_bind_param(wait, None) == str(wait)
    assert Reason(40).process_bind_param(full, None) == full[:40]
    # A storage failure's reason stays as the archive queries it; older rows read as written.
    assert column.process_bind_param("the archive folder is full", None) == (
        "the archive folder is full"
    )
    for older in ("KeyError", "form x changed since version 1 was signed", '{"said":"%(x)s"}'):
        assert column.process_result_value(older, None) == older
        assert not isinstance(column.process_result_value(older, None), Said)


def test_the_login_throttle_speaks_the_clinics_language(tmp_path):
    """Before login the page speaks the clinic's language: the throttle's wait too."""
    app = new_app(app_settings(tmp_path, CLINIC_LANGUAGE="es"))
    try:
        archive = app.extensions["archive"]
        make_staff(archive, "front-desk")
        actions = StaffActions(app.test_client())
        for _ in range(3):
            assert "no corresponden a ninguna cuenta activa" in text(
                actions.login(EMAILS["front-desk"], "not my password!")
            )
        delayed = actions.login(EMAILS["front-desk"], PASSWORD)
        assert delayed.status_code == 429
        assert re.search(r"Demasiados intentos fallidos\. Espere 1[45] segundos", text(delayed))
    finally:
        app.extensions["archive"].dispose()


def test_said_is_english_and_says_itself_in_each_language():
    wait = too_many(timedelta(seconds=61))
    assert wait == "Too many failed attempts. Wait 2 minutes, then try again."
    assert (
        wait.in_language("es")
        == "Demasiados intentos fallidos. Espere 2 minutos y vuelva a intentarlo."
    )
    problem = said_n("%(num)s byte added", "%(num)s bytes added", 1)
    assert problem == "1 byte added" and said_n("%(num)s byte", "%(num)s bytes", 3) == "3 bytes"
    # A seal check's problems come back whole from a worker process.
    assert pickle.loads(pickle.dumps(wait)).in_language("es") == wait.in_language("es")
    assert say_in("es", TOO_SHORT) == "debe tener al menos 12 caracteres"
    assert say_in("es", "not a message of the catalog") == "not a message of the catalog"
    assert language_in_sentence("es", "es") == "español"
    assert (
        language_name_in("es", "es") == "Español" and language_in_sentence("es", "en") == "Spanish"
    )
