"""Checking Maskinporten access tokens in the sandbox replicas (A3, Resource Registry).

A3 Correspondence's "Maskinporten" scheme validates the issuer and the lifetime, not the
audience, and its "Migrate" policy requires scope `altinn:correspondence.migrate`
(reference `a3-correspondence.md` §1.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt


class TokenRejected(Exception):
    """The token is missing/invalid (`status` 401) or lacks the scope (`status` 403)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class TokenVerifier:
    """Verifies bearer tokens issued by the Maskinporten replica.

    Args:
        public_key_pem: the replica's signing key (`MaskinportenReplica.public_key_pem`).
        issuer: the expected `iss`, or None to accept any issuer (signature still checked).
    """

    public_key_pem: bytes
    issuer: str | None = None

    def require(self, authorization: str | None, scope: str) -> dict[str, Any]:
        """Return the token's claims if `authorization` is `Bearer <jwt>` with `scope`.

        Raises:
            TokenRejected: 401 for a missing, badly signed, expired or foreign token; 403 when
                the scope is not in the token's space-separated `scope` claim.
        """
        if not authorization or not authorization.lower().startswith("bearer "):
            raise TokenRejected(401, "missing bearer token")
        token = authorization.split(" ", 1)[1].strip()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.public_key_pem,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"verify_aud": False, "require": ["exp", "iss"]},
                leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(401, f"invalid token: {type(exc).__name__}") from None
        if scope not in str(claims.get("scope", "")).split():
            raise TokenRejected(403, f"token lacks scope {scope}")
        return claims
