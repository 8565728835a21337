"""The one exception type the engine raises for bad input."""

from __future__ import annotations

from typing import Any

__all__ = ["KpiInputError"]


class KpiInputError(ValueError):
    """Bad input to a metric: says what was wrong and where.

    Attributes
    ----------
    argument:
        Name of the argument that held the bad value (e.g. ``"scores"``), if known.
    position:
        1-based position of the bad value inside that argument, if it is a sequence.
    value:
        The offending value itself (``None`` when the problem is not one value, e.g. empty input).
    kind:
        A short machine-readable reason the faces map to Excel errors:
        ``"invalid"`` (bad value -> #VALUE!), ``"empty"`` (no data -> #N/A),
        ``"zero-base"`` (denominator 0 -> #DIV/0!).
    """

    def __init__(
        self,
        message: str,
        *,
        argument: str | None = None,
        position: int | None = None,
        value: Any = None,
        kind: str = "invalid",
    ) -> None:
        super().__init__(message)
        self.argument = argument
        self.position = position
        self.value = value
        self.kind = kind
