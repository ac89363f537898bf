"""Redirect URIs (RFC 6749 §3.1.2): exact matching against the registered one, and adding the
answer's parameters to the query while keeping the parameters already there."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _endpoint(uri: str) -> tuple[str, str, int, str] | None:
    uri = uri.strip()
    # Browsers end the host at a backslash (WHATWG URL) where urlsplit does not: a URI that the
    # two would read differently, one with user info, or a fragment (even empty) never matches.
    if "\\" in uri or "#" in uri:
        return None
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc or port == 0:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme], parts.path or "/"


def is_acceptable(uri: str) -> bool:
    """An absolute http(s) URI with a host, no user info and no fragment: one that can be
    registered and matched."""
    return _endpoint(uri) is not None


def matches(registered: str, presented: str) -> bool:
    """Same scheme, host, port and path. The query may differ (it is kept on the way back);
    a fragment is never allowed (RFC 6749 §3.1.2)."""
    expected = _endpoint(registered)
    return expected is not None and _endpoint(presented) == expected


def with_params(uri: str, params: dict[str, str]) -> str:
    """`uri` with `params` added to its query; existing parameters of the same name give way."""
    parts = urlsplit(uri.strip())
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query = urlencode([*kept, *params.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
