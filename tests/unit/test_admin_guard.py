"""The admin guard's key check (web/admin/auth.py): which key a header presents, and the headers
it remembers having admitted."""

from __future__ import annotations

from ehealth_auth.web.admin.auth import MAX_ADMITTED_HEADERS, AdminGuard, KeyMatch, Role

ADMIN_KEY = "admin-key-0123456789abcdef"
GATEWAY_KEY = "gateway-key-0123456789abcdef"


def test_each_key_is_found_with_its_role_and_position_every_time() -> None:
    guard = AdminGuard(["other-admin-key-000000", ADMIN_KEY], [GATEWAY_KEY])
    for _ in range(3):  # the first answer is compared, later ones remembered: the same
        assert guard.matching_key(f"Bearer {ADMIN_KEY}") == KeyMatch(Role.ADMIN, 2)
        assert guard.matching_key(f"bearer  {GATEWAY_KEY} ") == KeyMatch(Role.GATEWAY, 1)
        assert guard.matching_key(f"Bearer {ADMIN_KEY}x") is None
        assert guard.matching_key(f"Basic {ADMIN_KEY}") is None
        assert guard.matching_key("Bearer ") is None
        assert guard.matching_key(None) is None


def test_an_admin_key_that_is_also_a_gateway_key_is_an_admin_key() -> None:
    guard = AdminGuard([ADMIN_KEY], [ADMIN_KEY])
    assert guard.matching_key(f"Bearer {ADMIN_KEY}") == KeyMatch(Role.ADMIN, 1)
    assert guard.matching_key(f"Bearer {ADMIN_KEY}") == KeyMatch(Role.ADMIN, 1)


def test_unknown_keys_are_not_remembered_and_admitted_spellings_are_bounded() -> None:
    guard = AdminGuard([ADMIN_KEY])
    for index in range(1000):
        assert guard.matching_key(f"Bearer wrong-{index}") is None
    assert guard._admitted == {}
    # Spellings of the one key (trailing spaces): each admitted, only so many remembered.
    for extra in range(MAX_ADMITTED_HEADERS + 20):
        header = f"Bearer {ADMIN_KEY}" + " " * extra
        assert guard.matching_key(header) == KeyMatch(Role.ADMIN, 1)
    assert len(guard._admitted) == MAX_ADMITTED_HEADERS
    assert guard.matching_key(f"Bearer {ADMIN_KEY}" + " " * (MAX_ADMITTED_HEADERS + 5)) == (
        KeyMatch(Role.ADMIN, 1)
    )


def test_with_no_key_configured_nothing_is_admitted() -> None:
    guard = AdminGuard(["", ""], [""])
    assert guard.matching_key("Bearer ") is None
    assert guard.matching_key("Bearer anything") is None
