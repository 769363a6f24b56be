"""Two checks every page passes: each form field has a label, each action is reachable by Tab."""

from playwright.sync_api import Page

_UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden' && e.getClientRects().length)
  .filter(e => !(e.labels && e.labels.length)
               && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
  .map(e => e.name || e.id || e.outerHTML)"""

_MARK = """() => {
  const all = [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary')]
    .filter(e => e.getClientRects().length && !e.disabled);
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


def assert_accessible(page: Page) -> None:
    assert unlabelled_fields(page) == [], f"{page.url}: fields without a label"
    assert unreachable_by_keyboard(page) == [], f"{page.url}: actions out of keyboard reach"
