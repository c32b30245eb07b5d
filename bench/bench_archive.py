"""Archive search benchmark: 100,000 consents, then the staff searches, on SQLite and PostgreSQL.

For each backend: a fresh database (a SQLite file in a temp folder; a throwaway PostgreSQL server,
see `pg.py`), the app's migrations, then consents seeded in bulk with Core inserts, names drawn
from ~300 given and ~1,000 family names with a skew, as in a real list of patients. Then every
operation is timed call by call (median and p95), round-robin, through `Archive.search` itself.
Each result is checked against the same search done in Python over the seeded rows, so a fast
wrong answer can't pass.

With several `--rows` sizes, each size is measured on each backend in turn, and a last table
shows how each search's median grows with the archive (part 6 of `make bench`: indexed searches
should grow logarithmically; searches whose matches grow with the archive may grow with them).

    .venv/bin/python -m bench.bench_archive [--rows 100000 [1000000 ...]]
        [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import accumulate
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, event, text

from bench.measure import Figure, command_line, machine
from bench.pg import PostgresUnavailable, throwaway_server
from intake.archive.db import make_engine, sqlite_url
from intake.archive.migrate import upgrade
from intake.archive.models import ARCHIVED, Consent, ConsentName
from intake.archive.retention import add_years
from intake.archive.search import PAGE_SIZE, SearchCriteria, decode_cursor, name_words
from intake.archive.service import Archive, ArchiveSettings
from intake.config import PROJECT_ROOT
from intake.definition import FormCatalog

TARGET_MS = 50
BATCH = 20_000
#: SQLite page cache for the seeding connection, in KiB.
SEED_CACHE_KIB = 1_000_000
#: The archive sizes of `make bench`: 100,000 is part 4, all three are part 6 (growth).
SIZES = (10_000, 100_000, 1_000_000)
#: Part 6: a search "grows logarithmically" when 100 times the rows cost at most this many times
#: the time (log(1M) / log(10k) = 1.5, doubled for caches that no longer hold the whole table).
LOG_GROWTH_TARGET = 3.0
#: Searches whose index order is not newest-first: a surname's or a month's matches are read
#: from their index, then sorted by time to give the newest page, so their cost is
#: log(rows) + the rows read, which grow with the archive. Their target: time grows no faster
#: than the rows read do. Every other search reads one page from an index in newest-first
#: order, whatever the archive's size: log(rows) + the page. Each with the search whose
#: matches are the rows it reads: an initial and a surname reads every consent with the
#: surname (the longest word, innermost) and keeps those with the initial.
READS_EVERY_MATCH = {
    "commonest surname": "commonest surname",
    "commonest full name": "commonest full name",
    "initial and surname": "commonest surname",
    "a month of signings": "a month of signings",
}
FORM_ID = "b12-methylcobalamin"
#: The clinic's offset from UTC, for the signing time the tablet records.
CLINIC_TZ = timezone(timedelta(hours=-5))
#: The page reached by following cursors for the deep-page measurement (fewer with few rows).
DEEP_PAGE = 200
BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

GIVEN_NAMES = """
Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Sandra
Margaret Ashley Kimberly Emily Donna Michelle Carol Amanda Melissa Deborah Stephanie Dorothy
Rebecca Sharon Laura Cynthia Amy Kathleen Angela Shirley Brenda Emma Anna Pamela Nicole Samantha
Katherine Christine Helen Debra Rachel Carolyn Janet Maria Catherine Heather Diane Olivia Julie
Brittany Doris Kayla Alexis Lori Marie James Robert John Michael David William Richard Joseph
Thomas Christopher Charles Daniel Matthew Anthony Mark Donald Steven Andrew Paul Joshua Kenneth
Kevin Brian George Timothy Ronald Jason Edward Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan
Dennis Jerry Tyler Aaron Jose Adam Nathan Henry Zachary Douglas Peter Kyle Noah Ethan Jeremy
Walter Christian Keith Roger Terry Austin Sean Gerald Carl Harold Dylan Arthur Lawrence Jordan
Jesse Bryan Billy Bruce Gabriel Joe Logan Alan Juan Albert Willie Elijah Wayne Randy Vincent Mason
Roy Ralph Bobby Russell Bradley Philip Eugene Zoë Chloé Renée Noémie Léa Amélie Hélène Agnès Adèle
Anaïs Maël Joël Jérôme François André José Raúl Inés Sofía Lucía María Ramón Joaquín Martín Núria
Björn Søren Åsa Jürgen Günter Zoé Siân Seán Máire Niamh Aoife Róisín Eoin Ciarán Oisín Dónal
Mohammed Ahmed Fatima Aisha Omar Yusuf Layla Amir Zainab Hassan Priya Anjali Rahul Arjun Deepika
Sanjay Aarav Ananya Wei Mei Jun Hui Li Hiroshi Yuki Haruto Sakura Minjun Seoyeon Jiwoo Thanh Linh
Minh Duc Chidi Ngozi Kwame Amara Tendai Nia Zuri Chiamaka Olumide Kofi Ayodele Svetlana Dmitri
Olga Ivan Natalia Katarzyna Łukasz Małgorzata Wojciech Agnieszka Tomasz Magdalena Piotr Zofia
Giulia Giuseppe Francesca Alessandro Chiara Matteo Lorenzo Federica Ingrid Astrid Lars Sigrid
Nils Freya Mateo Valentina Santiago Camila Diego Ximena Alejandro Guadalupe Rocío Consuelo Íñigo
D'Arcy Mary-Jane Jean-Luc Anne-Marie Jean-Pierre Rose Lily Ava Mia Ella Aria Nora Ivy Ruby Leo
Luca Theo Oscar Felix Hugo Max Finn Axel Ezra Jude Miles Silas Owen Caleb Isaac Levi
"""

FAMILY_NAMES = """
Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Thomas Taylor Moore Jackson Martin
Lee Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Hill Green
Adams Nelson Baker Hall Campbell Mitchell Carter Roberts Phillips Evans Turner Parker Edwards
Collins Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Bailey Reed Kelly Howard Cox
Ward Richardson Watson Brooks Wood James Bennett Gray Hughes Price Sanders Myers Long Ross Foster
Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Fisher Simmons Jordan
Patterson Alexander Hamilton Graham Reynolds Griffin Wallace West Cole Hayes Bryant Gibson Ellis
Stevens Murray Ford Marshall Owens Harrison McDonald Woods Washington Kennedy Wells Henry Freeman
Webb Tucker Burns Crawford Olson Simpson Porter Hunter Gordon Shaw Snyder Mason Dixon Hunt Hicks
Holmes Palmer Wagner Black Robertson Boyd Rose Stone Fox Warren Mills Rice Daniels Ferguson
Nichols Stephens Weaver Ryan Gardner Payne Grant Dunn Spencer Hawkins Arnold Pierce Hart Bradley
Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews Ray Berry Perkins
Hoffman Johnston Matthews Richards Willis Carpenter Lawrence George Chapman Watkins Greene
Wheeler Harper Burke Larson Morrison Franklin Carlson Austin Carr Lawson Jacobs Lynch Bishop
Montgomery Oliver Harvey Williamson Gilbert Dean Sims Howell Reid Hanson McCoy Garrett Burton
Fuller Welch Lucas Fields Little Banks Day Walsh Bowman Fowler Davidson Brewer May Holland Newman
Pearson Curtis Douglas Barrett Keller Wade Stanley Hopkins Barnett Bates Chambers Caldwell
Lambert Byrd Craig Lowe Frazier Powers Neal Leonard Gregory Sutton Fleming Rhodes Shelton Norris
Jennings Watts Walters Cohen McDaniel Moran Parks Steele Vaughn Holt Barker Terry Hale Benson
Haynes Horton Miles Lyons Graves Bush Thornton Wolfe Warner McKinney Mann Dawson Fletcher Page
McCarthy Love Erickson Reeves Baldwin Hardy Higgins Cummings Chandler Sharp Barber Bowen Dennis
Robbins Ramsey Francis Griffith Blair Cross Quinn Moss Swanson Rodgers Fitzgerald Stevenson
Christensen Manning Curry McLaughlin Harmon McGee Gross Doyle Garner Newton Burgess Reese Walton
Blake Adkins Brady Goodman Webster Goodwin Potter Todd Hines Mullins Malone Cannon Tate Mack
O'Brien O'Connor O'Neill O'Sullivan O'Reilly O'Donnell O'Connell O'Leary O'Mahony O'Shea
O'Callaghan O'Keefe O'Hara O'Toole O'Malley O'Dwyer O'Driscoll O'Rourke O'Grady O'Donoghue
MacLeod MacKenzie McGregor Byrne Connolly Daly Maguire Dunne Cullen Power Keane Kavanagh Sheehan
D'Angelo D'Amico D'Alessandro D'Agostino Dell'Acqua Rossi Russo Ferrari Esposito Bianchi Romano
Colombo Ricci Marino Greco Bruno Gallo Conti Mancini Costa Giordano Rizzo Lombardi Moretti
García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Jiménez Ruiz Hernández Díaz
Moreno Muñoz Álvarez Romero Alonso Gutiérrez Navarro Torres Domínguez Vázquez Ramos Gil Ramírez
Serrano Blanco Molina Morales Suárez Ortega Delgado Castro Ortiz Rubio Marín Sanz Núñez Iglesias
Medina Garrido Cortés Castillo Santos Lozano Guerrero Cano Prieto Méndez Cruz Calvo Gallego Vidal
León Márquez Herrera Peña Flores Cabrera Campos Vega Fuentes Carrasco Caballero Reyes Nieto
Aguilar Pascual Santana Herrero Lorenzo Montero Hidalgo Giménez Ibáñez Ferrer Durán Santiago
Benítez Mora Vicente Vargas Arias Carmona Crespo Román Pastor Soto Sáez Velasco Moya Soler Parra
Esteban Bravo Gallardo Rojas Pardo Merino Franco Espinosa Lara Rivas Silva Rivera Arroyo Camacho
Ibarra Montoya Ferreira Pereira Oliveira Rodrigues Martins Sousa Fernandes Gonçalves Gomes Lopes
Marques Alves Almeida Ribeiro Pinto Carvalho Teixeira Moreira Correia Mendes Nunes Soares Vieira
Monteiro Cardoso Rocha Neves Coelho Cunha Pires Reis Simões Antunes Matos Fonseca Machado Araújo
Barbosa Tavares Lourenço Figueiredo Azevedo Freitas Magalhães Conceição Brandão Guimarães
Dubois Lefèvre Moreau Laurent Michel Lefebvre Leroy Roux Bertrand Morel Fournier Girard Bonnet
Dupont Rousseau Mercier Guérin Faure Chevalier Legrand Gauthier Garnier Perrin Robin Clément Morin
Roussel Mathieu Masson Marchand Duval Dumont Lemaire Noël Dufour Meunier Brun Giraud Joly Rivière
Brunet Gaillard Arnaud Gérard Roche Renard Leroux Caron Picard Fabre Aubert Lemoine Renaud Dumas
Lacroix Bourgeois Benoît Leclerc Rolland Guillaume Lecomte Dupuy Guillot Hubert Carpentier
Müller Schmidt Schneider Fischer Weber Meyer Becker Schulz Hoffmann Schäfer Koch Bauer Richter
Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Lange Schmitt Werner Krause
Lehmann Schulze Köhler Herrmann König Kaiser Fuchs Scholz Möller Weiß Jung Hahn Schubert Vogel
Günther Winkler Roth Lorenz Baumann Franke Albrecht Schuster Böhm Kraus Schumacher Krämer Vogt
Andersson Johansson Karlsson Nilsson Eriksson Larsson Persson Svensson Gustafsson Pettersson
Jönsson Lindqvist Lindström Lindberg Åberg Öberg Sjöberg Ström Nyström Søndergaard Jørgensen
Sørensen Møller Østergaard Hansen Nielsen Pedersen Kristensen Rasmussen Mikkelsen Halvorsen
Haugen Solberg Virtanen Korhonen Mäkinen Nieminen Mäkelä Hämäläinen Laine Heikkinen Koskinen
Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański Woźniak
Dąbrowski Kozłowski Jankowski Mazur Kwiatkowski Krawczyk Piotrowski Grabowski Pawłowski Michalski
Nowicki Adamczyk Dudek Zając Wieczorek Jabłoński Król Majewski Olszewski Jaworski Wróbel
Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Wang Li Zhang Liu Chen Yang
Huang Zhao Wu Zhou Xu Sun Zhu Hu Guo He Lin Gao Luo Zheng Liang Xie Song Tang Han Feng Deng Cao
Peng Zeng Xiao Tian Dong Pan Yuan Cai Jiang Yu Du Ye Cheng Wei Su Ding Ren Yao Shen Zhong Cui Tan
Wong Chan Leung Cheung Lau Ng Ho Tsang Yip Kwok Kim Park Choi Kang Cho Yoon Jang Lim Oh Seo Shin
Ito Yamamoto Nakamura Kobayashi Saito Katō Yoshida Yamada Sasaki Yamaguchi Matsumoto Inoue
Kimura Hayashi Shimizu Yamazaki Mori Abe Ikeda Hashimoto Ishikawa Ogawa Maeda Okada Hasegawa
Fujita Gotō Kondō Bautista Ocampo Aquino Patel Shah Sharma Singh Kumar Gupta Khan Ali Ahmed
Hussain Iyer Reddy Rao Nair Menon Pillai Joshi Desai Mehta Chopra Malhotra Kapoor Bhatt Agarwal
Banerjee Chatterjee Mukherjee Das Bose Ghosh Sen Dutta Chaudhry Siddiqui Qureshi Rahman Islam
Chowdhury Begum Akhtar Iqbal Malik Raza Naidu Krishnan Subramanian Gill Sandhu Dhillon Grewal
Sidhu Kaur Haddad Khalil Nassar Saleh Hassan Hussein Abdullah Ibrahim Mansour Khoury Aziz Farouk
Karimi Hosseini Mohammadi Rezaei Ahmadi Moradi Rahimi Yılmaz Kaya Demir Şahin Çelik Yıldız
Yıldırım Öztürk Aydın Özdemir Arslan Doğan Kılıç Aslan Çetin Koç Kurt Okafor Okonkwo Adeyemi
Mensah Owusu Boateng Asante Diallo Traoré Keïta Coulibaly Ndiaye Diop Dlamini Nkosi Mokoena Kamau
Ochieng Otieno Mwangi Abebe Tesfaye Haile Bekele Girma Kebede Papadopoulos Papadakis Georgiou
Jansen Bakker Visser Smit Meijer Mulder Bos Vos Hendriks Dekker Brouwer Dijkstra Willems Hoekstra
Ivanov Smirnov Kuznetsov Popov Vasiliev Petrov Sokolov Mikhailov Novikov Fedorov Morozov Volkov
Kovalenko Bondarenko Tkachenko Kravchenko Melnyk Boyko Smith-Jones García-López Lloyd-Williams
"""


@dataclass
class Seeded:
    """What the searches must find, per row: created_at, id, name words, born, signed, review."""

    rows: list[tuple[datetime, str, tuple[str, ...], date, date, bool]] = field(
        default_factory=list
    )
    family_names: Counter[str] = field(default_factory=Counter)
    full_names: Counter[tuple[str, str]] = field(default_factory=Counter)
    name_words: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Seeding:
    """How one database was seeded: a line for people, and the seconds (ANALYZE included)."""

    line: str
    seconds: float


@dataclass(frozen=True)
class Operation:
    #: What kind of search, the same at every archive size ("surname").
    kind: str
    #: The search itself, with the terms drawn from the seeded rows ("name 'Dutta'").
    label: str
    criteria: SearchCriteria
    cursor: str | None = None


@dataclass
class Result:
    """One operation on one backend: rows on the first page, rows matching, timings in ms."""

    rows: int
    matching: int
    label: str = ""
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.samples, n=20, method="inclusive")[18]


def names(block: str) -> list[str]:
    return list(dict.fromkeys(block.split()))


def skewed_weights(count: int) -> list[float]:
    """A few names are common and most are rare (the k-th ~ 1/sqrt(k)), as in a real register."""
    return [1 / rank**0.5 for rank in range(1, count + 1)]


def bulk_insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` with the values SQLAlchemy would store (each column type's own bind
    processing, the archive's UTC times included), without its per-row statement overhead:
    COPY on PostgreSQL, one executemany on SQLite. 1M consents: minutes less."""
    dialect = connection.dialect
    names = list(rows[0])
    processors = [
        (i, process)
        for i, name in enumerate(names)
        if (process := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
    ]
    values = []
    for row in rows:
        value = list(row.values())
        for i, process in processors:
            value[i] = process(value[i])
        values.append(value)
    cursor = connection.connection.cursor()
    try:
        if dialect.name == "postgresql":
            with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in names)
            cursor.executemany(
                f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})", values
            )
    finally:
        cursor.close()


def seed(
    engine: Engine, count: int, catalog: FormCatalog, now: datetime, submission_bytes: int = 2
) -> Seeded:
    """`count` archived consents signed over the ten years before `now`, inserted oldest first.

    The submission JSON is a placeholder of `submission_bytes` bytes: the searches never read
    it, but every row they load carries it.
    """
    definition = catalog.get(FORM_ID)
    rng = random.Random(12)
    given, family = names(GIVEN_NAMES), names(FAMILY_NAMES)
    rng.shuffle(given)
    rng.shuffle(family)
    given_weights = list(accumulate(skewed_weights(len(given))))
    family_weights = list(accumulate(skewed_weights(len(family))))
    ten_years = 3652 * 86_400 * 1_000_000
    moments = sorted(now - timedelta(microseconds=rng.randrange(ten_years)) for _ in range(count))
    born_from = date(1930, 1, 1)
    born_days = (date(2010, 12, 31) - born_from).days
    # Random digits: like signature strokes, they do not compress away.
    filler = "".join(random.Random(3).choices("0123456789", k=max(0, submission_bytes - 7)))
    submission_json = f'{{"":"{filler}"}}'.encode() if submission_bytes > 2 else b"{}"
    seeded = Seeded()
    started = time.perf_counter()
    if engine.dialect.name == "sqlite":
        # The seeding connection only (the searches run on the app's own engine, as the app
        # sets it up): with SQLite's default 2 MB page cache, each insert into the random-keyed
        # indexes (ids, name words, hashes) reads pages back from the file, so a large cache;
        # and no fsync per batch: a seed that a power cut stops is run again.
        @event.listens_for(engine, "connect")
        def _bulk_load(dbapi_connection, _record) -> None:  # noqa: ANN001
            dbapi_connection.execute(f"PRAGMA cache_size=-{SEED_CACHE_KIB}")
            dbapi_connection.execute("PRAGMA synchronous=OFF")

    for first in range(0, count, BATCH):
        consents: list[dict[str, object]] = []
        words: list[dict[str, str]] = []
        for signed in moments[first : first + BATCH]:
            given_name = rng.choices(given, cum_weights=given_weights)[0]
            family_name = rng.choices(family, cum_weights=family_weights)[0]
            legal_name = f"{given_name} {family_name}"
            consent_id = f"{rng.getrandbits(128):032x}"
            created_at = signed + timedelta(seconds=rng.uniform(1, 20))
            local = signed.astimezone(CLINIC_TZ)
            born = born_from + timedelta(days=rng.randrange(born_days + 1))
            flagged = rng.random() < 0.15
            needs_review = flagged and rng.random() < 1 / 3
            consents.append(
                {
                    "id": consent_id,
                    "status": ARCHIVED,
                    "form_id": definition.id,
                    "form_version": definition.version,
                    "form_sha256": definition.sha256,
                    "created_at": created_at,
                    "signed_at": local.isoformat(timespec="seconds"),
                    "signed_on": local.date(),
                    "legal_name": legal_name,
                    "date_of_birth": born,
                    "is_minor": add_years(born, 18) > local.date(),
                    "flagged": flagged,
                    "needs_review": needs_review,
                    "submission_json": submission_json,
                    "submission_sha256": f"{rng.getrandbits(256):064x}",
                    "pdf_sha256": f"{rng.getrandbits(256):064x}",
                    "pdf_size": rng.randrange(150_000, 400_000),
                    "archived_at": created_at + timedelta(seconds=2),
                    "submit_key": f"{rng.getrandbits(256):064x}",
                }
            )
            folded = tuple(name_words(legal_name))
            words += [{"word": word, "consent_id": consent_id} for word in folded]
            seeded.rows.append((created_at, consent_id, folded, born, local.date(), needs_review))
            seeded.family_names[family_name] += 1
            seeded.full_names[given_name, family_name] += 1
        with engine.begin() as connection:
            bulk_insert(connection, Consent.__table__, consents)
            bulk_insert(connection, ConsentName.__table__, words)
        seeded.name_words += len(words)
    seeded.seconds = time.perf_counter() - started
    return seeded


def analyze(engine: Engine) -> float:
    """Give the query planner its statistics; the seconds it took."""
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


def cursor_after(row: tuple[datetime, str, tuple[str, ...], date, date, bool]) -> str:
    """The cursor `Archive.search` gives for the page that ends with `row` (`encode_cursor`)."""
    return f"{row[0].strftime('%Y%m%dT%H%M%S%f')}.{row[1]}"


def operations(seeded: Seeded, deep_page: int, deep_cursor: str) -> list[Operation]:
    """The searches staff make, with terms taken from the seeded rows so that they match."""
    newest = seeded.rows[-1]
    surname = next(name for name, _ in seeded.family_names.most_common() if "-" not in name)
    given, family = next(pair for pair, _ in seeded.full_names.most_common())
    month_start = (newest[4] - timedelta(days=5 * 365)).replace(day=1)
    month_end = (month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return [
        Operation("newest first, first page", "newest first, first page", SearchCriteria()),
        Operation(
            "newest first, deep page (cursor)",
            f"newest first, page {deep_page} (cursor)",
            SearchCriteria(),
            deep_cursor,
        ),
        Operation(
            "newest first, oldest page (cursor)",
            "newest first, oldest page (cursor)",
            SearchCriteria(),
            cursor_after(seeded.rows[PAGE_SIZE]),
        ),
        Operation("commonest surname", f"name {surname!r}", SearchCriteria(name=surname)),
        Operation(
            "commonest full name",
            f"name {given + ' ' + family!r}",
            SearchCriteria(name=f"{given} {family}"),
        ),
        Operation(
            "initial and surname",
            f"name {given[0] + ' ' + surname!r}",
            SearchCriteria(name=f"{given[0]} {surname}"),
        ),
        Operation(
            "date of birth",
            f"born {newest[3].isoformat()}",
            SearchCriteria(date_of_birth=newest[3]),
        ),
        Operation(
            "a month of signings",
            f"signed in {month_start:%Y-%m}",
            SearchCriteria(signed_from=month_start, signed_to=month_end),
        ),
        Operation("needs review", "needs review", SearchCriteria(needs_review=True)),
    ]


def expected(seeded: Seeded, op: Operation) -> tuple[list[str], int]:
    """The ids of the first page and the number of matching rows, found in Python."""
    c = op.criteria
    wanted = name_words(c.name)
    matching = [
        row
        for row in seeded.rows
        if all(any(word.startswith(w) for word in row[2]) for w in wanted)
        and (c.date_of_birth is None or row[3] == c.date_of_birth)
        and (c.signed_from is None or row[4] >= c.signed_from)
        and (c.signed_to is None or row[4] <= c.signed_to)
        and (not c.needs_review or row[5])
    ]
    total = len(matching)
    if op.cursor:
        after = decode_cursor(op.cursor)
        assert after is not None
        matching = [row for row in matching if (row[0], row[1]) < after]
    matching.sort(key=lambda row: (row[0], row[1]), reverse=True)
    return [row[1] for row in matching[:PAGE_SIZE]], total


@contextmanager
def captured_sql(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the engine runs inside the block, with its parameters (for EXPLAIN)."""
    statements: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def query_plan(engine: Engine, statement: str, parameters: Any) -> str:
    """The plan of one captured statement (PostgreSQL: with actual times), indented."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            lines = [row[3] for row in cursor.fetchall()]
        else:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            lines = [row[0] for row in cursor.fetchall()]
        cursor.close()
        raw.rollback()
    finally:
        raw.close()
    return "\n".join("      " + line for line in lines)


def follow_cursors(archive: Archive, page: int) -> str:
    """The cursor that starts page `page`, reached as a user would: one page after another."""
    cursor = None
    for _ in range(page - 1):
        cursor = archive.search(SearchCriteria(), cursor=cursor).next_cursor
        if cursor is None:
            raise SystemExit(f"fewer than {page} pages: seed more rows (--rows)")
    assert cursor is not None
    return cursor


def run_backend(
    url: str, folder: Path, args: argparse.Namespace, now: datetime
) -> tuple[dict[str, Result], Seeding]:
    """Migrate, seed, analyze, then time every operation on the database at `url`.

    Returns the results by operation, and how long seeding (and ANALYZE) took.
    """
    catalog = FormCatalog(PROJECT_ROOT / "forms")
    upgrade(url)
    engine = make_engine(url)
    try:
        seeded = seed(engine, args.rows, catalog, now, args.submission_bytes)
        seeding = (
            f"{args.rows:,} consents and {seeded.name_words:,} name words in "
            f"{seeded.seconds:.1f} s ({args.rows / seeded.seconds:,.0f} consents/s)"
        )
        print(f"  seeded {seeding}")
        seed_seconds = seeded.seconds
        for statement in args.sql:
            with engine.begin() as connection:
                connection.execute(text(statement))
            print(f"  ran {statement}")
        if args.analyze:
            seconds = analyze(engine)
            seeding += f", then ANALYZE {seconds:.1f} s"
            seed_seconds += seconds
            print(f"  ANALYZE took {seconds:.1f} s")
    finally:
        engine.dispose()
    archive = Archive(
        ArchiveSettings(database_url=url, files_dir=folder, certificates_dir=folder), catalog
    )
    try:
        deep_page = min(DEEP_PAGE, args.rows // PAGE_SIZE)
        ops = operations(seeded, deep_page, follow_cursors(archive, deep_page))
        results: dict[str, Result] = {}
        for op in ops:
            with captured_sql(archive.engine) as statements:
                page = archive.search(op.criteria, cursor=op.cursor)
            ids, total = expected(seeded, op)
            if [consent.id for consent in page.consents] != ids:
                raise SystemExit(f"{op.label}: the archive's page is not the expected one")
            results[op.kind] = Result(len(ids), total, op.label)
            if args.plans:
                statement = next(s for s in statements if "FROM consents" in s[0])
                print(f"    plan of {op.label}:\n{query_plan(archive.engine, *statement)}")
        # Round-robin: every operation sees the same moments of a noisy machine.
        for _ in range(args.rounds):
            for op in ops:
                started = time.perf_counter()
                archive.search(op.criteria, cursor=op.cursor)
                results[op.kind].samples.append((time.perf_counter() - started) * 1000)
    finally:
        archive.dispose()
    return results, Seeding(seeding, seed_seconds)


def verdict(results: dict[str, dict[str, Result]], label: str) -> str:
    misses = [name for name, by_op in results.items() if by_op[label].median >= TARGET_MS]
    return "MISS " + ", ".join(misses) if misses else "ok"


def print_table(results: dict[str, dict[str, Result]]) -> None:
    """One line per operation: rows, each backend's median / p95 ms, the target, the verdict."""
    first = next(iter(results.values()))
    header = f"{'operation':<38}{'rows':>12}"
    for backend in results:
        header += f"{BACKENDS[backend] + ' ms':>20}"
    print(header + f"{'target':>10}  verdict")
    print(f"{'':<38}{'page/match':>12}" + f"{'median / p95':>20}" * len(results))
    for label in first:
        line = f"{first[label].label:<38}{f'{first[label].rows}/{first[label].matching}':>12}"
        for by_op in results.values():
            line += f"{f'{by_op[label].median:.1f} / {by_op[label].p95:.1f}':>20}"
        print(line + f"{'< ' + str(TARGET_MS):>10}  {verdict(results, label)}")


Results = dict[int, dict[str, dict[str, Result]]]  # size -> backend -> operation kind


def measure_sizes(
    sizes: list[int], backends: list[str], args: argparse.Namespace
) -> tuple[Results, dict[tuple[int, str], Seeding]]:
    """Every size on every backend, one after the other; results and each seeding's line."""
    results: Results = {}
    seeding: dict[tuple[int, str], Seeding] = {}
    # One "now" for every database, so that they hold the same rows.
    now = datetime.now(UTC).replace(microsecond=0)
    for size in sizes:
        sized = argparse.Namespace(**{**vars(args), "rows": size})
        results[size] = {}
        for backend in backends:
            with tempfile.TemporaryDirectory(prefix="intake-bench-archive-") as folder:
                if backend == "sqlite":
                    print(
                        f"SQLite, {size:,} consents (a file in a temp folder; WAL, "
                        "synchronous=FULL, as the app runs it)"
                    )
                    url = sqlite_url(Path(folder) / "archive.sqlite3")
                    results[size][backend], seeding[size, backend] = run_backend(
                        url, Path(folder), sized, now
                    )
                    continue
                try:
                    with throwaway_server() as server:
                        print(
                            f"PostgreSQL {server.bin_dir.parent.name}, {size:,} consents (a "
                            "throwaway server: default settings, durability off)"
                        )
                        url = server.create_database()
                        results[size][backend], seeding[size, backend] = run_backend(
                            url, Path(folder), sized, now
                        )
                except PostgresUnavailable as error:
                    print(f"PostgreSQL not measured: {error}")
    return results, seeding


def growth(results: Results, backend: str, kind: str) -> tuple[float, float]:
    """Time and matches at the largest size over the smallest, for one search on one backend."""
    small, large = min(results), max(results)
    a, b = results[small][backend][kind], results[large][backend][kind]
    return b.median / a.median, (b.matching / a.matching if a.matching else float("inf"))


def page_growth(results: Results, backend: str, kind: str) -> float:
    """Rows on the page at the largest size over the smallest (a date of birth has 1 match in
    10,000 consents and a full page in 1,000,000): rows a page-only search reads besides its
    log(n) index descent."""
    small, large = min(results), max(results)
    a, b = results[small][backend][kind], results[large][backend][kind]
    return max(1, min(b.matching, PAGE_SIZE)) / max(1, min(a.matching, PAGE_SIZE))


def print_growth(results: Results) -> None:
    sizes = sorted(results)
    backends = list(results[sizes[0]])
    heading = " / ".join(f"{size:,}" for size in sizes)
    print(f"median ms at {heading} consents; x: largest over smallest (time, matches)")
    for backend in backends:
        print(BACKENDS[backend])
        for kind in results[sizes[0]][backend]:
            times = " / ".join(f"{results[size][backend][kind].median:.1f}" for size in sizes)
            time_x, match_x = growth(results, backend, kind)
            print(f"  {kind:<38}{times:>24}   time x{time_x:.1f}, matches x{match_x:.3g}")


def short(size: int) -> str:
    """10k, 100k, 1M."""
    return f"{size // 1_000_000}M" if size % 1_000_000 == 0 else f"{size // 1000}k"


def figures(results: Results, seeding: dict[tuple[int, str], Seeding]) -> list[Figure]:
    """Part 4 (the 100,000 archive against 50 ms) and part 6 (growth over the sizes)."""
    out: list[Figure] = []
    if 100_000 in results and results[100_000]:
        by_backend = results[100_000]
        names = " / ".join(BACKENDS[b] for b in by_backend)
        for kind in next(iter(by_backend.values())):
            medians = [by_backend[b][kind].median for b in by_backend]
            out.append(
                Figure(
                    "4 archive 100k",
                    f"{kind}: {names} (ms)",
                    " / ".join(f"{m:.1f}" for m in medians),
                    f"< {TARGET_MS}",
                    max(medians) < TARGET_MS,
                )
            )
    sizes = sorted(results)
    if len(sizes) > 1 and all(results[size] for size in sizes):
        heading = " / ".join(short(size) for size in sizes)
        for backend in results[sizes[0]]:
            for kind in results[sizes[0]][backend]:
                time_x, match_x = growth(results, backend, kind)
                if kind in READS_EVERY_MATCH:
                    read_x = growth(results, backend, READS_EVERY_MATCH[kind])[1]
                    target = f"<= {LOG_GROWTH_TARGET:g}x or rows read's x (log n + k)"
                    met = time_x <= max(LOG_GROWTH_TARGET, read_x)
                    read = f", rows read x{read_x:.3g}" if read_x != match_x else ""
                else:
                    read = ""
                    target = f"<= {LOG_GROWTH_TARGET:g}x the page rows' x (log n + page)"
                    met = time_x <= LOG_GROWTH_TARGET * page_growth(results, backend, kind)
                out.append(
                    Figure(
                        "6 growth",
                        f"{BACKENDS[backend]}: {kind}, at {heading} (ms)",
                        " / ".join(f"{results[s][backend][kind].median:.1f}" for s in sizes),
                        target,
                        met,
                        f"x{time_x:.1f} for x{sizes[-1] // sizes[0]} rows, matches x{match_x:.3g}"
                        + read,
                    )
                )
        for (size, backend), seeded in seeding.items():
            if size == sizes[-1]:
                out.append(
                    Figure(
                        "6 growth",
                        f"{BACKENDS[backend]}: seeding {short(size)} consents (bulk inserts)",
                        f"{seeded.seconds:.0f} s",
                    )
                )
    return out


def default_args(rounds: int = 50) -> argparse.Namespace:
    return argparse.Namespace(rounds=rounds, submission_bytes=2, plans=False, analyze=True, sql=[])


def run(sizes: tuple[int, ...] = SIZES, rounds: int = 50) -> list[Figure]:
    """For `make bench`: every size on both backends; the figures of parts 4 and 6."""
    started = time.perf_counter()
    results, seeding = measure_sizes(list(sizes), ["sqlite", "postgresql"], default_args(rounds))
    for size, by_backend in results.items():
        if by_backend:
            print(f"\narchive, {size:,} consents")
            print_table(by_backend)
    if len(results) > 1:
        print()
        print_growth(results)
    print(f"archive: {time.perf_counter() - started:.0f} s in all")
    return figures(results, seeding)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[100_000], help="consents to seed (sizes)"
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=50, help="timed calls per operation")
    parser.add_argument(
        "--submission-bytes", type=int, default=2, metavar="N",
        help="size of each placeholder submission JSON (default 2: {}; a real one is 3-10 KB)",
    )  # fmt: skip
    parser.add_argument("--plans", action="store_true", help="print each query's plan")
    parser.add_argument(
        "--no-analyze", dest="analyze", action="store_false", help="skip ANALYZE after seeding"
    )
    parser.add_argument(
        "--sql", action="append", default=[], metavar="STATEMENT",
        help="run after seeding, before ANALYZE (to try an index); may be repeated",
    )  # fmt: skip
    args = parser.parse_args()
    if min(args.rows) < 1000 or args.rounds < 2:
        parser.error("seed at least 1000 rows and time at least 2 rounds")
    wanted = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"machine: {machine()}; SQLite {sqlite3.sqlite_version}")
    print(f"command: {command_line()}")
    started = time.perf_counter()
    results, seeding = measure_sizes(sorted(args.rows), wanted, args)
    for size, by_backend in results.items():
        if not by_backend:
            continue
        print(f"\n{size:,} consents")
        print_table(by_backend)
    print(
        f"\n{args.rounds} timed calls of Archive.search per operation, round-robin, warm caches; "
        "rows: on the first page / matching in all."
    )
    for (size, backend), seeded in seeding.items():
        print(f"seeding {BACKENDS[backend]}, {size:,} consents: {seeded.line}")
    if len(results) > 1:
        print()
        print_growth(results)
    print(f"whole run: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
