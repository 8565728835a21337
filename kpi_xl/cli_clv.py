"""The CLV parts of ``kpi-xl`` beyond plain prediction: holdout validation for ``kpi-xl clv
--holdout-start DATE``, and the ``kpi-xl retention`` command (contractual sBG projection).

Every number comes from the engine (:func:`kpi_xl.metrics.clv_holdout`,
:class:`kpi_xl.metrics.ShiftedBetaGeoFitter`); this module reads arguments and prints.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from .metrics import SMALL_SAMPLE_N, KpiInputError

__all__ = [
    "add_clv_options",
    "add_retention_command",
    "check_schedule_options",
    "run_by_segment",
    "run_holdout",
    "schedule_lines",
    "schedule_records",
]

_RETENTION_EXAMPLES = """\
examples:
  kpi-xl retention 1000 631 468 382 326 289 262 241
  kpi-xl retention 1000 869 743 653 593 551 517 491 --periods 12 --margin 100 --discount-rate 0.1
  kpi-xl retention 500 410 360 330 --format json

Fits the shifted-beta-geometric model (Fader & Hardie 2007) to one cohort's survivors (the cohort
size first, then the customers still active after each period), projects survival and retention,
and values a subscriber (DEL and DERL, Fader & Hardie 2010) at the margin and discount rate given.
"""


def add_clv_options(p: argparse.ArgumentParser) -> None:
    """The model, interval and holdout options of ``kpi-xl clv``."""
    p.add_argument(
        "--model",
        default="bg/nbd",
        choices=("bg/nbd", "mbg/nbd", "pareto/nbd"),
        help="repeat-purchase model for the prediction (default bg/nbd; --holdout-start compares all three)",
    )
    p.add_argument(
        "--interval",
        type=float,
        metavar="LEVEL",
        help="add an interval at this level (e.g. 0.9) to each customer's CLV and the total "
        "(parameter uncertainty: draws from the estimates' information-matrix normal)",
    )
    p.add_argument(
        "--holdout-start",
        metavar="DATE",
        help="validate instead of predicting: fit on the orders before DATE, predict the holdout from DATE "
        "on and compare with what happened (per customer, by calibration frequency, week by week)",
    )
    p.add_argument("--holdout-end", metavar="DATE", help="last day of the holdout (default: the last order)")
    p.add_argument(
        "--by",
        metavar="COLUMN",
        help="fit and predict per segment of this column (its header in the file): a customer counts in the "
        "segment of their first order; labels grouped trimmed and case-insensitively, blanks as (blank); "
        "segments under 30 customers flagged small",
    )
    p.add_argument(
        "--schedule",
        action="store_true",
        help="also print the CLV step by step: expected purchases, value, discounted value (all customers; "
        "with --by, the discounted value of each segment)",
    )
    p.add_argument(
        "--schedule-customer",
        action="append",
        metavar="ID",
        help="print the schedule of this customer (repeat for several: their sum); with --by, valued by "
        "their segment's fit",
    )
    p.add_argument(
        "--schedule-segment", metavar="NAME", help="with --by: print the schedule of this segment alone"
    )


def check_schedule_options(args: argparse.Namespace) -> None:
    """``--schedule-segment`` needs ``--by``; either selection asks for a schedule."""
    if args.schedule_segment is not None and args.by is None:
        raise KpiInputError("--schedule-segment NAME needs --by COLUMN", argument="schedule_segment")
    if args.schedule_customer or args.schedule_segment is not None:
        args.schedule = True


def _who(args: argparse.Namespace) -> str:
    ids = args.schedule_customer or []
    who = f"customer{'s' if len(ids) > 1 else ''} {', '.join(ids)}" if ids else "all customers"
    if getattr(args, "schedule_segment", None) is not None:
        who = f"segment {args.schedule_segment}" + (f", {who}" if ids else "")
    return who


def schedule_lines(pred: Any, args: argparse.Namespace) -> list[str]:
    """The per-step CLV schedule (of the customers or segment ``args`` selects) as text lines."""
    sched = _schedule(pred, args)
    if getattr(args, "schedule_segment", None) is not None:
        args.schedule_segment = pred.segment(args.schedule_segment)
    unit = _settings(pred).time_unit
    rows = [
        [str(k), _fmt(r["end"], "g"), _fmt(r["expected_purchases"], ",.1f"), _fmt(r["value"], ",.2f"),
         _fmt(r["discount_factor"], ".4f"), _fmt(r["discounted_value"], ",.2f"),
         _fmt(r["cumulative_discounted_value"], ",.2f")]
        for k, r in sched.iterrows()
    ]  # fmt: skip
    header = ["step", f"end ({unit}s)", "purchases", "value", "discount", "discounted", "cumulative"]
    return ["", f"CLV schedule, {_who(args)} (value = purchases x spend x margin):", _table(header, rows)]


def schedule_records(pred: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The schedule ``args`` selects, as JSON records."""
    return _schedule(pred, args).reset_index().to_dict(orient="records")


def _schedule(pred: Any, args: argparse.Namespace) -> Any:
    if getattr(args, "by", None) is not None:
        return pred.schedule(args.schedule_segment, args.schedule_customer)
    return pred.schedule(args.schedule_customer)


def _settings(pred: Any) -> Any:
    """The settings of a prediction, or of the segments' (all fitted with the same settings)."""
    if hasattr(pred, "settings"):
        return pred.settings
    return next(iter(pred.predictions.values())).settings


def run_by_segment(args: argparse.Namespace, read_options: Any, problems: Any) -> int:
    """``kpi-xl clv FILE --by COLUMN``: :func:`kpi_xl.metrics.predict_clv_by_segment` on the file."""
    import dataclasses

    import pandas as pd

    from .data._open import CLV_ROLES, _clv_dataset, _without_partial_rows, open_dataset, with_customer_ids
    from .metrics import predict_clv_by_segment, read_step

    if args.connect:
        from .data.backend import open_table

        ds = open_table(args.connect, args.table, CLV_ROLES, read_options, extra=[args.by], problems=problems)
    else:
        ds = open_dataset(
            args.file, CLV_ROLES, read_options, engine=args.engine, extra=[args.by], problems=problems
        )
    _clv_dataset(ds)
    log = _without_partial_rows(ds, ds.rows_for(CLV_ROLES, [args.by]))
    out = predict_clv_by_segment(
        log["customer_id"].to_numpy(),
        log["date"].to_numpy(),
        log["amount"].to_numpy(),
        log[args.by].to_numpy(dtype=object),
        time_unit=args.time_unit,
        horizon=args.horizon,
        step=read_step(args.step, locale="en"),
        discount_rate=args.discount_rate,
        observation_end=args.observation_end,
        margin=args.margin,
        model=args.model,
        interval=args.interval,
    )
    out = dataclasses.replace(
        out,
        predictions={
            k: p.with_customers(with_customer_ids(ds, p.customers)) for k, p in out.predictions.items()
        },
    )
    if args.output is not None:
        from .cli import _output_table, _write_predictions

        _write_predictions(ds, out.customers, args.output, _output_table(args.output))
    table = out.table
    fh = sys.stdout
    level = args.interval
    # Computed before anything is printed: a segment or customer that is not there is an error alone.
    wide = out.schedules() if args.schedule and out.predictions else None
    picked = args.schedule_segment is not None or args.schedule_customer
    lines = schedule_lines(out, args) if args.schedule and picked else []
    if args.format == "json":
        from .cli import _jsonable

        first = next(iter(out.predictions.values()), None)
        payload = {
            "file": ds.name,
            "by": args.by,
            "settings": dataclasses.asdict(first.settings) if first else None,
            "interval_method": first.interval_method if first else None,
            "segments": table.reset_index().to_dict(orient="records"),
            "schedule": schedule_records(out, args) if args.schedule and out.predictions else None,
            "predictions_file": str(args.output) if args.output else None,
        }
        json.dump(_jsonable(payload), fh, indent=2, ensure_ascii=False)
        fh.write("\n")
        return 0
    if args.format == "csv":
        table.to_csv(fh)
        return 0
    print(
        f"{ds.name}: CLV by {args.by}, each segment fitted on its own ({args.model} + Gamma-Gamma; "
        f"time unit {args.time_unit}, horizon {args.horizon:g}); a customer counts in the segment of "
        "their first order",
        file=fh,
    )
    rows = []
    for name, r in table.iterrows():
        band = "-"
        if level is not None and pd.notna(r.get("clv_total_low")):
            band = f"{r['clv_total_low']:,.2f} to {r['clv_total_high']:,.2f}"
        fitted = "fitted" if r["status"] == "fitted" else "not fitted"
        rows.append([str(name), f"{int(r['customers']):,}", _fmt(r["clv_total"], ",.2f"), band,
                     _fmt(r["clv_mean"], ",.2f"), "yes" if r["small"] else "", fitted])  # fmt: skip
    header = ["segment", "customers", "CLV total", f"{level:.0%} interval" if level else "interval",
              "CLV mean", "small", "status"]  # fmt: skip
    print(_table(header, rows), file=fh)
    for name, status in table["status"].items():
        if status != "fitted":
            print(f"{name}: {status}", file=fh)
    if level is not None and out.predictions:
        print(f"(interval: {next(iter(out.predictions.values())).interval_method})", file=fh)
    print(f"(small: fewer than {SMALL_SAMPLE_N} customers, the estimate is uncertain)", file=fh)
    if args.schedule and out.predictions:
        if picked:
            print("\n".join(lines), file=fh)
        else:
            unit = _settings(out).time_unit
            rows = [
                [str(k), *(_fmt(v, ",.2f") for v in r), _fmt(r.sum(), ",.2f")] for k, r in wide.iterrows()
            ]
            print(f"\nDiscounted CLV per step ({unit}s) by segment:", file=fh)
            print(_table(["step", *map(str, wide.columns), "fitted segments"], rows), file=fh)
    if args.output is not None:
        print(f"\nPer-customer predictions (with their segment) written to {args.output}", file=fh)
    return 0


def add_retention_command(sub: Any, output: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "retention",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_RETENTION_EXAMPLES,
        help="contractual retention: sBG projection, DERL and subscriber value",
        description="Fit the shifted-beta-geometric model to a cohort's survivors and project "
        "survival, retention, expected remaining lifetime and subscriber value.",
    )
    p.add_argument(
        "survivors", nargs="+", type=float, metavar="N", help="cohort size, then survivors per period"
    )
    p.add_argument("--periods", type=int, default=10, help="project to this period (default 10)")
    p.add_argument("--margin", type=float, default=1.0, help="margin per period of a subscriber (default 1)")
    p.add_argument("--discount-rate", type=float, default=0.1, help="discount rate per period (default 0.1)")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output format")
    p.set_defaults(run=_cmd_retention)


def _fmt(v: Any, spec: str = ".4g") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return format(v, spec)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def run_holdout(args: argparse.Namespace, read_options: Any, problems: Any) -> int:
    """``kpi-xl clv FILE --holdout-start DATE``: the holdout report of :func:`clv_holdout`."""
    from .data._open import clv_inputs, with_customer_ids
    from .metrics import clv_holdout

    ds, log = clv_inputs(args.file, read_options, engine=args.engine, problems=problems)
    report = clv_holdout(
        log["customer_id"].to_numpy(),
        log["date"].to_numpy(),
        holdout_start=args.holdout_start,
        holdout_end=args.holdout_end,
        time_unit=args.time_unit,
    )
    customers = with_customer_ids(ds, report.customers)
    if args.output is not None:
        from .cli import _output_table, _write_predictions

        _write_predictions(ds, customers, args.output, _output_table(args.output))
    unit = report.time_unit
    fh = sys.stdout
    comparison = report.comparison.reset_index()
    if args.format == "json":
        payload = {
            "file": ds.name,
            "time_unit": unit,
            "calibration_end": str(report.calibration_end.date()),
            "holdout_end": str(report.holdout_end.date()),
            "holdout_length": report.duration,
            "comparison": comparison.to_dict(orient="records"),
            "recommended": report.recommended,
            "recommendation": report.recommendation,
            "by_calibration_frequency": report.by_frequency.reset_index().to_dict(orient="records"),
            "tracking": report.tracking.reset_index().to_dict(orient="records"),
            "customers_file": str(args.output) if args.output else None,
        }
        json.dump(payload, fh, indent=2, default=float)
        fh.write("\n")
        return 0
    if args.format == "csv":
        comparison.to_csv(fh, index=False)
        return 0
    print(
        f"{ds.name}: calibration to {report.calibration_end.date()}, holdout to "
        f"{report.holdout_end.date()} ({report.duration:g} {unit}s), {len(customers):,} customers",
        file=fh,
    )
    print(
        "\nModels on the calibration period, errors on the holdout (per customer, repeat purchases):", file=fh
    )
    specs = [("log_likelihood", ".2f"), ("aic", ".1f"), ("bic", ".1f"), ("mae", ".4f"), ("rmse", ".4f"),
             ("bias", "+.4f"), ("predicted_total", ",.1f"), ("actual_total", ",.0f")]  # fmt: skip
    rows = [[m, *(_fmt(r[c], f) for c, f in specs)] for m, r in report.comparison.iterrows()]
    header = ["model", "log-lik.", "AIC", "BIC", "MAE", "RMSE", "bias", "predicted", "actual"]
    print(_table(header, rows), file=fh)
    print(f"(log-likelihood: natural log, recency and T in {unit}s; bias = predicted - actual)", file=fh)
    print(f"\nrecommended: {report.recommendation}", file=fh)
    models = list(report.comparison.index)
    print("\nMean holdout repeat purchases by calibration frequency:", file=fh)
    fb = report.by_frequency
    rows = [
        [
            str(b),
            f"{int(r['customers']):,}",
            _fmt(r["actual"], ".3f"),
            *(_fmt(r[f"predicted_{m}"], ".3f") for m in models),
        ]
        for b, r in fb.iterrows()
    ]
    print(_table(["frequency", "customers", "actual", *models], rows), file=fh)
    tr = report.tracking
    marks = sorted({int(tr.index[0]), *[int(p) for p in tr.index if p % 13 == 0], int(tr.index[-1])})
    print(f"\nCumulative repeat purchases since the first purchase ({unit}s; * = holdout):", file=fh)
    rows = [
        [f"{p}{'*' if tr.loc[p, 'holdout'] else ''}", _fmt(tr.loc[p, "actual"], ",.0f"),
         *(_fmt(tr.loc[p, f"predicted_{m}"], ",.1f") for m in models)]
        for p in marks
    ]  # fmt: skip
    print(_table([unit, "actual", *models], rows), file=fh)
    if args.output is not None:
        print(f"\nPer-customer predicted vs actual written to {args.output}", file=fh)
    return 0


def _cmd_retention(args: argparse.Namespace) -> int:
    import pandas as pd

    from .metrics import ShiftedBetaGeoFitter

    if args.periods < 1:
        raise KpiInputError(f"--periods must be 1 or more, got {args.periods}", argument="periods")
    sbg = ShiftedBetaGeoFitter().fit(args.survivors)
    if not (sbg.converged and sbg.identified):
        raise KpiInputError(f"the sBG fit cannot be used: {sbg.message}", argument="survivors")
    proj = sbg.projection(max(args.periods, len(args.survivors) - 1))
    renewals = list(range(1, min(args.periods, 5) + 1))
    derl = pd.Series(sbg.derl(args.discount_rate, renewals), index=renewals)
    value_new = sbg.subscription_clv(args.margin, args.discount_rate)
    table = sbg.summary
    fh = sys.stdout
    if args.format == "json":
        payload = {
            "parameters": table.reset_index(names="parameter").to_dict(orient="records"),
            "log_likelihood": sbg.log_likelihood_,
            "log_likelihood_unit": sbg.log_likelihood_unit,
            "projection": proj.reset_index().to_dict(orient="records"),
            "discount_rate": args.discount_rate,
            "margin": args.margin,
            "del": sbg.discounted_expected_lifetime(args.discount_rate),
            "derl": {str(k): float(v) for k, v in derl.items()},
            "value_new_subscriber": value_new,
            "warnings": list(sbg.warnings_),
        }
        json.dump(payload, fh, indent=2, default=lambda v: None if v != v else float(v))
        fh.write("\n")
        return 0
    if args.format == "csv":
        proj.to_csv(fh)
        return 0
    rows = [
        [name, _fmt(r["estimate"]), _fmt(r["se"], ".3g"), _fmt(r["ci_low"]), _fmt(r["ci_high"])]
        for name, r in table.iterrows()
    ]
    print(
        f"sBG fit on a cohort of {int(args.survivors[0]):,} over {len(args.survivors) - 1} periods", file=fh
    )
    print(_table(["parameter", "estimate", "std. error", "95% low", "95% high"], rows), file=fh)
    print(f"log-likelihood {sbg.log_likelihood_:.2f} ({sbg.log_likelihood_unit})", file=fh)
    print("\nProjection (periods past the data are the model's):", file=fh)
    rows = [
        [str(t), _fmt(r["survival"], ".3f"), _fmt(r["retention"], ".3f"), _fmt(r["observed_survival"], ".3f")]
        for t, r in proj.iterrows()
    ]
    print(_table(["period", "survival", "retention", "observed"], rows), file=fh)
    print(
        f"\nDiscount rate {args.discount_rate:g} per period, margin {args.margin:g} per period:\n"
        f"expected discounted lifetime of a new subscriber (DEL) "
        f"{sbg.discounted_expected_lifetime(args.discount_rate):.3f} periods, value {value_new:,.2f}",
        file=fh,
    )
    for n, v in derl.items():
        print(
            f"about to renew for the {n}. time: DERL {v:.3f} periods, value {args.margin * v:,.2f}", file=fh
        )
    for w in sbg.warnings_:
        print(f"warning: {w}", file=fh)
    return 0
