"""GET /admin/users, GET/PATCH /admin/users/{id} (staff only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.server.conftest import Account, Client
from tests.server.helpers import (
    API,
    assert_problem,
    assert_user,
    assert_validation,
    bearer,
    cursor_of,
)

USERS = f"{API}/admin/users"
ME = f"{API}/me"
LOGIN = f"{API}/auth/login"
REFRESH = f"{API}/auth/refresh"


def url(user_id: int) -> str:
    return f"{USERS}/{user_id}"


def walk(client: Client, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(USERS, params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ran out")


@pytest.fixture
def people(signup: Callable[..., Account]) -> list[Account]:
    return [
        signup(email="alice@example.com"),
        signup(email="bob@shop.example"),
        signup(email="carol@example.com"),
        signup(email="dave@shop.example"),
        signup(email="erin@example.com"),
    ]


# --- list -----------------------------------------------------------------------------------


def test_staff_lists_users_newest_first(
    client: Client, staff: Account, people: list[Account]
) -> None:
    response = client.get(USERS, headers=staff.headers)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    for item in page["items"]:
        assert_user(item)
    expected = sorted([staff.id, *(p.id for p in people)], reverse=True)
    assert [u["id"] for u in page["items"]] == expected
    created = [u["created_at"] for u in page["items"]]
    assert created == sorted(created, reverse=True)
    assert "password" not in response.text


def test_user_list_pages_with_a_cursor(
    client: Client, staff: Account, people: list[Account]
) -> None:
    first = client.get(USERS, params={"limit": 2}, headers=staff.headers).json()
    assert len(first["items"]) == 2
    assert isinstance(first["next_cursor"], str)
    items = walk(client, staff.headers, limit=2)
    ids = [u["id"] for u in items]
    assert ids == sorted([staff.id, *(p.id for p in people)], reverse=True)
    assert ids[:2] == [u["id"] for u in first["items"]]


@pytest.mark.parametrize(
    ("q", "emails"),
    [
        ("shop.example", ["dave@shop.example", "bob@shop.example"]),
        ("CAROL", ["carol@example.com"]),
        ("nobody-here", []),
        ("%", []),
    ],
)
def test_user_list_filters_by_q(
    client: Client, staff: Account, people: list[Account], q: str, emails: list[str]
) -> None:
    items = walk(client, staff.headers, q=q, limit=1)
    assert [u["email"] for u in items] == emails


def test_user_list_q_matches_names(client: Client, staff: Account, people: list[Account]) -> None:
    client.patch(ME, json={"first_name": "Zebedee"}, headers=people[1].headers)
    items = walk(client, staff.headers, q="zebedee")
    assert [u["id"] for u in items] == [people[1].id]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"cursor": "zzz"}, "cursor"),
        ({"cursor": cursor_of("newest", 3)}, "cursor"),
        ({"q": "q" * 201}, "q"),
    ],
)
def test_user_list_bad_parameters_are_422(
    client: Client, staff: Account, params: dict[str, Any], field: str
) -> None:
    assert_validation(client.get(USERS, params=params, headers=staff.headers), field)


def test_user_list_crafted_cursor_is_422(client: Client, staff: Account) -> None:
    response = client.get(
        USERS, params={"cursor": cursor_of("users", 10**30)}, headers=staff.headers
    )
    assert_validation(response, "cursor")


def test_customer_cannot_list_users(client: Client, customer: Account) -> None:
    assert_problem(client.get(USERS, headers=customer.headers), 403, "permission_denied")


def test_anonymous_cannot_list_users(client: Client) -> None:
    assert_problem(client.get(USERS), 401, "unauthenticated")
    assert_problem(client.get(USERS, headers=bearer("garbage")), 401, "invalid_token")


# --- get one --------------------------------------------------------------------------------


def test_staff_gets_one_user(client: Client, staff: Account, customer: Account) -> None:
    response = client.get(url(customer.id), headers=staff.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_user(body)
    assert (body["id"], body["email"], body["is_staff"]) == (customer.id, customer.email, False)


def test_get_unknown_user_is_404(client: Client, staff: Account) -> None:
    assert_problem(client.get(url(424242), headers=staff.headers), 404, "not_found")
    assert_problem(client.get(f"{USERS}/abc", headers=staff.headers), 404, "not_found")


def test_customer_and_anonymous_cannot_get_a_user(
    client: Client, customer: Account, staff: Account
) -> None:
    assert_problem(client.get(url(staff.id), headers=customer.headers), 403, "permission_denied")
    assert_problem(client.get(url(staff.id)), 401, "unauthenticated")


def test_get_user_with_a_huge_id_is_404(client: Client, staff: Account) -> None:
    assert_problem(client.get(url(10**20), headers=staff.headers), 404, "not_found")


# --- PATCH ----------------------------------------------------------------------------------


def test_staff_promotes_a_customer(client: Client, staff: Account, customer: Account) -> None:
    assert client.get(USERS, headers=customer.headers).status_code == 403
    response = client.patch(url(customer.id), json={"is_staff": True}, headers=staff.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_user(body)
    assert body["is_staff"] is True
    assert body["is_active"] is True
    assert client.get(USERS, headers=customer.headers).status_code == 200


def test_staff_demotes_another_staff_member(
    client: Client, staff: Account, signup: Callable[..., Account]
) -> None:
    other = signup(staff=True)
    response = client.patch(url(other.id), json={"is_staff": False}, headers=staff.headers)
    assert response.status_code == 200, response.text
    assert response.json()["is_staff"] is False
    assert_problem(client.get(USERS, headers=other.headers), 403, "permission_denied")


def test_deactivation_ends_access_and_reactivation_allows_login(
    client: Client, staff: Account, customer: Account
) -> None:
    response = client.patch(url(customer.id), json={"is_active": False}, headers=staff.headers)
    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False
    assert_problem(client.get(ME, headers=customer.headers), 401, "invalid_token")
    stale = client.post(REFRESH, json={"refresh_token": customer.refresh_token})
    assert_problem(stale, 401, "invalid_token")
    credentials = {"email": customer.email, "password": customer.password}
    assert_problem(client.post(LOGIN, json=credentials), 401, "invalid_credentials")

    back = client.patch(url(customer.id), json={"is_active": True}, headers=staff.headers)
    assert back.status_code == 200
    assert back.json()["is_active"] is True
    pair = client.post(LOGIN, json=credentials)
    assert pair.status_code == 200, pair.text
    assert client.get(ME, headers=bearer(pair.json()["access_token"])).status_code == 200


def test_deactivated_staff_loses_staff_routes(
    client: Client, staff: Account, signup: Callable[..., Account]
) -> None:
    other = signup(staff=True)
    client.patch(url(other.id), json={"is_active": False}, headers=staff.headers)
    assert_problem(client.get(USERS, headers=other.headers), 401, "invalid_token")


def test_patch_with_both_fields_and_with_none(
    client: Client, staff: Account, customer: Account
) -> None:
    both = client.patch(
        url(customer.id), json={"is_staff": True, "is_active": True}, headers=staff.headers
    )
    assert both.status_code == 200
    assert (both.json()["is_staff"], both.json()["is_active"]) == (True, True)
    nothing = client.patch(url(customer.id), json={}, headers=staff.headers)
    assert nothing.status_code == 200
    assert nothing.json() == both.json()


@pytest.mark.parametrize("changes", [{"is_staff": False}, {"is_active": False}])
def test_staff_cannot_demote_or_deactivate_themselves(
    client: Client, staff: Account, changes: dict[str, bool]
) -> None:
    response = client.patch(url(staff.id), json=changes, headers=staff.headers)
    assert_problem(response, 409, "self_modification")
    me = client.get(ME, headers=staff.headers)
    assert me.status_code == 200
    assert (me.json()["is_staff"], me.json()["is_active"]) == (True, True)


def test_staff_may_confirm_their_own_flags(client: Client, staff: Account) -> None:
    response = client.patch(
        url(staff.id), json={"is_staff": True, "is_active": True}, headers=staff.headers
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "x@example.com"}, "email"),
        ({"password_hash": "x"}, "password_hash"),
        ({"first_name": "Eve"}, "first_name"),
        ({"is_staff": "yes"}, "is_staff"),
        ({"is_active": 1}, "is_active"),
        ({"is_staff": None}, "is_staff"),
    ],
)
def test_patch_invalid_bodies_are_422(
    client: Client, staff: Account, customer: Account, body: dict[str, Any], field: str
) -> None:
    response = client.patch(url(customer.id), json=body, headers=staff.headers)
    assert_validation(response, field)
    after = client.get(url(customer.id), headers=staff.headers).json()
    assert (after["email"], after["is_staff"], after["is_active"]) == (customer.email, False, True)


def test_patch_unknown_user_is_404(client: Client, staff: Account) -> None:
    response = client.patch(url(424242), json={"is_staff": True}, headers=staff.headers)
    assert_problem(response, 404, "not_found")


def test_customer_and_anonymous_cannot_patch_users(
    client: Client, customer: Account, signup: Callable[..., Account]
) -> None:
    other = signup()
    response = client.patch(url(customer.id), json={"is_staff": True}, headers=customer.headers)
    assert_problem(response, 403, "permission_denied")
    response = client.patch(url(other.id), json={"is_active": False}, headers=customer.headers)
    assert_problem(response, 403, "permission_denied")
    assert_problem(client.patch(url(other.id), json={"is_active": False}), 401, "unauthenticated")
    assert client.get(ME, headers=other.headers).status_code == 200
    assert client.get(ME, headers=customer.headers).json()["is_staff"] is False
