"""Unit names as offices write and sort them, and English names that keep their diacritics."""

import pytest

from reflections.organisation.names import proper_name, short_name, sorted_vietnamese
from reflections.seed.catalog import HANDLING_UNITS
from reflections.seed.divisions import english_name, hue_two_tier


@pytest.mark.parametrize(
    ("name", "short", "proper"),
    [
        ("Ủy ban nhân dân phường Phú Xuân", "UBND phường Phú Xuân", "Phú Xuân"),
        ("Ủy ban nhân dân xã Đan Điền", "UBND xã Đan Điền", "Đan Điền"),
        ("Phường Phong Điền", "Phường Phong Điền", "Phong Điền"),
        ("Đội Quản lý trật tự đô thị quận Phú Xuân", "Đội QLTTĐT quận Phú Xuân", "Phú Xuân"),
        ("Sở Xây dựng", "Sở Xây dựng", "Sở Xây dựng"),
        ("People's Committee of An Cựu Ward", "People's Committee of An Cựu Ward", "An Cựu"),
    ],
)
def test_short_and_proper_names(name: str, short: str, proper: str) -> None:
    assert (short_name(name), proper_name(name)) == (short, proper)


def test_vietnamese_collation_puts_each_letter_in_its_place() -> None:
    names = ["Xã Đan Điền", "Phường Phong Thái", "Xã Dương Hòa", "Phường Ân Hòa", "Phường Anh"]
    assert sorted_vietnamese(names, proper_name) == [
        "Phường Anh",  # a, then ă, then â: "Anh" before "Ân"
        "Phường Ân Hòa",
        "Xã Dương Hòa",
        "Xã Đan Điền",  # đ after d, not after z as code points have it
        "Phường Phong Thái",
    ]
    assert sorted(names)[-1] == "Xã Đan Điền"  # what plain sorting did


def test_english_names_keep_the_proper_names_diacritics() -> None:
    assert english_name("Phường An Cựu", "phường") == "An Cựu Ward"
    assert english_name("Thành phố Huế", "thành phố trung ương") == "Huế City"
    assert english_name("Xã Chân Mây – Lăng Cô", "xã") == "Chân Mây – Lăng Cô Commune"
    wards = {d.code: d.name_en for d in hue_two_tier()}
    assert wards["46.W19768"] == "Phú Xuân Ward"
    committees = {u.code: u.name_en for u in HANDLING_UNITS}
    assert committees["UBND.46.W19768"] == "People's Committee of Phú Xuân Ward"
