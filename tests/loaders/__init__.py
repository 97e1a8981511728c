"""Tests of the A2 loader (issue #3)."""
