"""Redirect URIs (RFC 6749 §3.1.2; docs/design.md "Redirect URIs"): matching a registered URI, and
adding the answer's parameters on the way back."""

from __future__ import annotations

import pytest

from ehealth_auth.protocol.redirect_uri import matches, with_params

REGISTERED = "https://mis.example.org/cb"


@pytest.mark.parametrize(
    "presented",
    [
        "https://mis.example.org/cb",
        "HTTPS://MIS.Example.ORG/cb",
        "https://mis.example.org:443/cb",
        "https://mis.example.org/cb?tab=2&lang=uk",
        "  https://mis.example.org/cb \t",
    ],
    ids=["same", "scheme-and-host-case", "explicit-default-port", "own-query", "whitespace"],
)
def test_uri_matches_registered_one_in_scheme_host_port_and_path(presented: str) -> None:
    assert matches(REGISTERED, presented)


@pytest.mark.parametrize(
    "presented",
    [
        "http://mis.example.org/cb",
        "https://evil.example.org/cb",
        "https://mis.example.org.evil.test/cb",
        "https://sub.mis.example.org/cb",
        "https://mis.example.org:8443/cb",
        "https://mis.example.org:80/cb",
        "https://mis.example.org/CB",
        "https://mis.example.org/cb/",
        "https://mis.example.org/cb/more",
        "https://mis.example.org/",
        "https://mis.example.org/cb#fragment",
        "https://mis.example.org/cb?x=1#fragment",
        "mis.example.org/cb",
        "/cb",
        "",
    ],
    ids=[
        "other-scheme",
        "other-host",
        "host-suffix",
        "subdomain",
        "other-port",
        "http-default-port-on-https",
        "path-case",
        "trailing-slash",
        "longer-path",
        "root-path",
        "fragment",
        "query-and-fragment",
        "no-scheme",
        "relative",
        "empty",
    ],
)
def test_uri_differing_in_scheme_host_port_or_path_does_not_match(presented: str) -> None:
    assert not matches(REGISTERED, presented)


def test_http_default_port_equals_none() -> None:
    assert matches("http://localhost/cb", "http://localhost:80/cb")
    assert matches("http://localhost:80/cb", "http://localhost/cb")
    assert not matches("http://localhost/cb", "http://localhost:443/cb")


def test_registered_explicit_default_port_matches_uri_without_port() -> None:
    assert matches("https://mis.example.org:443/cb", REGISTERED)


def test_empty_path_equals_root_path() -> None:
    assert matches("https://mis.example.org", "https://mis.example.org/")
    assert matches("https://mis.example.org/", "https://mis.example.org")


@pytest.mark.parametrize(
    "uri",
    [
        "ftp://mis.example.org/cb",
        "javascript://mis.example.org/cb",
        "https:///cb",
        "https://mis.example.org/cb#fragment",
        "https://mis.example.org:99999/cb",
        "https://mis.example.org:port/cb",
        "https://[::1/cb",
    ],
    ids=["ftp", "javascript", "no-host", "fragment", "port-out-of-range", "port-nan", "bad-ipv6"],
)
def test_uri_that_is_no_valid_endpoint_matches_nothing_not_even_itself(uri: str) -> None:
    assert not matches(uri, uri)


def test_malformed_presented_uri_does_not_match_without_error() -> None:
    assert not matches(REGISTERED, "https://mis.example.org:99999/cb")
    assert not matches(REGISTERED, "https://[mis.example.org/cb")


def test_empty_fragment_is_refused_like_any_fragment() -> None:
    assert not matches(REGISTERED, "https://mis.example.org/cb#")


def test_backslash_before_userinfo_does_not_smuggle_another_host() -> None:
    # WHATWG URL parsing (browsers) reads this as host evil.example, path /@mis.example.org/cb.
    assert not matches(REGISTERED, "https://evil.example\\@mis.example.org/cb")


# ------------------------------------------------------------------------------ with_params


def test_params_are_added_as_the_query() -> None:
    assert with_params(REGISTERED, {"code": "abc"}) == "https://mis.example.org/cb?code=abc"


def test_params_follow_the_uris_own_query_which_is_kept() -> None:
    uri = "https://mis.example.org/cb?tab=2&empty="

    assert with_params(uri, {"code": "abc", "state": "xyz"}) == (
        "https://mis.example.org/cb?tab=2&empty=&code=abc&state=xyz"
    )


def test_params_already_in_the_query_give_way() -> None:
    uri = "https://mis.example.org/cb?code=old&tab=2&state=old&code=older"

    assert with_params(uri, {"code": "new", "state": "s"}) == (
        "https://mis.example.org/cb?tab=2&code=new&state=s"
    )


def test_param_values_are_url_encoded() -> None:
    assert with_params(REGISTERED, {"state": "a b&c=d/é"}) == (
        "https://mis.example.org/cb?state=a+b%26c%3Dd%2F%C3%A9"
    )


def test_uri_keeps_its_host_port_and_path_but_loses_surrounding_space_and_fragment() -> None:
    uri = "  https://MIS.example.org:8443/Cb/x#frag "

    assert with_params(uri, {"error": "access_denied"}) == (
        "https://MIS.example.org:8443/Cb/x?error=access_denied"
    )
