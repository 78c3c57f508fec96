"""POST /auth/register, /auth/login, /auth/refresh, /auth/logout."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from minicommerce import Registration, Shop, UserAdminChanges
from minicommerce_server.app import create_app
from tests.conftest import FAST_ARGON2, SECRET
from tests.server.conftest import Account, Client, make_settings
from tests.server.helpers import (
    API,
    assert_problem,
    assert_timestamp,
    assert_user,
    assert_validation,
    bearer,
    behind_proxy,
)

REGISTER = f"{API}/auth/register"
LOGIN = f"{API}/auth/login"
REFRESH = f"{API}/auth/refresh"
LOGOUT = f"{API}/auth/logout"
ME = f"{API}/me"
PASSWORD = "correct horse battery"


def register(client: Client, email: str = "bob@example.com", **extra: Any) -> httpx.Response:
    return client.post(REGISTER, json={"email": email, "password": PASSWORD, **extra})


def login(client: Client, email: str, password: str = PASSWORD, **headers: str) -> httpx.Response:
    return client.post(LOGIN, json={"email": email, "password": password}, headers=headers)


# --- register -----------------------------------------------------------------------------


def test_register_answers_201_with_exactly_the_user_fields(client: Client) -> None:
    response = client.post(
        REGISTER,
        json={
            "email": " Bob@Example.COM ",
            "password": PASSWORD,
            "first_name": "Bob",
            "last_name": "Builder",
        },
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert_user(body)
    assert body["email"] == "bob@example.com"
    assert body["first_name"] == "Bob"
    assert body["last_name"] == "Builder"
    assert body["is_staff"] is False
    assert body["is_active"] is True
    assert body["last_login"] is None
    assert_timestamp(body["created_at"])
    assert PASSWORD not in response.text
    assert "password" not in response.text


def test_register_names_default_to_empty(client: Client) -> None:
    body = register(client).json()
    assert body["first_name"] == ""
    assert body["last_name"] == ""


def test_registered_user_logs_in_with_the_normalised_email(client: Client) -> None:
    register(client, " Bob@Example.COM ")
    assert login(client, "bob@example.com").status_code == 200
    assert login(client, "BOB@example.com").status_code == 200


@pytest.mark.parametrize("second", ["bob@example.com", "BOB@EXAMPLE.COM", "  Bob@example.com"])
def test_register_same_email_again_is_409_email_taken(client: Client, second: str) -> None:
    assert register(client, "bob@example.com").status_code == 201
    assert_problem(register(client, second), 409, "email_taken")


@pytest.mark.parametrize(
    "email", ["not-an-email", "bob@localhost", "bob @example.com", "@example.com", ""]
)
def test_register_bad_email_is_422(client: Client, email: str) -> None:
    assert_validation(register(client, email), "email")


@pytest.mark.parametrize("length", [7, 1025])
def test_register_password_length_out_of_bounds_is_422(client: Client, length: int) -> None:
    response = client.post(REGISTER, json={"email": "bob@example.com", "password": "p" * length})
    assert_validation(response, "password")


@pytest.mark.parametrize("length", [8, 1024])
def test_register_password_length_at_the_bounds_is_accepted(client: Client, length: int) -> None:
    response = client.post(REGISTER, json={"email": "bob@example.com", "password": "p" * length})
    assert response.status_code == 201, response.text
    assert login(client, "bob@example.com", "p" * length).status_code == 200


def test_register_one_megabyte_password_is_422_not_413(client: Client) -> None:
    response = client.post(REGISTER, json={"email": "bob@example.com", "password": "p" * 1_000_000})
    assert_validation(response, "password")


def test_register_refuses_is_staff_no_mass_assignment(client: Client, sqlite_shop: Shop) -> None:
    response = register(client, is_staff=True)
    body = assert_validation(response, "is_staff")
    assert body["errors"][0]["message"] == "unknown field"
    assert sqlite_shop.accounts.find_by_email("bob@example.com") is None
    created = register(client).json()
    assert created["is_staff"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "bob@example.com"}, "password"),
        ({"password": PASSWORD}, "email"),
        ({"email": "bob@example.com", "password": 12345678}, "password"),
        ({"email": "bob@example.com", "password": PASSWORD, "first_name": "x" * 101}, "first_name"),
        ({"email": "bob@example.com", "password": PASSWORD, "is_active": False}, "is_active"),
    ],
)
def test_register_invalid_bodies_are_422(client: Client, body: dict[str, Any], field: str) -> None:
    assert_validation(client.post(REGISTER, json=body), field)


# --- login --------------------------------------------------------------------------------


def test_login_answers_a_token_pair(client: Client) -> None:
    user = register(client).json()
    response = login(client, "bob@example.com")
    assert response.status_code == 200, response.text
    pair = response.json()
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == 900
    assert isinstance(pair["refresh_token"], str)
    assert len(pair["refresh_token"]) >= 32
    assert pair["refresh_token"] != pair["access_token"]
    header = jwt.get_unverified_header(pair["access_token"])
    assert header["alg"] == "HS256"
    assert header["typ"] == "at+jwt"
    claims = jwt.decode(
        pair["access_token"],
        SECRET,
        algorithms=["HS256"],
        audience="minicommerce-api",
        issuer="minicommerce",
    )
    assert claims["sub"] == str(user["id"])
    assert claims["exp"] - claims["iat"] == 900
    assert {"sub", "exp", "iat", "jti", "iss", "aud"} <= set(claims)
    me = client.get(ME, headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert_timestamp(me.json()["last_login"])


def test_wrong_password_and_unknown_email_get_the_same_401(client: Client) -> None:
    register(client)
    wrong = login(client, "bob@example.com", "wrong password!")
    unknown = login(client, "nobody@example.com", PASSWORD)
    first = assert_problem(wrong, 401, "invalid_credentials")
    second = assert_problem(unknown, 401, "invalid_credentials")
    assert first == second
    assert wrong.headers.get("www-authenticate") == unknown.headers.get("www-authenticate")


def test_deactivated_user_cannot_log_in(
    client: Client, sqlite_shop: Shop, customer: Account, staff: Account
) -> None:
    sqlite_shop.accounts.administer(staff.id, customer.id, UserAdminChanges(is_active=False))
    response = login(client, customer.email, customer.password)
    body = assert_problem(response, 401, "invalid_credentials")
    assert body == login(client, "nobody@example.com", customer.password).json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "bob@example.com"}, "password"),
        ({"password": PASSWORD}, "email"),
        ({"email": "bob@example.com", "password": "p" * 1025}, "password"),
        ({"email": "bob@example.com", "password": PASSWORD, "remember": True}, "remember"),
    ],
)
def test_login_invalid_bodies_are_422(client: Client, body: dict[str, Any], field: str) -> None:
    assert_validation(client.post(LOGIN, json=body), field)


def test_login_with_one_megabyte_password_is_422(client: Client) -> None:
    response = client.post(LOGIN, json={"email": "bob@example.com", "password": "p" * 1_000_000})
    assert_validation(response, "password")


# --- login throttle -------------------------------------------------------------------------


@pytest.fixture
def forwarded_client(app_factory: Callable[..., Litestar]) -> Iterator[Client]:
    """A client behind a trusted proxy, so every request can come from another address."""
    app = behind_proxy(app_factory(trusted_proxies="10.0.0.0/8"), "10.0.0.1")
    with TestClient(app) as client:
        yield client


def test_eleventh_login_after_ten_failures_is_429_whatever_the_address(
    forwarded_client: Client, customer: Account
) -> None:
    for attempt in range(10):
        email = customer.email.upper() if attempt % 2 else customer.email
        response = login(
            forwarded_client, email, "wrong password!", **{"X-Forwarded-For": f"10.0.0.{attempt}"}
        )
        assert_problem(response, 401, "invalid_credentials")
    response = login(
        forwarded_client,
        customer.email,
        customer.password,
        **{"X-Forwarded-For": "192.168.7.7"},
    )
    body = assert_problem(response, 429, "rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 900
    assert body["retry_after"] == retry_after
    again = login(forwarded_client, customer.email, customer.password)
    assert_problem(again, 429, "rate_limited")


def test_throttle_is_per_account(client: Client, signup: Callable[..., Account]) -> None:
    victim = signup()
    other = signup()
    for _ in range(10):
        assert_problem(login(client, victim.email, "wrong password!"), 401, "invalid_credentials")
    assert_problem(login(client, victim.email, victim.password), 429, "rate_limited")
    assert login(client, other.email, other.password).status_code == 200


def test_nine_failures_do_not_throttle(client: Client, customer: Account) -> None:
    for _ in range(9):
        assert login(client, customer.email, "wrong password!").status_code == 401
    assert login(client, customer.email, customer.password).status_code == 200


def test_unknown_email_is_throttled_like_a_real_one(client: Client) -> None:
    for _ in range(10):
        assert login(client, "ghost@example.com", "wrong password!").status_code == 401
    assert_problem(login(client, "ghost@example.com", "wrong password!"), 429, "rate_limited")


# --- refresh ------------------------------------------------------------------------------


def refresh(client: Client, token: str) -> httpx.Response:
    return client.post(REFRESH, json={"refresh_token": token})


def test_refresh_rotates_the_pair(client: Client, customer: Account) -> None:
    response = refresh(client, customer.refresh_token)
    assert response.status_code == 200, response.text
    pair = response.json()
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == 900
    assert pair["refresh_token"] != customer.refresh_token
    assert pair["access_token"] != customer.access_token
    me = client.get(ME, headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert me.json()["id"] == customer.id
    assert refresh(client, pair["refresh_token"]).status_code == 200


def test_reusing_a_refresh_token_revokes_its_family(client: Client, customer: Account) -> None:
    rotated = refresh(client, customer.refresh_token).json()
    assert_problem(refresh(client, customer.refresh_token), 401, "invalid_token")
    assert_problem(refresh(client, rotated["refresh_token"]), 401, "invalid_token")


def test_reuse_ends_the_access_tokens_of_the_family_at_once(
    client: Client, customer: Account
) -> None:
    other_session = login(client, customer.email, customer.password).json()
    rotated = refresh(client, customer.refresh_token).json()
    assert client.get(ME, headers=bearer(rotated["access_token"])).status_code == 200
    assert refresh(client, customer.refresh_token).status_code == 401  # the replay
    for token in (customer.access_token, rotated["access_token"]):
        assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")
    assert client.get(ME, headers=bearer(other_session["access_token"])).status_code == 200


def test_reuse_leaves_other_sessions_alone(client: Client, customer: Account) -> None:
    other_session = login(client, customer.email, customer.password).json()
    refresh(client, customer.refresh_token)
    assert refresh(client, customer.refresh_token).status_code == 401
    assert refresh(client, other_session["refresh_token"]).status_code == 200


def test_access_token_is_not_a_refresh_token(client: Client, customer: Account) -> None:
    assert_problem(refresh(client, customer.access_token), 401, "invalid_token")
    assert refresh(client, customer.refresh_token).status_code == 200


def test_refresh_token_is_not_an_access_token(client: Client, customer: Account) -> None:
    response = client.get(ME, headers=bearer(customer.refresh_token))
    assert_problem(response, 401, "invalid_token")


@pytest.mark.parametrize("token", ["garbage", "rt_" + "A" * 43])
def test_unknown_refresh_token_is_401(client: Client, token: str) -> None:
    assert_problem(refresh(client, token), 401, "invalid_token")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "refresh_token"),
        ({"refresh_token": ""}, "refresh_token"),
        ({"refresh_token": "x" * 513}, "refresh_token"),
        ({"refresh_token": "abc", "user_id": 1}, "user_id"),
    ],
)
def test_refresh_invalid_bodies_are_422(client: Client, body: dict[str, Any], field: str) -> None:
    assert_validation(client.post(REFRESH, json=body), field)


def test_deactivated_user_cannot_refresh(
    client: Client, sqlite_shop: Shop, customer: Account, staff: Account
) -> None:
    sqlite_shop.accounts.administer(staff.id, customer.id, UserAdminChanges(is_active=False))
    assert_problem(refresh(client, customer.refresh_token), 401, "invalid_token")


def test_deactivation_ends_every_access_token_even_after_reactivation(
    client: Client, sqlite_shop: Shop, customer: Account, staff: Account
) -> None:
    other = login(client, customer.email, customer.password).json()
    sqlite_shop.accounts.administer(staff.id, customer.id, UserAdminChanges(is_active=False))
    sqlite_shop.accounts.administer(staff.id, customer.id, UserAdminChanges(is_active=True))
    for token in (customer.access_token, other["access_token"]):
        assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")
    assert login(client, customer.email, customer.password).status_code == 200


# --- logout -------------------------------------------------------------------------------


def test_logout_is_204_and_ends_the_session(client: Client, customer: Account) -> None:
    response = client.post(LOGOUT, json={"refresh_token": customer.refresh_token})
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(refresh(client, customer.refresh_token), 401, "invalid_token")


def test_logout_ends_the_access_tokens_of_the_session_at_once(
    client: Client, customer: Account
) -> None:
    other = login(client, customer.email, customer.password).json()
    rotated = refresh(client, customer.refresh_token).json()
    assert client.get(ME, headers=customer.headers).status_code == 200  # cached as valid
    assert client.post(LOGOUT, json={"refresh_token": rotated["refresh_token"]}).status_code == 204
    for token in (customer.access_token, rotated["access_token"]):
        assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")
        assert_problem(client.get(f"{API}/cart", headers=bearer(token)), 401, "invalid_token")
    assert client.get(ME, headers=bearer(other["access_token"])).status_code == 200


def test_logout_revokes_the_rotated_tokens_of_the_family(client: Client, customer: Account) -> None:
    rotated = refresh(client, customer.refresh_token).json()
    assert client.post(LOGOUT, json={"refresh_token": rotated["refresh_token"]}).status_code == 204
    assert_problem(refresh(client, rotated["refresh_token"]), 401, "invalid_token")


def test_logout_leaves_other_sessions_alone(client: Client, customer: Account) -> None:
    other = login(client, customer.email, customer.password).json()
    client.post(LOGOUT, json={"refresh_token": customer.refresh_token})
    assert refresh(client, other["refresh_token"]).status_code == 200


def test_logout_with_an_unknown_token_is_204(client: Client) -> None:
    response = client.post(LOGOUT, json={"refresh_token": "rt_not-a-real-token"})
    assert response.status_code == 204
    assert response.content == b""


def test_logout_twice_is_204(client: Client, customer: Account) -> None:
    for _ in range(2):
        response = client.post(LOGOUT, json={"refresh_token": customer.refresh_token})
        assert response.status_code == 204


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "refresh_token"), ({"refresh_token": "x", "everywhere": True}, "everywhere")],
)
def test_logout_invalid_bodies_are_422(client: Client, body: dict[str, Any], field: str) -> None:
    assert_validation(client.post(LOGOUT, json=body), field)


# --- the maximum age of a session -------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_refresh_past_the_maximum_age_of_the_session_is_401(sqlite_url: str) -> None:
    clock = FakeClock()
    with (
        Shop.open(
            sqlite_url,
            secret_key=SECRET,
            argon2=FAST_ARGON2,
            clock=clock,
            migrate=False,
            session_max_age=3600,
        ) as shop,
        TestClient(create_app(make_settings(), shop=shop, configure_logs=False)) as client,
    ):
        shop.accounts.register(Registration(email="bob@example.com", password=PASSWORD))
        tokens = login(client, "bob@example.com").json()
        for _ in range(3):  # rotating does not extend the session
            clock.now += timedelta(seconds=1000)
            response = refresh(client, tokens["refresh_token"])
            assert response.status_code == 200, response.text
            tokens = response.json()
        assert tokens["expires_in"] == 600  # the session's remaining life, not 900
        clock.now += timedelta(seconds=600)
        assert_problem(refresh(client, tokens["refresh_token"]), 401, "invalid_token")
        assert_problem(client.get(ME, headers=bearer(tokens["access_token"])), 401, "invalid_token")
        assert login(client, "bob@example.com").status_code == 200
