"""The client address behind trusted reverse proxies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicommerce_server.proxies import TrustedProxies, parse_address, parse_networks

PROXIES = TrustedProxies(parse_networks("10.0.0.0/8, 192.168.1.1, 2001:db8::/32, ::1"))


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        # Nobody forwarded: the peer.
        ("203.0.113.9", [], "203.0.113.9"),
        # An untrusted peer's header is ignored, whatever it says.
        ("203.0.113.9", ["1.1.1.1"], "203.0.113.9"),
        # One trusted proxy: what it appended.
        ("10.0.0.5", ["198.51.100.7"], "198.51.100.7"),
        # The client's own entries come first and are not believed.
        ("10.0.0.5", ["6.6.6.6, 7.7.7.7, 198.51.100.7"], "198.51.100.7"),
        # A chain of trusted proxies: the right-most untrusted address.
        ("10.0.0.5", ["6.6.6.6, 198.51.100.7, 192.168.1.1, 10.1.2.3"], "198.51.100.7"),
        # Several header lines are one list, in order.
        ("10.0.0.5", ["6.6.6.6", "198.51.100.7, 10.9.9.9"], "198.51.100.7"),
        # Everything trusted: the left-most is the client.
        ("10.0.0.5", ["10.0.0.7, 10.0.0.6"], "10.0.0.7"),
        # IPv6, brackets, ports, and IPv4 mapped into IPv6.
        ("::1", ["2001:db8::5, [2a00:1450::1]:443"], "2a00:1450::1"),
        ("2001:db8::1", ["198.51.100.7:5555"], "198.51.100.7"),
        ("::ffff:10.0.0.5", ["198.51.100.7"], "198.51.100.7"),
        ("10.0.0.5", ["::ffff:198.51.100.7"], "198.51.100.7"),
        # Empty entries are skipped; an empty header is no header.
        ("10.0.0.5", [" , 198.51.100.7 ,"], "198.51.100.7"),
        ("10.0.0.5", [""], "10.0.0.5"),
        # Garbage right of our proxies is what the client is known as (trimmed).
        ("10.0.0.5", ["198.51.100.7, unknown"], "unknown"),
        ("10.0.0.5", ["x" * 500], "x" * 64),
    ],
)
def test_client_address(peer: str, header: list[str], client: str) -> None:
    assert PROXIES.client(peer, header) == client


def test_rotating_the_first_address_does_not_change_the_client() -> None:
    seen = {PROXIES.client("10.0.0.5", [f"1.2.3.{n}, 198.51.100.7"]) for n in range(50)}
    assert seen == {"198.51.100.7"}


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert TrustedProxies().client("10.0.0.5", ["198.51.100.7"]) == "10.0.0.5"
    assert not TrustedProxies()


def test_no_peer_is_unknown() -> None:
    assert PROXIES.client(None, ["198.51.100.7"]) == "unknown"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("1.2.3.4", "1.2.3.4"),
        ("1.2.3.4:80", "1.2.3.4"),
        ("[::1]:80", "::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("testclient", None),
        ("", None),
    ],
)
def test_parse_address(text: str, parsed: str | None) -> None:
    address = parse_address(text)
    assert (None if address is None else str(address)) == parsed


def test_parse_networks() -> None:
    assert [str(n) for n in parse_networks(" 10.0.0.1/8 ,, ::1,fd00::/8 ")] == [
        "10.0.0.0/8",
        "::1/128",
        "fd00::/8",
    ]
    assert parse_networks("") == ()
    for bad in ("10.0.0.0/33", "proxy.example", "10.0.0.0/8;1.2.3.4"):
        with pytest.raises(ValueError, match="not an IP address"):
            parse_networks(bad)


hop = st.one_of(
    st.ip_addresses().map(str),
    st.sampled_from(["10.0.0.5", "192.168.1.1", "::1", "[2001:db8::7]:443", "1.2.3.4:80"]),
    st.text(alphabet="0123456789abcdef.:[]", max_size=80),
)


@given(peer=hop, header=st.lists(st.lists(hop, max_size=4).map(", ".join), max_size=3))
def test_remembered_hops_answer_as_fresh_ones(peer: str, header: list[str]) -> None:
    """The hops' readings are remembered (behind a proxy the same few come with nearly
    every request): a warm instance answers as a fresh one, every time."""
    networks = parse_networks("10.0.0.0/8, 192.168.1.1, 2001:db8::/32, ::1")
    fresh = TrustedProxies(networks).client(peer, header)
    assert PROXIES.client(peer, header) == fresh
    assert PROXIES.client(peer, header) == fresh


def test_what_is_remembered_is_bounded() -> None:
    proxies = TrustedProxies(parse_networks("10.0.0.0/8"))
    for n in range(5000):
        assert proxies.client("10.0.0.1", [f"198.51.{n // 256}.{n % 256}"]) == (
            f"198.51.{n // 256}.{n % 256}"
        )
    long_hop = "x" * 10_000
    assert proxies.client("10.0.0.1", [long_hop]) == long_hop[:64]
    assert proxies._cached_hop.cache_info().currsize == 4096
