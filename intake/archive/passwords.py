"""The rules a new staff password must meet (OWASP ASVS 4, 2.1): at least 12 characters, not on
the bundled list of common and breached passwords, and hard enough to guess by zxcvbn's estimate.

The same rules hold for the staff pages, the setup link and the `intake staff` commands, since
every one of them sets a password through `intake.archive.staff`.
"""

from __future__ import annotations

import functools
from importlib.resources import files

from intake.languages import N_, Said

PASSWORD_MIN = 12
PASSWORD_MAX = 1000
#: zxcvbn's score runs 0 (guessed at once) to 4; below 3 it is guessable offline in hours.
MIN_SCORE = 3
#: zxcvbn refuses longer input (its time grows with the length): the first 72 characters are
#: scored, and a longer password is at least as strong as they are.
SCORED_LENGTH = 72

#: The messages are our own, from the catalogs: zxcvbn's feedback (English only) is not shown.
TOO_SHORT = Said(N_("must be at least %(num)s characters"), num=PASSWORD_MIN)
TOO_LONG = Said(N_("must be at most %(num)s characters"), num=PASSWORD_MAX)
ONLY_SPACES = N_("must have more than spaces in it")
COMMON = N_("is on a list of common or leaked passwords: choose another")
GUESSABLE = N_(
    "is too easy to guess: use a longer phrase of unrelated words, not names, dates or "
    "keyboard patterns"
)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list (`common_passwords.txt`), lowercased; `#` lines are its notes."""
    text = files("intake.archive").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line and not line.startswith("#")
    )


def password_problem(password: str, *, user_inputs: tuple[str, ...] = ()) -> str | None:
    """What is wrong with `password` as a new staff password, or None. `user_inputs` (the
    person's email and name) count as easy to guess."""
    if len(password) < PASSWORD_MIN:
        return TOO_SHORT
    if len(password) > PASSWORD_MAX:
        return TOO_LONG
    if not password.strip():
        return ONLY_SPACES
    if password.strip().lower() in common_passwords():
        return COMMON
    # Imported when a new password is checked, not with the app: its frequency lists take
    # 12 MB, which every worker would otherwise carry.
    from zxcvbn import zxcvbn

    scored = zxcvbn(password[:SCORED_LENGTH], user_inputs=[u for u in user_inputs if u])
    if scored["score"] < MIN_SCORE:
        return GUESSABLE
    return None
