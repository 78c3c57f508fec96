"""Account use cases: registration, profiles, and staff administration of users."""

from __future__ import annotations

from minicommerce.accounts.emails import normalise_email
from minicommerce.accounts.models import (
    ProfileChanges,
    Registration,
    User,
    UserAdminChanges,
    UserQuery,
)
from minicommerce.accounts.passwords import PasswordHasher
from minicommerce.clock import Clock, utcnow
from minicommerce.errors import NotFound, SelfModification, ValidationError
from minicommerce.ids import is_valid_id
from minicommerce.pagination import Page, decode_id_cursor, page_by_id
from minicommerce.uow import UnitOfWorkFactory

_RESOURCE = "User"


class AccountService:
    def __init__(
        self, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock = utcnow
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock

    def register(self, registration: Registration, *, is_staff: bool = False) -> User:
        """Open a customer account (``is_staff`` is for trusted callers such as the CLI)."""
        password_hash = self._hasher.hash(registration.password)
        with self._uow(write=True) as uow:
            user = uow.users.add(
                email=registration.email,
                password_hash=password_hash,
                first_name=registration.first_name,
                last_name=registration.last_name,
                is_staff=is_staff,
                now=self._clock(),
            )
            uow.commit()
        return user

    def get(self, user_id: int) -> User:
        if not is_valid_id(user_id):
            raise NotFound(_RESOURCE, user_id)
        with self._uow(write=False) as uow:
            user = uow.users.get(user_id)
        if user is None:
            raise NotFound(_RESOURCE, user_id)
        return user

    def find_by_email(self, email: str) -> User | None:
        try:
            normalised = normalise_email(email)
        except ValueError:
            return None
        with self._uow(write=False) as uow:
            return uow.users.get_by_email(normalised)

    def update_profile(self, user_id: int, changes: ProfileChanges) -> User:
        values = changes.changes()
        with self._uow(write=True) as uow:
            user = uow.users.update(user_id, values) if values else uow.users.get(user_id)
            if user is None:
                raise NotFound(_RESOURCE, user_id)
            uow.commit()
        return user

    def list(self, query: UserQuery | None = None) -> Page[User]:
        """Accounts newest first, optionally matching ``q`` in email or names."""
        query = query or UserQuery()
        after = decode_id_cursor(query.cursor, "users")
        with self._uow(write=False) as uow:
            rows = uow.users.list(query.q, after, query.limit + 1)
        return page_by_id(rows, query.limit, "users", lambda user: user.id)

    def administer(self, actor_id: int, user_id: int, changes: UserAdminChanges) -> User:
        """Staff change another account's staff flag or activity.

        Staff cannot demote or deactivate themselves (the last admin could lock everyone
        out). Deactivating an account ends all its sessions.
        """
        if not is_valid_id(user_id):
            raise NotFound(_RESOURCE, user_id)
        values = changes.changes()
        if actor_id == user_id and (
            values.get("is_staff") is False or values.get("is_active") is False
        ):
            raise SelfModification()
        with self._uow(write=True) as uow:
            user = uow.users.update(user_id, values) if values else uow.users.get(user_id)
            if user is None:
                raise NotFound(_RESOURCE, user_id)
            if values.get("is_active") is False:
                uow.sessions.end_all(user_id, self._clock())
            uow.commit()
        return user

    def create_admin(self, email: str, password: str | None) -> tuple[User, bool]:
        """Create a staff account, or promote (and reactivate) an existing one.

        Returns the user and whether it was created. A new account needs a password; for
        an existing one, a given password replaces the old and ends its sessions.
        """
        try:
            normalised = normalise_email(email)
        except ValueError as exc:
            raise ValidationError.single("email", str(exc)) from None
        existing = self.find_by_email(normalised)
        if existing is None:
            if password is None:
                raise ValidationError.single("password", "is required for a new account")
            reg = Registration(email=normalised, password=password)
            return self.register(reg, is_staff=True), True
        values: dict[str, object] = {"is_staff": True, "is_active": True}
        if password is not None:
            Registration(email=normalised, password=password)  # the same password rules
            values["password_hash"] = self._hasher.hash(password)
        with self._uow(write=True) as uow:
            user = uow.users.update(existing.id, values)
            if user is None:
                raise NotFound(_RESOURCE, existing.id)
            if password is not None:
                uow.sessions.end_all(existing.id, self._clock())
            uow.commit()
        return user, False
