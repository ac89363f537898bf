"""A grant stand-in for the token endpoint's tests."""

from __future__ import annotations

from collections.abc import Mapping

from ehealth_auth.protocol.model import IssuedToken


class RecordingGrant:
    """A Grant that answers with a fixed token and remembers what it was asked."""

    def __init__(self, grant_type: str, answer: IssuedToken) -> None:
        self.grant_type = grant_type
        self.answer = answer
        self.calls: list[Mapping[str, object]] = []
        self.requested_scopes: list[str | None] = []
        self.sources: list[str] = []

    async def handle(
        self,
        params: Mapping[str, object],
        requested_scope: str | None = None,
        *,
        source: str = "",
    ) -> IssuedToken:
        self.calls.append(params)
        self.requested_scopes.append(requested_scope)
        self.sources.append(source)
        return self.answer
