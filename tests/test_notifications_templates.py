"""Every message kind renders in both languages from the template files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jinja2 import UndefinedError

from notifications import DigestTask, MessageKind, digest_tasks, format_local, render
from notifications.templates import TEMPLATES, format_local_date

AT = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)  # 00:30 on 24 Nov in Huế

CONTEXTS: dict[MessageKind, dict[str, Any]] = {
    MessageKind.RECEIVED: {},
    MessageKind.ASSIGNED: {"unit_name": "Phường Phú Hội"},
    MessageKind.EXTENDED: {"due_date": "30/11/2026"},
    MessageKind.PROCESSED: {"result": "Đã vá ổ gà"},
    MessageKind.REOPENED: {},
    MessageKind.CONFIRMED: {},
    MessageKind.REJECTED: {"reason": "Không thuộc thẩm quyền"},
    MessageKind.TASK_NEW: {"unit_name": "Phường Phú Hội", "title": "Ổ gà", "due_at": "x"},
    MessageKind.TASK_REMINDER: {"title": "Ổ gà", "due_at": "x"},
    MessageKind.TASK_ESCALATED: {"unit_name": "Phường Phú Hội", "title": "Ổ gà", "due_at": "x"},
    MessageKind.EMERGENCY_RECEIVED: {"title": "Dây điện đứt", "place": "Lê Lợi", "due_at": "x"},
    MessageKind.DAILY_DIGEST: {"handler_name": "Chị Lan", "digest_date": "24/11/2026"},
    MessageKind.ADMIN_DIGEST: {"digest_date": "24/11/2026"},
    MessageKind.EXTENSION_REQUESTED: {
        "unit_name": "Phường Phú Hội",
        "title": "Ổ gà",
        "due_at": "x",
        "requested_due_at": "y",
        "reason": "Chờ vật tư",
    },
    MessageKind.STAFF_NOTE: {"title": "Ổ gà", "due_at": "x", "note": "Đề nghị phân loại gấp"},
    MessageKind.COORDINATOR_DIGEST: {
        "coordinator_name": "Chị Mai",
        "digest_date": "24/11/2026",
        "results": [],
        "extensions": [],
    },
    MessageKind.SIGN_IN_CODE: {"code": "042917", "minutes": 10},
}


def context(kind: MessageKind, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"tracking_code": "HUE-0042", "link_url": "https://hue.example/r/42"}
    if kind is MessageKind.DAILY_DIGEST:
        base["tasks"] = []
    if kind is MessageKind.ADMIN_DIGEST:
        base["warnings"] = [
            {
                "tracking_code": "HUE-0042",
                "at": "x",
                "kind": "escalation_unheard",
                "level": 1,
                "area": "Quận Thuận Hóa",
            }
        ]
    return {**base, **CONTEXTS[kind], **extra}


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("kind", list(MessageKind))
def test_every_kind_renders_every_part(kind: MessageKind, language: str) -> None:
    assert (TEMPLATES / language / f"{kind.value}.j2").is_file()
    msg = render(kind, language, context(kind))
    for part in (msg.sms, msg.subject, msg.text, msg.html):
        assert part and "{{" not in part and "{%" not in part
    assert "\n" not in msg.subject and "\n" not in msg.sms
    assert msg.html.startswith("<!DOCTYPE html>") and f'lang="{language}"' in msg.html
    assert 'href="https://hue.example/r/42"' in msg.html
    assert "https://hue.example/r/42" in msg.text
    if kind not in (
        MessageKind.DAILY_DIGEST,
        MessageKind.ADMIN_DIGEST,
        MessageKind.COORDINATOR_DIGEST,
        MessageKind.SIGN_IN_CODE,  # about a contact, not one reflection
    ):
        assert "HUE-0042" in msg.sms and "HUE-0042" in msg.subject and "HUE-0042" in msg.text


def test_vietnamese_content_and_values() -> None:
    msg = render("assigned", "vi", context(MessageKind.ASSIGNED))
    assert msg.subject == "[HUE-0042] Phản ánh đã được chuyển đơn vị xử lý"
    assert "Phường Phú Hội" in msg.sms and "Phường Phú Hội" in msg.text
    assert msg.text.startswith("Chào bạn,")  # citizens are "bạn" on pages, SMS and email
    rejected = render("rejected", "en", context(MessageKind.REJECTED, reason="Duplicate"))
    assert "Reason: Duplicate" in rejected.text


def test_html_is_escaped_and_text_is_not() -> None:
    msg = render("processed", "en", context(MessageKind.PROCESSED, result="<b>Fixed</b> & done"))
    assert "&lt;b&gt;Fixed&lt;/b&gt; &amp; done" in msg.html
    assert "<b>Fixed</b> & done" in msg.text
    assert "<p>Result: &lt;b&gt;" in msg.html


def test_missing_variable_raises() -> None:
    with pytest.raises(UndefinedError, match="unit_name"):
        render("assigned", "vi", {"tracking_code": "HUE-1", "link_url": "https://x"})


def test_unknown_language_falls_back_to_vietnamese() -> None:
    assert render("received", "fr", context(MessageKind.RECEIVED)).language == "vi"


def test_local_time_formatting() -> None:
    assert format_local(AT, "vi") == "00:30 ngày 24/11/2026"
    assert format_local(AT, "en") == "24 Nov 2026, 00:30"
    assert format_local_date(AT, "vi") == "24/11/2026"
    with pytest.raises(ValueError, match="naive"):
        format_local(datetime(2026, 11, 23, 17, 30))


def test_daily_digest_lists_open_tasks_oldest_first() -> None:
    newer = DigestTask("HUE-2", "Đèn hỏng", AT, AT + timedelta(days=3))
    older = DigestTask("HUE-1", "Ổ gà <lớn>", AT - timedelta(days=2), AT + timedelta(days=1))
    tasks = digest_tasks([newer, older], "vi")
    msg = render("daily_digest", "vi", context(MessageKind.DAILY_DIGEST, tasks=tasks))
    assert msg.text.index("HUE-1") < msg.text.index("HUE-2")
    assert "- HUE-1 – Ổ gà <lớn> (tiếp nhận 00:30 ngày 22/11/2026" in msg.text
    assert "<li><strong>HUE-1</strong> – Ổ gà &lt;lớn&gt;" in msg.html
    assert "2 nhiệm vụ đang mở, cũ nhất HUE-1" in msg.sms
    assert msg.text.startswith("Kính gửi Chị Lan,")


@pytest.mark.parametrize(
    ("language", "sentence"),
    [("vi", "mời bạn theo dõi phản ánh HUE-0007"), ("en", "please follow HUE-0007")],
)
def test_a_merged_report_tells_the_citizen_which_one_to_follow(
    language: str, sentence: str
) -> None:
    merged = context(MessageKind.REJECTED, reason="duplicate of HUE-0007", duplicate_of="HUE-0007")
    msg = render("rejected", language, merged)
    assert sentence in msg.sms
    assert "HUE-0007" in msg.subject and "HUE-0007" in msg.text
