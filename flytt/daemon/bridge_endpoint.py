"""The SBL-bridge endpoint the daemon serves in Altinn Storage's place (step 2.2, A3 → A2).

Real A3 told Altinn 2 about a recipient's read, confirm or permanent deletion of a migrated
correspondence by calling Storage: `POST {storage}/storage/api/v1/sblbridge/
synccorrespondenceevent` with a Maskinporten token carrying `altinn:correspondence.sblbridge`
(Altinn/altinn-storage `src/Storage/Controllers/SblBridgeController.cs`; reference
sync-and-delegations §1.1). Point A3's Storage URL at the daemon and this app answers that call:

* the path matches without regard to case (ASP.NET routing); other methods get 405;
* no token, a bad one, or one from another issuer: 401 with `WWW-Authenticate: Bearer`; a
  valid token without the scope: 403 (`flytt.altinn.tokens.TokenChecker`);
* the body may come with a `Content-Length` or chunked (`Transfer-Encoding: chunked`, RFC 9112
  §7.1: what .NET's `PostAsJsonAsync`, which A3 uses, sends); over 64 KiB: 413; the body's
  rules and answers are `syncd.sbl_bridge.receive` (400 with Storage's messages, 410 once
  Altinn 2 is off, 200 once the event is stored);
* a warehouse that cannot be reached, or the issuer's keys that cannot be fetched: 503 with
  `Retry-After` and a warning in the log, so A3 tries again and nothing is lost; anything
  unexpected: 500 with one line, logged without the request's values.

Every answer is counted in `flytt_sbl_bridge_requests_total{status}` (`/metrics`); refusals
(401, 403, 400) are logged at info level with their reason.

No answer and no log line carries personal data or the token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter

from flytt.altinn.tokens import KeysUnavailable, TokenChecker, TokenRefused
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
    500: "Internal Server Error",
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
        registry: where `flytt_sbl_bridge_requests_total` is registered (the daemon's);
            default a registry of its own.
        checker: a token checker to use instead of the one from `settings` (tests).
    """

    def __init__(
        self,
        settings: Settings,
        warehouse: Warehouse,
        registry: CollectorRegistry | None = None,
        checker: TokenChecker | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.a2_disabled = settings.a2_endpoints_disabled
        self.checker = checker or token_checker(settings)
        self.requests = Counter(
            "flytt_sbl_bridge_requests",
            "Calls to the SBL-bridge endpoint (step 2.2 A3 -> A2), by HTTP status answered.",
            ["status"],
            registry=registry or CollectorRegistry(),
        )

    def handles(self, path: str) -> bool:
        """True for `PATH` in any case."""
        return path.rstrip("/").lower() == PATH

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Answer one request (plain text, UTF-8)."""
        try:
            status, text, headers = self._handle(environ)
        except Exception as exc:  # one bad request never takes the endpoint down
            log.error(
                f"SBL bridge: unexpected {type(exc).__name__}; answered 500",
                extra={"action": "bridge_error"},
            )
            status, text, headers = 500, "Unexpected error; try again later.", []
        self.requests.labels(str(status)).inc()
        if status in (400, 401, 403, 413):
            log.info(f"SBL bridge: refused ({status}): {text}", extra={"action": "bridge_refuse"})
        return _answer(start_response, status, text, headers)

    def _handle(self, environ: dict[str, Any]) -> tuple[int, str, list[tuple[str, str]]]:
        if environ.get("REQUEST_METHOD", "GET").upper() != "POST":
            return 405, "Use POST.", [("Allow", "POST")]
        try:
            self.checker.claims(environ.get("HTTP_AUTHORIZATION"))
        except TokenRefused as exc:
            challenge = [("WWW-Authenticate", 'Bearer error="invalid_token"')]
            return exc.status, exc.reason, challenge if exc.status == 401 else []
        except KeysUnavailable as exc:
            log.warning(f"SBL bridge: {exc.reason}; answered 503")
            return 503, "The token cannot be checked now; try again later.", _RETRY
        try:
            body = _read_body(environ)
        except ValueError:
            return 400, "The chunked body is malformed (RFC 9112 §7.1).", []
        if body is None:
            return 413, f"The body must be at most {MAX_BODY} bytes.", []
        try:
            answer = receive(self.warehouse, body, a2_disabled=self.a2_disabled)
        except sa.exc.SQLAlchemyError:
            log.warning("SBL bridge: the warehouse cannot be reached; answered 503")
            return 503, "The warehouse cannot be reached.", _RETRY
        if answer.new:
            log.info("SBL bridge: accepted an event from A3", extra={"action": "bridge_accept"})
        return answer.status, answer.message, []


_RETRY = [("Retry-After", "30")]


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """The request body, read by its `Content-Length` or decoded from chunked transfer coding
    (RFC 9112 §7.1; the standard library's WSGI server leaves that to the app); None when it is
    longer than `MAX_BODY`.

    Raises:
        ValueError: a chunk size line that is not a hexadecimal size.
    """
    stream = environ["wsgi.input"]
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        body = b""
        while True:
            size_line = stream.readline(1024).split(b";", 1)[0].strip()
            size = int(size_line or b"0", 16)
            if size < 0:
                raise ValueError("a negative chunk size")
            if size == 0:
                while stream.readline(1024).strip():  # trailer fields, up to the empty line
                    pass
                return body
            if len(body) + size > MAX_BODY:
                return None
            body += stream.read(size)
            stream.readline(1024)  # the CRLF after the chunk
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length < 0 or length > MAX_BODY:
        return None
    return bytes(stream.read(length)) if length else b""


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
