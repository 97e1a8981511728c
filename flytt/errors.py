"""Errors that are the user's to fix.

A `UserError` carries one sentence that says what was wrong and what to do. The command line
prints it without a stack trace and exits with `exit_code` (1 by default, 2 for "not available").
Messages never contain a password, token, national identity number, e-mail address or phone
number in full (see `flytt.redact`).
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix: bad setting, unreachable service, missing data.

    Args:
        message: one sentence naming what was wrong and what to do (setting names included).
        exit_code: process exit code the command line uses; 1 for errors, 2 for
            "not available yet" / usage problems.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class NotAvailableYet(UserError):
    """A command whose implementation belongs to an open issue; exits with code 2."""

    def __init__(self, what: str, issue: int) -> None:
        super().__init__(f"{what} is not available yet (tracked in issue #{issue}).", exit_code=2)


class MartsNotBuilt(UserError):
    """The `a3` marts a command reads do not exist yet: `flytt build` has not run on this
    warehouse. The daemon counts its jobs as skipped until the first build."""

    def __init__(self, relation: str) -> None:
        super().__init__(f"The mart {relation} does not exist; run `flytt build` first.")
