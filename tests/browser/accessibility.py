"""Checks every page a browser test visits passes: each form field has a label, each action
is reachable by Tab, and axe-core (from npm, injected by Playwright) finds nothing serious or
critical. Every axe run is also kept for the summary ``axe_summary()`` gives."""

from collections import Counter
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = frozenset({"serious", "critical"})
# Every page state checked in this session: (url, violations by rule and impact).
AXE_RUNS: list[tuple[str, list[dict[str, Any]]]] = []

_UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden' && e.getClientRects().length)
  .filter(e => !(e.labels && e.labels.length)
               && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
  .map(e => e.name || e.id || e.outerHTML)"""

_MARK = """() => {
  const all = [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary')]
    .filter(e => e.getClientRects().length && !e.disabled)
    // What a closed <details> folds away is reached by opening it (its summary is reached).
    .filter(e => { const d = e.closest('details:not([open])');
                   return !d || (e.tagName === 'SUMMARY' && e.parentElement === d); });
  all.forEach((e, i) => e.dataset.kbd = String(i));
  // One radio per group takes the Tab stop (arrow keys move within the group).
  return all.map(e => e.type === 'radio' ? 'radio:' + e.name : 'el:' + e.dataset.kbd);
}"""

_FOCUSED = """() => { const e = document.activeElement;
  return e && e.dataset && e.dataset.kbd !== undefined
    ? (e.type === 'radio' ? 'radio:' + e.name : 'el:' + e.dataset.kbd) : null; }"""


def unlabelled_fields(page: Page) -> list[str]:
    return list(page.evaluate(_UNLABELLED))


def unreachable_by_keyboard(page: Page) -> list[str]:
    """What a keyboard user cannot reach by pressing Tab from the top of the page."""
    wanted = set(page.evaluate(_MARK))
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    page.locator("body").focus()
    reached: set[str] = set()
    for _ in range(len(wanted) + 10):
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUSED)
        if focused:
            reached.add(focused)
        if wanted <= reached:
            break
    missing = wanted - reached
    return sorted(
        page.evaluate(
            "k => { const e = document.querySelector(`[data-kbd='${k}']`)"
            " || document.querySelector(`[name='${k}']`);"
            " return e ? e.outerHTML.slice(0, 120) : k }",
            key.split(":", 1)[1],
        )
        for key in missing
    )


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (evaluated through the DevTools
    protocol, so the page's Content-Security-Policy does not block it)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,"
        " targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    violations: list[dict[str, Any]] = list(found)
    AXE_RUNS.append((page.url, violations))
    return violations


def assert_no_serious_violations(page: Page) -> None:
    serious = [v for v in axe_violations(page) if v["impact"] in FAILING_IMPACTS]
    assert serious == [], f"{page.url}: axe-core finds {serious}"


def axe_summary() -> dict[str, Any]:
    """How many page states were checked, and the violations found by rule and impact."""
    by_rule: Counter[tuple[str, str]] = Counter()
    for _, violations in AXE_RUNS:
        for violation in violations:
            by_rule[(violation["id"], violation["impact"] or "unknown")] += 1
    return {
        "pages_checked": len(AXE_RUNS),
        "pages_with_violations": sum(1 for _, v in AXE_RUNS if v),
        "violations": [
            {"rule": rule, "impact": impact, "pages": count}
            for (rule, impact), count in sorted(by_rule.items())
        ],
        "serious_or_critical": sum(
            count for (_, impact), count in by_rule.items() if impact in FAILING_IMPACTS
        ),
    }


def assert_accessible(page: Page) -> None:
    assert unlabelled_fields(page) == [], f"{page.url}: fields without a label"
    assert_no_serious_violations(page)  # before the keyboard walk moves the focus
    assert unreachable_by_keyboard(page) == [], f"{page.url}: actions out of keyboard reach"


_RING = """() => {
  const e = document.activeElement, s = getComputedStyle(e);
  let p = e.parentElement, bg = 'rgba(0, 0, 0, 0)';
  while (p && /rgba\\(0, 0, 0, 0\\)|transparent/.test(bg)) {
    bg = getComputedStyle(p).backgroundColor; p = p.parentElement; }
  return [s.outlineStyle, s.outlineWidth, s.outlineColor, bg];
}"""


def _luminance(rgb: str) -> float:
    channels = [int(c) / 255 for c in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def focus_ring_contrast(page: Page) -> float:
    """The contrast of the focused element's outline against what surrounds it (WCAG 1.4.11
    asks 3:1); zero when there is no outline at all."""
    style, width, ring, background = page.evaluate(_RING)
    if style == "none" or width in ("0px", ""):
        return 0.0
    high, low = sorted((_luminance(ring), _luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)
