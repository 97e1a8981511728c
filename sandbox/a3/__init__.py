"""Sandbox replica of the Altinn 3 Correspondence migration API (issue #6).

`app.create_app` builds it; `tables` is the real A3 table layout it writes; `inspect` has the
SQL read helpers for tests; `migration`, `attachments` and `make_available` hold the handlers.
"""
