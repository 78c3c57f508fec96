"""Customers signed in, and the ways their sessions end: for the tests of the services
that check a session themselves (``session=``)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa

from minicommerce import PasswordChange, Registration, SessionCheck, Shop
from minicommerce.accounts.models import Credentials
from minicommerce.storage.tables import users

PASSWORD = "correct horse"


@dataclasses.dataclass
class Customer:
    id: int
    email: str
    refresh_token: str
    session: SessionCheck


def sign_in(shop: Shop) -> Customer:
    email = f"u{uuid.uuid4().hex[:12]}@example.com"
    user = shop.accounts.register(Registration(email=email, password=PASSWORD))
    pair = shop.auth.login(Credentials(email=email, password=PASSWORD))
    return Customer(user.id, email, pair.refresh_token, shop.auth.session_of(pair.access_token))


def logged_out(shop: Shop, customer: Customer) -> SessionCheck:
    shop.auth.logout(customer.refresh_token)
    return customer.session


def password_changed(shop: Shop, customer: Customer) -> SessionCheck:
    shop.auth.change_password(
        customer.id, PasswordChange(current_password=PASSWORD, new_password="another one")
    )
    return customer.session


def deactivated_without_ending_sessions(shop: Shop, customer: Customer) -> SessionCheck:
    # Deactivating ends the sessions too; this leaves one open, to test the account's rule.
    with shop.database.writer.begin() as conn:
        conn.execute(sa.update(users).where(users.c.id == customer.id).values(is_active=False))
    return customer.session


def too_old(shop: Shop, customer: Customer) -> SessionCheck:
    # As if the session had started before the maximum age: it started before the bound.
    later = customer.session.started_after + timedelta(days=3650)
    return dataclasses.replace(customer.session, started_after=later)


def someone_elses(shop: Shop, customer: Customer) -> SessionCheck:
    return dataclasses.replace(customer.session, session_id=sign_in(shop).session.session_id)


ENDINGS: list[Callable[[Shop, Customer], SessionCheck]] = [
    logged_out,
    password_changed,
    deactivated_without_ending_sessions,
    too_old,
    someone_elses,
]
