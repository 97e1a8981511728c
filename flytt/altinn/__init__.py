"""Calls to Altinn 3: the one HTTP client base (`flytt.altinn.client.AltinnClient`), the
Maskinporten token client beside it (`flytt.altinn.maskinporten`), the retry policy
(`flytt.altinn.retry`) and deterministic UUIDv7 ids (`flytt.altinn.uuid7`).

Foundation layer: imports only `flytt.settings` / `flytt.errors` from the product, never the
stages (`syncd`, `exposure`) nor the sandbox.
"""
