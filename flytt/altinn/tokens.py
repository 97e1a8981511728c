"""Checking the bearer tokens of calls made *to* flytt: Altinn 3 calling the SBL-bridge
endpoint that flytt serves in Altinn Storage's place (sync-and-delegations §1.1).

Storage's `SblBridgeController` requires policy `CorrespondenceSblBridge`: a Maskinporten
token with scope `altinn:correspondence.sblbridge` (Altinn/altinn-storage
`src/Storage/Controllers/SblBridgeController.cs`, `src/Storage/Program.cs`). The token is
checked with PyJWT against the issuer's published keys (JWKS, fetched and cached by
`jwt.PyJWKClient`): signature (RS256), issuer, expiry; the audience is not checked, as
Altinn's platform services accept Maskinporten tokens without one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jwt

SBL_BRIDGE_SCOPE = "altinn:correspondence.sblbridge"
"""The scope A3 asked Maskinporten for when it called Storage's SBL bridge."""


class KeysUnavailable(Exception):
    """The issuer's keys (JWKS) cannot be fetched: flytt's problem, not the caller's (answer
    503 and let the caller retry). `reason` says why, without the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenRefused(Exception):
    """A call's token is missing or invalid (`status` 401) or lacks the scope (403); `reason`
    says which, without the token."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class TokenChecker:
    """Verifies `Authorization: Bearer <jwt>` headers against one issuer's JWKS.

    Args:
        issuer: the expected `iss` (e.g. `https://maskinporten.no/`).
        jwks_url: where the issuer publishes its keys (e.g. `https://maskinporten.no/jwk`).
        scope: the scope every token must carry.
    """

    issuer: str
    jwks_url: str
    scope: str = SBL_BRIDGE_SCOPE
    _keys: jwt.PyJWKClient | None = field(default=None, init=False, repr=False)

    def claims(self, authorization: str | None) -> dict[str, Any]:
        """The token's claims when the header holds a valid token with `scope`.

        Raises:
            TokenRefused: 401 for a missing, malformed, badly signed, expired or foreign
                token (or one whose key id is not among the issuer's keys); 403 when the
                scope is missing. The reason never repeats what the token holds.
            KeysUnavailable: the issuer's keys cannot be fetched.
        """
        if not authorization or not authorization.lower().startswith("bearer "):
            raise TokenRefused(401, "missing bearer token")
        token = authorization.split(" ", 1)[1].strip()
        if self._keys is None:
            self._keys = jwt.PyJWKClient(self.jwks_url, cache_keys=True, lifespan=300)
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"verify_aud": False, "require": ["exp", "iss"]},
                leeway=5,
            )
        except jwt.PyJWKClientConnectionError:
            raise KeysUnavailable(
                f"the issuer's keys at {self.jwks_url} cannot be fetched"
            ) from None
        except jwt.PyJWKClientError:
            raise TokenRefused(401, "invalid token: not signed by a key of the issuer") from None
        except jwt.PyJWTError as exc:
            raise TokenRefused(401, f"invalid token: {type(exc).__name__}") from None
        if self.scope not in str(claims.get("scope", "")).split():
            raise TokenRefused(403, f"token lacks scope {self.scope}")
        return claims
