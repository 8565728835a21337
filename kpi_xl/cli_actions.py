"""The ``kpi-xl`` commands that turn scores into actions: ``themes``, ``followup``, ``drivers``,
``sample-size``.

Files are read by :mod:`kpi_xl.data` (roles found by header, values checked by the one set of value
rules); every number comes from the engine (:mod:`kpi_xl.metrics.comments`, ``closed_loop``,
``drivers``, ``planning``). Comments and ids are the user's text: CSV output passes them through
:func:`kpi_xl.safety.csv_text` like every other CSV the command line writes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import metrics
from .metrics import KpiInputError

# pandas and the engine's families are imported when a command runs, not when `kpi-xl` starts
# (tests/test_cli_imports.py).
if TYPE_CHECKING:
    import pandas as pd

__all__ = ["add_action_commands"]

_THEMES_EXAMPLES = """\
examples:
  kpi-xl themes survey.csv --comment Kommentar
  kpi-xl themes survey.csv --by segment --period month --min-g2 10.83 --format csv -o themes.csv
  kpi-xl themes umfrage.xlsx --language de --sentiment

Themes are the words and two-word phrases used distinctively more by detractors, passives or
promoters than by the other groups (log-likelihood G2, Rayson & Garside 2000). Languages: en, de,
zh-Hant (or auto, per comment). --sentiment adds VADER sentiment shares by group (English comments).
"""

_FOLLOWUP_EXAMPLES = """\
examples:
  kpi-xl followup survey.csv orders.csv --time-unit week --horizon 52
  kpi-xl followup survey.csv orders.csv --tickets tickets.csv --by segment --threshold 0.3 -o calls.csv
  kpi-xl followup survey.csv orders.csv --time-unit month --horizon 12 --advocates customers.csv
  kpi-xl followup survey.csv orders.csv --feedback reviews.csv    # share answered, time to answer

Lists detractors (and CSAT answers of --csat-max or less) with their historical and predicted CLV,
P(alive), open tickets and last contact, ranked by value at risk; prints revenue at risk by segment
and the customers that are in the survey but not in the orders.
"""

_DRIVERS_EXAMPLES = """\
examples:
  kpi-xl drivers survey.csv --attributes price,support,product
  kpi-xl drivers survey.csv --attributes "Preis,Service,Produkt" --boot 500 --format json

Relative importance by Shapley value decomposition of R2 (Lipovetsky & Conklin 2001) with a
bootstrap interval, each attribute's mean rating, and its importance x performance quadrant.
"""

_SAMPLE_EXAMPLES = """\
examples:
  kpi-xl sample-size --margin 5 --promoters 0.45 --detractors 0.25
  kpi-xl sample-size --change 10 --power 0.8
  kpi-xl sample-size survey.csv --by segment --margin 10

Adjusted-Wald (Rocks 2016; Sauro & Lewis 2016): responses needed for an NPS margin of error, or
per period to detect a change; with a file, per segment from its own promoter/detractor shares.
"""


def add_action_commands(sub: Any, files: argparse.ArgumentParser, output: argparse.ArgumentParser) -> None:
    """Register the four commands on the ``kpi-xl`` subparsers."""
    raw = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "themes",
        parents=[files, output],
        formatter_class=raw,
        epilog=_THEMES_EXAMPLES,
        help="themes of open comments by NPS group (G2 keyness), optionally sentiment",
        description="What detractors, passives and promoters write about: distinctive words and "
        "phrases with counts, share of comments and example comments.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="survey answers with a score and a comment")
    p.add_argument("--comment", default="comment", metavar="COLUMN", help="comment column (default: comment)")
    p.add_argument("--by", metavar="COLUMN", help="segment column: themes within each segment")
    p.add_argument("--period", choices=("month",), help="themes within each calendar month")
    p.add_argument("--language", default="auto", choices=("auto", "en", "de", "zh-Hant"))
    p.add_argument("--top", type=int, default=10, help="themes per group (default 10)")
    p.add_argument("--min-count", type=int, default=3, help="uses needed (default 3)")
    p.add_argument("--min-g2", type=float, default=3.84, help="G2 needed (default 3.84, p < 0.05)")
    p.add_argument("--sentiment", action="store_true", help="add sentiment shares by NPS group")
    p.set_defaults(run=_cmd_themes)

    p = sub.add_parser(
        "followup",
        parents=[files, output],
        formatter_class=raw,
        epilog=_FOLLOWUP_EXAMPLES,
        help="who to call back first: detractors ranked by value at risk; revenue at risk",
        description="The closed loop: detractors and low CSAT answers joined by customer id to "
        "their value, ranked by value at risk.",
    )
    p.add_argument("survey", type=Path, metavar="SURVEY", help="survey answers with customer ids")
    p.add_argument("orders", type=Path, metavar="ORDERS", help="orders: customer id, date, amount")
    p.add_argument("--tickets", type=Path, metavar="FILE", help="tickets: customer id, created, resolved")
    p.add_argument(
        "--feedback",
        type=Path,
        metavar="FILE",
        help="also the feedback engagement: share answered, time to answer (columns created, first response)",
    )
    p.add_argument(
        "--advocates",
        type=Path,
        metavar="CUSTOMERS",
        help="also rank promoters; CUSTOMERS has customer id and a referred-by column",
    )
    p.add_argument(
        "--referred-by",
        default="referred_by",
        metavar="COLUMN",
        help="referrer column of CUSTOMERS (default: referred_by)",
    )
    p.add_argument("--by", metavar="COLUMN", help="segment column of the survey, for revenue at risk")
    p.add_argument("--comment", default="comment", metavar="COLUMN", help="comment column (default: comment)")
    p.add_argument("--time-unit", default="week", choices=("day", "week", "month"))
    p.add_argument("--horizon", type=float, default=52.0, help="CLV horizon in time units (default 52)")
    p.add_argument("--threshold", type=float, default=0.5, help="P(alive) below which revenue is at risk")
    p.add_argument("--csat-max", type=int, default=2, help="CSAT answers up to this are followed up")
    p.add_argument(
        "--csat-scale", type=_scale, default=(1, 5), metavar="LOW-HIGH", help="CSAT scale (default 1-5)"
    )
    p.set_defaults(run=_cmd_followup)

    p = sub.add_parser(
        "drivers",
        parents=[files, output],
        formatter_class=raw,
        epilog=_DRIVERS_EXAMPLES,
        help="key driver analysis: what moves the NPS score",
        description="Each attribute rating's relative importance for the 0-10 score, with interval "
        "and performance.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="survey answers: score and attribute ratings")
    p.add_argument("--attributes", required=True, metavar="COL,COL,...", help="attribute rating columns")
    p.add_argument("--boot", type=int, default=200, help="bootstrap resamples (default 200)")
    p.add_argument("--confidence", type=float, default=0.95, help="interval level (default 0.95)")
    p.set_defaults(run=_cmd_drivers)

    p = sub.add_parser(
        "sample-size",
        parents=[files, output],
        formatter_class=raw,
        epilog=_SAMPLE_EXAMPLES,
        help="responses needed for an NPS margin of error or to detect a change",
        description="Plan the next survey: responses for a target NPS margin of error, or per period "
        "to detect a change.",
    )
    p.add_argument("file", type=Path, nargs="?", metavar="FILE", help="past answers (for --by)")
    p.add_argument("--by", metavar="COLUMN", help="segment column of FILE")
    p.add_argument("--margin", type=float, help="target margin of error in NPS points")
    p.add_argument("--change", type=float, help="NPS change in points to detect between two periods")
    p.add_argument("--promoters", type=float, default=0.5, help="expected promoter share (default 0.5)")
    p.add_argument("--detractors", type=float, default=0.5, help="expected detractor share (default 0.5)")
    p.add_argument("--power", type=float, default=0.8, help="power for --change (default 0.8)")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence (default 0.95)")
    p.set_defaults(run=_cmd_sample_size)


def _scale(text: str) -> tuple[int, int]:
    from .cli import _scale as parse

    return parse(text)


def _read(
    args: argparse.Namespace, path: Path, roles: list[str], extra: list[str]
) -> tuple[Any, pd.DataFrame]:
    from .cli import _datasets, _Progress, _progress_wanted

    problems = getattr(args, "_problem_log", None)
    if problems is None:
        from .cli import _problems

        problems = args._problem_log = _problems(args)
    with _Progress(_progress_wanted(args)) as progress:
        progress.start(1, "reading")
        (d,), notes = _datasets(args, [path], roles, problems, progress, extra=extra)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    present = [r for r in roles if r in d.columns]
    frame = d.rows_for(present, extra).copy()
    if "customer_id" in frame.columns:
        frame["customer_id"] = d.ids("customer_id", frame["customer_id"])
    return d, frame


def _need(d: Any, frame: pd.DataFrame, role: str, flag: str) -> None:
    if role not in frame.columns:
        raise KpiInputError(f"{d.name}: no column for {role}; map one with --map {role}=HEADER ({flag})")


def _cell(value: Any) -> str:
    import numpy as np
    import pandas as pd

    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    text = str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def _emit(args: argparse.Namespace, sections: list[tuple[str, pd.DataFrame]], notes: list[str]) -> None:
    """Print each table as text (table), one JSON document (json) or the first table as CSV (csv)."""
    import pandas as pd

    from .cli import _destination, _finish_problems, _jsonable, _problem_lines, _text_table, _write_csv

    problems = getattr(args, "_problem_log", None)
    if problems is not None:
        _finish_problems(args, problems)
    with _destination(args.output) as fh:
        if args.format == "json":
            payload = {
                title: [
                    {k: _jsonable(v) for k, v in rec.items()}
                    for rec in frame.reset_index().to_dict("records")
                ]
                for title, frame in sections
            }
            payload["notes"] = notes
            json.dump(_jsonable(payload), fh, indent=2, ensure_ascii=False, default=str)
            fh.write("\n")
            return
        if args.format == "csv":
            title, frame = sections[0]
            flat = frame.reset_index() if frame.index.name else frame
            _write_csv(fh, flat.to_dict("records"), list(flat.columns))
            for line in notes + (_problem_lines(problems) if problems is not None else []):
                print(line, file=sys.stderr)
            return
        for title, frame in sections:
            flat = frame.reset_index() if frame.index.name else frame
            rows = [[_cell(v) for v in rec] for rec in flat.itertuples(index=False)]
            numeric = {i for i, c in enumerate(flat.columns) if pd.api.types.is_numeric_dtype(flat[c])}
            print(title, file=fh)
            print(_text_table([str(c) for c in flat.columns], rows, numeric) if rows else "(none)", file=fh)
            print(file=fh)
        extra = notes + (_problem_lines(problems) if problems is not None else [])
        if extra:
            print("\n".join(extra), file=fh)


def _cmd_themes(args: argparse.Namespace) -> int:
    roles = ["nps_score"] + (["date"] if args.period else [])
    extra = [args.comment] + ([args.by] if args.by else [])
    d, frame = _read(args, args.file, roles, extra)
    _need(d, frame, "nps_score", "the 0-10 score")
    themes = metrics.comment_themes(
        frame[args.comment], frame["nps_score"], segments=frame[args.by] if args.by else None,
        dates=frame["date"] if args.period else None, language=args.language, top=args.top,
        min_count=args.min_count, min_g2=args.min_g2, on_invalid="drop",
    )  # fmt: skip
    shown = (
        themes if args.format != "table" else themes.drop(columns=["example_2", "example_3"], errors="ignore")
    )
    sections = [("themes", shown)]
    if args.sentiment:
        sent = metrics.comment_sentiment(
            frame[args.comment], frame["nps_score"], language=args.language, on_invalid="drop"
        )
        sections.append((f"sentiment ({sent.attrs['lexicon']})", sent))
    counts = "; ".join(f"{k}: {v}" for k, v in themes.attrs["n_comments"].items())
    notes = [f"comments per group: {counts}", f"languages: {themes.attrs['languages']}"]
    _emit(args, sections, notes)
    return 0


def _cmd_followup(args: argparse.Namespace) -> int:
    survey_roles = ["customer_id", "nps_score", "csat_score", "date"]
    try:
        d, answers = _read(args, args.survey, survey_roles, [c for c in (args.comment, args.by) if c])
    except KpiInputError as exc:
        if exc.value != args.comment:
            raise
        # No comment column: the list goes without comments.
        d, answers = _read(args, args.survey, survey_roles, [args.by] if args.by else [])
        answers["comment"] = None
    else:
        answers["comment"] = answers[args.comment]
    _need(d, answers, "customer_id", "the customer id")
    o, orders = _read(args, args.orders, ["customer_id", "date", "amount"], [])
    for role in ("customer_id", "date", "amount"):
        _need(o, orders, role, role)
    value = metrics.customer_value(
        orders["customer_id"],
        orders["date"],
        orders["amount"],
        time_unit=args.time_unit,
        horizon=args.horizon,
    )
    if args.by:
        seg = answers.assign(_k=answers["customer_id"]).dropna(subset=["_k"]).groupby("_k")[args.by].last()
        value["segment"] = seg.reindex([str(i) for i in value.index]).to_numpy()
    tickets = None
    if args.tickets is not None:
        _, t = _read(args, args.tickets, ["customer_id", "created", "resolved"], [])
        tickets = t
    follow = metrics.followup_list(
        answers["customer_id"], answers.get("nps_score"), csat=answers.get("csat_score"),
        csat_max=args.csat_max, csat_scale=args.csat_scale, comments=answers.get("comment"),
        response_dates=answers.get("date"), value=value, tickets=tickets, on_invalid="drop",
    )  # fmt: skip
    detractors = (
        metrics.detractor_ids(
            answers["customer_id"],
            answers["nps_score"],
            response_dates=answers.get("date"),
            on_invalid="drop",
        )
        if "nps_score" in answers.columns
        else []
    )
    risk = metrics.revenue_at_risk(
        value.index, value["predicted_clv"], value["p_alive"], detractor_ids=detractors,
        segments=value["segment"] if args.by else None, threshold=args.threshold,
    )  # fmt: skip
    sections = [
        ("follow-up list", follow),
        (f"revenue at risk (P(alive) < {args.threshold:g} or detractor)", risk),
    ]
    if args.feedback is not None:
        import pandas as pd

        f, fb = _read(args, args.feedback, ["created", "first_response"], [])
        _need(f, fb, "created", "when the feedback came in")
        answered = fb["first_response"] if "first_response" in fb.columns else [None] * len(fb)
        r = metrics.feedback_engagement(fb["created"], answered)
        c = r.components
        pairs = [
            ("answer rate", r.value), ("ci_low", r.ci_low), ("ci_high", r.ci_high),
            ("answered", c["answered"]), ("received", c["received"]),
            ("median hours to answer", c["time_to_answer_hours"]),
            ("hours ci_low", c["time_ci_low"]), ("hours ci_high", c["time_ci_high"]),
        ]  # fmt: skip
        sections.append(("feedback engagement", pd.DataFrame(pairs, columns=["measure", "value"])))
    if args.advocates is not None:
        _, cust = _read(args, args.advocates, ["customer_id"], [args.referred_by])
        refs = metrics.referral_summary(
            cust["customer_id"], cust[args.referred_by], orders["customer_id"], orders["amount"]
        )
        latest = answers.dropna(subset=["nps_score"]).groupby("customer_id")["nps_score"].last()
        table = refs.reindex(latest.index.astype(str)).fillna(0.0)
        adv = metrics.advocates(
            latest.index, latest.to_numpy(), referrals_made=table["referrals_made"],
            referrals_converted=table["referrals_converted"], referral_revenue=table["referral_revenue"],
            clv=value["predicted_clv"].reindex(latest.index.astype(str)).fillna(0.0),
        )  # fmt: skip
        sections.append(("advocates", adv))
    unmatched = follow.attrs["unmatched"]
    notes = [
        f"{follow.attrs['n_flagged']:,} customer(s) to follow up; {len(unmatched):,} not found in {o.name}"
        + (f": {', '.join(map(str, unmatched[:20]))}" if unmatched else "")
    ]
    _emit(args, sections, notes)
    return 0


def _cmd_drivers(args: argparse.Namespace) -> int:
    attrs = [a.strip() for a in args.attributes.split(",") if a.strip()]
    d, frame = _read(args, args.file, ["nps_score"], attrs)
    _need(d, frame, "nps_score", "the 0-10 score")
    table = metrics.key_drivers(
        frame["nps_score"], frame[attrs], n_boot=args.boot, confidence=args.confidence
    )
    notes = [
        f"R2 = {table.attrs['r2']:.3f} on {table.attrs['n']:,} complete answers "
        f"({table.attrs['n_dropped']:,} with a blank left out); importance = Shapley share of R2, "
        f"{round(args.confidence * 100):g}% percentile bootstrap interval over {args.boot} resamples"
    ]
    _emit(args, [("key drivers", table)], notes)
    return 0


def _cmd_sample_size(args: argparse.Namespace) -> int:
    if args.margin is None and args.change is None:
        raise KpiInputError("give --margin (NPS points) or --change (NPS points)", argument="margin")
    import pandas as pd

    sections: list[tuple[str, pd.DataFrame]] = []
    if args.file is not None:
        if args.margin is None:
            raise KpiInputError("with a file, give --margin", argument="margin")
        d, frame = _read(args, args.file, ["nps_score"], [args.by] if args.by else [])
        _need(d, frame, "nps_score", "the 0-10 score")
        segs = frame[args.by] if args.by else pd.Series(["all"] * len(frame))
        table = metrics.nps_sample_size_by_segment(
            frame["nps_score"], segs, margin=args.margin, confidence=args.confidence
        )
        sections.append((f"responses needed for +/- {args.margin:g} NPS points", table))
    rows = []
    if args.margin is not None and args.file is None:
        n = metrics.nps_sample_size(
            args.margin, promoters=args.promoters, detractors=args.detractors, confidence=args.confidence
        )
        rows.append({"question": f"margin of error +/- {args.margin:g} points", "responses": n})
    if args.change is not None:
        n = metrics.nps_change_sample_size(
            args.change, promoters=args.promoters, detractors=args.detractors, confidence=args.confidence,
            power=args.power,
        )  # fmt: skip
        rows.append({"question": f"detect a change of {args.change:g} points (per period)", "responses": n})
    if rows:
        sections.append(("sample size", pd.DataFrame(rows)))
    notes = []
    if rows:
        notes.append(
            f"planning shares: promoters {args.promoters:g}, detractors {args.detractors:g}; confidence "
            f"{args.confidence:g}" + (f", power {args.power:g}" if args.change is not None else "")
        )
    _emit(args, sections, notes)
    return 0
