"""The one exception type the engine raises for bad input, with its facts as fields."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "KpiInputError",
    "Hint",
    "SKIP_INVALID",
    "SET_LOCALE",
    "SET_DATE_LOCALE",
    "ErrorKind",
    "ERROR_KINDS",
    "show_value",
]

#: What went wrong, for the faces to map (Excel: ``invalid`` and ``ambiguous`` -> #VALUE!,
#: ``empty`` -> #N/A, ``zero-base`` -> #DIV/0!).
ErrorKind = Literal["invalid", "empty", "zero-base", "ambiguous"]
ERROR_KINDS: tuple[str, ...] = ("invalid", "empty", "zero-base", "ambiguous")


@dataclass(frozen=True)
class Hint:
    """An option of the call that lets it go through: pass ``argument=value`` to ``effect``.

    Faces say it in their own words: Python ``pass on_invalid='drop'``, Excel "set skip_invalid to
    TRUE", the command line ``--skip-invalid``.
    """

    argument: str
    value: Any
    effect: str
    #: The Python wording when the option is not an argument of the call (e.g. a context manager).
    python: str | None = None

    def __str__(self) -> str:
        return self.python or f"pass {self.argument}={self.value!r} to {self.effect}"


#: The hint every column cleaner gives: invalid values can be skipped and counted instead.
SKIP_INVALID = Hint("on_invalid", "drop", "skip and count invalid values")
#: The hint for number text that reads two ways: say which convention it is written in.
SET_LOCALE = Hint(
    "locale",
    "de",
    "read it as 1.234,56 (or 'en' for 1,234.56)",
    python="compute inside rules.use_locale('de') for 1.234,56 (or 'en' for 1,234.56)",
)
#: The hint for a/b/yyyy date text that reads two ways.
SET_DATE_LOCALE = Hint(
    "locale",
    "de",
    "read it day first (or 'en-US' month first)",
    python="compute inside rules.use_locale('de') to read it day first (or 'en-US' month first)",
)


def show_value(value: Any) -> str:
    """A value as messages quote it: numbers plainly (``9``, ``1.5``), text in quotes, dates as ISO
    text, a blank as ``(blank)``, a boolean as a spreadsheet shows it (``TRUE``); never a Python repr
    such as ``datetime.date(9999, 12, 31)``, ``None`` or ``True``.

    >>> show_value(9.0), show_value(9.000000000000002), show_value("9,5"), show_value(None)
    ('9', '9.000000000000002', "'9,5'", '(blank)')
    >>> import datetime as dt; show_value(dt.date(9999, 12, 31)), show_value(float("nan"))
    ('9999-12-31', 'NaN (not a number)')
    >>> show_value(True)
    'TRUE'
    """
    import datetime as dt

    # A numpy scalar as the Python value it holds (numpy is not imported here: the command line
    # imports this module before it needs numpy).
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    if value is None:
        return "(blank)"
    if isinstance(value, bool):  # before int, which bool is: a TRUE cell is no 1
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN (not a number)"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # The shortest text that reads back as the same number (45663.375, not 45663.4).
        return repr(value)
    if isinstance(value, (int, str)):
        return repr(value)
    return str(value)


class KpiInputError(ValueError):
    """Bad input to a metric: what was wrong and where, as fields; ``str()`` is built from them.

    Construct it as before with a message (``KpiInputError("scale must be ...", argument="scale")``;
    the message is then the ``reason``), or give the fields and leave the message out.

    Attributes
    ----------
    argument:
        Name of the argument that held the bad value (e.g. ``"scores"``), if known.
    position:
        1-based position of the bad value inside that argument, if it is a sequence.
    value:
        The offending value itself (``None`` when the problem is not one value, or the value is blank).
    kind:
        ``"invalid"`` (a bad value), ``"empty"`` (no data), ``"zero-base"`` (a denominator of 0),
        ``"ambiguous"`` (text such as ``"1.000"`` that reads as 1 or 1000 depending on the locale,
        with no locale known). See :data:`ERROR_KINDS`.
    reason:
        Why, without where: for a value at a position, the predicate that follows it ("is not a
        whole-number score from 0 to 10"); otherwise the whole sentence.
    hint:
        The option that lets the call go through (:class:`Hint`), several (a tuple, most relevant
        first; all are in ``hints``), or ``None``.
    n_more:
        How many further values of the argument are bad the same way.
    index:
        Row label of the table row the value came from, when the engine was given a table
        (``segment_table``); faces that built the table with their own row numbers show it.
    group:
        Segment (group) the value belongs to, when the error comes from one group of a table.
    insufficient:
        With kind ``"empty"``: data were given, but too few for the method (a model that needs ten
        repeat customers). The reason is then not plain from the input, so a face that shows only
        an error code shows the reason too.
    place:
        The engine's own words for the position when "at position N" is not what the user counts
        (``"(entry 2)"`` of a list of pairs); a face naming a row replaces it.
    what:
        How the value is named when "value X" does not say it (``"the ticket"``, ``"the end date
        2025-01-03"``).

    Examples
    --------
    >>> e = KpiInputError(argument="scores", position=2, value="ten", reason="is not a number")
    >>> str(e)
    "scores: value 'ten' at position 2 is not a number"
    >>> e.message(where="in row 3 of the range")
    "scores: value 'ten' in row 3 of the range is not a number"
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        argument: str | None = None,
        position: int | None = None,
        value: Any = None,
        kind: str = "invalid",
        reason: str | None = None,
        hint: Hint | tuple[Hint, ...] | None = None,
        n_more: int = 0,
        index: Any = None,
        group: str | None = None,
        what: str | None = None,
        insufficient: bool = False,
        place: str | None = None,
    ) -> None:
        if kind not in ERROR_KINDS:
            raise ValueError(f"KpiInputError kind must be one of {ERROR_KINDS}, got {kind!r}")
        self.argument = argument
        self.position = position
        self.value = value
        self.kind = kind
        # A message given without a reason is the reason, and says where itself.
        self._says_where = reason is None and message is not None
        self.reason = reason if reason is not None else (message or "")
        #: Every option that would let the call go through, most relevant first; ``hint`` is the first.
        self.hints: tuple[Hint, ...] = hint if isinstance(hint, tuple) else (() if hint is None else (hint,))
        self.hint = self.hints[0] if self.hints else None
        self.n_more = int(n_more)
        self.index = index
        self.group = group
        self.what = what
        self.place = place
        self.insufficient = insufficient
        super().__init__(self.message())

    def __str__(self) -> str:
        return self.message()

    def subject(self, where: str | None = None) -> str:
        """``argument: value X at position N`` (``where`` replaces ``at position N``)."""
        head = f"{self.argument}:" if self.argument else ""
        if where is not None:
            place = where
        elif self.index is not None:
            place = f"at row index {self.index!r}"
        elif self.place is not None:
            place = self.place
        else:
            place = "" if self.position is None else f"at position {self.position}"
        if self.what is None and _blank(self.value) and not place:
            return head
        what = self.what or ("the value" if _blank(self.value) else f"value {show_value(self.value)}")
        return " ".join(p for p in (head, what, place) if p)

    def message(
        self,
        *,
        where: str | None = None,
        hint: str | list[str] | None = None,
        show_hint: bool = True,
        group_where: str = "",
    ) -> str:
        """The message from the fields, with a face's words for the place and the hint.

        ``where`` replaces ``at position N`` (e.g. ``"in row 3 of the range"``; ``""`` to name no
        place, when the face puts it in front); ``hint`` replaces ``pass on_invalid='drop' to ...``
        (e.g. ``"set skip_invalid to TRUE to skip and count invalid values"``, or a list of such
        phrases; ``""`` or ``[]`` for just "fix it", when the face has no such option); ``show_hint=False``
        leaves the hint out (a face whose user cannot set that option); ``group_where`` follows the
        segment's name (``" (row 3 of the table)"``).
        """
        subject = "" if self._says_where else self.subject(where)
        text = f"{subject} {self.reason}" if subject else self.reason
        if self.group is not None:
            text = f"segment {self.group!r}{group_where}: {text}"
        if self.n_more:
            text += f" ({self.n_more} more invalid value(s) follow)"
        if show_hint and (hint is not None or self.hints):
            # A face's hint "" (or []) says only "fix it": it has no option that would help.
            said = (
                [str(h) for h in self.hints] if hint is None else ([hint] if isinstance(hint, str) else hint)
            )
            said = [h for h in said if h]
            text += f"; fix it, or {', or '.join(said)}" if said else "; fix it"
        return text

    def with_fields(self, **fields: Any) -> KpiInputError:
        """A copy with some fields replaced (e.g. the position inside a whole table, the group)."""
        current = {
            "argument": self.argument,
            "position": self.position,
            "value": self.value,
            "kind": self.kind,
            "reason": self.reason,
            "hint": self.hints,
            "n_more": self.n_more,
            "index": self.index,
            "group": self.group,
            "what": self.what,
            "place": self.place,
            "insufficient": self.insufficient,
        }
        current.update(fields)
        copy = KpiInputError(**current)
        copy._says_where = self._says_where and "reason" not in fields
        copy.args = (copy.message(),)
        return copy


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
