"""Tests of step 5: dialog mapping, Dialogporten replica, flytt expose (issue #5)."""
