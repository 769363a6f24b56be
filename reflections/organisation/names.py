"""Unit names as offices write and sort them.

- Short names: "Ủy ban nhân dân phường Phú Xuân" is written "UBND phường Phú Xuân" in every
  office, and the long form cut to fit a chart ("Ủy ban nhân dân phường Pho…") is ambiguous.
- Proper names: what tells units of one kind apart ("Phú Xuân"), for sorting within a group.
- Vietnamese collation (ICU's ``vi`` rules): "Đ" after "D", "Ă" and "Â" after "A", tones
  after the letter, instead of code point order that puts "Đan Điền" after "Xuân".
"""

import re
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

import icu

T = TypeVar("T")

# Longest first: the first that matches is used.
_ABBREVIATIONS = (
    ("Ủy ban nhân dân", "UBND"),
    ("Uỷ ban nhân dân", "UBND"),
    ("Đội Quản lý trật tự đô thị", "Đội QLTTĐT"),
    ("Công ty Cổ phần", "Công ty CP"),
    ("Công ty Trách nhiệm hữu hạn", "Công ty TNHH"),
)
# Words naming a kind of unit, before the proper name (Vietnamese) or after it (English).
_KIND_WORDS = re.compile(
    r"^(?:(?:UBND|Ủy ban nhân dân|Uỷ ban nhân dân|Đội QLTTĐT|Đội Quản lý trật tự đô thị|Sở)\s+)?"
    r"(?:phường|xã|thị trấn|thành phố|quận|huyện|thị xã)\s+",
    re.IGNORECASE,
)
_ENGLISH_KIND = re.compile(
    r"^(?:People's Committee of |Urban Order Team of )|\s+(?:Ward|Commune|Township|District|"
    r"Town|City)$"
)

_local = threading.local()


def short_name(name: str) -> str:
    """The name the way offices abbreviate it: "UBND phường Phú Xuân"."""
    for long, short in _ABBREVIATIONS:
        if name.startswith(long):
            return short + name[len(long) :]
    return name


def proper_name(name: str) -> str:
    """The part that tells units of one kind apart: "Phú Xuân" for "UBND phường Phú Xuân",
    "Phường Phú Xuân", "People's Committee of Phú Xuân Ward" or "Phú Xuân Ward"."""
    vietnamese = _KIND_WORDS.sub("", short_name(name), count=1)
    if vietnamese != short_name(name):
        return vietnamese
    return _ENGLISH_KIND.sub("", _ENGLISH_KIND.sub("", name, count=1), count=1)


def _collator() -> icu.Collator:
    """One collator per thread: ICU collators are not meant to be shared while in use."""
    collator = getattr(_local, "collator", None)
    if collator is None:
        collator = _local.collator = icu.Collator.createInstance(icu.Locale("vi_VN"))
    return collator


def collation_key(text: str) -> bytes:
    """A sort key that orders Vietnamese text as a Vietnamese dictionary does."""
    key: bytes = _collator().getSortKey(text)
    return key


def sorted_vietnamese(items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    return sorted(items, key=lambda item: collation_key(key(item)))
