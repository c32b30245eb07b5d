"""The process the crash tests crash: a fork server that stores one consent per run.

Started once as `python tests/support/crash_child.py CERTIFICATES_DIR`, it imports the app and
renders a consent once (about a second), then reads one JSON run per line on stdin and, for each,
forks a child that stores the demo consent with `Archive.submit` into the archive the run names
(or, for a run with `"what": "visit"`, checks in to the visit the archive holds open; with
`"what": "injection"`, records a clinician's signed injection on its checked-in visit). The
child counts every step of the store path, the file-system calls under the run's folder
(`os.open`, `write`, `fchmod`, `fsync`, `mkdir`, `link`, `rename`, `replace`, `unlink`) and every
database commit, and at step `crash_at` leaves with `os._exit(77)`:

- `before`: the step does not happen;
- `after`: the step happens, then the process dies;
- `torn`: a write puts half its bytes in the file, then the process dies;
- `powercut`: the step happens, then what the kernel had not yet made durable is taken back
  before the process dies: every name made in a folder not fsynced since (a file, a hard link, a
  folder) is removed, and every file written but not fsynced since is cut to zero bytes. The
  database's own writes are not modelled: a commit has reached the disk when it returns
  (SQLite `synchronous=FULL`; PostgreSQL's own WAL).

With `crash_at` 0 the run ends normally (exit 0). Each run answers one JSON line on stdout:
`{"status": <exit code>, "steps": [<label of each step reached>]}`. The labels name the kind of
file (`run folder`, `archive folder`, `PDF folder`, `temp file`, `PDF file`), never a random name,
so the same run gives the same labels. `breaks` names faults the child puts into the code on
purpose (`no-folder-fsync`), to show the tests catch them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import traceback
from pathlib import Path
from typing import Any

from intake.archive.audit import Actor
from intake.archive.service import Archive, ArchiveSettings
from intake.archive.visits import Visits
from intake.certificates import clinic_signer
from intake.checkin import validate_checkin
from intake.config import PROJECT_ROOT
from intake.definition import FormCatalog
from intake.pdf import render_consent
from intake.pdf.seal import seal_pdf
from intake.submission import validate_submission

CRASHED = 77
CATALOG = FormCatalog(PROJECT_ROOT / "forms")
DEMO = json.loads((PROJECT_ROOT / "intake" / "demo_submission.json").read_text(encoding="utf-8"))
SUBMISSION = validate_submission(DEMO, CATALOG)
#: The check-in a `visit` run stores: a reaction of the serious tier, and the signature.
CHECKIN = {
    "answers": {
        q.id: {"yes": q.pick_tier, **({"tier": "serious", "items": []} if q.pick_tier else {})}
        for q in CATALOG.get(SUBMISSION.form_id).visit_screening
    },
    "signature": DEMO["signature"],
    "signed_at": DEMO["signed_at"],
}

#: The real calls, for the child's own bookkeeping (never counted).
_os = {name: getattr(os, name) for name in (
    "open", "write", "fchmod", "fsync", "close", "mkdir", "link", "rename", "replace", "unlink",
    "chmod", "rmdir",
)}  # fmt: skip


class Faults:
    """Counts the store path's steps in this process and crashes at one of them."""

    def __init__(self, run: dict[str, Any], trace_fd: int) -> None:
        self.run_dir = os.path.abspath(run["run_dir"])
        self.files_dir = os.path.abspath(run["files_dir"])
        self.crash_at: int = run["crash_at"]
        self.when: str = run["when"]
        self.trace_fd = trace_fd
        self.count = 0
        #: Set while the child undoes what a power cut loses: those calls are not steps.
        self.off = False
        #: Open descriptors of files and folders under the run folder: fd -> path.
        self.fds: dict[int, str] = {}
        #: For `powercut`: names made since their folder was last fsynced (folder, path)...
        self.new_names: list[tuple[str, str]] = []
        #: ...and files (by inode) written since they were last fsynced.
        self.unsynced: set[int] = set()

    # --- bookkeeping ----------------------------------------------------------------------

    def ours(self, path: Any) -> str | None:
        if isinstance(path, int):
            return None
        full = os.path.abspath(os.fsdecode(path))
        return full if full == self.run_dir or full.startswith(self.run_dir + os.sep) else None

    def kind(self, path: str) -> str:
        if path == self.run_dir:
            return "run folder"
        if path == self.files_dir:
            return "archive folder"
        name = os.path.basename(path)
        if os.path.dirname(path) == self.files_dir:
            return "PDF folder"
        if name.startswith(".") and name.endswith(".tmp"):
            return "temp file"
        if re.fullmatch(r"[0-9a-f]{64}\.pdf", name):
            return "PDF file"
        return "file"

    def step(self, label: str, call: Any, torn: Any = None) -> Any:
        if self.off:
            return call()
        self.count += 1
        _os["write"](self.trace_fd, f"{label}\n".encode())
        if self.count != self.crash_at:
            return call()
        if self.when == "before":
            os._exit(CRASHED)
        if self.when == "torn" and torn is not None:
            torn()
            os._exit(CRASHED)
        call()
        if self.when == "powercut":
            self.power_cut()
        os._exit(CRASHED)

    def made(self, path: str) -> None:
        self.new_names.append((os.path.dirname(path), path))

    def power_cut(self) -> None:
        """Take back what no fsync made durable (see the module's docstring)."""
        self.off = True
        for _folder, path in reversed(self.new_names):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.lexists(path):
                _os["unlink"](path)
        for folder, _subfolders, names in os.walk(self.run_dir):
            for name in names:
                path = os.path.join(folder, name)
                if os.stat(path).st_ino in self.unsynced:
                    os.truncate(path, 0)

    # --- the counted calls ----------------------------------------------------------------

    def install(self, archive: Archive) -> None:
        faults = self

        def open_(path: Any, flags: int, mode: int = 0o777, *, dir_fd: Any = None) -> int:
            full = faults.ours(path)
            if full is None or dir_fd is not None:
                return _os["open"](path, flags, mode, dir_fd=dir_fd)
            creates = bool(flags & os.O_CREAT) and not os.path.lexists(full)

            def call() -> int:
                fd = _os["open"](path, flags, mode)
                faults.fds[fd] = full
                if creates:
                    faults.made(full)
                return fd

            return faults.step(f"open {faults.kind(full)}", call)

        def write(fd: int, data: Any) -> int:
            if fd not in faults.fds:
                return _os["write"](fd, data)

            def call() -> int:
                faults.unsynced.add(os.fstat(fd).st_ino)
                return _os["write"](fd, data)

            def torn() -> None:
                faults.unsynced.add(os.fstat(fd).st_ino)
                _os["write"](fd, bytes(data)[: max(1, len(data) // 2)])

            return faults.step(f"write {faults.kind(faults.fds[fd])}", call, torn)

        def fsync(fd: int) -> None:
            if fd not in faults.fds:
                return _os["fsync"](fd)
            path = faults.fds[fd]

            def call() -> None:
                _os["fsync"](fd)
                if os.path.isdir(path):
                    faults.new_names = [(f, p) for f, p in faults.new_names if f != path]
                else:
                    faults.unsynced.discard(os.fstat(fd).st_ino)

            return faults.step(f"fsync {faults.kind(path)}", call)

        def fchmod(fd: int, mode: int) -> None:
            if fd not in faults.fds:
                return _os["fchmod"](fd, mode)
            return faults.step(
                f"fchmod {faults.kind(faults.fds[fd])}", lambda: _os["fchmod"](fd, mode)
            )

        def close(fd: int) -> None:
            faults.fds.pop(fd, None)
            return _os["close"](fd)

        def by_path(name: str, makes: bool = False) -> Any:
            def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
                full = faults.ours(path)
                if full is None:
                    return _os[name](path, *args, **kwargs)

                def call() -> Any:
                    result = _os[name](path, *args, **kwargs)
                    if makes:
                        faults.made(full)
                    return result

                return faults.step(f"{name} {faults.kind(full)}", call)

            return wrapper

        def by_target(name: str) -> Any:
            def wrapper(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
                full = faults.ours(dst)
                if full is None:
                    return _os[name](src, dst, *args, **kwargs)

                def call() -> Any:
                    result = _os[name](src, dst, *args, **kwargs)
                    faults.made(full)
                    return result

                return faults.step(f"{name} {faults.kind(full)}", call)

            return wrapper

        os.open = open_
        os.write = write
        os.fsync = fsync
        os.fchmod = fchmod
        os.close = close
        os.mkdir = by_path("mkdir", makes=True)
        os.unlink = by_path("unlink")
        os.chmod = by_path("chmod")
        os.rmdir = by_path("rmdir")
        os.link = by_target("link")
        os.rename = by_target("rename")
        os.replace = by_target("replace")

        dialect = archive.engine.dialect
        do_commit = dialect.do_commit
        dialect.do_commit = lambda connection: faults.step(  # type: ignore[method-assign]
            "commit", lambda: do_commit(connection)
        )


def store(run: dict[str, Any], trace_fd: int) -> None:
    """In the forked child: store the demo consent, counting (and crashing at) each step."""
    settings = ArchiveSettings(
        database_url=run["database_url"],
        storage=run["storage"],
        files_dir=Path(run["files_dir"]),
        certificates_dir=CERTIFICATES_DIR,
    )
    archive = Archive(settings, CATALOG)
    archive.signer()
    if "no-folder-fsync" in run.get("breaks", ()):
        import intake.safe_write

        intake.safe_write.fsync_folder = lambda folder: None
    Faults(run, trace_fd).install(archive)
    if run.get("what") == "visit":
        # A returning patient's check-in, on the visit the run's archive holds open.
        Visits(archive).check_in(
            run["visit_id"],
            run["tablet_id"],
            validate_checkin(CHECKIN, CATALOG.get(SUBMISSION.form_id)),
            Actor(user_agent="crash test"),
            device={"user_agent": "crash test", "ip": "192.0.2.7"},
            key=run["key"],
        )
        return
    if run.get("what") == "injection":
        record_injection(archive, run)
        return
    archive.submit(SUBMISSION, Actor(user_agent="crash test"), key=run["key"])


def record_injection(archive: Archive, run: dict[str, Any]) -> None:
    """A clinician's signed injection record, on the checked-in visit the run's archive holds,
    signed with the password of the session `run["token"]` names."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from intake.archive.injections import InjectionEntry, Injections
    from intake.archive.models import Staff

    with archive.sessions() as session:
        clinician = session.get(Staff, run["staff_id"])
    now = datetime.now(UTC)
    entry = InjectionEntry(
        lot_id=run["lot_id"], dose_mg=1.0, volume_ml=1.0, site="deltoid", side="left",
        given_at=now - timedelta(minutes=1),
    )  # fmt: skip
    Injections(archive, ZoneInfo("UTC")).record(
        run["visit_id"], entry, clinician, token=run["token"], password=run["password"],
        code="", actor=Actor(staff_id=run["staff_id"], user_agent="crash test"), today=now.date(),
    )  # fmt: skip


def serve() -> None:
    for line in sys.stdin:
        run = json.loads(line)
        read_end, write_end = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            status = 0
            try:
                store(run, write_end)
            except BaseException:  # noqa: BLE001 - the parent reads the exit code
                traceback.print_exc()
                sys.stderr.flush()
                status = 70
            os._exit(status)
        os.close(write_end)
        chunks = []
        while chunk := os.read(read_end, 65536):
            chunks.append(chunk)
        os.close(read_end)
        _, wait_status = os.waitpid(pid, 0)
        steps = b"".join(chunks).decode().splitlines()
        print(json.dumps({"status": os.waitstatus_to_exitcode(wait_status), "steps": steps}))
        sys.stdout.flush()


def warm_up() -> None:
    """Load the fonts, the renderer and the sealing code once, before any fork."""
    definition = CATALOG.get(SUBMISSION.form_id)
    signer = clinic_signer(CERTIFICATES_DIR)
    seal_pdf(render_consent(definition, SUBMISSION, seal=signer.certificate), signer, reason="x")


if __name__ == "__main__":
    CERTIFICATES_DIR = Path(sys.argv[1])
    warm_up()
    print(json.dumps({"ready": True}))
    sys.stdout.flush()
    serve()
