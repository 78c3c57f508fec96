"""Account entities and the commands that change them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
)

from minicommerce.accounts.emails import MAX_EMAIL, normalise_email
from minicommerce.commands import Changes, Command
from minicommerce.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor
from minicommerce.text import Text

MIN_PASSWORD = 8
MAX_PASSWORD = 1024


Email = Annotated[
    str,
    StringConstraints(max_length=320),
    AfterValidator(normalise_email),
    WithJsonSchema(
        {
            "type": "string",
            "format": "email",
            "maxLength": MAX_EMAIL,
            "description": "Compared and stored NFKC-normalised and case-folded; control, "
            "format and bidirectional characters are refused.",
            "examples": ["ada@example.com"],
        }
    ),
]
# Passwords are never stored, searched or shown, only hashed: any character may be in
# one, and refusing some now would lock out those who chose them before.
Password = Annotated[
    str,
    StringConstraints(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD, strip_whitespace=False),
]
PersonName = Annotated[Text, StringConstraints(max_length=100)]


@dataclass(slots=True)
class User:
    """A customer or staff account. The password hash never leaves storage.

    A snapshot, like :class:`~minicommerce.Product` (and not frozen for the same reason).
    """

    id: int
    email: str
    first_name: str
    last_name: str
    is_staff: bool
    is_active: bool
    created_at: datetime
    last_login: datetime | None


@dataclass(frozen=True, slots=True)
class SessionCheck:
    """What an access token claims, to be checked against storage: that ``user_id`` is
    active and ``session_id`` is theirs, not ended, and started after ``started_after``
    (the sessions' maximum age). ``AuthService.session_of`` makes one without I/O; a write
    can check it in its own statement (``OrderService.place``) instead of a query of its
    own (``AuthService.check``)."""

    user_id: int
    session_id: str
    started_after: datetime


@dataclass(frozen=True, slots=True)
class SignedOut:
    """Storage's answer to a write or read made for a :class:`SessionCheck` that is not
    live (ended, too old, another user's, or the account is not active): nothing was
    written or read."""


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a login or a refresh hands out. ``expires_in`` is the access token's life in seconds."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: Literal["Bearer"] = "Bearer"


class Registration(Command):
    email: Email
    password: Password
    first_name: PersonName = ""
    last_name: PersonName = ""


class Credentials(Command):
    # Not ``Email``: an address stored before today's rules must still be able to log in.
    email: Annotated[Text, StringConstraints(min_length=1, max_length=320)]
    password: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_PASSWORD, strip_whitespace=False)
    ]


class RefreshRequest(Command):
    refresh_token: Annotated[Text, StringConstraints(min_length=1, max_length=512)]


class ProfileChanges(Changes):
    """What a user may change of their own account."""

    first_name: PersonName | None = None
    last_name: PersonName | None = None


class PasswordChange(Command):
    current_password: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_PASSWORD, strip_whitespace=False)
    ]
    new_password: Password


class UserAdminChanges(Changes):
    """What staff may change of any account."""

    is_staff: StrictBool | None = None
    is_active: StrictBool | None = None


class UserQuery(Command):
    limit: Annotated[StrictInt, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT
    cursor: Cursor | None = None
    q: Annotated[Text, StringConstraints(min_length=1, max_length=200)] | None = None


@dataclass(frozen=True, slots=True)
class RefreshTokenRecord:
    """A stored refresh token (its hash, never the token)."""

    id: int
    user_id: int
    family_id: str
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None
    session_started_at: datetime
