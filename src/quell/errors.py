"""The errors a user can cause, one type per kind of failure.

Each maps to one HTTP status in the API and to exit code 2 in the CLI, and its message says
what was wrong and, where it helps, what to do next.
"""

from __future__ import annotations


class QuellError(Exception):
    """Base of every error quell raises on purpose."""

    status_code = 400
    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class InvalidInput(QuellError):
    """The input is malformed or breaks a rule about its content."""

    status_code = 422
    code = "invalid_input"


class NotFound(QuellError):
    status_code = 404
    code = "not_found"


class Conflict(QuellError):
    """The request is well formed but the current state forbids it (e.g. an illegal transition)."""

    status_code = 409
    code = "conflict"


class Unauthorized(QuellError):
    status_code = 401
    code = "unauthorized"


class Forbidden(QuellError):
    status_code = 403
    code = "forbidden"


class PayloadTooLarge(QuellError):
    status_code = 413
    code = "payload_too_large"
