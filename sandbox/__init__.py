"""Local stand-ins for what flytt cannot reach: a synthetic A2 database and HTTP replicas of
the A3 migration API, Dialogporten, Resource Registry and Maskinporten.

Used by `flytt demo` and the tests, never in production (DESIGN §2).
"""
