"""Staff passwords that hold up (issue 13): long enough, and not common or guessable.

``zxcvbn`` (a maintained port of Dropbox's estimator) knows the common passwords, names,
keyboard walks, dates and l33t spellings; a password it rates below "safely unguessable" for
an online attack (score 3) is refused, and so is one built from the user's own name.
"""

from collections.abc import Sequence

from zxcvbn import zxcvbn

from reflections.errors import InvalidInput

MIN_PASSWORD_LENGTH = 12
MIN_SCORE = 3  # zxcvbn: 0 too guessable ... 4 very unguessable


def check_password(password: str, field: str = "password", user_inputs: Sequence[str] = ()) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            field,
            f"needs at least {MIN_PASSWORD_LENGTH} characters",
            "password_too_short",
            min=MIN_PASSWORD_LENGTH,
        )
    # zxcvbn's cost grows with the length; beyond 100 characters nothing is common anyway.
    if zxcvbn(password[:100], user_inputs=[u for u in user_inputs if u])["score"] < MIN_SCORE:
        raise InvalidInput(
            field,
            "is too common or too easy to guess; choose a longer, less usual one",
            "password_too_common",
        )
