"""Sandbox replica of the Dialogporten service-owner API (issue #5); see `app.py`."""
