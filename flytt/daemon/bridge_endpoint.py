"""The SBL-bridge endpoint the daemon serves in Altinn Storage's place (step 2.2, A3 → A2).

Real A3 told Altinn 2 about a recipient's read, confirm or permanent deletion of a migrated
correspondence by calling Storage: `POST {storage}/storage/api/v1/sblbridge/
synccorrespondenceevent` with a Maskinporten token carrying `altinn:correspondence.sblbridge`
(Altinn/altinn-storage `src/Storage/Controllers/SblBridgeController.cs`; reference
sync-and-delegations §1.1). Point A3's Storage URL at the daemon and this app answers that call:

* the path matches without regard to case (ASP.NET routing); other methods get 405;
* no token, a bad one, or one from another issuer: 401 with `WWW-Authenticate: Bearer`; a
  valid token without the scope: 403 (`flytt.altinn.tokens.TokenChecker`);
* a body over 64 KiB: 413; the body's rules and answers are `syncd.sbl_bridge.receive` (400
  with Storage's messages, 410 once Altinn 2 is off, 200 once the event is stored);
* a warehouse that cannot be reached: 503 with `Retry-After`, so A3 tries again and nothing is
  lost.

No answer and no log line carries personal data or the token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from flytt.altinn.tokens import TokenChecker, TokenRefused
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from syncd.sbl_bridge import receive

PATH = "/storage/api/v1/sblbridge/synccorrespondenceevent"
"""Storage's route (lower case; matched without regard to case)."""
MAX_BODY = 64 * 1024

log = logging.getLogger("flytt.daemon")

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    405: "Method Not Allowed",
    410: "Gone",
    413: "Content Too Large",
    503: "Service Unavailable",
}


def token_checker(settings: Settings) -> TokenChecker:
    """The checker for calls from A3: `settings.sbl_bridge_token_issuer` and
    `sbl_bridge_jwks_url`, by default the Maskinporten of `maskinporten_token_url` (issuer
    `<base>/`, keys `<base>/jwk`, as maskinporten.no publishes them)."""
    base = settings.maskinporten_base()
    return TokenChecker(
        issuer=settings.sbl_bridge_token_issuer or f"{base}/",
        jwks_url=settings.sbl_bridge_jwks_url or f"{base}/jwk",
    )


class SblBridgeEndpoint:
    """WSGI app of `PATH` (module docstring), for `flytt.daemon.http.serving`.

    Args:
        settings: token issuer and keys (`token_checker`), `a2_endpoints_disabled`.
        warehouse: where `flytt.bridge_inbox` lives.
        checker: a token checker to use instead of the one from `settings` (tests).
    """

    def __init__(
        self, settings: Settings, warehouse: Warehouse, checker: TokenChecker | None = None
    ) -> None:
        self.warehouse = warehouse
        self.a2_disabled = settings.a2_endpoints_disabled
        self.checker = checker or token_checker(settings)

    def handles(self, path: str) -> bool:
        """True for `PATH` in any case."""
        return path.rstrip("/").lower() == PATH

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Answer one request (plain text, UTF-8)."""
        headers: list[tuple[str, str]] = []
        if environ.get("REQUEST_METHOD", "GET").upper() != "POST":
            headers.append(("Allow", "POST"))
            return _answer(start_response, 405, "Use POST.", headers)
        try:
            self.checker.claims(environ.get("HTTP_AUTHORIZATION"))
        except TokenRefused as exc:
            if exc.status == 401:
                headers.append(("WWW-Authenticate", 'Bearer error="invalid_token"'))
            return _answer(start_response, exc.status, exc.reason, headers)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return _answer(start_response, 413, f"The body must be at most {MAX_BODY} bytes.")
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            answer = receive(self.warehouse, body, a2_disabled=self.a2_disabled)
        except sa.exc.SQLAlchemyError:
            log.warning("SBL bridge: the warehouse cannot be reached; answered 503")
            headers.append(("Retry-After", "30"))
            return _answer(start_response, 503, "The warehouse cannot be reached.", headers)
        if answer.new:
            log.info("SBL bridge: accepted an event from A3", extra={"action": "bridge_accept"})
        return _answer(start_response, answer.status, answer.message)


def _answer(
    start_response: Callable[..., Any],
    status: int,
    text: str,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    body = (text + "\n").encode() if text else b""
    start_response(
        f"{status} {_REASONS.get(status, '')}".strip(),
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *(headers or []),
        ],
    )
    return [body]
