"""Who reviewed a consent's translation: an admin records the clinic's translator's review of
one language's text (by its SHA-256), and staff pages stop marking that text "not yet
reviewed". On the archive's one metadata (`Base`), so migrations and `create_all` see it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from intake.archive.models import Base, UTCDateTime, new_id


class TranslationReview(Base):
    """A translation reviewed: the text (form, version, language, SHA-256), the translator who
    reviewed it, and the admin who recorded it when."""

    __tablename__ = "translation_reviews"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    form_id: Mapped[str] = mapped_column(String(100))
    form_version: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(16))
    text_sha256: Mapped[str] = mapped_column(String(64))
    #: The translator's name, as the admin typed it.
    reviewer: Mapped[str] = mapped_column(String(200))
    #: The admin who recorded it (a staff id).
    recorded_by: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("text_sha256"),)
