"""The pages under the Content-Security-Policy in a real Chromium: no violation reported (no
inline script or style left in a template), and an injected inline script refused."""

from playwright.sync_api import Browser, ConsoleMessage, Page

from tests.browser.test_lifecycle_in_browser import _context, _log_in

PAGES = ("/", "/submit", "/track", "/results", "/map", "/login")
STAFF_PAGES = ("/console/queue", "/console/reports")


def _watch(page: Page) -> list[str]:
    """Chromium reports each blocked script, style or frame on the console."""
    found: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.on("console", note)
    return found


def test_no_page_breaks_the_policy(chromium: Browser, live_url: str) -> None:
    page = _context(chromium, live_url).new_page()
    violations = _watch(page)
    for path in PAGES:
        page.goto(path)
        page.wait_for_load_state("load")
    _log_in(page, "coordinator")
    for path in STAFF_PAGES:
        page.goto(path)
        page.wait_for_load_state("load")
    assert violations == []
    # The policy is there: an inline script added to the page is refused, and reported.
    page.goto("/results")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__ran = 1'; document.body.append(s); }"
    )
    assert page.evaluate("() => window.__ran === undefined")
    assert violations, "the inline script was refused without a report"
