"""PKCE (RFC 7636), S256 only: the transform, the 43-128 unreserved characters, the check."""

from __future__ import annotations

import pytest

from ehealth_auth.protocol import pkce

# RFC 7636 Appendix B, written out here rather than computed by the code under test.
RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


def test_s256_is_the_rfc_7636_transform() -> None:
    assert pkce.s256(RFC_VERIFIER) == RFC_CHALLENGE


def test_s256_output_is_unpadded_base64url() -> None:
    challenge = pkce.s256("a" * 43)

    assert len(challenge) == 43  # 32 bytes of SHA-256, base64 without the `=`
    assert pkce.is_well_formed(challenge)


def test_s256_is_the_only_method() -> None:
    assert pkce.S256 == "S256"


@pytest.mark.parametrize(
    "value",
    [
        "a" * 43,
        "a" * 128,
        UNRESERVED,
        RFC_VERIFIER,
        RFC_CHALLENGE,
    ],
    ids=["43-chars", "128-chars", "every-unreserved-char", "rfc-verifier", "rfc-challenge"],
)
def test_well_formed_values_are_43_to_128_unreserved_characters(value: str) -> None:
    assert pkce.is_well_formed(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a" * 42,
        "a" * 129,
        "a" * 42 + "+",
        "a" * 42 + "/",
        "a" * 42 + "=",
        "a" * 42 + " ",
        "a" * 42 + "é",
        " " + "a" * 43,
    ],
    ids=["empty", "42-chars", "129-chars", "plus", "slash", "equals", "space", "non-ascii", "lead"],
)
def test_values_outside_the_unreserved_set_or_length_are_malformed(value: str) -> None:
    assert not pkce.is_well_formed(value)


@pytest.mark.parametrize("length", [43, 128])
def test_a_trailing_newline_is_not_well_formed(length: int) -> None:
    assert not pkce.is_well_formed("a" * length + "\n")


def test_verifier_matches_its_own_challenge() -> None:
    assert pkce.verifier_matches(RFC_VERIFIER, RFC_CHALLENGE)


def test_verifier_does_not_match_another_challenge() -> None:
    assert not pkce.verifier_matches("b" * 43, RFC_CHALLENGE)


def test_challenge_is_not_accepted_as_its_own_verifier() -> None:
    """`plain` would compare the two directly; S256 never does."""
    assert not pkce.verifier_matches(RFC_CHALLENGE, RFC_CHALLENGE)


@pytest.mark.parametrize("verifier", ["short", "a" * 42, "a" * 129, "a" * 42 + "+"])
def test_malformed_verifier_never_matches_even_its_own_s256(verifier: str) -> None:
    assert not pkce.verifier_matches(verifier, pkce.s256(verifier))


def test_non_ascii_verifier_is_refused_without_error() -> None:
    assert not pkce.verifier_matches("é" * 43, RFC_CHALLENGE)
