"""The batch commands at scale: backup create, verify and restore, export and export verify,
audit verify, each at 10,000 and 100,000 consents on SQLite and PostgreSQL, each beside its
floor for the same data, measured one after the other in this run, and each one's peak RSS.

The archive is seeded by `bench/scale_seed.py` (a distinct, really sealed PDF a consent; 4.5
audit rows a consent). Each command runs as `intake ... --quiet` in a process of its own
(`bench.bench_export.measured`), so its peak RSS (VmHWM) is its own. The floors:

- backup create: SQLite's online backup API (Python's `sqlite3.Connection.backup`) or
  `pg_dump -Fc`, plus `cp -a` of the PDF folder and `sync -f` (the backup syncs its folder too);
- export: `zip -qr0` of the PDF folder (stored: the PDFs are compressed already);
- export verify: `unzip -t` of the export, plus the seal checks alone (`check_seal` on every
  PDF, spread over every core by a process pool);
- audit verify: the audit table read once, every column of every row, in order (a DB-API cursor
  a page at a time, in a process of its own);
- export --format fhir (at 10,000 consents at most, BENCH_QUICK's sizes too): the zip export
  of the same archive (and, beside it, `cp -a` and `sync -f` of the PDF folder: the export
  writes a file a PDF); its verify against the zip's verify.

    .venv/bin/python -m bench.bench_scale [--consents 10000 100000] [--databases sqlite postgresql]
        [--only backup export audit fhir export-verify]
    .venv/bin/python -m bench.bench_scale --only audit --audit-rows 45000 450000 [--rounds 3]

`--audit-rows` measures `audit verify` alone, in minutes, on trails written straight into the
database without consents or PDFs (`bench/scale_audit.py`); with `audit` among the commands,
`run` ends with those rounds on trails of 4.5 rows a consent of its sizes.

`export-verify` (with `export`) checks the export made and times its floor: at 40,000 consents
on a loaded machine it is an hour (a seal check a PDF, twice); `--only export backup` leaves it
out. By default every command runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from bench.bench_backup import run_measured
from bench.bench_export import measured
from bench.measure import Figure
from bench.pg import throwaway_server
from bench.scale_seed import folder_bytes, seed_consents
from intake.archive.backup_key import make_key_file
from intake.archive.database_copy import sqlite_path
from intake.archive.migrate import upgrade
from intake.archive.service import Archive
from intake.certificates import ClinicCertificate
from intake.config import Config
from intake.definition import FormCatalog
from tests.support.app import FORMS_DIR
from tests.support.databases import find_pg_bin

SIZES = (10_000, 100_000)
#: `BENCH_QUICK=1`: two small sizes, so memory is still seen side by side.
QUICK_SIZES = (1_000, 3_000)
COMMANDS = ("backup", "export", "audit", "fhir", "export-verify")
#: The FHIR export is measured up to this many consents.
FHIR_MAX = 10_000
#: Peak RSS a batch command may reach at any size.
MEMORY_MB = 200
RATIO = 2.0


def cold() -> bool:
    """Write back what waits and drop the page cache (root only), so that a command and its floor
    each read the archive from the disk, as a ten-year archive mostly is: whichever of the two
    ran second would otherwise read what the first left cached. False where the kernel does not
    let this process."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def cold_measured(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    cold()
    return measured(args, env)


def timed(
    command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, *, fresh=True
) -> float:
    """Seconds of `command`, from a dropped page cache unless `fresh` is False: a later step of
    a floor (its `cp -a`, its `sync -f`), which must find the earlier steps' writes still
    waiting, as the command it stands beside syncs its own once."""
    if fresh:
        cold()
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


#: A child that copies a SQLite database with the online backup API.
SQLITE_BACKUP = """
import sqlite3, sys
source, target = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
source.backup(target)
target.close()
"""


def _seal_check(args: tuple[bytes, list[bytes]]) -> bool:
    from cryptography import x509

    from intake.pdf.seal import check_seal

    pdf, pems = args
    trusted = [ClinicCertificate.of(x509.load_pem_x509_certificate(p)) for p in pems]
    return check_seal(pdf, trusted).holds


def seal_checks(pdfs: Path, certificates: list[ClinicCertificate]) -> float:
    """Seconds to check the seal of every PDF under `pdfs`, over every core."""
    pems = [c.pem for c in certificates]
    paths = sorted(pdfs.rglob("*.pdf"))
    started = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        held = sum(pool.map(_seal_check, ((p.read_bytes(), pems) for p in paths), chunksize=64))
    assert held == len(paths), f"{len(paths) - held} seals did not hold"
    return time.perf_counter() - started


@contextmanager
def database(kind: str) -> Iterator[tuple[str, object]]:
    """A database URL of `kind` (empty string: SQLite in the instance folder) and a factory of
    further empty databases on the same server (for restores)."""
    if kind == "sqlite":
        yield "", None
        return
    with throwaway_server() as server:
        yield server.create_database(), server


def measure(kind: str, count: int, commands: tuple[str, ...]) -> list[Figure]:
    figures: list[Figure] = []
    part = "8 scale"
    at = f"{kind}, {count:,} consents"

    def figure(what: str, seconds: float, rss: float, floor: float | None, floor_name: str = ""):
        print(
            f"  {what}: {seconds:.1f} s, peak RSS {rss:.0f} MiB"
            + (f"; floor {floor_name} {floor:.1f} s, ratio {seconds / floor:.2f}" if floor else ""),
            flush=True,
        )
        figures.append(
            Figure(
                part,
                f"{what}, peak RSS ({at})",
                f"{rss:.0f} MB",
                f"< {MEMORY_MB} MB",
                rss < MEMORY_MB,
            )  # fmt: skip
        )
        if floor:
            figures.append(
                Figure(
                    part,
                    f"{what} / {floor_name} ({at})",
                    f"{seconds / floor:.2f}",
                    f"<= {RATIO:g}",
                    seconds / floor <= RATIO,
                    note=f"{seconds:.1f} s / {floor:.1f} s",
                )
            )
        else:
            figures.append(Figure(part, f"{what} ({at})", f"{seconds:.1f} s"))

    with (
        tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch,
        database(kind) as (
            url,
            server,
        ),
    ):
        folder = Path(scratch)
        env = {
            **os.environ,
            "INSTANCE_PATH": str(folder / "instance"),
            "FORMS_DIR": str(FORMS_DIR),
            "BACKUP_KEY_FILE": str(folder / "backup.key"),
        }
        env.pop("CI", None)
        if url:
            env["DATABASE_URL"] = url
        config = Config(environ=env)
        upgrade(config.database_url)
        archive = Archive(config.archive_settings(), FormCatalog(FORMS_DIR))
        seeded = seed_consents(archive, count)
        certificates = [archive.signer().certificate]
        archive.dispose()
        pdfs = config.archive_settings().files_dir
        size = folder_bytes(pdfs) / 2**30
        print(f"{at}: seeded in {seeded:.0f} s, PDFs {size:.2f} GiB", flush=True)
        figures.append(Figure(part, f"seeding ({at})", f"{seeded:.0f} s", note=f"{size:.2f} GiB"))
        # What every command pays before its work: Python, the package's imports, the settings.
        start, start_rss = run_measured(["form", "list"], env)
        print(f"  a command's start (intake form list): {start:.1f} s, {start_rss:.0f} MiB")
        figures.append(
            Figure(part, f"a command's start, intake form list ({at})", f"{start:.1f} s",
                   note=f"peak RSS {start_rss:.0f} MB; in each command's time below")
        )  # fmt: skip

        if "backup" in commands:
            make_key_file(folder / "backup.key")
            out = folder / "backup"
            pg_bin = ["--pg-bin", str(find_pg_bin())] if server is not None else []
            create = cold_measured(["backup", "create", "--out", str(out), *pg_bin], env)
            copy = folder / "floor-copy"
            copy.mkdir()
            if kind == "sqlite":
                database_copy = timed(
                    [sys.executable, "-c", SQLITE_BACKUP, str(sqlite_path(config.database_url)),
                     str(copy / "archive.sqlite3")]
                )  # fmt: skip
                floor_name = "SQLite backup API + cp -a + sync"
            else:
                pg_dump = str(find_pg_bin() / "pg_dump")
                libpq_url = url.replace("postgresql+psycopg://", "postgresql://", 1)
                database_copy = timed([pg_dump, "-Fc", "-f", str(copy / "dump"), "-d", libpq_url])
                floor_name = "pg_dump -Fc + cp -a + sync"
            files_copy = timed(["cp", "-a", str(pdfs), str(copy / "pdfs")], fresh=False)
            files_copy += timed(["sync", "-f", str(copy)], fresh=False)
            shutil.rmtree(copy)
            figure("backup create", *create, database_copy + files_copy, floor_name)
            figure(
                "backup verify", *cold_measured(["backup", "verify", str(out), *pg_bin], env), None
            )
            restored = {**env, "INSTANCE_PATH": str(folder / "restored")}
            if server is not None:
                restored["DATABASE_URL"] = server.create_database()
            figure(
                "backup restore",
                *cold_measured(["backup", "restore", str(out), *pg_bin], restored),
                None,
            )
            shutil.rmtree(out)
            shutil.rmtree(folder / "restored")

        # The zip export's and its verify's times, for the FHIR export's figures.
        zip_times: tuple[float, float] | None = None
        if "export" in commands:
            zipped = folder / "export.zip"
            export = cold_measured(["export", "--since", "2000-01-01", "--out", str(zipped)], env)
            floor = timed(["zip", "-qr0", str(folder / "floor.zip"), "."], cwd=pdfs)
            (folder / "floor.zip").unlink()
            figure("export", *export, floor, "zip -qr0 of the PDFs")
            if "export-verify" in commands:
                verify = cold_measured(["export", "verify", str(zipped)], env)
                unzip = timed(["unzip", "-tq", str(zipped)])
                seals = seal_checks(pdfs, certificates)
                print(f"  floor parts: unzip -t {unzip:.1f} s, seal checks {seals:.1f} s")
                figure("export verify", *verify, unzip + seals, "unzip -t + seal checks")
                zip_times = export[0], verify[0]
            zipped.unlink()

        if "fhir" in commands and count <= FHIR_MAX:
            if zip_times is None:
                zipped = folder / "export.zip"
                as_zip = cold_measured(
                    ["export", "--since", "2000-01-01", "--out", str(zipped)], env
                )
                zip_times = as_zip[0], cold_measured(["export", "verify", str(zipped)], env)[0]
                zipped.unlink()
            out = folder / "fhir"
            as_fhir = cold_measured(["export", "--format", "fhir", "--out", str(out)], env)
            # Beside it: the PDFs copied as files of their own, as the export writes them.
            copy = folder / "floor-copy"
            files_copy = timed(["cp", "-a", str(pdfs), str(copy)])
            files_copy += timed(["sync", "-f", str(copy)], fresh=False)
            shutil.rmtree(copy)
            figure("export --format fhir", *as_fhir, zip_times[0], "export (zip)")
            print(f"  cp -a + sync of the PDFs: {files_copy:.1f} s", flush=True)
            figures.append(
                Figure(part, f"export --format fhir / cp -a + sync of the PDFs ({at})",
                       f"{as_fhir[0] / files_copy:.2f}",
                       note=f"{as_fhir[0]:.1f} s / {files_copy:.1f} s")
            )  # fmt: skip
            fhir_verify = cold_measured(["export", "verify", str(out)], env)
            figure("export verify (fhir)", *fhir_verify, zip_times[1], "export verify (zip)")
            shutil.rmtree(out)

        if "audit" in commands:
            verify = cold_measured(["audit", "verify"], env)
            from bench.scale_audit import READ_AUDIT

            floor = timed([sys.executable, "-c", READ_AUDIT, config.database_url])
            figure("audit verify", *verify, floor, "reading the audit table once")
    return figures


def run(sizes: tuple[int, ...] = SIZES, databases: tuple[str, ...] = ("sqlite", "postgresql"),
        commands: tuple[str, ...] = COMMANDS) -> list[Figure]:  # fmt: skip
    figures = []
    for kind in databases:
        for count in sizes:
            figures += measure(kind, count, commands)
    if "audit" in commands:
        # Then audit verify's steadier figure: interleaved rounds on trails of the same length
        # (the seeded archive's 4.5 rows a consent), written straight into the database.
        from bench import scale_audit
        from bench.scale_seed import AUDIT_ROWS_PER_CONSENT

        rows = tuple(int(count * AUDIT_ROWS_PER_CONSENT) for count in sizes)
        figures += scale_audit.run(rows, databases)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--consents", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--only", nargs="+", choices=COMMANDS, default=list(COMMANDS))
    parser.add_argument(
        "--audit-rows",
        type=int,
        nargs="+",
        help="audit verify alone, on trails of these many rows written straight into the "
        "database (no consents): interleaved rounds against its floor (bench/scale_audit.py)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each, with --audit-rows")
    options = parser.parse_args()
    from bench.measure import print_table

    if options.audit_rows:
        from bench import scale_audit

        databases = tuple(options.databases)
        print_table(scale_audit.run(tuple(options.audit_rows), databases, options.rounds))
        return
    print_table(run(tuple(options.consents), tuple(options.databases), tuple(options.only)))


if __name__ == "__main__":
    main()
