"""Which address a request comes from, behind reverse proxies one trusts.

``X-Forwarded-For`` is a list that every proxy appends its peer's address to; whatever a
client writes in it comes first. So only the entries added by proxies we trust can be
believed: read from the right, the first address that is not one of our proxies is the
client (uvicorn's and werkzeug's proxy handling agree). And the header counts only when
the direct peer is itself one of our proxies; anyone else could have written all of it.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_MAX_HOPS = 32  # a header longer than this is read from its right end only
_MAX_UNPARSED = 64


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR blocks, IPv4 or IPv6; ``ValueError`` otherwise."""
    networks = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not an IP address or CIDR block") from None
    return tuple(networks)


def parse_address(text: str) -> Address | None:
    """An address as it appears in a header or a socket peer: ``1.2.3.4``, ``1.2.3.4:80``,
    ``2001:db8::1``, ``[2001:db8::1]:80``. IPv4-mapped IPv6 addresses become IPv4."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    def __init__(self, networks: Iterable[Network] = ()) -> None:
        self._networks = tuple(networks)
        # Behind a proxy the same few addresses come with nearly every request, and
        # parsing and matching them cost about 5 % of a worker's time under the mixed
        # load (docs/benchmarks.md). Bounded, in entries and in their length: the header
        # is the client's to fill.
        self._cached_hop = functools.lru_cache(maxsize=4096)(self._read_hop)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, address: Address | None) -> bool:
        return address is not None and any(address in net for net in self._networks)

    def _hop(self, text: str) -> tuple[str | None, bool]:
        """An address as text (``None`` when it is none) and whether it is ours."""
        if len(text) > _MAX_UNPARSED:  # no address is this long
            return self._read_hop(text)
        return self._cached_hop(text)

    def _read_hop(self, text: str) -> tuple[str | None, bool]:
        address = parse_address(text)
        return (None if address is None else str(address)), self.trusts(address)

    def client(self, peer: str | None, forwarded_for: Sequence[str]) -> str:
        """The client's address: ``peer``, or, when ``peer`` is a trusted proxy, the
        right-most address in ``forwarded_for`` (the header's values, in order) that is
        not a trusted proxy. When every entry is trusted, the left-most is the client."""
        if peer is None:
            return "unknown"
        if not self._networks or not forwarded_for or not self._hop(peer)[1]:
            return peer
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        hops = [hop for hop in hops if hop][-_MAX_HOPS:]
        if not hops:
            return peer
        for hop in reversed(hops):
            address, trusted = self._hop(hop)
            if not trusted:
                return address if address is not None else hop[:_MAX_UNPARSED]
        first = self._hop(hops[0])[0]
        return first if first is not None else hops[0][:_MAX_UNPARSED]
