"""The errors the generated client raises on purpose, besides the generator's own ``UnexpectedStatus``."""

from __future__ import annotations

__all__ = ["InvalidRequest", "InvalidResponse", "UpbitClientError"]


class UpbitClientError(Exception):
    """Base of every error this SDK raises on purpose; catch this to catch them all."""


class InvalidRequest(UpbitClientError, ValueError):
    """Raised before anything is sent when the arguments break a rule of the OpenAPI document.

    Attributes:
        parameter: the wire name of the offending parameter(s), e.g. ``uuids[]``.
        rule: the rule broken, in the spec's words (``maxItems: 20``, ``x-exactly-one-of``...).
        given: a short description of what was given.
    """

    def __init__(self, parameter: str, rule: str, given: str, problem: str):
        self.parameter = parameter
        self.rule = rule
        self.given = given
        super().__init__(f"{parameter}: {problem} ({rule}); given: {given}")


class InvalidResponse(UpbitClientError):
    """Raised when a response with a documented status cannot be read as the document describes it."""

    def __init__(self, status_code: int, content: bytes, problem: str):
        self.status_code = status_code
        self.content = content
        self.problem = problem
        excerpt = content[:200].decode(errors="replace")
        super().__init__(
            f"HTTP {status_code} response does not match the API description: {problem}; body starts: {excerpt!r}"
        )
