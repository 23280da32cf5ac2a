"""Errors as the server reports them: a status code and a JSON body a person can act on.

Every refusal, on the ping path and in the REST API alike, has the body::

    {"error": "<machine-readable code>", "message": "<what went wrong and what to do>"}
"""

from __future__ import annotations

import json
from collections.abc import Mapping

JSON_TYPE = b"application/json"


class ApiError(Exception):
    """A request refused with ``status`` (4xx) or failed (5xx); nothing was written."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> bytes:
        return error_body(self.code, self.message)

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"


def error_body(code: str, message: str) -> bytes:
    """The JSON body of an error response."""
    return json.dumps({"error": code, "message": message}).encode()


def unauthorized(message: str) -> ApiError:
    """401, with the ``WWW-Authenticate`` challenge RFC 6750 asks for."""
    return ApiError(
        401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="cronwatch"'}
    )


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "invalid", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


def too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"request body is larger than the limit of {limit} bytes")


def rate_limited(retry_after: float) -> ApiError:
    seconds = max(1, int(retry_after + 0.999))
    return ApiError(
        429,
        "rate_limited",
        f"too many requests with this key; retry in {seconds}s",
        headers={"Retry-After": str(seconds)},
    )


def unavailable(message: str, *, retry_after: int = 5) -> ApiError:
    return ApiError(503, "unavailable", message, headers={"Retry-After": str(retry_after)})
