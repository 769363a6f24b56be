"""Refusals as sentences beside the fields they concern, in the page's language.

The domain names the field and a code (``InvalidInput``, ``GuardFailed``; pydantic's error
types for form parsing); a page maps the domain's field names to its own inputs and gets one
sentence per input from the catalogues: ``error.<input>.<code>`` if the page says something
particular there, else ``error.<code>`` with the input's label (``field.<input>``). No English
and no field ids reach a Vietnamese page.
"""

import re
from collections.abc import Mapping
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from reflections.errors import GuardFailed, InvalidInput
from web.i18n import Translator

_PYDANTIC_CODES = {
    "missing": "required",
    "string_too_short": "required",
    "string_too_long": "too_long",
    "too_long": "too_many",
    "enum": "unknown_choice",
    "literal_error": "unknown_choice",
    "float_parsing": "not_a_number",
    "float_type": "not_a_number",
    "int_parsing": "not_a_number",
    "int_type": "not_a_number",
    "greater_than_equal": "too_small",
    "greater_than": "too_small",
    "less_than_equal": "too_large",
    "less_than": "too_large",
    "datetime_parsing": "invalid_date",
    "datetime_from_date_parsing": "invalid_date",
    "date_parsing": "invalid_date",
}
_PARAMS = {"max_length": "max", "ge": "min", "gt": "min", "le": "max", "lt": "max"}
_LOCATIONS = {"body", "query", "path", "form"}
_INDEX = re.compile(r"\[\d+\]$")

FieldErrors = dict[str, str]


def field_errors(
    error: Exception, t: Translator, aliases: Mapping[str, str] | None = None
) -> FieldErrors:
    """One sentence per form input that the refusal concerns, in the order found; empty if the
    refusal concerns no field (then the page shows it as a whole)."""
    messages: FieldErrors = {}
    for field, code, params in _refusals(error):
        name = _input_name(field, aliases or {})
        messages.setdefault(name, sentence(t, name, code, params))
    return messages


def sentence(t: Translator, name: str, code: str, params: Mapping[str, Any]) -> str:
    label = t(f"field.{name}") if t.has(f"field.{name}") else t("field.this")
    values = {k: _number(v, t) for k, v in params.items() if k not in ("label", "label_lower")}
    values |= {"label": label, "label_lower": label[:1].lower() + label[1:]}
    for key in (f"error.{name}.{code}", f"error.{code}"):
        if t.has(key):
            try:
                return t(key, **values)
            except (KeyError, IndexError):  # a parameter the sentence needs was not given
                break
    return t("error.invalid", **values)


def _number(value: Any, t: Translator) -> Any:
    """90.0 as 90; 16.5 as 16,5 on a Vietnamese page."""
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        return str(value).replace(".", ",") if t.language.value == "vi" else str(value)
    return value


def _refusals(error: Exception) -> list[tuple[str, str, dict[str, Any]]]:
    if isinstance(error, InvalidInput):
        return [(error.field, error.code, dict(error.params))]
    if isinstance(error, GuardFailed):
        return [(error.field, error.code, {})]
    if isinstance(error, ValidationError | RequestValidationError):
        found = []
        for item in error.errors():
            parts = [str(p) for p in item.get("loc", ()) if not isinstance(p, int)]
            field = ".".join(p for p in parts if p not in _LOCATIONS) or "form"
            context = item.get("ctx") or {}
            params = {_PARAMS[k]: v for k, v in context.items() if k in _PARAMS}
            found.append((field, _PYDANTIC_CODES.get(item.get("type", ""), "invalid"), params))
        return found
    return []


def _input_name(field: str, aliases: Mapping[str, str]) -> str:
    """The page's input for a domain field: ``photos[2]`` is ``photos``, ``contact.phone`` is
    ``phone`` unless the page maps it otherwise."""
    field = _INDEX.sub("", field)
    return aliases.get(field) or aliases.get(field.rsplit(".", 1)[-1]) or field.rsplit(".", 1)[-1]
