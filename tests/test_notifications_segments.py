"""SMS segment counts, hand-computed: GSM-7 160/153, UCS-2 70/67, extension chars count 2."""

from __future__ import annotations

import unicodedata

import pytest

from notifications import fold_to_ascii, sms_size, sms_text

# "Phản ánh của bạn đã được tiếp nhận": 4+3+3+3+2+4+4+4 letters + 7 spaces = 34 (NFC).
RECEIVED_VI = "Phản ánh của bạn đã được tiếp nhận"


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("Hello", "GSM-7", 5, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("café à Huế"[:7], "GSM-7", 7, 1),  # é, à are in the GSM-7 basic table
        ("€" * 80, "GSM-7", 160, 1),  # extension chars: 2 septets each
        # 81 x 2 = 162 septets; a part holds 76 pairs (152), an escape pair is never split
        ("€" * 81, "GSM-7", 162, 2),
        ("[x]", "GSM-7", 5, 1),
        (RECEIVED_VI, "UCS-2", 34, 1),
        (RECEIVED_VI + ". " + RECEIVED_VI, "UCS-2", 70, 1),  # 34 + 2 + 34: exactly full
        (RECEIVED_VI + ". " + RECEIVED_VI + ".", "UCS-2", 71, 2),  # one more: 67 per part
        ("ư" * 70, "UCS-2", 70, 1),
        ("ư" * 134, "UCS-2", 134, 2),
        ("ư" * 135, "UCS-2", 135, 3),
        ("đ", "UCS-2", 1, 1),  # one Vietnamese letter makes the whole SMS UCS-2
        ("a" * 100 + "ạ", "UCS-2", 101, 2),  # ...even a GSM-7-length one
        ("👍", "UCS-2", 2, 1),  # a surrogate pair is two UTF-16 units
    ],
)
def test_sms_size(text: str, encoding: str, units: int, segments: int) -> None:
    size = sms_size(text)
    assert (size.encoding, size.units, size.segments) == (encoding, units, segments)


def test_stripping_diacritics_saves_segments() -> None:
    double = RECEIVED_VI + ". " + RECEIVED_VI + "."  # 71 UCS-2 units
    folded = sms_text(double, strip_diacritics=True)
    assert folded == "Phan anh cua ban da duoc tiep nhan. Phan anh cua ban da duoc tiep nhan."
    assert (sms_size(folded).encoding, sms_size(folded).segments) == ("GSM-7", 1)
    assert sms_size(sms_text(double, strip_diacritics=False)).segments == 2


def test_fold_to_ascii_handles_d_and_capitals_and_typography() -> None:
    assert fold_to_ascii("Đường Lê Lợi, Thành phố Huế") == "Duong Le Loi, Thanh pho Hue"
    assert fold_to_ascii("“Ổ gà” — đã xử lý…") == '"O ga" - da xu ly...'
    assert sms_size(fold_to_ascii("Đường Lê Lợi, Thành phố Huế")).encoding == "GSM-7"


def test_decomposed_input_is_sent_composed() -> None:
    decomposed = unicodedata.normalize("NFD", "Phản")
    assert len(decomposed) == 5
    assert sms_text(decomposed, strip_diacritics=False) == "Phản"
    assert sms_size(sms_text(decomposed, strip_diacritics=False)).units == 4
