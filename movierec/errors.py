"""One base class for every error movierec raises on purpose.

Each subclass says what kind of failure it is (`kind`); the service maps kinds to HTTP status
codes in one table (`movierec.service.errors.STATUS`) and the CLI prints any `MovierecError` as
one line with exit code 1 (`movierec.cli`). The message is written for the person who reads it:
what failed, where, and what to do. It never holds a secret.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["bad_input", "not_found", "conflict", "unavailable", "failed"]


class MovierecError(Exception):
    """Base class; `kind` decides the HTTP status and nothing else."""

    kind: Kind = "failed"


class BadInput(MovierecError, ValueError):
    kind = "bad_input"


class NotFound(MovierecError, LookupError):
    kind = "not_found"


class Conflict(MovierecError):
    kind = "conflict"


class Unavailable(MovierecError):
    kind = "unavailable"


class Failed(MovierecError, RuntimeError):
    kind = "failed"
