"""Page texts in Vietnamese (the default) and English.

Each language is a folder of JSON catalogues (``locales/vi/*.json``), one file per area of the
site, merged into one table of keys.
"""

import json
from functools import cache
from pathlib import Path
from typing import Any

from reflections.models.enums import Language

CATALOGUES = Path(__file__).parent / "locales"
DEFAULT = Language.VI


@cache
def catalogue(language: Language) -> dict[str, str]:
    table: dict[str, str] = {}
    for path in sorted((CATALOGUES / language.value).glob("*.json")):
        table |= json.loads(path.read_text("utf-8"))
    return table


def language_of(value: str | None) -> Language:
    """The language a cookie or query asked for; Vietnamese for anything unknown."""
    try:
        return Language(value) if value else DEFAULT
    except ValueError:
        return DEFAULT


class Translator:
    """``t("key", name=...)``: the text in the page's language, falling back to Vietnamese."""

    def __init__(self, language: Language) -> None:
        self.language = language

    def has(self, key: str) -> bool:
        return key in catalogue(self.language) or key in catalogue(DEFAULT)

    def __call__(self, key: str, **values: Any) -> str:
        text = catalogue(self.language).get(key) or catalogue(DEFAULT).get(key) or key
        return text.format(**values) if values else text
