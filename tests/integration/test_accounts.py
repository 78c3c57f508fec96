"""Accounts and auth on every backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from minicommerce import (
    Argon2Parameters,
    Credentials,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    LoginThrottle,
    NotFound,
    PasswordChange,
    ProfileChanges,
    RateLimited,
    Registration,
    SelfModification,
    Shop,
    UserAdminChanges,
    UserQuery,
    ValidationError,
)
from minicommerce.accounts.auth import AuthService
from minicommerce.accounts.passwords import PasswordHasher
from minicommerce.accounts.tokens import AccessTokenCodec
from minicommerce.storage.tables import users
from minicommerce.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.conftest import FAST_ARGON2, SECRET

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed_shop(database_url: str, clock: Clock) -> Iterator[Shop]:
    with Shop.open(
        database_url,
        secret_key=SECRET,
        argon2=FAST_ARGON2,
        clock=clock,
        migrate=False,
        refresh_token_ttl=3600,
        throttle=LoginThrottle(max_failures=3, window=600),
    ) as shop:
        yield shop


def register(shop: Shop, email: str = "ann@example.com", **kw: str) -> int:
    return shop.accounts.register(Registration(email=email, password=PASSWORD, **kw)).id


def login(shop: Shop, email: str = "ann@example.com", password: str = PASSWORD) -> str:
    return shop.auth.login(Credentials(email=email, password=password)).refresh_token


def test_register_normalises_and_refuses_duplicates(shop: Shop) -> None:
    user = shop.accounts.register(
        Registration(email=" Ann@Example.COM", password=PASSWORD, first_name="Ann")
    )
    assert (user.email, user.first_name, user.is_staff, user.is_active) == (
        "ann@example.com",
        "Ann",
        False,
        True,
    )
    assert user.last_login is None
    with pytest.raises(EmailTaken):
        register(shop, "ANN@example.com")


def test_password_is_stored_as_argon2id(shop: Shop) -> None:
    register(shop)
    with shop.database.reader.connect() as conn:
        stored = conn.execute(users.select()).one().password_hash
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_login_and_authenticate(shop: Shop) -> None:
    user_id = register(shop)
    pair = shop.auth.login(Credentials(email="ANN@example.com ", password=PASSWORD))
    assert pair.token_type == "Bearer"
    assert pair.expires_in == 900
    user = shop.auth.authenticate(pair.access_token)
    assert user.id == user_id
    assert user.last_login is not None


def test_unknown_email_and_wrong_password_are_the_same_error(shop: Shop) -> None:
    register(shop)
    errors = []
    for email, password in (("ann@example.com", "wrong password"), ("bob@example.com", PASSWORD)):
        with pytest.raises(InvalidCredentials) as info:
            login(shop, email, password)
        errors.append((type(info.value), info.value.message))
    assert errors[0] == errors[1]


def test_unknown_email_costs_a_hash_too(database_url: str) -> None:
    # Timing parity is by construction (a dummy verify); check that work is really done.
    slow = Argon2Parameters(time_cost=2, memory_cost=8192, parallelism=1)
    with Shop.open(database_url, secret_key=SECRET, argon2=slow, migrate=False) as shop:
        register(shop)

        def timed(email: str) -> float:
            start = time.perf_counter()
            with pytest.raises(InvalidCredentials):
                login(shop, email, "wrong password")
            return time.perf_counter() - start

        timed("nobody@example.com")  # the dummy hash is made once, lazily
        known = min(timed("ann@example.com") for _ in range(3))
        unknown = min(timed("nobody@example.com") for _ in range(3))
    assert unknown > known / 3


def test_deactivated_users_cannot_log_in(shop: Shop) -> None:
    user_id = register(shop)
    admin = register(shop, "boss@example.com")
    shop.accounts.administer(admin, user_id, UserAdminChanges(is_active=False))
    with pytest.raises(InvalidCredentials):
        login(shop)


def test_login_throttle_per_account(timed_shop: Shop, clock: Clock) -> None:
    shop = timed_shop
    register(shop)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            login(shop, password="wrong password")
    with pytest.raises(RateLimited) as info:
        login(shop)  # even the right password waits
    assert 1 <= info.value.retry_after <= 601
    with pytest.raises(RateLimited):
        login(shop, "ANN@example.com")  # the same account, however it is spelt
    register(shop, "bob@example.com")
    login(shop, "bob@example.com")  # other accounts are not affected
    clock.advance(601)
    login(shop)


def test_throttle_applies_to_unknown_emails(timed_shop: Shop) -> None:
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            login(timed_shop, "ghost@example.com", "whatever1")
    with pytest.raises(RateLimited):
        login(timed_shop, "ghost@example.com", "whatever1")


def test_success_clears_failures(timed_shop: Shop) -> None:
    register(timed_shop)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            login(timed_shop, password="wrong password")
    login(timed_shop)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            login(timed_shop, password="wrong password")
    login(timed_shop)


def test_rehash_when_parameters_change(database_url: str) -> None:
    weak = Argon2Parameters(time_cost=1, memory_cost=1024, parallelism=1)
    stronger = Argon2Parameters(time_cost=2, memory_cost=2048, parallelism=1)
    with Shop.open(database_url, secret_key=SECRET, argon2=weak, migrate=False) as shop:
        register(shop)
    with Shop.open(database_url, secret_key=SECRET, argon2=stronger, migrate=False) as shop:
        login(shop)
        with shop.database.reader.connect() as conn:
            stored = conn.execute(users.select()).one().password_hash
        assert "m=2048,t=2" in stored
        login(shop)


def test_refresh_rotates(timed_shop: Shop) -> None:
    register(timed_shop)
    first = login(timed_shop)
    second = timed_shop.auth.refresh(first)
    assert second.refresh_token != first
    third = timed_shop.auth.refresh(second.refresh_token)
    assert timed_shop.auth.authenticate(third.access_token).email == "ann@example.com"


def test_refresh_reuse_revokes_the_family(timed_shop: Shop) -> None:
    register(timed_shop)
    other_session = login(timed_shop)
    first = login(timed_shop)
    second = timed_shop.auth.refresh(first)
    with pytest.raises(InvalidToken, match="already used"):
        timed_shop.auth.refresh(first)  # stolen copy replayed
    with pytest.raises(InvalidToken):
        timed_shop.auth.refresh(second.refresh_token)  # the whole family is gone
    timed_shop.auth.refresh(other_session)  # other sessions live on


def test_refresh_tokens_expire(timed_shop: Shop, clock: Clock) -> None:
    register(timed_shop)
    token = login(timed_shop)
    clock.advance(3601)
    with pytest.raises(InvalidToken, match="expired"):
        timed_shop.auth.refresh(token)


def test_refresh_refuses_access_tokens_and_garbage(shop: Shop) -> None:
    register(shop)
    pair = shop.auth.login(Credentials(email="ann@example.com", password=PASSWORD))
    for bad in (pair.access_token, "rt_nope", ""):
        with pytest.raises(InvalidToken):
            shop.auth.refresh(bad)
    with pytest.raises(InvalidToken):
        shop.auth.authenticate(pair.refresh_token)


def test_deactivated_users_cannot_refresh(shop: Shop) -> None:
    user_id = register(shop)
    admin = register(shop, "boss@example.com")
    token = login(shop)
    shop.accounts.administer(admin, user_id, UserAdminChanges(is_active=False))
    with pytest.raises(InvalidToken):
        shop.auth.refresh(token)
    shop.accounts.administer(admin, user_id, UserAdminChanges(is_active=True))
    with pytest.raises(InvalidToken):  # deactivation ended the session for good
        shop.auth.refresh(token)
    login(shop)


def test_logout_ends_the_session(shop: Shop) -> None:
    register(shop)
    token = login(shop)
    shop.auth.logout(token)
    with pytest.raises(InvalidToken):
        shop.auth.refresh(token)
    shop.auth.logout("rt_unknown")  # quietly ignored


def test_change_password(shop: Shop) -> None:
    user_id = register(shop)
    token = login(shop)
    with pytest.raises(InvalidCredentials):
        shop.auth.change_password(
            user_id, PasswordChange(current_password="nope", new_password="new password!")
        )
    shop.auth.change_password(
        user_id, PasswordChange(current_password=PASSWORD, new_password="new password!")
    )
    with pytest.raises(InvalidToken):
        shop.auth.refresh(token)
    with pytest.raises(InvalidCredentials):
        login(shop)
    login(shop, password="new password!")


def test_profile_changes(shop: Shop) -> None:
    user_id = register(shop, first_name="Ann")
    user = shop.accounts.update_profile(user_id, ProfileChanges(last_name="Lee"))
    assert (user.first_name, user.last_name) == ("Ann", "Lee")
    with pytest.raises(NotFound):
        shop.accounts.update_profile(999, ProfileChanges(last_name="x"))


def test_admin_list_and_search(shop: Shop) -> None:
    ids = [register(shop, f"user{i}@example.com", last_name=f"L{i}") for i in range(5)]
    page = shop.accounts.list(UserQuery(limit=2))
    assert [u.id for u in page.items] == ids[::-1][:2]
    assert page.next_cursor is not None
    rest = shop.accounts.list(UserQuery(limit=10, cursor=page.next_cursor))
    assert [u.id for u in rest.items] == ids[::-1][2:]
    assert rest.next_cursor is None
    assert [u.id for u in shop.accounts.list(UserQuery(q="L3")).items] == [ids[3]]
    assert [u.id for u in shop.accounts.list(UserQuery(q="USER1@")).items] == [ids[1]]


def test_staff_cannot_lock_themselves_out(shop: Shop) -> None:
    admin = register(shop)
    for changes in (UserAdminChanges(is_staff=False), UserAdminChanges(is_active=False)):
        with pytest.raises(SelfModification):
            shop.accounts.administer(admin, admin, changes)
    with pytest.raises(NotFound):
        shop.accounts.administer(admin, 999, UserAdminChanges(is_staff=True))


def test_create_admin(shop: Shop) -> None:
    user, created = shop.accounts.create_admin("Root@Example.com", "admin password")
    assert created
    assert user.is_staff
    login(shop, "root@example.com", "admin password")
    customer = register(shop, "cus@example.com")
    promoted, created = shop.accounts.create_admin("cus@example.com", None)
    assert (promoted.id, promoted.is_staff, created) == (customer, True, False)
    with pytest.raises(ValidationError):
        shop.accounts.create_admin("new@example.com", None)
    with pytest.raises(ValidationError):
        shop.accounts.create_admin("new@example.com", "short")


# --- sessions end at once -------------------------------------------------------------------


def pair(shop: Shop, email: str = "ann@example.com") -> tuple[str, str]:
    tokens = shop.auth.login(Credentials(email=email, password=PASSWORD))
    return tokens.access_token, tokens.refresh_token


def test_logout_ends_the_access_tokens_of_its_session(shop: Shop) -> None:
    register(shop)
    access, refresh = pair(shop)
    other_access, _ = pair(shop)
    rotated = shop.auth.refresh(refresh)
    cached = shop.auth.verify_access_token(access)
    assert shop.auth.authenticate(access).email == "ann@example.com"
    shop.auth.logout(rotated.refresh_token)
    for token in (access, rotated.access_token):
        with pytest.raises(InvalidToken, match="session has ended"):
            shop.auth.authenticate(token)
    # The refused token left the verification cache: it is verified afresh next time.
    assert shop.auth.verify_access_token(access) is not cached
    assert shop.auth.authenticate(other_access).email == "ann@example.com"


def test_reuse_detection_ends_the_access_tokens_of_the_family(shop: Shop) -> None:
    register(shop)
    access, refresh = pair(shop)
    other_access, _ = pair(shop)
    rotated = shop.auth.refresh(refresh)
    with pytest.raises(InvalidToken):
        shop.auth.refresh(refresh)
    for token in (access, rotated.access_token):
        with pytest.raises(InvalidToken):
            shop.auth.authenticate(token)
    shop.auth.authenticate(other_access)


def test_password_change_ends_every_access_token_of_the_user(shop: Shop) -> None:
    user_id = register(shop)
    register(shop, "bob@example.com")
    first, _ = pair(shop)
    second, _ = pair(shop)
    bobs, _ = pair(shop, "bob@example.com")
    shop.auth.change_password(
        user_id, PasswordChange(current_password=PASSWORD, new_password="new password!")
    )
    for token in (first, second):
        with pytest.raises(InvalidToken):
            shop.auth.authenticate(token)
    shop.auth.authenticate(bobs)


def test_deactivation_ends_every_access_token_for_good(shop: Shop) -> None:
    user_id = register(shop)
    admin = register(shop, "boss@example.com")
    access, _ = pair(shop)
    shop.accounts.administer(admin, user_id, UserAdminChanges(is_active=False))
    with pytest.raises(InvalidToken):
        shop.auth.authenticate(access)
    shop.accounts.administer(admin, user_id, UserAdminChanges(is_active=True))
    with pytest.raises(InvalidToken):
        shop.auth.authenticate(access)
    shop.auth.authenticate(pair(shop)[0])


def test_create_admin_with_a_password_ends_the_sessions(shop: Shop) -> None:
    register(shop)
    access, _ = pair(shop)
    shop.accounts.create_admin("ann@example.com", "a new admin password")
    with pytest.raises(InvalidToken):
        shop.auth.authenticate(access)


@pytest.fixture
def short_sessions(database_url: str, clock: Clock) -> Iterator[Shop]:
    with Shop.open(
        database_url,
        secret_key=SECRET,
        argon2=FAST_ARGON2,
        clock=clock,
        migrate=False,
        access_token_ttl=900,
        refresh_token_ttl=3600,
        session_max_age=5000,
    ) as shop:
        yield shop


def test_a_session_lives_at_most_its_maximum_age(short_sessions: Shop, clock: Clock) -> None:
    shop = short_sessions
    register(shop)
    _, refresh = pair(shop)
    for _ in range(4):  # rotating does not extend it
        clock.advance(1000)
        tokens = shop.auth.refresh(refresh)
        refresh = tokens.refresh_token
        assert tokens.expires_in == 900
    clock.advance(999)  # 4999 s old: the last access token lives to the session's end only
    tokens = shop.auth.refresh(refresh)
    assert tokens.expires_in == 1
    shop.auth.authenticate(tokens.access_token)
    clock.advance(1)
    with pytest.raises(InvalidToken):
        shop.auth.authenticate(tokens.access_token)
    with pytest.raises(InvalidToken, match="maximum age"):
        shop.auth.refresh(tokens.refresh_token)


def test_access_tokens_of_a_session_past_its_maximum_age_are_refused(
    database_url: str, clock: Clock
) -> None:
    def open_shop(max_age: int) -> Shop:
        return Shop.open(
            database_url,
            secret_key=SECRET,
            argon2=FAST_ARGON2,
            clock=clock,
            migrate=False,
            session_max_age=max_age,
        )

    with open_shop(2_592_000) as shop:
        register(shop)
        access, _ = pair(shop)
    clock.advance(100)
    # The maximum age was lowered since: the session is over, whatever its tokens say.
    with open_shop(60) as shop, pytest.raises(InvalidToken):
        shop.auth.authenticate(access)


# --- the throttle counts before it verifies -------------------------------------------------


class CountingHasher(PasswordHasher):
    """The real hasher, counting verifications and making each slow enough that racing
    attempts overlap."""

    def __init__(self) -> None:
        super().__init__(FAST_ARGON2)
        self.verifications = 0
        self._lock = threading.Lock()

    def verify(self, password_hash: str, password: str) -> bool:
        with self._lock:
            self.verifications += 1
        time.sleep(0.05)
        return super().verify(password_hash, password)


def test_concurrent_wrong_passwords_get_at_most_the_cap_of_verifications(shop: Shop) -> None:
    register(shop)
    hasher = CountingHasher()
    auth = AuthService(
        SqlUnitOfWorkFactory(shop.database, "USD"),
        hasher,
        AccessTokenCodec(SECRET),
        throttle=LoginThrottle(max_failures=10, window=900),
    )
    start = threading.Barrier(24)

    def attempt(_: int) -> str:
        start.wait()
        try:
            auth.login(Credentials(email="ann@example.com", password="wrong password"))
        except (InvalidCredentials, RateLimited) as exc:
            return exc.code
        return "ok"

    with ThreadPoolExecutor(24) as pool:
        outcomes = list(pool.map(attempt, range(24)))
    assert hasher.verifications <= 10
    assert outcomes.count("invalid_credentials") == hasher.verifications
    assert outcomes.count("rate_limited") == 24 - hasher.verifications


def test_wrong_current_passwords_are_throttled(timed_shop: Shop, clock: Clock) -> None:
    shop = timed_shop
    user_id = register(shop)
    wrong = PasswordChange(current_password="nope", new_password="new password!")
    right = PasswordChange(current_password=PASSWORD, new_password="new password!")
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            shop.auth.change_password(user_id, wrong)
    with pytest.raises(RateLimited):
        shop.auth.change_password(user_id, right)
    with pytest.raises(RateLimited):
        login(shop)
    clock.advance(601)
    shop.auth.change_password(user_id, right)
    login(shop, password="new password!")
