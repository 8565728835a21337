"""The ``kpi-xl`` command: customer KPIs from exports, predictive CLV, and the template workbook.

Subcommands: ``report``, ``metric``, ``clv``, ``template``, ``refresh``. Every number comes from the
engine (:mod:`kpi_xl.metrics`); files are read by :mod:`kpi_xl.data`. Exit codes: 0 done, 2 bad
input (the message on stderr, no traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import datetime as dt
import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__
from .cli_actions import add_action_commands
from .cli_clv import (
    add_clv_options,
    add_retention_command,
    check_schedule_options,
    run_by_segment,
    run_holdout,
    schedule_lines,
    schedule_records,
)
from .metrics import KpiInputError

# pandas, the engine and the file readers are imported by the commands that use them, so that
# `kpi-xl --help` and the start of every command pay only for what that command needs
# (tests/test_cli_imports.py checks that importing this module imports none of them).
if TYPE_CHECKING:
    import pandas as pd

    from .data import Problems, ReadOptions
    from .data._catalog import ResultRow, RunOptions
    from .metrics import ClvPrediction

__all__ = ["main", "build_parser"]

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

#: Output formats, and the file extension each is written with.
_FORMATS = ("table", "json", "csv", "xlsx")
_EXTENSIONS = {".txt": "table", ".text": "table", ".json": "json", ".csv": "csv", ".xlsx": "xlsx"}

_OUTPUT_COLUMNS = (
    "file", "group", "metric", "value", "unit", "n", "n_dropped", "n_skipped_invalid", "se", "ci_low",
    "ci_high", "margin_of_error", "confidence", "method", "warnings", "note",
)  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Progress: shown on a terminal only, on stderr, so pipes and files get clean output.
# ----------------------------------------------------------------------------------------------


class _Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def start(self, total: int, description: str) -> None:
        if self._bar is not None:
            self._task = self._bar.add_task(description, total=total)

    def step(self, description: str) -> None:
        """Say what is being done now (the bar advances when it is done)."""
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=description)

    def done(self) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task)


def _progress_wanted(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


# ----------------------------------------------------------------------------------------------
# Argument parsing
# ----------------------------------------------------------------------------------------------


def _mapping(text: str) -> tuple[str, str]:
    role, sep, header = text.partition("=")
    if not sep or not role.strip() or not header.strip():
        raise argparse.ArgumentTypeError(f"expected ROLE=HEADER (e.g. customer_id=Kunden-ID), got {text!r}")
    return role.strip(), header.strip()


def _scale(text: str) -> tuple[int, int]:
    lo, sep, hi = text.partition("-")
    try:
        out = (int(lo), int(hi))
    except ValueError:
        out = None
    if not sep or out is None or out[0] >= out[1]:
        raise argparse.ArgumentTypeError(f"expected LOW-HIGH such as 1-5, got {text!r}")
    return out


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        try:
            return dt.datetime.strptime(text, "%d.%m.%Y").date()
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a date like 2025-12-31 or 31.12.2025, got {text!r}")


def _delimiter(text: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ",", "pipe": "|"}
    out = named.get(text.lower(), text)
    if len(out) != 1:
        raise argparse.ArgumentTypeError(f"expected one character, or tab/semicolon/comma/pipe, got {text!r}")
    return out


def _decimal(text: str) -> str:
    named = {"comma": ",", ",": ",", "point": ".", "dot": ".", ".": "."}
    if text.lower() not in named:
        raise argparse.ArgumentTypeError(f"expected comma or point, got {text!r}")
    return named[text.lower()]


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return v


class _Parser(argparse.ArgumentParser):
    """An argument parser whose help can be completed when it is shown: the texts that list the
    metric catalog's metrics and roles import the engine, which parsing arguments does not need."""

    def __init__(
        self,
        *args: Any,
        complete_help: Callable[[argparse.ArgumentParser], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._complete_help = complete_help

    def format_help(self) -> str:
        if self._complete_help is not None:
            self._complete_help(self)
            self._complete_help = None
        return super().format_help()


_MAP_HELP = "use this column for this role, e.g. --map customer_id=KdNr (repeatable; roles: {roles})"


def _complete_map_help(parser: argparse.ArgumentParser) -> None:
    from .data._columns import ROLE_BY_NAME

    for action in parser._actions:
        if action.dest == "mapping":
            action.help = _MAP_HELP.format(roles=", ".join(ROLE_BY_NAME))


def _complete_metric_help(parser: argparse.ArgumentParser) -> None:
    _complete_map_help(parser)
    parser.epilog = _metric_examples()


def _file_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("reading files")
    g.add_argument(
        "--map",
        dest="mapping",
        metavar="ROLE=HEADER",
        type=_mapping,
        action="append",
        default=[],
        help=_MAP_HELP.format(roles="see kpi-xl report --help"),
    )
    g.add_argument("--sheet", help="worksheet to read from an Excel file (default: the first)")
    g.add_argument(
        "--header-row",
        type=int,
        metavar="N",
        help="row (sheet row or CSV line) holding the column headers (default: found below any title rows)",
    )
    g.add_argument("--encoding", help="CSV encoding (default: detected; UTF-8 with or without BOM, cp1252)")
    g.add_argument("--delimiter", type=_delimiter, help="CSV delimiter (default: detected among ; , tab |)")
    g.add_argument(
        "--decimal",
        type=_decimal,
        metavar="comma|point",
        help="decimal mark of numbers (default: decided per column from the values)",
    )
    g.add_argument(
        "--date-order", choices=("dmy", "mdy"), help="order of day and month in dates like 03/04/2025"
    )
    g.add_argument(
        "--engine",
        choices=("auto", "pandas", "duckdb"),
        default="auto",
        help="auto (default): DuckDB for files with more rows than Excel holds, else pandas",
    )
    g.add_argument(
        "--connect",
        metavar="URL",
        help="read a table in a database instead of a file (with --table): an Ibis connection URL such "
        "as duckdb:///shop.duckdb, pyspark://, snowflake://..., bigquery://PROJECT/DATASET; "
        "the aggregations run there",
    )
    g.add_argument("--table", metavar="NAME", help="the table to read with --connect (schema.table allowed)")
    g.add_argument(
        "--problems",
        metavar="FILE.csv",
        type=Path,
        help="write every skipped value (file, row, column, value, reason) to this CSV",
    )
    g.add_argument(
        "--strict", action="store_true", help="stop with exit code 2 if any value has to be skipped"
    )
    g.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    return p


def _metric_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("metric options")
    g.add_argument(
        "--csat-scale", type=_scale, default=(1, 5), metavar="LOW-HIGH", help="CSAT scale (default 1-5)"
    )
    g.add_argument(
        "--ces-scale", type=_scale, default=(1, 7), metavar="LOW-HIGH", help="CES scale (default 1-7)"
    )
    g.add_argument("--sla-hours", type=_positive, metavar="H", help="SLA target for first replies, in hours")
    g.add_argument(
        "--from",
        dest="period_from",
        type=_date,
        metavar="DATE",
        help="first day of the churn/retention period (default: 12 months before --to)",
    )
    g.add_argument(
        "--to",
        dest="period_to",
        type=_date,
        metavar="DATE",
        help="last day of the churn/retention period (default: the latest date in the file)",
    )
    g.add_argument(
        "--margin", type=float, default=1.0, help="profit share of revenue for CLV, 0-1 (default 1)"
    )
    g.add_argument(
        "--purchases",
        choices=("orders", "days"),
        default="orders",
        help="repeat purchase: count order rows (default) or distinct purchase days",
    )
    g.add_argument(
        "--statistic",
        choices=("median", "mean", "p90"),
        default="median",
        help="service times: median (default), mean or 90th percentile",
    )
    g.add_argument("--confidence", type=float, default=0.95, help="interval level (default 0.95)")
    g.add_argument("--min-n", type=int, default=30, help="flag results with fewer observations (default 30)")
    return p


def _output_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("output")
    g.add_argument(
        "--format",
        choices=_FORMATS,
        help="table (default on screen, for reading), json or csv (for scripts), xlsx (needs -o); "
        "with -o the file's extension decides (.txt, .json, .csv, .xlsx)",
    )
    g.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="write the output to this file instead of the screen, in the format its extension names: "
        ".txt (table), .json, .csv or .xlsx",
    )
    return p


_REPORT_EXAMPLES = """\
examples:
  kpi-xl report survey.csv orders.xlsx tickets.parquet
  kpi-xl report bestellungen.csv --format json -o kpis.json
  kpi-xl report export.csv --map customer_id=KdNr --map amount="Umsatz netto"
  kpi-xl report tickets.csv --sla-hours 24
  kpi-xl report kunden.csv --from 2025-01-01 --to 2025-12-31

Each file is recognised by its headers (English or German: Kunden-ID, Datum, Betrag,
Bewertung, ...); the output says which column was used for what. Values that cannot be used
are skipped and listed with file, row, column, value and reason.
"""

_CLV_EXAMPLES = """\
examples:
  kpi-xl clv orders.csv --customer customer_id --date date --amount amount --time-unit week --horizon 12
  kpi-xl clv orders.csv --time-unit week --horizon 52 --step 4.345 --discount-rate 0.01 -o clv.xlsx
  kpi-xl clv bestellungen.csv --time-unit month --horizon 12 --margin 0.3 -o clv.csv
  kpi-xl clv orders.csv --time-unit month --horizon 12 --by Region --interval 0.9 --schedule
  kpi-xl clv orders.csv --time-unit month --horizon 12 --schedule-customer C1042

Fits BG/NBD (how often, and whether still active) and Gamma-Gamma (how much per purchase),
prints the parameters with standard errors and log-likelihoods, and writes one row per customer
(frequency, recency, T, expected purchases, probability alive, expected spend, CLV).
The time unit is required: it is the unit of recency, T, --horizon and --step.
"""

_TEMPLATE_EXAMPLES = """\
examples:
  kpi-xl template                       # kpi_report.xlsm with demo data, English
  kpi-xl template --lang de -o Bericht.xlsm
  kpi-xl template --empty -o my_kpis.xlsm
"""

_REFRESH_EXAMPLES = """\
examples:
  kpi-xl refresh kpi_report.xlsm
  kpi-xl refresh Bericht.xlsm --no-predict --format json

Reads the workbook's data tables, recomputes every KPI and rewrites only the sheets kpi-xl owns
(a backup is kept). Close the workbook in Excel first.
"""


def _metric_examples() -> str:
    from .data._catalog import metric_catalog

    lines = ["metrics (name: columns read):"]
    for name, cols, desc in metric_catalog():
        lines.append(f"  {name:24s} {desc} [{cols}]")
    lines += [
        "",
        "examples:",
        "  kpi-xl metric nps survey.csv",
        "  kpi-xl metric nps survey.csv --by Region",
        "  kpi-xl metric csat umfrage.xlsx --period month --format csv",
        "  kpi-xl metric aov orders.parquet --by channel --period month",
        "  kpi-xl metric churn customers.csv --from 2025-01-01 --to 2025-03-31",
    ]
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    parser = _Parser(
        prog="kpi-xl",
        description="Customer KPIs (NPS, CSAT, CES, churn, retention, CLV, service and advocacy metrics) "
        "from CSV, Excel and Parquet exports, and the kpi-xl template workbook.",
        epilog="examples:\n  kpi-xl report orders.csv\n  kpi-xl metric nps survey.csv --by Region\n"
        "  kpi-xl clv orders.csv --time-unit week --horizon 12 -o clv.xlsx\n"
        "  kpi-xl template -o kpi_report.xlsm\n"
        "  kpi-xl refresh kpi_report.xlsm\n\nRun kpi-xl COMMAND --help for the options of each command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kpi-xl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    files, metrics, output = _file_options(), _metric_options(), _output_options()
    raw = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser(
        "report",
        parents=[files, metrics, output],
        complete_help=_complete_map_help,
        formatter_class=raw,
        epilog=_REPORT_EXAMPLES,
        help="every KPI the given files allow, with n and intervals",
        description="Print every KPI that can be computed from the files: survey answers (NPS, "
        "CSAT, CES), orders (AOV, purchase frequency, repeat purchase, historical CLV, refunds, "
        "returns), tickets (response and resolution times, SLA, complaints), customers (churn, "
        "retention) and engagement.",
    )
    p.add_argument(
        "files", nargs="*", type=Path, metavar="FILE", help="CSV, XLSX or Parquet exports (or --connect)"
    )
    p.set_defaults(run=_cmd_report)

    p = sub.add_parser(
        "metric",
        parents=[files, metrics, output],
        formatter_class=raw,
        complete_help=_complete_metric_help,
        help="one metric, optionally by segment or by month",
        description="Compute one metric from one file, for the whole file or per segment "
        "(--by COLUMN) and/or per calendar month (--period month), with n, interval and a "
        "small-sample flag per group.",
    )
    p.add_argument("name", metavar="NAME", help="metric name (listed below)")
    p.add_argument(
        "file", nargs="?", type=Path, metavar="FILE", help="CSV, XLSX or Parquet export (or --connect)"
    )
    p.add_argument("--by", metavar="COLUMN", help="segment column (its header in the file)")
    p.add_argument("--period", choices=("month",), help="group by calendar month of the metric's date")
    p.set_defaults(run=_cmd_metric)

    p = sub.add_parser(
        "clv",
        parents=[files],
        complete_help=_complete_map_help,
        formatter_class=raw,
        epilog=_CLV_EXAMPLES,
        help="predictive CLV: BG/NBD + Gamma-Gamma per customer",
        description="Fit BG/NBD and Gamma-Gamma to a transaction log and predict each "
        "customer's future purchases and lifetime value.",
    )
    p.add_argument(
        "file", nargs="?", type=Path, metavar="FILE", help="transactions: one row per order (or --connect)"
    )
    p.add_argument(
        "--customer", metavar="COLUMN", help="customer id column (default: recognised from headers)"
    )
    p.add_argument("--date", metavar="COLUMN", help="order date column (default: recognised)")
    p.add_argument("--amount", metavar="COLUMN", help="order amount column (default: recognised)")
    p.add_argument(
        "--time-unit",
        required=True,
        choices=("day", "week", "month", "year", "calendar-week", "calendar-month"),
        help="unit of recency, T, horizon and step (required): week = elapsed days / 7 (month 30.4375, "
        "year 365.25) with purchases counted on distinct days, as Fader-Hardie-Lee; calendar-week and "
        "calendar-month count Monday-Sunday weeks or calendar months",
    )
    p.add_argument("--horizon", required=True, type=_positive, help="projection length in time units")
    p.add_argument(
        "--step", default="1", help="discounting step in time units, or day/week/month (default 1)"
    )
    p.add_argument("--discount-rate", type=float, default=0.0, help="discount rate per step (default 0)")
    p.add_argument("--margin", type=float, default=1.0, help="profit share of spend, 0-1 (default 1)")
    p.add_argument(
        "--observation-end",
        type=_date,
        metavar="DATE",
        help="end of the observation window (default: the last order date)",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE.csv|FILE.xlsx|table:NAME",
        help="write the per-customer predictions to this CSV or Excel file, or (with --engine duckdb or "
        "--connect) to table NAME in the database the data came from",
    )
    p.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="how to print the fitted parameters and summary: table (default), json or csv",
    )
    add_clv_options(p)
    p.set_defaults(run=_cmd_clv)
    add_retention_command(sub, output)

    p = sub.add_parser(
        "template",
        formatter_class=raw,
        epilog=_TEMPLATE_EXAMPLES,
        help="create the kpi-xl template workbook",
        description="Write the kpi-xl report workbook (data tabs, dashboard, refresh button).",
    )
    p.add_argument("-o", "--output", type=Path, help="where to write it (default: kpi_report.xlsm here)")
    p.add_argument("--lang", default="en", help="language of labels: en (default), de or zh-Hant")
    p.add_argument("--empty", action="store_true", help="no demo data: empty tables ready for your own")
    p.add_argument(
        "--force", action="store_true", help="replace the file if it exists (the old one is kept as a backup)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    p.set_defaults(run=_cmd_template)

    p = sub.add_parser(
        "refresh",
        formatter_class=raw,
        epilog=_REFRESH_EXAMPLES,
        help="recompute a kpi-xl workbook from its data tabs",
        description="Refresh a kpi-xl workbook: read its data tables, compute every KPI, write "
        "the owned sheets.",
    )
    p.add_argument("book", type=Path, metavar="BOOK", help="the workbook (.xlsm or .xlsx)")
    p.add_argument(
        "--no-predict", action="store_true", help="skip the predictive CLV model (its one slow step)"
    )
    p.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table (default) or json: rows read, invalid values, notes, timings",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    p.set_defaults(run=_cmd_refresh)
    add_action_commands(sub, files, output)  # themes, followup, drivers, sample-size
    return parser


# ----------------------------------------------------------------------------------------------
# Shared helpers
# ----------------------------------------------------------------------------------------------


def _read_options(args: argparse.Namespace) -> ReadOptions:
    from .data import ReadOptions, ValueRules

    mapping = dict(args.mapping)
    rules = ValueRules(
        csat_scale=getattr(args, "csat_scale", (1, 5)),
        ces_scale=getattr(args, "ces_scale", (1, 7)),
    )
    return ReadOptions(
        mapping=mapping,
        sheet=args.sheet,
        header_row=getattr(args, "header_row", None),
        encoding=args.encoding,
        delimiter=args.delimiter,
        decimal=args.decimal,
        date_order=args.date_order,
        rules=rules,
    )


def _run_options(args: argparse.Namespace) -> RunOptions:
    if not 0 < args.confidence < 1:
        raise KpiInputError(f"--confidence must be between 0 and 1, e.g. 0.95; got {args.confidence}")
    if args.min_n < 1:
        raise KpiInputError(f"--min-n must be at least 1, got {args.min_n}")
    from .data._catalog import RunOptions

    return RunOptions(
        sla_hours=args.sla_hours,
        period_from=args.period_from,
        period_to=args.period_to,
        margin=args.margin,
        purchases=args.purchases,
        statistic=args.statistic,
        confidence=args.confidence,
        min_n=args.min_n,
        csat_scale=args.csat_scale,
        ces_scale=args.ces_scale,
    )


@contextlib.contextmanager
def _destination(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    try:
        with path.open("w", encoding="utf-8", newline="") as fh:
            yield fh
    except OSError as exc:
        raise KpiInputError(f"cannot write {path}: {exc.strerror or exc}", argument="output", value=str(path))


def _problems(args: argparse.Namespace) -> Problems:
    from .data import Problems

    # With a problem file the user wants every skipped value listed, not the first few hundred.
    return Problems(limit=None) if args.problems is not None else Problems()


def _finish_problems(args: argparse.Namespace, problems: Problems) -> None:
    """Write the problem file if asked; with --strict, skipped values are an error."""
    if args.problems is not None:
        from .safety import csv_text

        try:
            with args.problems.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(
                    fh, fieldnames=["file", "row", "column", "value", "reason", "verdict"]
                )
                writer.writeheader()
                writer.writerows(
                    {k: csv_text(v) for k, v in p.as_dict(source_key="file").items()} for p in problems.listed
                )
        except OSError as exc:
            raise KpiInputError(f"cannot write {args.problems}: {exc.strerror or exc}", argument="problems")
    if args.strict and problems.total:
        lines = "\n".join(problems.summary())
        raise KpiInputError(f"{problems.total:,} value(s) cannot be used (--strict):\n{lines}")


def _fmt_number(value: Any, unit: str | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    v = float(value)
    if unit == "share":
        return f"{100 * v:.1f}%"
    if unit == "points":
        return f"{v:+.1f}"
    if unit == "hours":
        return f"{v:,.2f} h"
    if unit == "currency":
        return f"{v:,.2f}"
    if unit == "count" and v.is_integer():
        return f"{int(v):,}"
    return f"{v:,.2f}"


def _interval(lo: Any, hi: Any, unit: str | None) -> str:
    if lo is None or hi is None or (isinstance(lo, float) and math.isnan(lo)):
        return ""
    return f"[{_fmt_number(lo, unit)}, {_fmt_number(hi, unit)}]"


def _text_table(headers: Sequence[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(s.rstrip() for s in out)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):
        return _jsonable(value.item())
    if isinstance(value, dt.date):  # pandas' Timestamp too: it is a datetime
        import pandas as pd

        return pd.Timestamp(value).isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _write_csv(fh: TextIO, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    from .safety import csv_text

    writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else csv_text(_jsonable(row.get(k)))) for k in columns})


def _file_header(ds: Any) -> list[str]:
    lines = [ds.source]
    lines += [f"  {line}" for line in ds.columns.describe()]
    lines += [f"  {note}" for note in ds.notes]
    return lines


def _problem_lines(problems: Problems, shown: int = 10) -> list[str]:
    """Invalid values skipped, then blank and placeholder cells left out, each with the first few
    listed by file, row and column."""
    lines: list[str] = []
    for blanks, total, title in (
        (False, problems.total, f"Skipped {problems.total:,} value(s) that cannot be used:"),
        (True, problems.blank_total, f"Left out {problems.blank_total:,} blank or placeholder value(s):"),
    ):
        if not total:
            continue
        listed = [p for p in problems.listed if (p.verdict != "invalid") == blanks]
        lines.append(title)
        lines += [f"  {line}" for line in problems.summary(blanks=blanks)]
        lines += [f"  {p}" for p in listed[:shown]]
        more = total - min(shown, len(listed))
        if more > 0:
            lines.append(f"  ... and {more:,} more (--problems FILE.csv lists them all)")
    return lines


def _datasets(
    args: argparse.Namespace,
    paths: Sequence[Path],
    roles: Any,
    problems: Problems,
    progress: _Progress,
    extra: Sequence[str] = (),
    *,
    every_sheet: bool = False,
) -> tuple[list[Any], list[str]]:
    """Read the files (with ``every_sheet``, each sheet of a workbook that has recognisable columns),
    and notes naming the sheets not read."""
    from .data._read import sheet_names

    options = _read_options(args)
    out: list[Any] = []
    notes: list[str] = []
    if args.connect:
        from .data.backend import open_table

        progress.step(f"reading {args.table}")
        out.append(open_table(args.connect, args.table, roles, options, extra=extra, problems=problems))
        progress.done()
        return out, notes
    for path in paths:
        progress.step(f"reading {path.name}")
        sheets = sheet_names(path) if options.sheet is None else []
        if len(sheets) > 1 and every_sheet:
            found = []
            for sheet in sheets:
                try:
                    d = _read_one(
                        args,
                        path,
                        roles,
                        dataclasses.replace(options, sheet=sheet, sheet_in_name=True),
                        extra,
                    )
                except KpiInputError as exc:
                    if exc.kind != "empty":
                        raise
                    notes.append(f"{path.name}: sheet {sheet!r} not read: it is empty")
                    continue
                if d[0].roles:
                    found.append(d)
                else:
                    notes.append(f"{path.name}: sheet {sheet!r} not read: no column kpi-xl recognises")
            for d, trial in found:
                out.append(_kept(d, trial, problems))
        else:
            out.append(_kept(*_read_one(args, path, roles, options, extra), problems))
            if len(sheets) > 1:
                others = ", ".join(repr(s) for s in sheets[1:])
                notes.append(
                    f"{path.name}: read its first sheet {sheets[0]!r}; not read: {others} (--sheet NAME)"
                )
        progress.done()
    return out, notes


def _kept(d: Any, trial: Problems, problems: Problems) -> Any:
    """A dataset read on trial joins the run: its problems, and those its metrics find later."""
    problems.merge(trial)
    d.problems = problems
    return d


def _read_one(
    args: argparse.Namespace, path: Path, roles: Any, options: ReadOptions, extra: Sequence[str]
) -> tuple[Any, Problems]:
    """One file (or sheet), with the problems found in it. A lone score column under a generic
    header ("Score", "Bewertung") that has fewer invalid values as 0-10 answers than on the
    satisfaction scale is the NPS question: it is read as that, and the column report says why."""
    from .data import Problems
    from .data._columns import is_generic_score_header
    from .data._open import open_dataset
    from .data._validate import MAX_LISTED

    trial = Problems(limit=None if args.problems is not None else MAX_LISTED)
    d = open_dataset(path, roles, options, engine=args.engine, extra=extra, problems=trial)
    scored = [r for r in ("nps_score", "csat_score", "ces_score") if r in d.columns]
    if len(scored) != 1 or scored[0] == "nps_score" or not is_generic_score_header(d.columns[scored[0]]):
        return d, trial
    header = d.columns[scored[0]]
    if not trial.count_for(d.name, header):
        return d, trial
    mapping = {**options.mapping, "nps_score": header}
    alt_trial = Problems(limit=trial.limit)
    alt = open_dataset(
        path,
        roles,
        dataclasses.replace(options, mapping=mapping),
        engine=args.engine,
        extra=extra,
        problems=alt_trial,
    )
    if alt_trial.count_for(alt.name, header) >= trial.count_for(d.name, header):
        return d, trial
    alt.columns.how["nps_score"] = "generic score header; its values are 0-10 answers: read as NPS"
    return alt, alt_trial


# ----------------------------------------------------------------------------------------------
# report / metric
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Output:
    """What a command shows, once, for every format (see :func:`_render`).

    ``records``/``columns``: the main table (results, groups or model parameters); ``text``: that
    table as the screen shows it; ``header``: how the files were read; ``lines``: notes and the
    values left out, for the screen (on stderr beside CSV); ``payload``: the JSON document;
    ``sheets``: further tables for an .xlsx file (values left out, files read).
    """

    title: str
    records: list[dict[str, Any]]
    columns: Sequence[str]
    text: str
    header: list[str]
    lines: list[str]
    payload: dict[str, Any]
    sheets: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)


def _output_format(args: argparse.Namespace) -> str:
    """The one format of the output: ``--format``, or the extension of ``-o``; a clash, or an
    extension kpi-xl does not write, is refused before anything is computed."""
    given, target = getattr(args, "format", None), getattr(args, "output", None)
    if target is None:
        if given == "xlsx":
            raise KpiInputError("--format xlsx writes a file: give it with -o FILE.xlsx", argument="format")
        return given or "table"
    by_name = _EXTENSIONS.get(target.suffix.lower())
    if by_name is None:
        raise KpiInputError(
            f"cannot tell what to write to {target.name!r}: name the file .txt (table), .json, .csv or .xlsx",
            argument="output",
            value=str(target),
        )
    if given is not None and given != by_name:
        raise KpiInputError(
            f"--format {given} but -o {target.name!r} names {by_name}: give one, or make them agree",
            argument="format",
        )
    return by_name


def _render(args: argparse.Namespace, out: _Output) -> None:
    """Show ``out`` in the format :func:`_output_format` decides, on the screen or in ``-o``."""
    fmt = _output_format(args)
    target = getattr(args, "output", None)
    if fmt == "xlsx":
        import pandas as pd

        from .safety import write_frames_xlsx

        frames = {out.title: pd.DataFrame(out.records, columns=list(out.columns))}
        frames.update({name: pd.DataFrame(rows) for name, rows in out.sheets.items()})
        try:
            write_frames_xlsx({k: v.map(_jsonable) for k, v in frames.items()}, target)
        except OSError as exc:
            raise KpiInputError(
                f"cannot write {target}: {exc.strerror or exc}", argument="output", value=str(target)
            )
        for line in [*out.header, *out.lines, f"written to {target}"]:
            print(line, file=sys.stderr)
        return
    with _destination(target) as fh:
        if fmt == "json":
            json.dump(_jsonable(out.payload), fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        elif fmt == "csv":
            _write_csv(fh, out.records, out.columns)
            for line in [*out.header, *out.lines]:
                print(line, file=sys.stderr)
        else:
            print("\n".join(out.header), file=fh)
            print(file=fh)
            print(out.text, file=fh)
            if out.lines:
                print(file=fh)
                print("\n".join(out.lines), file=fh)


def _files_payload(datasets: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "file": d.name,
            "read": d.source,
            "rows": d.n_rows,
            "columns": d.columns.columns,
            "how": d.columns.how,
            "notes": d.notes,
        }
        for d in datasets
    ]


def _problem_payload(problems: Problems) -> dict[str, Any]:
    """The values left out: invalid ones under ``skipped`` (as before), blanks and placeholders
    where a metric needs a value under ``blank``."""
    return {
        "skipped": {"total": problems.total, "summary": problems.summary(), "rows": problems.as_dicts()},
        "blank": {
            "total": problems.blank_total,
            "summary": problems.summary(blanks=True),
            "rows": problems.as_dicts(blanks=True),
        },
    }


def _problem_sheets(problems: Problems, datasets: Sequence[Any]) -> dict[str, list[dict[str, Any]]]:
    read = [{"file": d.name, "line": line} for d in datasets for line in _file_header(d)]
    return {"left out": [p.as_dict(source_key="file") for p in problems.listed], "read": read}


def _result_lines(rows: list[ResultRow], confidence: float) -> str:
    table = []
    for r in rows:
        res = r.result
        if res is None:
            table.append([r.metric, "-", "", "0", str(r.skipped), r.file, r.note])
            continue
        notes = "; ".join(res.warnings)
        table.append([
            r.metric, _fmt_number(res.value, res.unit), _interval(res.ci_low, res.ci_high, res.unit),
            f"{res.n_used:,}", f"{res.n_dropped + r.skipped:,}", r.file, notes,
        ])  # fmt: skip
    level = f"{round(confidence * 100):g}% interval"
    return _text_table(["metric", "value", level, "n", "dropped", "file", "notes"], table, {1, 3, 4})


def _emit_results(
    args: argparse.Namespace, datasets: list[Any], rows: list[ResultRow], notes: list[str], problems: Problems
) -> None:
    dicts = [r.as_dict() for r in rows]
    payload = {
        "files": _files_payload(datasets),
        "results": dicts,
        **_problem_payload(problems),
        "notes": notes,
    }
    _render(
        args,
        _Output(
            "results",
            dicts,
            _OUTPUT_COLUMNS,
            _result_lines(rows, args.confidence),
            [x for d in datasets for x in _file_header(d)],
            [*notes, *_problem_lines(problems)],
            payload,
            _problem_sheets(problems, datasets),
        ),
    )


def _cmd_report(args: argparse.Namespace) -> int:
    from .data._catalog import METRIC_ROLES, run_metric, specs_for

    _check_source(args)
    _output_format(args)
    run = _run_options(args)
    problems = _problems(args)
    with _Progress(_progress_wanted(args)) as progress:
        progress.start(max(len(args.files), 1), "reading")
        datasets, sheet_notes = _datasets(
            args, args.files, METRIC_ROLES, problems, progress, every_sheet=True
        )
        plans = [(d, *specs_for(d, run)) for d in datasets]
        progress.start(sum(len(specs) for _, specs, _ in plans), "computing")
        rows: list[ResultRow] = []
        notes: list[str] = list(sheet_notes)
        for d, specs, why in plans:
            notes += why
            if not specs:
                notes.append(
                    f"{d.name}: no KPI can be computed from its columns "
                    f"({', '.join(map(str, d.columns.columns.values())) or 'none recognised'}); "
                    "map them with --map ROLE=HEADER"
                )
            for spec in specs:
                progress.step(f"{spec.name} ({d.name})")
                rows.append(run_metric(d, spec, run))
                progress.done()
    _finish_problems(args, problems)
    _emit_results(args, datasets, rows, notes, problems)
    return EXIT_OK


def _metric_roles(name: str) -> tuple[str, ...]:
    """The columns one metric reads (and the date it groups by): only these are looked for, so a
    generic header such as "Score" can answer the one score the metric needs."""
    from .data._catalog import METRIC_ROLES
    from .metrics import catalog

    try:
        return catalog.roles_read(name)
    except KpiInputError:
        # An unknown name is reported once the file is read, with the names that exist.
        return METRIC_ROLES


def _cmd_metric(args: argparse.Namespace) -> int:
    from .data._catalog import run_metric, run_segments, specs_for

    _check_source(args)
    _output_format(args)
    run = _run_options(args)
    problems = _problems(args)
    extra = [args.by] if args.by else []
    with _Progress(_progress_wanted(args)) as progress:
        progress.start(2, "reading")
        (d,), notes = _datasets(args, [args.file], _metric_roles(args.name), problems, progress, extra=extra)
        (spec,), _ = specs_for(d, run, args.name)
        progress.step(f"computing {spec.name}")
        if args.by is None and args.period is None:
            rows = [run_metric(d, spec, run)]
            table = None
        else:
            table, skipped = run_segments(d, spec, run, by=args.by, period=args.period)
        progress.done()
    _finish_problems(args, problems)
    if table is None:
        _emit_results(args, [d], rows, notes, problems)
        return EXIT_OK
    _emit_segments(args, d, spec.name, table, problems, skipped, notes)
    return EXIT_OK


def _emit_segments(
    args: argparse.Namespace,
    d: Any,
    name: str,
    table: pd.DataFrame,
    problems: Problems,
    skipped_rows: int,
    notes: Sequence[str] = (),
) -> None:
    records = [{k: _jsonable(v) for k, v in rec.items()} for rec in table.to_dict("records")]
    skipped = (
        [f"{d.name}: {skipped_rows:,} row(s) with an unusable value are counted in their group's dropped"]
        if skipped_rows
        else []
    )
    rows = []
    for rec in records:
        unit = rec.get("unit") or None
        rows.append([
            str(rec["group"]), _fmt_number(rec["value"], unit),
            _interval(rec["ci_low"], rec["ci_high"], unit), f"{int(rec['n']):,}",
            f"{int(rec['n_dropped']):,}", "yes" if rec["small_sample"] else "", rec.get("warning") or "",
        ])  # fmt: skip
    level = f"{round(args.confidence * 100):g}% interval"
    text = f"{name}:\n" + _text_table(
        ["group", "value", level, "n", "dropped", "small", "warning"], rows, {1, 3, 4}
    )
    payload = {
        "file": d.name,
        "read": d.source,
        "columns": d.columns.columns,
        "notes": d.notes,
        "metric": name,
        "groups": records,
        **_problem_payload(problems),
        "run_notes": list(notes),
    }
    _render(
        args,
        _Output(
            name,
            records,
            list(table.columns),
            text,
            _file_header(d),
            [*notes, *skipped, *_problem_lines(problems)],
            payload,
            _problem_sheets(problems, [d]),
        ),
    )


# ----------------------------------------------------------------------------------------------
# clv
# ----------------------------------------------------------------------------------------------


def _cmd_clv(args: argparse.Namespace) -> int:
    from .data._open import predict_clv_file
    from .metrics.clv import read_step

    _check_source(args)
    for flag, role in (("customer", "customer_id"), ("date", "date"), ("amount", "amount")):
        value = getattr(args, flag)
        if value is not None:
            args.mapping.append((role, value))
    problems = _problems(args)
    target = args.output
    table = _output_table(target)
    if target is not None and table is None and target.suffix.lower() not in (".csv", ".xlsx"):
        raise KpiInputError(
            f"predictions go to a .csv or .xlsx file or a table (-o table:NAME), not {target.name!r}",
            argument="output",
        )
    check_schedule_options(args)
    if args.holdout_start is not None:
        code = run_holdout(args, _read_options(args), problems)
        _finish_problems(args, problems)
        return code
    if args.by is not None:
        code = run_by_segment(args, _read_options(args), problems)
        _finish_problems(args, problems)
        return code
    with _Progress(_progress_wanted(args)) as progress:
        progress.start(2 if target else 1, "clv")
        progress.step(f"reading {_source_name(args)}, fitting BG/NBD and Gamma-Gamma, predicting")
        try:
            source: Any = args.file
            if args.connect:
                from .data._open import CLV_ROLES
                from .data.backend import open_table

                source = open_table(
                    args.connect, args.table, CLV_ROLES, _read_options(args), problems=problems
                )
            d, out = predict_clv_file(
                source,
                _read_options(args),
                engine=args.engine,
                problems=problems,
                time_unit=args.time_unit,
                horizon=args.horizon,
                # Numbers on a command line are written with a decimal point.
                step=read_step(args.step, locale="en"),
                discount_rate=args.discount_rate,
                observation_end=args.observation_end,
                margin=args.margin,
                model=args.model,
                interval=args.interval,
            )
        except KpiInputError:
            # The cells left out so far are part of the answer: one run names them all.
            for line in _problem_lines(problems):
                print(line, file=sys.stderr)
            raise
        progress.done()
        if target is not None:
            progress.step(f"writing {target.name}")
            _write_predictions(d, out.customers, target, table)
            progress.done()
    _finish_problems(args, problems)
    _emit_clv(args, d, out, problems, f"table {table}" if table else target)
    return EXIT_OK


def _source_name(args: argparse.Namespace) -> str:
    return args.table if args.connect else args.file.name


def _check_source(args: argparse.Namespace) -> None:
    """A file (or files) or ``--connect URL --table NAME``: one of the two."""
    given = getattr(args, "files", None) or ([args.file] if getattr(args, "file", None) else [])
    if args.connect or args.table:
        if not (args.connect and args.table):
            raise KpiInputError("--connect URL and --table NAME go together", argument="connect")
        if given:
            raise KpiInputError(
                "give either files or --connect URL --table NAME, not both", argument="connect"
            )
    elif not given:
        raise KpiInputError("give a file to read (or --connect URL --table NAME)", argument="file")


def _output_table(target: Path | None) -> str | None:
    """The table named by ``-o table:NAME`` (None for a file)."""
    text = str(target) if target is not None else ""
    if not text.startswith("table:"):
        return None
    name = text[len("table:") :].strip()
    if not name:
        raise KpiInputError("-o table:NAME needs a table name", argument="output", value=text)
    return name


def _write_predictions(d: Any, out: pd.DataFrame, path: Path, table: str | None) -> None:
    import pandas as pd

    from .data.backend import BackendDataset, customer_predictions, write_table
    from .safety import csv_text

    if table is not None:
        if not isinstance(d, BackendDataset):
            raise KpiInputError(
                "-o table:NAME writes into the database the data came from: use it with --engine duckdb "
                "or --connect",
                argument="output",
                value=str(path),
            )
        if d.predictions is None:
            import ibis

            frame = out.reset_index()
            frame.attrs = {}
            write_table(d, table, ibis.memtable(frame))
        else:
            write_table(d, table, d.predictions)
        return
    if isinstance(d, BackendDataset) and d.predictions is not None:
        # The predictions are per pattern: each customer's row is joined in the backend.
        out = customer_predictions(d, d.predictions)
    frame = out.reset_index()
    frame.attrs = {}
    try:
        if path.suffix.lower() == ".xlsx":
            from .safety import write_frame_xlsx

            # Customer ids come from the user's file: an id like "=HYPERLINK(...)" must stay text.
            write_frame_xlsx(frame, path, sheet_name="CLV")
        else:
            text_columns = [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c].dtype)]
            frame[text_columns] = frame[text_columns].map(csv_text)
            frame.to_csv(path, index=False)
    except OSError as exc:
        raise KpiInputError(f"cannot write {path}: {exc.strerror or exc}", argument="output", value=str(path))


def _model_rows(name: str, info: dict[str, Any], params: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {
            "model": name,
            "parameter": p,
            "estimate": info[p],
            "se": info.get(f"se_{p}"),
            "unit": info[f"unit_{p}"],
            "log_likelihood": info["log_likelihood"],
            "log_likelihood_unit": info["log_likelihood_unit"],
            "customers": info["n_customers"],
            "converged": info["converged"],
        }
        for p in params
    ]


def _emit_clv(args: argparse.Namespace, d: Any, pred: ClvPrediction, problems: Problems, target: Any) -> None:
    import pandas as pd

    bg, gg = pred.purchase_model.as_dict(), pred.spend_model.as_dict()
    settings = dataclasses.asdict(pred.settings)
    purchase = pred.purchase_model
    params = _model_rows(purchase.model_name, bg, purchase.param_names) + _model_rows(
        "Gamma-Gamma", gg, ("p", "q", "v")
    )
    summary = pred.totals()
    if pred.total_interval is not None:
        summary["clv_total_interval"] = list(pred.total_interval)
        summary["interval_level"] = pred.settings.interval
        summary["interval_method"] = pred.interval_method
    warnings = list(pred.warnings)
    fh = sys.stdout
    if args.format == "json":
        payload = {
            "file": d.name,
            "read": d.source,
            "columns": d.columns.columns,
            "notes": d.notes,
            "settings": settings,
            "parameters": params,
            "summary": summary,
            "warnings": warnings,
            "predictions_file": str(target) if target else None,
            "schedule": schedule_records(pred, args) if args.schedule else None,
            **_problem_payload(problems),
        }
        json.dump(_jsonable(payload), fh, indent=2, ensure_ascii=False)
        fh.write("\n")
        return
    if args.format == "csv":
        _write_csv(fh, params, list(params[0]))
        return
    print("\n".join(_file_header(d)), file=fh)
    print(file=fh)
    print(
        f"time unit: {settings['time_unit']}, horizon {settings['horizon']:g}, step {settings['step']:g}, "
        f"discount rate {settings['discount_rate']:g} per step, margin {settings['margin']:g}, "
        f"observation end {pd.Timestamp(settings['observation_end']).date()}",
        file=fh,
    )
    print(file=fh)
    rows = [
        [
            p["model"],
            p["parameter"],
            f"{p['estimate']:.4g}",
            "-" if p["se"] is None or not math.isfinite(p["se"]) else f"{p['se']:.3g}",
            p["unit"],
        ]
        for p in params
    ]
    print(_text_table(["model", "parameter", "estimate", "std. error", "unit"], rows, {2, 3}), file=fh)
    print(
        f"\n{purchase.model_name} log-likelihood {bg['log_likelihood']:.2f} ({bg['log_likelihood_unit']}) "
        f"on {int(bg['n_customers']):,} customers "
        f"({'converged' if bg['converged'] else 'NOT converged: ' + str(bg['message'])})",
        file=fh,
    )
    print(
        f"Gamma-Gamma log-likelihood {gg['log_likelihood']:.2f} ({gg['log_likelihood_unit']}) "
        f"on {int(gg['n_customers']):,} repeat customers "
        f"({int(gg.get('n_excluded', 0)):,} without a repeat purchase excluded; "
        f"{'converged' if gg['converged'] else 'NOT converged: ' + str(gg['message'])})",
        file=fh,
    )
    print(
        f"\nCLV over the horizon: total {summary['clv_total']:,.2f}, mean {summary['clv_mean']:,.2f}, "
        f"median {summary['clv_median']:,.2f}, max {summary['clv_max']:,.2f} "
        f"({summary['customers']:,} customers)",
        file=fh,
    )
    if pred.total_interval is not None:
        low, high = pred.total_interval
        print(
            f"{pred.settings.interval:.0%} interval for the total: {low:,.2f} to {high:,.2f} "
            f"(per customer: clv_low, clv_high); {pred.interval_method}",
            file=fh,
        )
    if args.schedule:
        print("\n".join(schedule_lines(pred, args)), file=fh)
    if target is not None:
        print(f"Per-customer predictions written to {target}", file=fh)
    else:
        print("Per-customer predictions: give -o FILE.csv or -o FILE.xlsx to write them", file=fh)
    extra = [*(f"warning: {w}" for w in warnings), *_problem_lines(problems)]
    if extra:
        print(file=fh)
        print("\n".join(extra), file=fh)


# ----------------------------------------------------------------------------------------------
# template / refresh: the workbook engineer's functions
# ----------------------------------------------------------------------------------------------


def _cmd_template(args: argparse.Namespace) -> int:
    from .workbook import DEFAULT_TEMPLATE_NAME, build_template

    path = args.output or Path(DEFAULT_TEMPLATE_NAME)
    with _Progress(_progress_wanted(args)) as progress:
        progress.start(1, f"building {path.name}")
        written = build_template(path, lang=args.lang, empty=args.empty, overwrite=args.force)
        progress.done()
    print(f"wrote {written}" + (" (empty tables)" if args.empty else " (with demo data)"))
    return EXIT_OK


def _cmd_refresh(args: argparse.Namespace) -> int:
    from .workbook import refresh_workbook

    with _Progress(_progress_wanted(args)) as progress:
        progress.start(1, f"refreshing {args.book.name}")
        report = refresh_workbook(args.book, predict=not args.no_predict)
        progress.done()
    if args.format == "json":
        json.dump(_jsonable(report.as_dict()), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(report.summary())
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kpi-xl``; returns the exit code (0 ok, 2 bad input, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except KpiInputError as exc:
        print(f"kpi-xl {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("kpi-xl: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
