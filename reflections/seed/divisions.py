"""Hue city's administrative divisions, in the two editions citizens' feedback may refer to.

Feedback filed before 1 Jul 2025 names a district and a commune of the
three-tier structure (in force from 1 Jan 2025); later feedback names one of
the communes of the two-tier structure. Both are seeded so that old records
keep a valid place. The province is one unit that continues across the
change, so both editions share the very same province row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from vietnam_provinces import Province, ProvinceCode, Ward

HUE = ProvinceCode.P_46
THREE_TIER_JSON = Path(__file__).parent / "data" / "hue_three_tier_2025.json"


@dataclass(frozen=True)
class Division:
    """One row of the divisions table; ``code`` is unique across both editions."""

    code: str
    name: str
    name_en: str
    level: str
    kind: str
    parent_code: str | None


# English puts the kind after the proper name, which keeps its diacritics ("Phú Xuân Ward"):
# a proper name is written as its people write it, whatever the page's language.
_KIND_EN = {
    "phường": "Ward",
    "xã": "Commune",
    "thị trấn": "Township",
    "quận": "District",
    "huyện": "District",
    "thị xã": "Town",
    "thành phố": "City",
    "thành phố trung ương": "City",
}


def english_name(name: str, kind: str) -> str:
    """Neither package edition carries English names: "Phường Phú Xuân" -> "Phú Xuân Ward"."""
    kind = kind.lower()
    for prefix in sorted({kind, *_KIND_EN}, key=len, reverse=True):
        if name.lower().startswith(prefix + " ") and prefix in _KIND_EN:
            return f"{name[len(prefix) + 1 :]} {_KIND_EN[prefix]}"
    return name


@cache
def _province() -> Division:
    # Taken from the current package in both editions so the shared row cannot drift.
    province = Province.from_code(HUE)
    return Division(
        code=str(int(province.code)),
        name=province.name,
        name_en=english_name(province.name, province.division_type.value),
        level="province",
        kind=province.division_type.value,
        parent_code=None,
    )


def hue_two_tier() -> list[Division]:
    """Read at run time so a package upgrade brings data corrections with it."""
    province = _province()
    wards = sorted(Ward.iter_by_province(HUE), key=lambda w: int(w.code))
    return [province] + [
        Division(
            code=f"{province.code}.W{int(w.code)}",
            name=w.name,
            name_en=english_name(w.name, w.division_type.value),
            level="commune",
            kind=w.division_type.value,
            parent_code=province.code,
        )
        for w in wards
    ]


def hue_three_tier() -> list[Division]:
    """Read from a frozen JSON because the package edition with districts can't be co-installed."""
    province = _province()
    data: dict[str, Any] = json.loads(THREE_TIER_JSON.read_text(encoding="utf-8"))
    source = data["province"]
    if str(source["code"]) != province.code:
        msg = f"{THREE_TIER_JSON.name} holds province {source['code']}, expected {province.code}"
        raise ValueError(msg)

    result = [province]
    for district in source["districts"]:
        district_code = f"{province.code}.D{district['code']}"
        result.append(
            Division(
                code=district_code,
                name=district["name"],
                name_en=english_name(district["name"], district["kind"]),
                level="district",
                kind=district["kind"],
                parent_code=province.code,
            )
        )
        result.extend(
            Division(
                code=f"{district_code}.W{commune['code']}",
                name=commune["name"],
                name_en=english_name(commune["name"], commune["kind"]),
                level="commune",
                kind=commune["kind"],
                parent_code=district_code,
            )
            for commune in district["communes"]
        )
    return result
