"""Normalising a reporter's contact details at intake."""

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from reflections.errors import InvalidInput

DEFAULT_REGION = "VN"


def normalise_phone(raw: str, field: str = "phone") -> str:
    """E.164, reading national numbers as Vietnamese: 0905 123 456 -> +84905123456."""
    try:
        number = phonenumbers.parse(raw, DEFAULT_REGION)
    except phonenumbers.NumberParseException as error:
        raise InvalidInput(field, f"is not a phone number ({error})", "not_a_phone") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(field, "is not a valid phone number", "not_a_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str, field: str = "email") -> str:
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise InvalidInput(field, str(error), "not_an_email") from None
