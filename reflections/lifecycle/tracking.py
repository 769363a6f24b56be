"""Tracking codes: short, unambiguous when read aloud or typed on a phone."""

import secrets

# No 0/O, 1/I/L: citizens read these codes over the hotline.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 8


def new_tracking_code() -> str:
    code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{code[:4]}-{code[4:]}"
