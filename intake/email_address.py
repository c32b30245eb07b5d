"""The one rule for an email address, for a patient's contact details and a staff login alike.

A deliberately loose check (something, an @, a domain with a dot, no spaces): the address is
for reading or logging in, never for sending mail, so it refuses typing slips rather than
judging what a mail server would take.
"""

from __future__ import annotations

import re

#: The longest address a mail path allows (RFC 5321).
EMAIL_MAX = 254

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def is_email_address(text: str) -> bool:
    """Whether `text` is written as an email address, at most `EMAIL_MAX` characters."""
    return len(text) <= EMAIL_MAX and _EMAIL.match(text) is not None


def normal_email(text: str) -> str:
    """An address as an account is kept and looked up: without surrounding spaces, lower case."""
    return text.strip().lower()
