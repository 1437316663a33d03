"""Email addresses as every way in takes them (the API, the web pages, HubSpot's payments, the
CLI): the syntax checked and the address normalized, with no DNS lookup (an answer must not
wait on DNS, nor tell what it found)."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


def normalize_email(value: str) -> str:
    """The normalized address; ValueError, saying why, if `value` is not one."""
    try:
        return validate_email(
            value, check_deliverability=False, globally_deliverable=False
        ).normalized
    except EmailNotValidError as error:
        raise ValueError(str(error)) from error
