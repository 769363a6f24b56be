"""Refused forms: the error sits beside its field, in the page's language, and nothing typed
is lost (DESIGN.md: people first)."""

import ast
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import Session, select

from reflections.errors import InvalidInput
from reflections.models import Reflection
from reflections.models.enums import Language
from tests.web.pages import post_form, text_of
from tests.web.test_citizen_pages import FORM, PNG
from web.field_errors import field_errors
from web.i18n import Translator

ROOT = Path(__file__).resolve().parents[2]
NOWHERE = {"ward": "", "address": "", "latitude": "", "longitude": ""}


def _count(session: Session) -> int:
    return len(session.exec(select(Reflection.id)).all())


def _error_of(page: str, name: str) -> str:
    found = re.search(rf'<p id="{name}-error" class="field-error">([^<]+)</p>', page)
    assert found, f"no error beside {name}"
    return found.group(1)


def test_a_form_without_a_place_says_where_in_vietnamese_and_keeps_the_text(
    browser: TestClient, session: Session
) -> None:
    before = _count(session)
    response = post_form(browser, "/submit", FORM | NOWHERE | {"description": "Cây đổ chắn lối"})
    assert response.status_code == 422
    page = response.text
    assert re.search(r"<title>Lỗi: ", page)
    assert _error_of(page, "location").startswith("Vui lòng cho biết vị trí")
    assert 'href="#location"' in page and 'aria-describedby="location-error"' in page
    assert "Cây đổ chắn lối" in page and "binh.tran@example.com" in page  # all kept
    assert "give coordinates" not in page and "location:" not in text_of(response)
    assert _count(session) == before


def test_the_same_refusal_in_english(browser: TestClient) -> None:
    browser.get("/language/en")
    response = post_form(browser, "/submit", FORM | NOWHERE)
    assert re.search(r"<title>Error: ", response.text)
    assert _error_of(response.text, "location").startswith("Tell us where")


@pytest.mark.parametrize(
    ("field", "typed", "expected"),
    [
        ("latitude", "mười sáu", "Vĩ độ phải là một số"),
        ("latitude", "91", "Vĩ độ phải không quá 90."),
        ("phone", "12", "Số điện thoại chưa đúng"),
        ("email", "binh@", "Địa chỉ thư điện tử chưa đúng"),
        ("ward", "99.NOWHERE", "Vui lòng chọn phường/xã trong danh sách"),
    ],
)
def test_each_refused_field_is_marked_and_described(
    browser: TestClient, session: Session, field: str, typed: str, expected: str
) -> None:
    before = _count(session)
    response = post_form(browser, "/submit", FORM | {field: typed})
    assert response.status_code == 422
    page = response.text
    assert _error_of(page, field).startswith(expected)
    tag = re.search(rf'<(?:input|select)[^>]*\bid="{field}"[^>]*>', page)
    assert tag and 'aria-invalid="true"' in tag.group(0)
    assert f"{field}-error" in tag.group(0)  # aria-describedby names the sentence
    assert f'href="#{field}"' in page
    assert _count(session) == before


def test_a_fake_photo_is_named_beside_the_photo_field(
    browser: TestClient, session: Session
) -> None:
    before = _count(session)
    files = [("photos", ("ho-ga.png", PNG, "image/png")), ("photos", ("cv.pdf", b"%PDF-1.4", "x"))]
    response = post_form(browser, "/submit", FORM, files=files)
    assert response.status_code == 422
    assert _error_of(response.text, "photos") == "Tệp cv.pdf không phải ảnh JPEG, PNG hoặc WebP."
    assert str(FORM["description"]) in response.text
    assert _count(session) == before


def test_form_parsing_errors_become_sentences_too() -> None:
    class Form(BaseModel):
        reason: str = Field(max_length=10)

    with pytest.raises(ValidationError) as caught:
        Form(reason="x" * 11)
    vi = field_errors(caught.value, Translator(Language.VI))
    en = field_errors(caught.value, Translator(Language.EN))
    assert vi == {"reason": "Lý do dài quá 10 ký tự."}
    assert en == {"reason": "Reason is longer than 10 characters."}


def test_a_code_whose_sentence_lacks_a_parameter_still_reads_as_a_sentence() -> None:
    error = InvalidInput("description", "too long", "too_long")  # no max given
    assert field_errors(error, Translator(Language.VI)) == {"description": "Nội dung chưa hợp lệ."}


def _codes_raised() -> set[str]:
    """Every error code the code base raises (third argument or ``code=``)."""
    codes = set()
    for path in [
        *ROOT.glob("reflections/**/*.py"),
        *ROOT.glob("api/**/*.py"),
        *ROOT.glob("web/**/*.py"),
        *ROOT.glob("statemachines/*.py"),
    ]:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", "") in ("InvalidInput", "GuardFailed")
            ):
                continue
            position = 2 if node.func.id == "InvalidInput" else 3  # type: ignore[attr-defined]
            arguments = [*node.args[position : position + 1]]
            arguments += [k.value for k in node.keywords if k.arg == "code"]
            codes |= {
                a.value
                for a in arguments
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            }
    return codes


@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_error_code_raised_has_a_sentence(language: str) -> None:
    table: dict[str, str] = {}
    for path in (ROOT / "web" / "locales" / language).glob("*.json"):
        table |= json.loads(path.read_text("utf-8"))
    codes = _codes_raised()
    assert {"required", "location_needed", "not_a_phone"} <= codes
    missing = sorted(code for code in codes if f"error.{code}" not in table)
    assert not missing, f"error codes without a {language} sentence: {missing}"
