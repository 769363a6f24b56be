"""Freeze Hue's three-tier divisions (Jan-Jun 2025) into a JSON seed file.

Why: from 1 Jul 2025 Vietnam has no district level, and ``vietnam-provinces``
2025.x only carries the new two-tier data. The earlier three-tier data lives
in ``vietnam-provinces==0.6.0``, which cannot be installed alongside 2025.x
(same import name), so we extract it once and commit the JSON instead of
depending on the old package.

Run it in a throwaway venv, from the repository root::

    python3.11 -m venv /tmp/vp06
    /tmp/vp06/bin/pip install 'vietnam-provinces==0.6.0'
    /tmp/vp06/bin/python scripts/extract_hue_three_tier.py

It writes ``reflections/seed/data/hue_three_tier_2025.json``.

0.6.0 stores placeholder division types (every province "tỉnh", every
district "huyện", every ward "xã"), so the real kind is taken from the name
prefix; the package's value is kept as ``division_type_raw`` for the record.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import vietnam_provinces
from vietnam_provinces.enums import DistrictEnum, ProvinceEnum
from vietnam_provinces.enums.wards import WardEnum

HUE_PROVINCE_CODE = 46
OUTPUT = (
    Path(__file__).resolve().parent.parent
    / "reflections"
    / "seed"
    / "data"
    / "hue_three_tier_2025.json"
)

# Longest prefixes first so "Thị xã" wins over "Xã"-like partial matches.
_KIND_BY_PREFIX: dict[str, list[tuple[str, str]]] = {
    "province": [("Thành phố ", "thành phố trung ương"), ("Tỉnh ", "tỉnh")],
    "district": [
        ("Thành phố ", "thành phố"),
        ("Thị xã ", "thị xã"),
        ("Quận ", "quận"),
        ("Huyện ", "huyện"),
    ],
    "commune": [("Thị trấn ", "thị trấn"), ("Phường ", "phường"), ("Xã ", "xã")],
}


def kind_from_name(level: str, name: str) -> str:
    for prefix, kind in _KIND_BY_PREFIX[level]:
        if name.startswith(prefix):
            return kind
    raise ValueError(f"cannot tell the {level} kind of {name!r}")


def unit(obj: Any, level: str) -> dict[str, Any]:
    return {
        "code": obj.code,
        "name": obj.name,
        "codename": obj.codename,
        "kind": kind_from_name(level, obj.name),
        "division_type_raw": obj.division_type.value,
    }


def main() -> int:
    if vietnam_provinces.__version__ != "0.6.0":
        sys.stderr.write(f"need vietnam-provinces==0.6.0, found {vietnam_provinces.__version__}\n")
        return 1

    province = ProvinceEnum[f"P_{HUE_PROVINCE_CODE}"].value
    districts = sorted(
        (d.value for d in DistrictEnum if d.value.province_code == province.code),
        key=lambda d: d.code,
    )
    district_codes = {d.code for d in districts}
    wards_by_district: dict[int, list[Any]] = {c: [] for c in district_codes}
    for member in WardEnum:
        ward = member.value
        if ward.district_code in district_codes:
            wards_by_district[ward.district_code].append(ward)

    data = {
        "source": {
            "package": "vietnam-provinces",
            "version": vietnam_provinces.__version__,
            "data_version": vietnam_provinces.__data_version__,
        },
        "province": unit(province, "province")
        | {
            "districts": [
                unit(d, "district")
                | {
                    "communes": [
                        unit(w, "commune")
                        for w in sorted(wards_by_district[d.code], key=lambda w: w.code)
                    ]
                }
                for d in districts
            ]
        },
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    n_communes = sum(len(v) for v in wards_by_district.values())
    sys.stderr.write(
        f"{province.name}: {len(districts)} districts, {n_communes} communes -> {OUTPUT}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
