"""The archive inside the Flask app: made from the settings once, checked and repaired on start."""

from __future__ import annotations

import logging

from flask import Flask, current_app, request

from intake.archive.audit import Actor
from intake.archive.errors import CERTIFICATES, ArchiveError, storage_reason
from intake.archive.migrate import require_current
from intake.archive.service import Archive

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    archive = Archive(app.extensions["config"].archive_settings(), app.extensions["forms"])
    app.extensions["archive"] = archive
    if not app.config["ARCHIVE_START_CHECKS"]:
        return
    require_current(archive.engine)
    try:
        report = archive.repair(
            Actor(user_agent="app start"), grace_seconds=app.config["REPAIR_GRACE_SECONDS"]
        )
    except ArchiveError as error:
        # The database cannot be read: start anyway, so staff pages and the tablet can say so.
        log.error("start-up repair could not run: %s", error)
    else:
        if report.failed:
            # A full or read-only archive does not stop the app: staff pages show the reason,
            # and the consents are finished once storage works (see `Archive.retry_waiting`).
            log.warning(
                "start-up repair: %d consents still pending (%s)",
                len(report.failed),
                "; ".join(sorted({reason for _, reason in report.failed})),
            )
    if archive.self_signed:
        try:
            certificate = archive.signer().certificate
        except OSError as error:
            # Its folder is full or read-only before the app has made its certificate: start
            # anyway. Consents wait, pending with the reason, and are sealed once it works.
            log.error(
                "the clinic's sealing certificate cannot be made: %s",
                storage_reason(error, CERTIFICATES),
            )
            return
        log.warning(
            "Consents are sealed with a self-signed certificate the app made (%s, SHA-256 %s). "
            "Set SIGNING_P12 to seal with the clinic's own certificate.",
            certificate.subject,
            certificate.sha256,
        )


def get_archive() -> Archive:
    return current_app.extensions["archive"]


def request_actor(staff_id: str | None = None) -> Actor:
    """Who is asking: the staff member (if any), the client's IP address and user agent."""
    return Actor(
        staff_id=staff_id,
        ip=request.remote_addr or "",
        user_agent=request.user_agent.string[:500],
    )
