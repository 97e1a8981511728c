"""Former home of the Maskinporten client; it now lives in `flytt.altinn.maskinporten`, next to
the Altinn client base (`flytt.altinn.client`).

Kept so that existing imports (`from syncd.maskinporten import MaskinportenClient, ...`) keep
working while their callers move. Holds no logic of its own.
"""

from __future__ import annotations

from flytt.altinn.maskinporten import (
    ASSERTION_LIFETIME_S,
    EXPIRY_MARGIN_S,
    JWT_BEARER_GRANT,
    MIGRATE_SCOPE,
    RESOURCE_ADMIN_SCOPE,
    RESOURCE_WRITE_SCOPE,
    MaskinportenClient,
    MaskinportenError,
    audience_for,
    private_key_from,
)

__all__ = [
    "ASSERTION_LIFETIME_S",
    "EXPIRY_MARGIN_S",
    "JWT_BEARER_GRANT",
    "MIGRATE_SCOPE",
    "RESOURCE_ADMIN_SCOPE",
    "RESOURCE_WRITE_SCOPE",
    "MaskinportenClient",
    "MaskinportenError",
    "audience_for",
    "private_key_from",
]
