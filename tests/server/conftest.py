"""HTTP fixtures: the app over a shop, a test client, and signed-in users."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import jwt
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from minicommerce import Registration, Shop
from minicommerce_server.app import create_app
from minicommerce_server.settings import ServerSettings
from tests.conftest import SECRET

Client = TestClient[Litestar]


def make_settings(**overrides: object) -> ServerSettings:
    values: dict[str, object] = {
        "secret_key": SECRET,
        "rate_limit_anon": "0",
        "rate_limit_user": "0",
        "log_level": "WARNING",
    }
    values.update(overrides)
    return ServerSettings.model_validate(values)


@pytest.fixture
def app_factory(sqlite_shop: Shop) -> Callable[..., Litestar]:
    def factory(**overrides: object) -> Litestar:
        return create_app(make_settings(**overrides), shop=sqlite_shop, configure_logs=False)

    return factory


@pytest.fixture
def client(app_factory: Callable[..., Litestar]) -> Iterator[Client]:
    with TestClient(app_factory()) as client:
        yield client


@dataclass
class Account:
    id: int
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def session_id(self) -> str:
        """The session (``sid``) its tokens belong to."""
        claims = jwt.decode(self.access_token, options={"verify_signature": False})
        return str(claims["sid"])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def sign_up(client: Client, shop: Shop, email: str, *, staff: bool = False) -> Account:
    """A new account, signed in over HTTP."""
    password = "a long enough password"
    user = shop.accounts.register(Registration(email=email, password=password), is_staff=staff)
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    return Account(user.id, email, password, body["access_token"], body["refresh_token"])


@pytest.fixture
def signup(client: Client, sqlite_shop: Shop) -> Callable[..., Account]:
    counter = iter(range(1_000_000))

    def make(*, staff: bool = False, email: str | None = None) -> Account:
        return sign_up(
            client, sqlite_shop, email or f"user{next(counter)}@example.com", staff=staff
        )

    return make


@pytest.fixture
def customer(signup: Callable[..., Account]) -> Account:
    return signup()


@pytest.fixture
def staff(signup: Callable[..., Account]) -> Account:
    return signup(staff=True)
