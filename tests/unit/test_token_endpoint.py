"""TokenEndpoint: CONTRACT §2 checks 2 (grant_type present) and 3 (grant_type allowed)."""

from __future__ import annotations

import uuid

import pytest

from ehealth_auth.protocol.errors import InvalidGrantError, ValidationError
from ehealth_auth.protocol.grants.refresh_token import RefreshTokenGrant
from ehealth_auth.protocol.model import IssuedToken, TokenName
from ehealth_auth.protocol.token_endpoint import TokenEndpoint
from tests.fakes import RecordingGrant
from tests.unit.builders import World

VALIDATION_TEXT = (
    "Validation failed. You can find validators description at our API Manifest: "
    "http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors."
)


def _answer(label: str) -> IssuedToken:
    return IssuedToken(
        id=uuid.uuid4(),
        name=TokenName.ACCESS_TOKEN,
        value=f"value-{label}",
        expires_at=1,
        user_id=uuid.uuid4(),
    )


@pytest.fixture
def refresh() -> RecordingGrant:
    return RecordingGrant("refresh_token", _answer("refresh"))


@pytest.fixture
def code() -> RecordingGrant:
    return RecordingGrant("authorization_code", _answer("code"))


@pytest.fixture
def endpoint(refresh: RecordingGrant, code: RecordingGrant) -> TokenEndpoint:
    return TokenEndpoint([refresh, code])


@pytest.mark.parametrize("grant_type", [..., None, ""], ids=repr)
async def test_token_endpoint_requires_grant_type(
    endpoint: TokenEndpoint, refresh: RecordingGrant, code: RecordingGrant, grant_type: object
) -> None:
    params: dict[str, object] = {"client_id": "x"}
    if grant_type is not ...:
        params["grant_type"] = grant_type

    with pytest.raises(ValidationError) as raised:
        await endpoint.handle(params)

    error = raised.value
    assert (error.status, error.type) == (422, "validation_failed")
    assert error.message == "Request must include grant_type."
    assert len(error.invalid) == 1
    entry = error.invalid[0]
    assert (entry.entry, entry.entry_type) == ("$.token.grant_type", "json_data_property")
    assert [(r.rule, r.description, r.params) for r in entry.rules] == [
        ("required", "can't be blank", ())
    ]
    assert refresh.calls == code.calls == []


@pytest.mark.parametrize("grant_type", [1, 0, 2.5, True, False, ["refresh_token"], {"a": 1}])
async def test_token_endpoint_rejects_non_string_grant_type_as_cast(
    endpoint: TokenEndpoint, refresh: RecordingGrant, grant_type: object
) -> None:
    with pytest.raises(ValidationError) as raised:
        await endpoint.handle({"grant_type": grant_type})

    error = raised.value
    assert error.message == VALIDATION_TEXT
    assert [(entry.entry, entry.entry_type) for entry in error.invalid] == [
        ("$.token.grant_type", "json_data_property")
    ]
    assert [(r.rule, r.description, r.params) for r in error.invalid[0].rules] == [
        ("cast", "is invalid", ("string",))
    ]
    assert refresh.calls == []


@pytest.mark.parametrize(
    "grant_type", ["password", "client_credentials", "REFRESH_TOKEN", "refresh_token ", " "]
)
async def test_token_endpoint_rejects_grant_type_it_does_not_serve(
    endpoint: TokenEndpoint, refresh: RecordingGrant, code: RecordingGrant, grant_type: str
) -> None:
    with pytest.raises(InvalidGrantError) as raised:
        await endpoint.handle({"grant_type": grant_type})

    error = raised.value
    assert (error.status, error.type, error.message) == (
        401,
        "invalid_grant",
        "Grant type not allowed.",
    )
    assert refresh.calls == code.calls == []


async def test_token_endpoint_rejects_grant_type_without_registered_grant(
    refresh: RecordingGrant,
) -> None:
    endpoint = TokenEndpoint([refresh])

    with pytest.raises(InvalidGrantError):
        await endpoint.handle({"grant_type": "authorization_code"})


@pytest.mark.parametrize("grant_type", ["refresh_token", "authorization_code"])
async def test_token_endpoint_dispatches_to_the_grant_of_that_type(
    endpoint: TokenEndpoint, refresh: RecordingGrant, code: RecordingGrant, grant_type: str
) -> None:
    params: dict[str, object] = {"grant_type": grant_type, "client_id": "c"}

    issued = await endpoint.handle(params)

    chosen, other = (refresh, code) if grant_type == "refresh_token" else (code, refresh)
    assert issued is chosen.answer
    assert chosen.calls == [params]
    assert other.calls == []


async def test_token_endpoint_checks_grant_type_before_grant_fields(
    grant: RefreshTokenGrant,
) -> None:
    endpoint = TokenEndpoint([grant])

    with pytest.raises(ValidationError) as missing:
        await endpoint.handle({})
    with pytest.raises(InvalidGrantError):
        await endpoint.handle({"grant_type": "password"})

    assert missing.value.message == "Request must include grant_type."
    assert [entry.entry for entry in missing.value.invalid] == ["$.token.grant_type"]


async def test_token_endpoint_refreshes_through_refresh_token_grant(
    grant: RefreshTokenGrant, world: World
) -> None:
    issued = await TokenEndpoint([grant]).handle(world.params())

    assert issued.name is TokenName.ACCESS_TOKEN
    assert issued.details["grant_type"] == "refresh_token"
