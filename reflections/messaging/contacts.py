"""Normalising a reporter's contact details at intake."""

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from reflections.errors import InvalidInput
from reflections.platform.settings import get_settings

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


def check_sms_region(e164: str, field: str = "phone") -> None:
    """Numbers of the allowed countries only (``REFLECTIONS_SMS_ALLOWED_REGIONS``): otherwise
    anyone could make the service text premium or far-away numbers at its cost."""
    allowed = [region.upper() for region in get_settings().sms_allowed_regions]
    region = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    if region not in allowed:
        raise InvalidInput(
            field,
            f"numbers of {region or 'that country'} are not accepted here "
            f"(accepted: {', '.join(allowed) or 'none'})",
            "phone_region_not_allowed",
            regions=", ".join(allowed),
        )
