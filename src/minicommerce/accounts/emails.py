"""Email addresses: one normal form to store and compare.

An address is compared case-insensitively (API.md), and "case" is Unicode's: the address
is NFKC-normalised and case-folded, so ``Straße@X.de`` and ``STRASSE@x.de``, or ``bob``
typed in full-width letters (U+FF42 U+FF4F U+FF42) and in ASCII, are one account, not two
that look alike. Control, format (Cf: zero-width and bidirectional marks among them),
surrogate, private-use and unassigned characters are refused: they make two addresses
look the same to a person while they differ to the database.

The syntax is checked by ``email-validator`` (RFC 5321/5322/6531, internationalised
domains), never its DNS checks: deliverability is for a confirmation mail to prove, and a
sign-up must not wait on a resolver.
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

MAX_EMAIL = 254
"""The longest address SMTP can carry (RFC 5321 path limit, less the brackets)."""

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
INVALID = "is not a valid email address"


def normalise_email(value: str) -> str:
    """The stored form of an address; ``ValueError`` with a readable message if it is none.

    Idempotent: the stored form normalises to itself (checked, not assumed, as NFKC and
    case folding do not commute for every character).
    """
    email = _normalise_once(value)
    if _normalise_once(email) != email:
        raise ValueError(INVALID)
    return email


def legacy_email_key(value: str) -> str:
    """How addresses were stored before Unicode case folding: trimmed and ``lower()``-ed.

    Only for finding accounts registered then whose address folds differently now (a
    ``ß``, a full-width letter); ASCII addresses are the same either way.
    """
    return value.strip().lower()


def _fold(value: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


def _normalise_once(value: str) -> str:
    email = _fold(value.strip())
    if len(email) > MAX_EMAIL:
        raise ValueError(f"must be at most {MAX_EMAIL} characters")
    if any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in email):
        raise ValueError("must not contain control, format or bidirectional characters")
    try:
        checked = validate_email(
            email,
            check_deliverability=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError:
        raise ValueError(INVALID) from None
    # email-validator maps the domain through IDNA (``xn--`` to Unicode) and NFC.
    return _fold(checked.normalized)
