"""Configuration, read from the environment in one place, for the app and the CLI alike.

`Config()` reads the environment when it is made (so a test or a CLI run may set variables
first); `overrides` (the app factory's `test_config`) win over it. Folders left empty default to
folders under the instance folder (`INSTANCE_PATH`, by default `instance/` under the working
directory, never inside the installed package). `archive_settings()` and `render_settings()`
are what the archive and the renderer are made from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from intake.archive.connect import archive_url

if TYPE_CHECKING:  # imported where used: reading the settings imports neither the archive nor
    # the PDF engine (an `intake` command that needs neither starts without them)
    from intake.archive.service import ArchiveSettings
    from intake.pdf import RenderSettings

#: The package itself; in a source checkout its parent holds `forms/` and `templates/`.
PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent

#: Where PDFs go: in files under ARCHIVE_DIR, or in the archive database.
STORAGES = ("files", "database")


class SettingError(ValueError):
    """A setting whose value cannot be used; the message names the setting."""


def bundled(name: str) -> Path:
    """A folder the wheel carries inside the package (`forms`, `templates`), or in a source
    checkout the repository's own folder of that name."""
    inside = PACKAGE_ROOT / name
    return inside if inside.is_dir() else PROJECT_ROOT / name


class Config:
    """Settings with defaults; an environment variable of the same name overrides each, and an
    entry of `overrides` overrides both."""

    def __init__(
        self, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> None:
        env = os.environ if environ is None else environ

        def text(name: str, default: str = "") -> str:
            return env.get(name, default)

        def seconds(name: str, default: int) -> int:
            return int(env.get(name, default))

        def path(name: str) -> Path | None:
            return Path(env[name]) if env.get(name) else None

        self.SECRET_KEY: str | None = env.get("SECRET_KEY")
        #: Where the app keeps its own files: drafts, the SQLite archive, PDFs, certificates.
        self.INSTANCE_PATH: Path = path("INSTANCE_PATH") or Path("instance")
        #: The clinic's consent definitions; empty: the forms the package carries.
        self.FORMS_DIR: Path = path("FORMS_DIR") or bundled("forms")
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
        #: The key file (`intake backup key --out FILE`) every backup is encrypted and
        #: authenticated with; kept apart from the backups. Empty: no backup can be made.
        self.BACKUP_KEY_FILE: Path | None = path("BACKUP_KEY_FILE")

        #: A staff login ends this many hours after it began, however active (ASVS 3.3.2)...
        self.STAFF_LOGIN_HOURS = float(text("STAFF_LOGIN_HOURS", "12"))
        #: ...and account and retention changes ask for the password (and code) again once the
        #: login last proved who it is longer ago than this.
        self.STAFF_REAUTH_MINUTES = float(text("STAFF_REAUTH_MINUTES", "5"))
        #: Under HTTPS the cookie is `__Host-` prefixed: the browser then takes it only if it is
        #: Secure, for the whole site, from this very host (no subdomain can plant one).
        self.SESSION_COOKIE_NAME = text(
            "SESSION_COOKIE_NAME", "__Host-session" if self.SESSION_COOKIE_SECURE else "session"
        )

        #: An enrolment code shown on the staff screen works this long, once.
        self.TABLET_CODE_TTL_SECONDS = seconds("TABLET_CODE_TTL_SECONDS", 10 * 60)
        #: A tablet's "last seen" is written at most this often.
        self.TABLET_SEEN_EVERY_SECONDS = seconds("TABLET_SEEN_EVERY_SECONDS", 60)
        #: New patient sessions (the welcome's Start) and submits per minute, per tablet and per
        #: address; beyond, a "wait a minute" page (429). Far above what a front desk does.
        self.TABLET_SESSIONS_PER_MINUTE = int(text("TABLET_SESSIONS_PER_MINUTE", "20"))
        self.ADDRESS_SESSIONS_PER_MINUTE = int(text("ADDRESS_SESSIONS_PER_MINUTE", "60"))
        self.TABLET_SUBMITS_PER_MINUTE = int(text("TABLET_SUBMITS_PER_MINUTE", "20"))
        self.ADDRESS_SUBMITS_PER_MINUTE = int(text("ADDRESS_SUBMITS_PER_MINUTE", "60"))

        #: Folder of tablet drafts with STORAGE=files; empty: `drafts/` in the instance folder.
        self.DRAFTS_DIR: Path | None = path("DRAFTS_DIR")
        #: The largest tablet draft kept, in bytes of JSON (room for the largest answers the
        #: checks accept); a step that would make it larger is not kept, and the patient is told.
        self.DRAFT_MAX_BYTES = int(text("DRAFT_MAX_BYTES", str(1024 * 1024)))
        #: Live drafts one enrolled tablet (or, for a browser a staff member handed to a patient,
        #: one client address) may hold; a new start beyond it is refused (429).
        self.DRAFTS_PER_TABLET = int(text("DRAFTS_PER_TABLET", "20"))

        #: `intake archive timestamp` renews a consent's archival timestamp once the
        #: certificate of its last one expires within this many days.
        self.TIMESTAMP_RENEW_DAYS = int(text("TIMESTAMP_RENEW_DAYS", "180"))

        for name, value in (overrides or {}).items():
            setattr(self, name, value)
        self.INSTANCE_PATH = Path(self.INSTANCE_PATH).absolute()
        self.FORMS_DIR = Path(self.FORMS_DIR)
        self.ARCHIVE_DIR = Path(self.ARCHIVE_DIR or self.INSTANCE_PATH / "archive")
        self.CERTIFICATES_DIR = Path(self.CERTIFICATES_DIR or self.INSTANCE_PATH / "certificates")
        self.DRAFTS_DIR = Path(self.DRAFTS_DIR or self.INSTANCE_PATH / "drafts")

    @property
    def database_url(self) -> str:
        """DATABASE_URL, else the SQLite file `archive.sqlite3` in the instance folder."""
        return archive_url(self.DATABASE_URL, self.INSTANCE_PATH)

    def render_settings(self) -> RenderSettings:
        from intake.pdf import RenderSettings

        return RenderSettings(
            clinic_address=self.CLINIC_ADDRESS,
            clinic_phone=self.CLINIC_PHONE,
            page_size=self.PAGE_SIZE,
        )

    def checked_storage(self) -> str:
        """`STORAGE`; `SettingError` when it names no storage the archive has."""
        if self.STORAGE not in STORAGES:
            raise SettingError(
                f"STORAGE must be one of {', '.join(STORAGES)}, not {self.STORAGE!r}"
            )
        return self.STORAGE

    def archive_settings(self) -> ArchiveSettings:
        """What the archive is made from; `SettingError` names a setting it cannot use."""
        from intake.archive.service import ArchiveSettings

        return ArchiveSettings(
            database_url=self.database_url,
            storage=self.checked_storage(),
            files_dir=self.ARCHIVE_DIR,
            retention_years=int(self.RETENTION_YEARS),
            certificates_dir=self.CERTIFICATES_DIR,
            signing_p12=Path(self.SIGNING_P12) if self.SIGNING_P12 else None,
            signing_p12_password=self.SIGNING_P12_PASSWORD,
            tsa_url=self.TSA_URL,
            render=self.render_settings(),
        )

    def as_dict(self) -> dict[str, Any]:
        """Every setting by name, for Flask's `app.config`."""
        return {name: value for name, value in vars(self).items() if name.isupper()}
