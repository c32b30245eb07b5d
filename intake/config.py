"""Configuration, read from the environment in one place.

`Config()` reads the environment when it is made (so a test or a CLI run may set variables
first). Paths left empty default to folders under the instance folder (`INSTANCE_PATH`, by
default `instance/` in the project).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Config:
    """Settings with defaults; an environment variable of the same name overrides each."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ

        def text(name: str, default: str = "") -> str:
            return env.get(name, default)

        def seconds(name: str, default: int) -> int:
            return int(env.get(name, default))

        def path(name: str) -> Path | None:
            return Path(env[name]) if env.get(name) else None

        self.SECRET_KEY: str | None = env.get("SECRET_KEY")
        #: Where the app keeps its own files: drafts, the SQLite archive, PDFs, certificates.
        self.INSTANCE_PATH: Path = path("INSTANCE_PATH") or PROJECT_ROOT / "instance"
        self.FORMS_DIR: Path = path("FORMS_DIR") or PROJECT_ROOT / "forms"
        self.CLINIC_ADDRESS = text("CLINIC_ADDRESS")
        self.CLINIC_PHONE = text("CLINIC_PHONE")
        #: "letter" (default) or "a4".
        self.PAGE_SIZE = text("PAGE_SIZE", "letter").lower()
        #: IANA time zone of the clinic ("America/Chicago") for the signing time; empty: the
        #: server's.
        self.CLINIC_TIMEZONE = text("CLINIC_TIMEZONE")

        #: The largest request body accepted (a signature of many strokes fits easily); larger
        #: ones get 413.
        self.MAX_CONTENT_LENGTH = int(text("MAX_CONTENT_LENGTH", str(2 * 1024 * 1024)))

        #: "https" behind a TLS proxy: links the app makes use it, and the cookie is Secure.
        self.PREFERRED_URL_SCHEME = text("PREFERRED_URL_SCHEME", "http").lower()
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_HTTPONLY = True
        #: Send the session cookie over HTTPS only (the default with PREFERRED_URL_SCHEME=https).
        self.SESSION_COOKIE_SECURE = (
            text("SESSION_COOKIE_SECURE", "1" if self.PREFERRED_URL_SCHEME == "https" else "0")
            == "1"
        )
        #: Every form carries its CSRF token and the cookie is SameSite. Flask-WTF's extra HTTPS
        #: check wants a Referer header, which `Referrer-Policy: no-referrer` keeps browsers from
        #: sending: without this every HTTPS post would be refused.
        self.WTF_CSRF_SSL_STRICT = False
        #: Host names the app answers to, comma-separated ("consent.example.clinic"); any other
        #: Host header gets 400. Empty: any host (fine on loopback behind a proxy that checks).
        self.TRUSTED_HOSTS: list[str] | None = [
            host.strip() for host in text("TRUSTED_HOSTS").split(",") if host.strip()
        ] or None
        #: How many reverse proxies stand in front of the app: their X-Forwarded-For, -Proto and
        #: -Host headers are believed (for the client's address in the audit trail, HTTPS, and
        #: the host). 0 (default): none are, as when the app is reached directly.
        self.PROXY_HOPS = int(text("PROXY_HOPS", "0"))

        #: Kiosk mode: the id of the one form this tablet shows (empty: every form).
        self.KIOSK_FORM = text("KIOSK_FORM")
        #: A tablet draft is deleted this long after the patient's last step.
        self.DRAFT_TTL_SECONDS = seconds("DRAFT_TTL_SECONDS", 30 * 60)
        #: Without a touch for this long, the tablet asks "Are you still there?"...
        self.IDLE_TIMEOUT_SECONDS = seconds("IDLE_TIMEOUT_SECONDS", 3 * 60)
        #: ...and wipes the draft when nobody answers within this long.
        self.IDLE_WARNING_SECONDS = seconds("IDLE_WARNING_SECONDS", 30)
        #: With STORAGE=database, a submit holds its draft this long at most: should the server
        #: die mid-submit, the patient's next tap waits no longer than this.
        self.DRAFT_LEASE_SECONDS = seconds("DRAFT_LEASE_SECONDS", 15)
        #: The "thank you" screen clears itself after this long.
        self.DONE_CLEAR_SECONDS = seconds("DONE_CLEAR_SECONDS", 90)
        #: The patient's copy can be downloaded once, within this long after submitting.
        self.PATIENT_COPY_TTL_SECONDS = seconds("PATIENT_COPY_TTL_SECONDS", 10 * 60)

        #: SQLAlchemy URL of the archive database; empty: `archive.sqlite3` in the instance
        #: folder. PostgreSQL: `postgresql+psycopg://user:password@host/dbname`.
        self.DATABASE_URL = text("DATABASE_URL")
        #: "files" (sealed PDFs under ARCHIVE_DIR) or "database" (PDF bytes in the database, so
        #: several app servers can share one PostgreSQL).
        self.STORAGE = text("STORAGE", "files").lower()
        #: Folder of sealed PDFs with STORAGE=files; empty: `archive/` in the instance folder.
        self.ARCHIVE_DIR: Path | None = path("ARCHIVE_DIR")
        #: Years a consent is kept after signing (a minor's: until 21, plus these years).
        self.RETENTION_YEARS = int(text("RETENTION_YEARS", "10"))
        #: On start, check the schema and finish consents a crash left pending.
        self.ARCHIVE_START_CHECKS = text("ARCHIVE_START_CHECKS", "1") == "1"
        #: Stored PDFs that no row names are removed on start once they are this old (another
        #: app server may be about to commit the row that names a newer one).
        self.REPAIR_GRACE_SECONDS = seconds("REPAIR_GRACE_SECONDS", 10 * 60)

        #: PKCS#12 file (certificate and key) the clinic seals consents with; empty: a
        #: self-signed certificate is made under CERTIFICATES_DIR on first use.
        self.SIGNING_P12: Path | None = path("SIGNING_P12")
        self.SIGNING_P12_PASSWORD = text("SIGNING_P12_PASSWORD")
        #: Every certificate ever used to seal is kept here, so old consents stay verifiable;
        #: empty: `certificates/` in the instance folder.
        self.CERTIFICATES_DIR: Path | None = path("CERTIFICATES_DIR")
        #: RFC 3161 timestamp authority for each seal (empty: no timestamp).
        self.TSA_URL = text("TSA_URL")

    def folder(self, name: str) -> Path:
        """ARCHIVE_DIR or CERTIFICATES_DIR as set, else its default under the instance folder."""
        default = {"ARCHIVE_DIR": "archive", "CERTIFICATES_DIR": "certificates"}[name]
        return getattr(self, name) or self.INSTANCE_PATH / default
