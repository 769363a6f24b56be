"""SMS length in segments (what Twilio bills), and the ASCII folding that saves segments.

GSM-7 packs 160 septets in one SMS, 153 per part when concatenated; characters from the
extension table take two septets (escape + char). Any other character forces UCS-2: 70
UTF-16 units in one SMS, 67 per part. Vietnamese letters such as ơ, ư, ạ, đ are not in
GSM-7, so one of them makes the whole message UCS-2.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

_SINGLE = {"GSM-7": 160, "UCS-2": 70}
_PART = {"GSM-7": 153, "UCS-2": 67}

# Typography that would otherwise force UCS-2 after the diacritics are gone.
_ASCII_FOLD = str.maketrans(
    {
        "đ": "d",
        "Đ": "D",
        "“": '"',
        "”": '"',
        "‘": "'",
        "’": "'",
        "–": "-",
        "—": "-",
        "…": "...",
        "\u00a0": " ",
    }
)


@dataclass(frozen=True, slots=True)
class SmsSize:
    """``units`` are septets (GSM-7) or UTF-16 code units (UCS-2)."""

    encoding: Literal["GSM-7", "UCS-2"]
    units: int
    segments: int


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def sms_size(text: str) -> SmsSize:
    """Segments as a handset splits them: an escape pair or a surrogate pair is never cut."""
    encoding: Literal["GSM-7", "UCS-2"] = "GSM-7" if is_gsm7(text) else "UCS-2"
    if encoding == "GSM-7":
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    else:
        costs = [len(ch.encode("utf-16-le")) // 2 for ch in text]
    units = sum(costs)
    if units == 0:
        return SmsSize(encoding, 0, 0)
    if units <= _SINGLE[encoding]:
        return SmsSize(encoding, units, 1)
    part, segments, used = _PART[encoding], 1, 0
    for cost in costs:
        if used + cost > part:
            segments += 1
            used = 0
        used += cost
    return SmsSize(encoding, units, segments)


def fold_to_ascii(text: str) -> str:
    """Vietnamese to plain letters (``Đường`` → ``Duong``): readable, and GSM-7 again."""
    decomposed = unicodedata.normalize("NFD", text.translate(_ASCII_FOLD))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def sms_text(text: str, strip_diacritics: bool = False) -> str:
    """The text actually sent: NFC (fewest UCS-2 units), or folded to ASCII when configured."""
    if strip_diacritics:
        return fold_to_ascii(text)
    return unicodedata.normalize("NFC", text)
