"""The treatment course at scale: today's list and the patient search at 100,000 patients with
1,000,000 injections, on SQLite and PostgreSQL.

For each backend: a fresh database (the app's migrations), then, in bulk (COPY on PostgreSQL,
executemany on SQLite, `bench_archive.bulk_insert`): 100,000 patients with their name words and
one consent each, ten visits and ten injections per patient (one lot), and each patient's next
due day spread around today (most in the coming month, some overdue). Then, call by call and
round-robin: today's list through the real staff page (the Flask test client, logged in as the
front desk), its second page by keyset, a patient's page, and the patient search by a family
name, by a full name and by a date of birth (`intake.archive.patient_search.search`). Each list
is checked against what the seeded rows say it must hold, so a fast wrong answer cannot pass.

    .venv/bin/python -m bench.bench_course [--patients 100000] [--injections-each 10]
        [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path

from sqlalchemy import Engine, event

from bench.bench_archive import (
    CLINIC_TZ,
    FAMILY_NAMES,
    GIVEN_NAMES,
    analyze,
    bulk_insert,
    names,
    skewed_weights,
)
from bench.measure import Figure
from bench.pg import PostgresUnavailable, throwaway_server
from intake.archive.course_models import (
    VISIT_GIVEN,
    Injection,
    Lot,
    Patient,
    PatientName,
    Visit,
)
from intake.archive.models import ARCHIVED, Consent
from intake.archive.search import name_words
from intake.definition import FormCatalog
from tests.support.app import app_settings, new_app
from tests.support.staff import StaffActions, make_staff

TARGET_MS = 50
#: A page of 50 rows may cost this many times a staff page that lists nothing.
PAGE_RATIO = 3.0
BATCH = 5_000
ROUNDS = 30
#: The day the bench's clinic works on.
TODAY = date(2026, 12, 1)
FORM_ID = "b12-methylcobalamin"


class Seeded:
    """What the seeded rows say the lists must hold."""

    def __init__(self) -> None:
        self.due: list[tuple[date, str]] = []
        self.family_names: dict[str, int] = {}
        self.births: dict[date, int] = {}
        self.sample_patient = ""
        self.sample_name = ""
        self.sample_birth = date(1980, 1, 1)
        self.injections = 0
        self.seconds = 0.0


def seed(engine: Engine, catalog: FormCatalog, patients: int, each: int) -> Seeded:
    """`patients` patients, each with one consent, `each` visits and `each` injections."""
    definition = catalog.get(FORM_ID)
    rng = random.Random(13)
    given, family = names(GIVEN_NAMES), names(FAMILY_NAMES)
    rng.shuffle(given)
    rng.shuffle(family)
    given_weights = list(accumulate(skewed_weights(len(given))))
    family_weights = list(accumulate(skewed_weights(len(family))))
    seeded = Seeded()
    started = time.perf_counter()
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _bulk_load(dbapi_connection, _record) -> None:  # noqa: ANN001
            dbapi_connection.execute("PRAGMA cache_size=-500000")
            dbapi_connection.execute("PRAGMA synchronous=OFF")

    lot_id = f"{rng.getrandbits(128):032x}"
    created = datetime(2025, 1, 1, tzinfo=UTC)
    with engine.begin() as connection:
        bulk_insert(
            connection,
            Lot.__table__,
            [
                {
                    "id": lot_id,
                    "product": "Methylcobalamin injection",
                    "strength": "1 mg/ml",
                    "supplier": "Hillside Compounding Pharmacy",
                    "lot_number": "B12-BENCH",
                    "expires_on": date(2030, 1, 1),
                    "created_at": created,
                }
            ],
        )
    born_from = date(1940, 1, 1)
    for first in range(0, patients, BATCH):
        rows: dict[str, list[dict[str, object]]] = {
            "patients": [],
            "names": [],
            "consents": [],
            "visits": [],
            "injections": [],
        }
        for _ in range(min(BATCH, patients - first)):
            given_name = rng.choices(given, cum_weights=given_weights)[0]
            family_name = rng.choices(family, cum_weights=family_weights)[0]
            legal_name = f"{given_name} {family_name}"
            patient_id = f"{rng.getrandbits(128):032x}"
            consent_id = f"{rng.getrandbits(128):032x}"
            born = born_from + timedelta(days=rng.randrange(25_000))
            signed_on = TODAY - timedelta(days=rng.randrange(30, 360))
            # Most are due within the month; one in five has lapsed (overdue by up to a year).
            if rng.random() < 0.2:
                due = TODAY - timedelta(days=rng.randrange(1, 365))
            else:
                due = TODAY + timedelta(days=rng.randrange(0, 31))
            rows["patients"].append(
                {
                    "id": patient_id,
                    "legal_name": legal_name,
                    "first_name": given_name,
                    "date_of_birth": born,
                    "language": "en",
                    "created_at": created,
                    "first_consent_id": consent_id,
                    "last_entry_on": min(due, TODAY),
                    "next_due_on": due,
                    "doses_given": each,
                }
            )
            rows["names"] += [
                {"word": word, "patient_id": patient_id} for word in name_words(legal_name)
            ]
            signed = datetime.combine(signed_on, datetime.min.time(), CLINIC_TZ)
            rows["consents"].append(
                {
                    "id": consent_id,
                    "status": ARCHIVED,
                    "form_id": definition.id,
                    "form_version": definition.version,
                    "form_sha256": definition.sha256,
                    "created_at": signed,
                    "signed_at": signed.isoformat(timespec="seconds"),
                    "signed_on": signed_on,
                    "legal_name": legal_name,
                    "date_of_birth": born,
                    "is_minor": False,
                    "flagged": False,
                    "needs_review": False,
                    "submission_json": b"{}",
                    "submission_sha256": f"{rng.getrandbits(256):064x}",
                    "pdf_sha256": f"{rng.getrandbits(256):064x}",
                    "pdf_size": 200_000,
                    "archived_at": signed,
                    "patient_id": patient_id,
                }
            )
            for dose in range(1, each + 1):
                visit_id = f"{rng.getrandbits(128):032x}"
                given_at = signed + timedelta(days=7 * dose, hours=2)
                rows["visits"].append(
                    {
                        "id": visit_id,
                        "patient_id": patient_id,
                        "consent_id": consent_id,
                        "status": VISIT_GIVEN,
                        "started_at": given_at,
                        "checked_in_at": given_at,
                        "flagged": False,
                        "needs_review": False,
                    }
                )
                rows["injections"].append(
                    {
                        "id": f"{rng.getrandbits(128):032x}",
                        "patient_id": patient_id,
                        "visit_id": visit_id,
                        "consent_id": consent_id,
                        "lot_id": lot_id,
                        "visit_key": visit_id,
                        "dose_mg": 1.0,
                        "volume_ml": 1.0,
                        "route": "IM",
                        "site": "deltoid",
                        "side": "left" if dose % 2 else "right",
                        "given_at": given_at,
                        "reaction": "none",
                        "clinician_id": "0" * 32,
                        "clinician_name": "Clara Clinician",
                        "dose_number": dose,
                        "next_due_on": given_at.date() + timedelta(days=7),
                        "created_at": given_at,
                    }
                )
            if due <= TODAY:
                seeded.due.append((due, patient_id))
            seeded.family_names[family_name] = seeded.family_names.get(family_name, 0) + 1
            seeded.births[born] = seeded.births.get(born, 0) + 1
            if not seeded.sample_patient:
                seeded.sample_patient, seeded.sample_name = patient_id, legal_name
                seeded.sample_birth = born
        with engine.begin() as connection:
            bulk_insert(connection, Patient.__table__, rows["patients"])
            bulk_insert(connection, PatientName.__table__, rows["names"])
            bulk_insert(connection, Consent.__table__, rows["consents"])
            bulk_insert(connection, Visit.__table__, rows["visits"])
            bulk_insert(connection, Injection.__table__, rows["injections"])
        seeded.injections += len(rows["injections"])
        if (first // BATCH) % 4 == 3:
            done = first + BATCH
            print(f"  seeded {done:,} patients, {seeded.injections:,} injections", flush=True)
    seeded.due.sort()
    seeded.seconds = time.perf_counter() - started
    return seeded


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def run_backend(database_url: str, patients: int, each: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="bench-course-") as scratch:
        settings = app_settings(Path(scratch), DATABASE_URL=database_url)
        app = new_app(settings)
        archive = app.extensions["archive"]
        backend = archive.engine.dialect.name
        seeded = seed(archive.engine, archive.catalog, patients, each)
        analyzed = analyze(archive.engine)
        print(
            f"{backend}: {patients:,} patients, {seeded.injections:,} injections seeded in "
            f"{seeded.seconds:.0f} s (ANALYZE {analyzed:.1f} s); {len(seeded.due):,} due or "
            "overdue",
            flush=True,
        )
        archive.clock = lambda: datetime.combine(TODAY, datetime.min.time(), CLINIC_TZ).replace(
            hour=10
        )
        app.config["CLINIC_TIMEZONE"] = ""
        make_staff(archive, "front-desk")
        desk = StaffActions(app.test_client())
        desk.login_as("front-desk")
        first_ids = [pid for _, pid in seeded.due[:50]]
        second = f"{seeded.due[49][0].isoformat()}.{seeded.due[49][1]}"
        second_ids = [pid for _, pid in seeded.due[50:100]]

        def today_page() -> None:
            page = desk.client.get("/staff/today")
            assert page.status_code == 200, page.status_code
            positions = [page.text.index(pid) for pid in first_ids]
            assert positions == sorted(positions), "today's list is out of order"

        def today_second() -> None:
            page = desk.client.get(f"/staff/today?after={second}")
            assert page.status_code == 200 and all(pid in page.text for pid in second_ids)

        def patient_page() -> None:
            page = desk.client.get(f"/staff/patients/{seeded.sample_patient}")
            assert page.status_code == 200 and page.text.count("Clara Clinician") >= each

        from intake.archive.patient_search import PatientCriteria, search

        family = seeded.sample_name.split()[-1]
        postgresql = backend == "postgresql"

        def by(criteria: PatientCriteria, check: Callable[[list[Patient]], bool]):
            def call() -> None:
                with archive.sessions() as session:
                    found = search(session, criteria, postgresql=postgresql).patients
                assert check(found), criteria

            return call

        def my_account() -> None:
            assert desk.client.get("/staff/me").status_code == 200

        operations = {
            "a staff page with no list (My account)": my_account,
            "today's list": today_page,
            "today's list, page 2": today_second,
            "a patient's page": patient_page,
            "search: family name": by(
                PatientCriteria(name=family),
                lambda found: (
                    len(found) == min(seeded.family_names[family], len(found))
                    and bool(found)
                    and all(family in p.legal_name for p in found)
                ),
            ),
            "search: full name": by(
                PatientCriteria(name=seeded.sample_name),
                lambda found: seeded.sample_patient in {p.id for p in found},
            ),
            "search: date of birth": by(
                PatientCriteria(date_of_birth=seeded.sample_birth),
                lambda found: len(found) == min(seeded.births[seeded.sample_birth], 50),
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in operations}
        for call in operations.values():
            call()  # warm: the first call of each loads its pages into the caches
        for _ in range(ROUNDS):
            for name, call in operations.items():
                times[name].append(timed(call))
        archive.dispose()
    for name, values in times.items():
        print(
            f"  {backend} {name}: {statistics.median(values):.1f} ms median, "
            f"p95 {sorted(values)[int(len(values) * 0.95) - 1]:.1f}",
            flush=True,
        )
    return {f"{backend}|{name}": values for name, values in times.items()}


def run(
    patients: int = 100_000, each: int = 10, backends: tuple[str, ...] = ("sqlite", "postgresql")
) -> list[Figure]:
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-course-db-") as folder:
        if "sqlite" in backends:
            results.update(run_backend(f"sqlite:///{folder}/archive.sqlite3", patients, each))
    if "postgresql" in backends:
        try:
            with throwaway_server() as server:
                results.update(run_backend(server.create_database(), patients, each))
        except PostgresUnavailable as error:
            print(f"postgresql: {error}", flush=True)
    at = f"{patients:,} patients, {patients * each:,} injections"
    figures = []
    for key, values in results.items():
        backend, name = key.split("|")
        median = statistics.median(values)
        # Reference figures: the page that lists nothing, and the patient's page (its sections
        # are the patients', visits' and injections' together).
        baseline = name.startswith(("a staff page", "a patient's page"))
        figures.append(
            Figure(
                "9 course",
                f"{name} ({backend}, {at})",
                f"{median:.1f} ms",
                "" if baseline else f"< {TARGET_MS} ms",
                None if baseline else median < TARGET_MS,
            )
        )
        if name.startswith("today's list"):
            # The page against a staff page that lists nothing, in the same rounds: what the
            # list itself costs, whatever else the machine is doing.
            base = statistics.median(results[f"{backend}|a staff page with no list (My account)"])
            figures.append(
                Figure(
                    "9 course",
                    f"{name} / a staff page with no list ({backend})",
                    f"{median / base:.2f}",
                    f"<= {PAGE_RATIO}",
                    median / base <= PAGE_RATIO,
                )
            )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--injections-each", type=int, default=10)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for figure in run(args.patients, args.injections_each, backends):
        print(f"{figure.measure}: {figure.value} ({figure.verdict})")


if __name__ == "__main__":
    main()
