"""Sandbox Resource Registry: create/update resources and upload their XACML policies."""
