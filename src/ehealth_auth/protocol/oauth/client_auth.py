"""Client authentication with a connection's secret (RFC 6749 §2.3.1), for the endpoints that
authenticate a client on its own: revocation and introspection.

The token endpoint's grants check the same secret inside their one read (CONTRACT §2 checks
5-6) with the same answers: an unknown client, a malformed client id and a wrong secret are one
`invalid_client` `Invalid client id or secret.`, after the same work; a blocked client is
`Client is blocked.`.
"""

from __future__ import annotations

from uuid import UUID

from ehealth_auth.protocol.errors import InvalidClientError
from ehealth_auth.protocol.ports import ClientSecretStore, SecretHasher
from ehealth_auth.protocol.throttle import ClientAuthenticationError
from ehealth_auth.protocol.validation import parse_uuid


class ClientAuthenticator:
    def __init__(self, store: ClientSecretStore, hasher: SecretHasher) -> None:
        self._store = store
        self._hasher = hasher

    async def authenticate(self, client_id: str, client_secret: str) -> UUID:
        """The client's id when the secret is one of its connections' and it is not blocked."""
        secret_hash = self._hasher.digest(client_secret)
        parsed = parse_uuid(client_id)
        if parsed is None:
            raise ClientAuthenticationError()
        blocked = await self._store.client_blocked(parsed, secret_hash)
        if blocked is None:
            raise ClientAuthenticationError()
        if blocked:
            raise InvalidClientError("Client is blocked.")
        return parsed
