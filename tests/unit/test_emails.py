"""Email addresses: one normal form (NFKC, case-folded), no invisible characters."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given, reject
from hypothesis import strategies as st

from minicommerce import Registration, ValidationError
from minicommerce.accounts.emails import legacy_email_key, normalise_email

local_chars = st.characters(codec="utf-8", exclude_characters='@"()<>[]\\,;:')
domains = st.sampled_from(["example.com", "Example.COM", "bücher.example", "xn--bcher-kva.example"])


def fold(value: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


@given(st.text(local_chars, min_size=1, max_size=30), domains)
@example("Straße", "Example.COM")
@example("\uff22\uff2f\uff22", "example.com")  # full-width BOB
@example("ΣΊΣΥΦΟΣ", "example.com")
@example("ﬁ", "example.com")
def test_an_accepted_email_is_nfkc_casefolded_and_normalises_to_itself(
    local: str, domain: str
) -> None:
    try:
        email = normalise_email(f"{local}@{domain}")
    except ValueError:
        reject()
    assert email == fold(email)
    assert normalise_email(email) == email
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in email)


@given(st.text(max_size=40))
def test_any_string_is_an_email_or_a_value_error(value: str) -> None:
    try:
        email = normalise_email(value)
    except ValueError:
        return
    assert normalise_email(email) == email


@pytest.mark.parametrize(
    ("given_", "stored"),
    [
        ("  Bob@Example.COM ", "bob@example.com"),
        ("Straße@Example.de", "strasse@example.de"),
        ("STRASSE@example.de", "strasse@example.de"),
        ("\uff42\uff4f\uff42@example.com", "bob@example.com"),  # full-width letters
        ("ﬁle@example.com", "file@example.com"),  # a ligature
        ("user@XN--BCHER-KVA.example", "user@bücher.example"),
        ("ὈΔΥΣΣΕΎΣ@example.com", "ὀδυσσεύσ@example.com"),  # final sigma folds to sigma
    ],
)
def test_emails_are_stored_in_one_form(given_: str, stored: str) -> None:
    assert normalise_email(given_) == stored
    assert Registration(email=given_, password="x" * 8).email == stored


@pytest.mark.parametrize(
    "email",
    [
        "bob\x00@example.com",
        "bob@exam\x00ple.com",
        "bob\x1b@example.com",
        "bo\u200bb@example.com",  # zero-width space (Cf)
        "bo\u200db@example.com",  # zero-width joiner (Cf)
        "bob\u202e@example.com",  # right-to-left override (bidi)
        "bob\u2066@example.com",  # left-to-right isolate (bidi)
        "\u061cbob@example.com",  # Arabic letter mark (bidi)
        "bob\ufeff@example.com",  # byte order mark
        "bob\ue000@example.com",  # private use
        "bob\ud800@example.com",  # lone surrogate
        "bob@exa\u00admple.com",  # soft hyphen
        "a..b@example.com",
        '"a b"@example.com',
        "bob@[127.0.0.1]",
        "Bob <bob@example.com>",
        "bob@localhost",
        "x" * 250 + "@example.com",
    ],
)
def test_bad_emails_are_refused(email: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        normalise_email(email)
    with pytest.raises(ValidationError) as info:
        Registration(email=email, password="x" * 8)
    assert [e.field for e in info.value.errors] == ["email"]


def test_the_legacy_key_is_how_addresses_were_stored_before() -> None:
    assert legacy_email_key("  Straße@Example.de ") == "straße@example.de"
    assert legacy_email_key("Bob@Example.com") == normalise_email("Bob@Example.com")
