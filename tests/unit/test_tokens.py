"""Access tokens: pinned algorithm, required and checked claims, a type of their own."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from minicommerce import InvalidToken
from minicommerce.accounts.tokens import AccessTokenCodec, hash_token, new_refresh_token

SECRET = "s" * 40


def now() -> datetime:
    # Read at each use: a module-level instant would expire when the suite runs long.
    return datetime.now(UTC)


@pytest.fixture
def codec() -> AccessTokenCodec:
    return AccessTokenCodec(SECRET, ttl=900)


def forge(
    claims: dict[str, Any], *, key: str = SECRET, alg: str = "HS256", typ: str = "at+jwt"
) -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"typ": typ})


def good_claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": "7",
        "sid": "s1",
        "iat": now(),
        "exp": now() + timedelta(minutes=5),
        "jti": "abc",
        "iss": "minicommerce",
        "aud": "minicommerce-api",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_round_trip(codec: AccessTokenCodec) -> None:
    claims = codec.verify(codec.issue(42, "s1", now()))
    assert claims.user_id == 42
    assert claims.expires_at - claims.issued_at == timedelta(seconds=900)


def test_forged_good_token_passes(codec: AccessTokenCodec) -> None:
    assert codec.verify(forge(good_claims())).user_id == 7


def test_alg_none_is_refused(codec: AccessTokenCodec) -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    body = base64.urlsafe_b64encode(
        json.dumps({**good_claims(), "iat": 1, "exp": 9_999_999_999}).encode()
    )
    token = f"{header.decode().rstrip('=')}.{body.decode().rstrip('=')}."
    with pytest.raises(InvalidToken):
        codec.verify(token)


def test_other_algorithm_is_refused(codec: AccessTokenCodec) -> None:
    with pytest.raises(InvalidToken):
        codec.verify(forge(good_claims(), key="s" * 64, alg="HS512"))


def test_wrong_key_is_refused(codec: AccessTokenCodec) -> None:
    with pytest.raises(InvalidToken):
        codec.verify(forge(good_claims(), key="k" * 40))


def test_tampered_payload_is_refused(codec: AccessTokenCodec) -> None:
    header, _, signature = codec.issue(1, "s1", now()).split(".")
    claims = {**good_claims(sub="2"), "iat": int(now().timestamp()), "exp": 9_999_999_999}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode())
    with pytest.raises(InvalidToken):
        codec.verify(f"{header}.{payload.decode().rstrip('=')}.{signature}")


def test_expired_is_refused(codec: AccessTokenCodec) -> None:
    old = now() - timedelta(hours=1)
    with pytest.raises(InvalidToken, match="expired"):
        codec.verify(codec.issue(1, "s1", old))


@pytest.mark.parametrize("missing", ["exp", "iat", "jti", "iss", "aud", "sub", "sid"])
def test_every_claim_is_required(codec: AccessTokenCodec, missing: str) -> None:
    with pytest.raises(InvalidToken):
        codec.verify(forge(good_claims(**{missing: None})))


@pytest.mark.parametrize(("claim", "value"), [("iss", "evil"), ("aud", "other-api"), ("sub", "x")])
def test_wrong_claims_are_refused(codec: AccessTokenCodec, claim: str, value: str) -> None:
    with pytest.raises(InvalidToken):
        codec.verify(forge(good_claims(**{claim: value})))


def test_token_of_another_type_is_refused(codec: AccessTokenCodec) -> None:
    with pytest.raises(InvalidToken, match="not an access token"):
        codec.verify(forge(good_claims(), typ="JWT"))


def test_refresh_token_is_not_an_access_token(codec: AccessTokenCodec) -> None:
    with pytest.raises(InvalidToken):
        codec.verify(new_refresh_token())


def test_refresh_tokens_are_random_and_stored_hashed() -> None:
    a, b = new_refresh_token(), new_refresh_token()
    assert a != b
    assert len(a) > 40
    assert hash_token(a) != a
    assert len(hash_token(a)) == 64


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="32"):
        AccessTokenCodec("short")


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_verified_token_is_remembered_until_it_expires_by_the_injected_clock() -> None:
    clock = FakeClock()
    codec = AccessTokenCodec(SECRET, ttl=60, leeway=0, clock=clock)
    token = codec.issue(42, "s1", clock.now)
    assert codec.verify(token) is codec.verify(token)  # the second check is the cached one
    clock.now += timedelta(seconds=59)
    assert codec.verify(token).user_id == 42
    clock.now += timedelta(seconds=1)  # the system clock has not moved: the cache must not
    with pytest.raises(InvalidToken, match="expired"):
        codec.verify(token)


def test_expiry_is_judged_by_the_injected_clock() -> None:
    clock = FakeClock()
    codec = AccessTokenCodec(SECRET, ttl=60, leeway=0, clock=clock)
    clock.now -= timedelta(hours=1)
    token = codec.issue(42, "s1", clock.now)  # long expired by the system's clock
    assert codec.verify(token).user_id == 42


def test_a_forgotten_token_is_verified_again() -> None:
    clock = FakeClock()
    codec = AccessTokenCodec(SECRET, ttl=60, leeway=0, clock=clock)
    token = codec.issue(42, "s1", clock.now)
    first = codec.verify(token)
    codec.forget(token)
    assert codec.verify(token) is not first


def test_tokens_living_longer_than_the_configured_ttl_are_refused() -> None:
    long_lived = AccessTokenCodec(SECRET, ttl=3600).issue(1, "s1", now())
    with pytest.raises(InvalidToken, match="lifetime"):
        AccessTokenCodec(SECRET, ttl=900).verify(long_lived)
    assert AccessTokenCodec(SECRET, ttl=3600).verify(long_lived).user_id == 1


def test_tokens_issued_in_the_future_are_refused(codec: AccessTokenCodec) -> None:
    later = now() + timedelta(minutes=2)
    with pytest.raises(InvalidToken):
        codec.verify(forge(good_claims(iat=later, exp=later + timedelta(minutes=5))))


def test_an_expiry_cap_shortens_the_token(codec: AccessTokenCodec) -> None:
    start = now().replace(microsecond=0)
    claims = codec.verify(codec.issue(1, "s1", start, start + timedelta(seconds=100)))
    assert claims.expires_at - claims.issued_at == timedelta(seconds=100)
    assert claims.session_id == "s1"
