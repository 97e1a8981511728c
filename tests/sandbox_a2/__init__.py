"""Tests of the sandbox A2 generator (issue #3)."""
