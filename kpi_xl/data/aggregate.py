"""The aggregations the engine's summary entry points take, written once as Ibis expressions.

Every function here takes an Ibis table of *judged* values (see :mod:`kpi_xl.data.backend`): one
column per role holding the value the engine's rules read (NULL for a blank), a boolean
``<role>__bad`` per role (the value was listed as a problem), a month label per date role
(``<role>__month``), a period number for predictive CLV (``date__period``) and, for segment
tables, a label column ``_group``. The expressions only count, sum and group; no rule of the
engine is repeated here, so they run unchanged on any Ibis backend (DuckDB embedded, PySpark, a
warehouse) and bring back summaries bounded by groups x scores or by customers, never by rows.

Where backends differ, the expressions make them agree (each point has a test in
``tests/test_data_backend.py``):

* NULL vs NaN: typed floating columns can hold NaN, which a sum would spread; it is read as a blank
  (:func:`plain_number`), as the engine does with NaN.
* Decimals: a DECIMAL column is read as float64, as pandas reads it, so sums are the engine's.
* Sums: DuckDB sums with Kahan-Babuska (``fsum``), so a sum does not depend on how its threads split
  the rows; other backends use their own sum (Spark's is a plain double sum).
* Ordering: every summary is sorted, blanks last on every backend (Spark puts NULL first by
  default), so the same data always gives the same frames and the same model parameters.
* Unicode whitespace: ids are stripped of exactly the characters Python's ``str.strip`` removes
  (:func:`id_key`), not the backend's idea of space.
* Floor division and time zones: no period is computed in the backend; months and CLV periods come
  from the engine's own functions on the distinct dates (:mod:`kpi_xl.data.backend`), and
  timestamps with a time zone are read in UTC there.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

__all__ = [
    "SUMMARY_COLUMNS",
    "id_key",
    "id_needs_key",
    "plain_number",
    "score_counts",
    "moments",
    "customer_counts",
    "counts_of_counts",
    "customer_periods",
    "rfm_per_customer",
    "rfm_patterns",
    "PURCHASE_KEYS",
    "SPEND_KEYS",
    "sorted_by",
    "middle_values",
]

#: Columns of each summary kind, after ``_group``.
SUMMARY_COLUMNS = {
    "scores": ("score", "n"),
    "moments": ("n", "total", "squares", "blank"),
    "customers": ("customer", "orders", "days", "revenue"),
}


#: Code points of every character Python's ``str.strip()`` removes (``str.isspace``); none lies
#: beyond U+3000 (a test checks the whole Unicode range).
WHITESPACE: tuple[int, ...] = tuple(c for c in range(0x3001) if chr(c).isspace())

#: A regex class of :data:`WHITESPACE`, every code point named (``\\x{...}``).
_SPACE = "[" + "".join(f"\\x{{{c:x}}}" for c in WHITESPACE) + "]"


def id_key(text: Any, placeholders: Sequence[str]) -> Any:
    """A text id as the engine reads it (:func:`kpi_xl.data._validate.check_ids`): stripped of the
    characters Python's ``str.strip`` removes; nothing left, or an export placeholder (``n/a``),
    is a blank (NULL). The character class names every code point (``\\x{...}`` reads the same in
    DuckDB's RE2 and Spark's Java regex), so no backend's own trim decides what a space is."""
    import ibis

    key = text.re_replace(f"^{_SPACE}+|{_SPACE}+$", "")
    return ibis.ifelse(_blank_id(key, placeholders), ibis.null("string"), key)


def _blank_id(key: Any, placeholders: Sequence[str]) -> Any:
    """Empty, or a placeholder as the rulebook compares them
    (:func:`kpi_xl.metrics._text.placeholder_key`): runs of spaces inside read as one space
    ("k.  a.", "n.<NBSP>a." are "k. a.", "n. a."), in lower case."""
    import ibis

    # Lower-casing every id costs more than the rest of the check (half of it on 4M ids): only an
    # id whose first character lower-cases to a placeholder's first one can be a placeholder, and
    # the CASE of ``ifelse`` reads just those ids.
    maybe = key.ascii_str().isin(_initials(frozenset(p[:1] for p in placeholders if p)))
    spoken = key.re_replace(f"{_SPACE}+", " ").lower()
    return (key == "") | ibis.ifelse(maybe, spoken.isin(sorted(placeholders)), False)


#: No code point beyond this one has a lower case other than itself (a test checks the whole range).
_LAST_CASED = 0x1E921


@functools.cache
def _initials(firsts: frozenset[str]) -> tuple[int, ...]:
    """Code points whose lower case starts with one of ``firsts`` (``K`` and the Kelvin sign for
    ``k``): the first characters a text lower-cased to a placeholder can have. DuckDB's ``lower``
    and Python's agree on them (a test checks the whole Unicode range)."""
    cased = (c for c in range(_LAST_CASED + 1) if chr(c).lower()[:1] in firsts)
    return tuple(sorted({*cased, *(ord(f) for f in firsts)}))


def id_needs_key(text: Any, placeholders: Sequence[str]) -> Any:
    """True for an id :func:`id_key` changes: one starting or ending with a space, empty, or a
    placeholder. When no id of a column is one, the column is its own key (no regex per row)."""
    edge = text.ascii_str().isin(WHITESPACE) | text.right(1).ascii_str().isin(WHITESPACE)
    return (edge | _blank_id(text, placeholders)).coalesce(False)


def plain_number(value: Any) -> Any:
    """A typed number as float64 with NaN read as a blank (NULL): decimals and integers become
    the doubles pandas would read, and NaN cannot poison a sum."""
    import ibis

    as_float = value.cast("float64")
    return ibis.ifelse(as_float.isnan(), ibis.null("float64"), as_float)


def _sum(table: Any, value: Any) -> Any:
    """A float sum that does not depend on thread scheduling where the backend offers one."""
    if _backend_name(table) == "duckdb":
        return _fsum(value)
    return value.sum()


def _backend_name(table: Any) -> str:
    try:
        return table._find_backend().name
    except Exception:  # an unbound table (memtable only): compiled for DuckDB by default
        return "duckdb"


@functools.cache
def _fsum_udf() -> Any:
    import ibis

    @ibis.udf.agg.builtin(name="fsum")
    def fsum(x: float) -> float:
        """DuckDB's Kahan-Babuska sum."""

    return fsum


def _fsum(value: Any) -> Any:
    return _fsum_udf()(value)


def middle_values(table: Any, value: Any) -> tuple[Any, Any] | None:
    """The lower and upper middle of ``value`` by rank (one value twice for an odd count), as
    aggregates, where the backend has an exact discrete quantile: DuckDB's ``quantile_disc(x, 0.5)``
    is the value of rank ceil(n / 2) (1-based), the lower middle; on the negated values it gives the
    upper one. None elsewhere: the caller ranks the rows (a sort of every row, which this spares)."""
    if _backend_name(table) != "duckdb":
        return None
    quantile = _quantile_disc_udf()
    return quantile(value, 0.5), -quantile(-value, 0.5)


@functools.cache
def _quantile_disc_udf() -> Any:
    import ibis

    @ibis.udf.agg.builtin(name="quantile_disc")
    def quantile_disc(value: float, q: float) -> float:
        """DuckDB's discrete quantile: a value of the column, none interpolated."""

    return quantile_disc


def _value_at_min(table: Any, value: Any, key: Any) -> Any:
    """``value`` on the row with the smallest ``key`` of each group, for keys unique within a group
    (no tie to break). Ibis compiles ``argmin`` for DuckDB as an ordered ``FIRST``, which sorts
    every group; DuckDB's own ``arg_min`` keeps a running minimum (0.3 s less on 4M customers)."""
    if _backend_name(table) == "duckdb":
        return _arg_min_udf()(value, key)
    return value.argmin(key)


@functools.cache
def _arg_min_udf() -> Any:
    import ibis

    @ibis.udf.agg.builtin(name="arg_min")
    def arg_min(value: float, key: int) -> float:
        """DuckDB's value at the smallest key."""

    return arg_min


def sorted_by(table: Any, keys: Sequence[str]) -> Any:
    """Sorted by ``keys``, blanks last on every backend."""
    import ibis

    return table.order_by([ibis.asc(table[k], nulls_first=False) for k in keys])


def _usable(table: Any, checked: Sequence[str]) -> Any:
    """Rows whose ``checked`` roles hold no listed problem."""
    for role in checked:
        table = table.filter(~table[f"{role}__bad"])
    return table


def _grouped(table: Any, keys: Sequence[str], **aggs: Any) -> Any:
    return sorted_by(table.group_by(list(keys)).aggregate(**aggs), keys)


def score_counts(table: Any, role: str, checked: Sequence[str], groups: Sequence[str] = ()) -> Any:
    """Responses per score (NULL: blank answers) per group: ``(*groups, score, n)``."""
    t = _usable(table, checked)
    t = t.mutate(score=t[role])
    return _grouped(t, [*groups, "score"], n=t.count())


def moments(table: Any, role: str, checked: Sequence[str], groups: Sequence[str] = ()) -> Any:
    """Count, sum and sum of squares of one number per group, and its blanks:
    ``(*groups, n, total, squares, blank)``."""
    t = _usable(table, checked)
    v = t[role]
    aggs = {"n": v.count(), "total": _sum(t, v), "squares": _sum(t, v * v), "blank": t.count() - v.count()}
    if not groups:
        return t.aggregate(**aggs)
    return _grouped(t, groups, **aggs)


def customer_counts(
    table: Any,
    sets: dict[str, tuple[Sequence[str], Sequence[str]]],
    groups: Sequence[str] = (),
    *,
    days: bool = True,
    ids: bool = False,
) -> Any:
    """Per customer and group, for each named role set ``name: (roles, checked)``: the order rows
    usable and present in all ``roles`` (``<name>_orders``), those with a blank among them
    (``<name>_dropped``), distinct order days (``<name>_days``, when the set reads the date and
    ``days`` is asked for: a distinct count per customer is the costliest part) and
    revenue (``<name>_revenue``, when it reads the amount). Rows with a problem in ``checked`` are
    in no count. One pass serves every order metric that reads customers.

    ``(*groups, ...)``, one row per customer (and one for the rows without a customer), unsorted;
    with ``ids``, the ``customer_id`` of each row too (for a check of the distinct ids).
    """
    import ibis

    t = table
    aggs: dict[str, Any] = {}
    # A set with no role to check and at most one role beside the customer (every order metric's)
    # is read from a few plain aggregates shared by all sets: the group is the customer, so "the
    # customer is present" holds for a whole group; within one, the rows present in the other
    # role are its non-blank count, and blanks add nothing to a count, a distinct count or a sum.
    # Conditional counts per set cost more than the grouping itself on millions of rows.
    derived: dict[str, tuple[str, ...]] = {}
    for name, (roles, checked) in sets.items():
        others = [r for r in roles if r != "customer_id"]
        if not checked and len(others) <= 1 and "customer_id" in roles:
            aggs["_n"] = t.count()
            for r in others:
                aggs[f"_n_{r}"] = t[r].count()
            if days and "date" in roles:
                aggs["_days"] = t.date__day.nunique()
            if "amount" in roles:
                aggs["_revenue"] = _sum(t, t.amount)
            derived[name] = tuple(others)
            continue
        ok = ibis.and_(*(~t[f"{r}__bad"] for r in checked))
        present = ibis.and_(*(t[r].notnull() for r in roles))
        aggs[f"{name}_orders"] = t.count(where=ok & present)
        aggs[f"{name}_dropped"] = t.count(where=ok & ~present)
        if days and "date" in roles:
            aggs[f"{name}_days"] = t.date__day.nunique(where=ok & present)
        if "amount" in roles:
            aggs[f"{name}_revenue"] = _sum(t, ibis.ifelse(ok & present, t.amount, ibis.null("float64")))
    # The ids stay in the backend: the engine reads the counts. The rows come in no fixed order;
    # the caller sorts them by value (in numpy: a backend sort of every column costs more than
    # the aggregation), so sums over customers come out the same on every run and backend.
    per = t.group_by([*groups, "customer_id"]).aggregate(**aggs)
    if derived:
        # The rows without a customer (a NULL group) are all dropped, and count no order, day or revenue.
        none = per.customer_id.isnull()
        cols: dict[str, Any] = {}
        for name, others in derived.items():
            orders = ibis.ifelse(none, 0, per[f"_n_{others[0]}"] if others else per._n)
            cols[f"{name}_orders"] = orders
            cols[f"{name}_dropped"] = per._n - orders
            if days and "date" in others:
                cols[f"{name}_days"] = ibis.ifelse(none, 0, per._days)
            if "amount" in others:
                cols[f"{name}_revenue"] = ibis.ifelse(none, ibis.null("float64"), per._revenue)
        kept = [c for c in per.columns if not c.startswith("_") or c in groups]
        per = per.select(*kept, **cols)
    return per if ids else per.drop("customer_id")


def counts_of_counts(
    per_customer: Any, name: str, groups: Sequence[str] = (), *, days: bool, amount: bool
) -> Any:
    """One role set of :func:`customer_counts` counted again, per group and distinct (orders,
    days): the ``customers`` on it, their ``dropped`` order rows and, with ``amount``, the sum and
    sum of squares of their revenue and how many have a negative one. Sorted; a few hundred rows
    whatever the number of customers: all that the order metrics read of them."""
    import ibis

    t = per_customer.mutate(
        _o=per_customer[f"{name}_orders"],
        _d=per_customer[f"{name}_days"] if days else ibis.literal(0, "int64"),
    )
    aggs: dict[str, Any] = {"customers": t.count(), "dropped": t[f"{name}_dropped"].sum()}
    if amount:
        revenue = t[f"{name}_revenue"]
        aggs.update(
            revenue=_sum(t, revenue), squares=_sum(t, revenue * revenue), negative=t.count(where=revenue < 0)
        )
    return _grouped(t, [*groups, "_o", "_d"], **aggs)


def customer_periods(table: Any) -> Any:
    """Transactions of predictive CLV: one row per customer and purchase period (the period's spend
    summed), from rows with customer, date and amount all usable and present."""
    roles = ("customer_id", "date", "amount")
    t = _usable(table, roles)
    for role in roles:
        t = t.filter(t[role].notnull())
    return t.group_by(["customer_id", "date__period"]).aggregate(amount=_sum(t, t.amount))


def rfm_per_customer(periods: Any, end_period: int, length: float) -> Any:
    """The RFM summary of :func:`kpi_xl.metrics.rfm_summary` per customer, from
    :func:`customer_periods`: ``frequency`` = periods - 1, ``recency`` = (last - first period) /
    ``length``, ``T`` = (``end_period`` - first) / ``length`` (``length``: periods per model time
    unit, :func:`kpi_xl.metrics.clv.summary.period_length`), ``monetary_value`` = mean spend of the
    repeat periods (0 without one)."""
    import ibis

    p = periods
    per = p.group_by("customer_id").aggregate(
        periods=p.count(),
        first=p.date__period.min(),
        last=p.date__period.max(),
        total=_sum(p, p.amount),
        # One row per customer and period: each period is unique within a customer.
        first_amount=_value_at_min(p, p.amount, p.date__period),
    )
    frequency = (per.periods - 1).cast("float64")
    return per.select(
        "customer_id",
        frequency=frequency,
        recency=(per["last"] - per["first"]).cast("float64") / length,
        T=(ibis.literal(end_period, "int64") - per["first"]).cast("float64") / length,
        monetary_value=ibis.ifelse(frequency > 0, (per.total - per.first_amount) / frequency, 0.0),
    )


#: The columns of :func:`rfm_per_customer` each model reads: the purchase model (frequency, recency,
#: T) and Gamma-Gamma (frequency, mean repeat spend).
PURCHASE_KEYS = ("frequency", "recency", "T")
SPEND_KEYS = ("frequency", "monetary_value")


def rfm_patterns(per_customer: Any, keys: Sequence[str]) -> Any:
    """The distinct ``keys`` rows of :func:`rfm_per_customer` (:data:`PURCHASE_KEYS` or
    :data:`SPEND_KEYS`) with the number of customers on each (``weight``), sorted: what a model
    is fitted on, and all that crosses to Python. Counted per model, they stay few: purchase
    patterns repeat across customers far more than whole (frequency, recency, T, spend) rows."""
    return _grouped(per_customer, list(keys), weight=per_customer.count())
