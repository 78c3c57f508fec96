"""GET /me, PATCH /me, POST /me/password, and what an access token must be."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.server.conftest import Account, Client
from tests.server.helpers import (
    API,
    access_claims,
    assert_problem,
    assert_user,
    assert_validation,
    bearer,
    mint,
)

ME = f"{API}/me"
PASSWORD_ROUTE = f"{API}/me/password"
LOGIN = f"{API}/auth/login"
REFRESH = f"{API}/auth/refresh"
OTHER_KEY = "another-secret-" + "y" * 40


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(part: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return result


# --- GET /me --------------------------------------------------------------------------------


def test_me_answers_the_signed_in_user(client: Client, customer: Account) -> None:
    response = client.get(ME, headers=customer.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_user(body)
    assert body["id"] == customer.id
    assert body["email"] == customer.email
    assert body["is_staff"] is False
    assert body["last_login"] is not None


def test_me_without_a_token_is_401(client: Client) -> None:
    response = assert_problem(client.get(ME), 401, "unauthenticated")
    assert response["status"] == 401


@pytest.mark.parametrize(
    "authorization",
    ["Bearer garbage", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "Token abc"],
)
def test_me_with_a_malformed_authorization_is_401(client: Client, authorization: str) -> None:
    response = client.get(ME, headers={"Authorization": authorization})
    assert_problem(response, 401, "invalid_token")


def test_a_token_minted_like_the_server_does_is_accepted(client: Client, customer: Account) -> None:
    """The positive control for the forged tokens below: only their one defect fails them."""
    response = client.get(ME, headers=bearer(mint(access_claims(customer.id, customer.session_id))))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == customer.id


def test_expired_token_is_401(client: Client, customer: Account) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    token = mint(
        access_claims(customer.id, customer.session_id, iat=past, exp=past + timedelta(minutes=15))
    )
    assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")


def test_alg_none_token_is_401(client: Client, customer: Account) -> None:
    claims = access_claims(customer.id, customer.session_id)
    claims["iat"] = int(claims["iat"].timestamp())
    claims["exp"] = int(claims["exp"].timestamp())
    token = _b64({"alg": "none", "typ": "at+jwt"}) + "." + _b64(claims) + "."
    assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")


def test_token_signed_with_another_key_is_401(client: Client, customer: Account) -> None:
    token = mint(access_claims(customer.id, customer.session_id), key=OTHER_KEY)
    assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")


def test_token_with_another_algorithm_is_401(client: Client, customer: Account) -> None:
    token = mint(access_claims(customer.id, customer.session_id), algorithm="HS384")
    assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")


def test_tampered_payload_is_401(client: Client, customer: Account, staff: Account) -> None:
    header, payload, signature = customer.access_token.split(".")
    claims = _b64decode(payload)
    claims["sub"] = str(staff.id)
    token = ".".join((header, _b64(claims), signature))
    assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")


@pytest.mark.parametrize("missing", ["jti", "exp", "iat", "sub", "iss", "aud", "sid"])
def test_token_missing_a_claim_is_401(client: Client, customer: Account, missing: str) -> None:
    token = mint(access_claims(customer.id, customer.session_id, **{missing: None}))
    assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")


@pytest.mark.parametrize(
    "changes",
    [{"aud": "someone-else"}, {"iss": "evil"}, {"sub": "not-a-number"}],
    ids=["aud", "iss", "sub"],
)
def test_token_with_a_wrong_claim_is_401(
    client: Client, customer: Account, changes: dict[str, Any]
) -> None:
    token = mint(access_claims(customer.id, customer.session_id, **changes))
    assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")


def test_token_of_another_type_is_401(client: Client, customer: Account) -> None:
    token = mint(access_claims(customer.id, customer.session_id), typ="JWT")
    assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")


def test_token_naming_another_users_session_is_401(
    client: Client, customer: Account, staff: Account
) -> None:
    token = mint(access_claims(customer.id, staff.session_id))
    assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")


def test_token_naming_an_unknown_session_is_401(client: Client, customer: Account) -> None:
    token = mint(access_claims(customer.id, "no-such-session"))
    assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")


def test_token_living_longer_than_the_configured_ttl_is_401(
    client: Client, customer: Account
) -> None:
    now = datetime.now(UTC)
    token = mint(access_claims(customer.id, customer.session_id, exp=now + timedelta(hours=2)))
    assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")


def test_token_for_an_unknown_user_is_401(client: Client) -> None:
    token = mint(access_claims(987_654))
    assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")


# --- PATCH /me ------------------------------------------------------------------------------


def test_patch_me_changes_the_names(client: Client, customer: Account) -> None:
    response = client.patch(
        ME, json={"first_name": "Ada", "last_name": "Lovelace"}, headers=customer.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert_user(body)
    assert (body["first_name"], body["last_name"]) == ("Ada", "Lovelace")
    assert body["email"] == customer.email
    again = client.get(ME, headers=customer.headers).json()
    assert (again["first_name"], again["last_name"]) == ("Ada", "Lovelace")


def test_patch_me_changes_only_the_given_name(client: Client, customer: Account) -> None:
    client.patch(ME, json={"first_name": "Ada", "last_name": "Lovelace"}, headers=customer.headers)
    body = client.patch(ME, json={"last_name": "King"}, headers=customer.headers).json()
    assert (body["first_name"], body["last_name"]) == ("Ada", "King")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"is_staff": True}, "is_staff"),
        ({"email": "new@example.com"}, "email"),
        ({"is_active": False}, "is_active"),
        ({"first_name": None}, "first_name"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"last_name": 5}, "last_name"),
    ],
)
def test_patch_me_invalid_bodies_are_422(
    client: Client, customer: Account, body: dict[str, Any], field: str
) -> None:
    assert_validation(client.patch(ME, json=body, headers=customer.headers), field)
    me = client.get(ME, headers=customer.headers).json()
    assert me["is_staff"] is False
    assert me["email"] == customer.email


def test_patch_me_without_a_token_is_401(client: Client) -> None:
    assert_problem(client.patch(ME, json={"first_name": "Ada"}), 401, "unauthenticated")


# --- POST /me/password ----------------------------------------------------------------------

NEW_PASSWORD = "a brand new password"


def test_change_password(client: Client, customer: Account) -> None:
    response = client.post(
        PASSWORD_ROUTE,
        json={"current_password": customer.password, "new_password": NEW_PASSWORD},
        headers=customer.headers,
    )
    assert response.status_code == 204, response.text
    assert response.content == b""
    old = client.post(LOGIN, json={"email": customer.email, "password": customer.password})
    assert_problem(old, 401, "invalid_credentials")
    new = client.post(LOGIN, json={"email": customer.email, "password": NEW_PASSWORD})
    assert new.status_code == 200, new.text
    stale = client.post(REFRESH, json={"refresh_token": customer.refresh_token})
    assert_problem(stale, 401, "invalid_token")
    fresh = client.post(REFRESH, json={"refresh_token": new.json()["refresh_token"]})
    assert fresh.status_code == 200


def test_change_password_ends_every_access_token_of_the_user_at_once(
    client: Client, customer: Account, staff: Account
) -> None:
    other = client.post(LOGIN, json={"email": customer.email, "password": customer.password})
    other_token = other.json()["access_token"]
    assert client.get(ME, headers=bearer(other_token)).status_code == 200
    response = client.post(
        PASSWORD_ROUTE,
        json={"current_password": customer.password, "new_password": NEW_PASSWORD},
        headers=customer.headers,
    )
    assert response.status_code == 204, response.text
    for token in (customer.access_token, other_token):
        assert_problem(client.get(ME, headers=bearer(token)), 401, "invalid_token")
    assert client.get(ME, headers=staff.headers).status_code == 200  # other users live on
    new = client.post(LOGIN, json={"email": customer.email, "password": NEW_PASSWORD})
    assert client.get(ME, headers=bearer(new.json()["access_token"])).status_code == 200


def test_wrong_current_passwords_count_as_failed_logins(client: Client, customer: Account) -> None:
    wrong = {"current_password": "not my password", "new_password": NEW_PASSWORD}
    for _ in range(10):
        response = client.post(PASSWORD_ROUTE, json=wrong, headers=customer.headers)
        assert_problem(response, 401, "invalid_credentials")
    right = {"current_password": customer.password, "new_password": NEW_PASSWORD}
    response = client.post(PASSWORD_ROUTE, json=right, headers=customer.headers)
    assert_problem(response, 429, "rate_limited")
    assert 0 < int(response.headers["Retry-After"]) <= 900
    login = client.post(LOGIN, json={"email": customer.email, "password": customer.password})
    assert_problem(login, 429, "rate_limited")  # the same account's throttle


def test_a_wrong_current_password_and_failed_logins_share_the_count(
    client: Client, customer: Account
) -> None:
    for _ in range(9):
        login = client.post(LOGIN, json={"email": customer.email, "password": "wrong!!!!"})
        assert_problem(login, 401, "invalid_credentials")
    wrong = {"current_password": "not my password", "new_password": NEW_PASSWORD}
    response = client.post(PASSWORD_ROUTE, json=wrong, headers=customer.headers)
    assert_problem(response, 401, "invalid_credentials")
    response = client.post(PASSWORD_ROUTE, json=wrong, headers=customer.headers)
    assert_problem(response, 429, "rate_limited")


def test_change_password_with_a_wrong_current_password_is_401(
    client: Client, customer: Account
) -> None:
    response = client.post(
        PASSWORD_ROUTE,
        json={"current_password": "not my password", "new_password": NEW_PASSWORD},
        headers=customer.headers,
    )
    assert_problem(response, 401, "invalid_credentials")
    still = client.post(LOGIN, json={"email": customer.email, "password": customer.password})
    assert still.status_code == 200
    assert client.post(REFRESH, json={"refresh_token": customer.refresh_token}).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"current_password": "x", "new_password": "short12"}, "new_password"),
        ({"current_password": "x", "new_password": "p" * 1025}, "new_password"),
        ({"new_password": NEW_PASSWORD}, "current_password"),
        ({"current_password": "x"}, "new_password"),
        ({"current_password": "x", "new_password": NEW_PASSWORD, "user_id": 1}, "user_id"),
    ],
)
def test_change_password_invalid_bodies_are_422(
    client: Client, customer: Account, body: dict[str, Any], field: str
) -> None:
    if body.get("current_password") == "x":
        body = {**body, "current_password": customer.password}
    response = client.post(PASSWORD_ROUTE, json=body, headers=customer.headers)
    assert_validation(response, field)
    still = client.post(LOGIN, json={"email": customer.email, "password": customer.password})
    assert still.status_code == 200


def test_change_password_without_a_token_is_401(client: Client, customer: Account) -> None:
    response = client.post(
        PASSWORD_ROUTE,
        json={"current_password": customer.password, "new_password": NEW_PASSWORD},
    )
    assert_problem(response, 401, "unauthenticated")
