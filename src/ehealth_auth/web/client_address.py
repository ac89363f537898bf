"""The source address of a request, as throttling counts it (docs/security.md).

The peer address, unless the peer is a configured trusted proxy (EHEALTH_AUTH_TRUSTED_PROXIES):
then the rightmost `X-Forwarded-For` address that is not itself a trusted proxy. Addresses to
the left of that one were written by the client and prove nothing.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from starlette.requests import Request

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _peer(host: str) -> str | None:
    """A peer's address in its canonical text, parsed once per address seen lately."""
    address = _address(host)
    return None if address is None else str(address)


class SourceAddress:
    def __init__(self, trusted_proxies: Iterable[_Network] = ()) -> None:
        self._trusted = tuple(trusted_proxies)

    def _is_trusted(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in self._trusted)

    def of(self, request: Request) -> str:
        client = request.client
        if not self._trusted:
            canonical = _peer(client.host) if client else None
            return UNKNOWN if canonical is None else canonical
        peer = _address(client.host) if client else None
        if peer is None:
            return UNKNOWN
        if not self._is_trusted(peer):
            return str(peer)
        forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
        for item in reversed(forwarded.split(",")):
            hop = _address(item)
            if hop is None:
                break  # a malformed hop: trust nothing left of it
            if not self._is_trusted(hop):
                return str(hop)
        return str(peer)
