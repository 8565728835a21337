"""The closed-loop tabs of the template: Comments, Follow-up, Advocates, Drivers.

Everything on them is computed by the engine (:mod:`kpi_xl.metrics.comments`, ``closed_loop``,
``drivers``, ``planning``) and written by Refresh as values: G2 keyness, Shapley shares and a
BG/NBD-based value at risk have no native Excel formula. Comments and customer ids are the user's
text and go through the sink's text rule (:func:`kpi_xl.safety.set_text` on the build path), so a
comment starting with ``=`` is shown, never run.

This module holds the three steps of each tab: the static part (``build_*``), the numbers
(:func:`compute_actions`) and the dynamic cells (:func:`place_actions`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import metrics as m
from ..metrics import KpiInputError
from .layout import CHART_THEMES, CHART_THEMES_ROW, SLOTS

if TYPE_CHECKING:
    from .compute import Settings
    from .sheets import Context, Sink

__all__ = [
    "THEMES_TOP",
    "THEMES_BY_TOP",
    "THEMES_BY_MONTHS",
    "FOLLOWUP_ROWS",
    "ADVOCATE_ROWS",
    "compute_actions",
    "theme_chart",
    "build_action_sheets",
    "place_actions",
]

#: Themes listed per NPS group on the Comments tab.
THEMES_TOP = 8
#: Themes listed per NPS group within each segment (the SLOTS segments with most comments) and each
#: month of the reporting period (its last THEMES_BY_MONTHS months).
THEMES_BY_TOP = 3
THEMES_BY_MONTHS = 12
#: Rows of the follow-up list and of the advocates list (the highest ranked).
FOLLOWUP_ROWS = 500
ADVOCATE_ROWS = 50
#: CSAT answers up to this are followed up (on a 1-5 scale: "dissatisfied" and "very dissatisfied").
CSAT_FOLLOWUP_MAX = 2
RISK_THRESHOLD = 0.5
ATTRIBUTES = ("price", "support", "product")

_GROUPS = ("detractor", "passive", "promoter")

# Rows of each tab (1-based).
_THEME_HEAD = 4
_SENT_TITLE = _THEME_HEAD + 1 + 3 * THEMES_TOP + 2
# Themes by segment, then by month, in one table below the sentiment block.
_BY_TITLE = _SENT_TITLE + 8
_BY_HEAD = _BY_TITLE + 2
_BY_ROWS = (SLOTS + THEMES_BY_MONTHS) * 3 * THEMES_BY_TOP
# Feedback engagement, right of the revenue-at-risk table on the Follow-up tab: labels in column
# J (overflowing into the empty K..M), values in N.
_FB_COL, _FB_VALUE_COL = 10, 14
_RISK_HEAD = 5
_LIST_TITLE = _RISK_HEAD + SLOTS + 4
_LIST_HEAD = _LIST_TITLE + 2
_ADV_HEAD = 4
_DRV_HEAD = 5
_PLAN_TITLE = _DRV_HEAD + 1 + m.MAX_DRIVERS + 2
_PLAN_HEAD = _PLAN_TITLE + 2

#: Appended to the number format of a number followed by text on its right: a space the width of
#: ")" (Excel and LibreOffice), so "12.3" and "Support never ..." do not run together.
_GAP = "_)"
_BY_COLS = ("label", "group", "theme", "share_comments", "count", "g2", "example_1")
_FB_ROWS = (
    ("fb_received", "received", "count"),
    ("fb_answered", "answered", "count"),
    ("fb_rate", "rate", "share"),
    ("fb_rate_low", "rate_low", "share"),
    ("fb_rate_high", "rate_high", "share"),
    ("fb_days", "days", "0.0"),
    ("fb_days_low", "days_low", "0.0"),
    ("fb_days_high", "days_high", "0.0"),
)
_THEME_COLS = (
    "group",
    "theme",
    "count",
    "comments",
    "share_comments",
    "g2",
    "p_value",
    "example_1",
    "example_2",
)
_RISK_COLS = (
    "predicted_clv",
    "at_risk_detractors",
    "at_risk_lapsing",
    "revenue_at_risk",
    "customers_at_risk",
    "share",
)
_LIST_COLS = (
    "rank",
    "customer_id",
    "reason",
    "score",
    "csat",
    "comment",
    "response_date",
    "segment",
    "historical_clv",
    "predicted_clv",
    "p_alive",
    "value_at_risk",
    "open_tickets",
    "last_contact",
)
_ADV_COLS = (
    "rank",
    "customer_id",
    "score",
    "referrals_made",
    "referrals_converted",
    "referral_revenue",
    "clv",
    "advocacy_score",
)
_DRV_COLS = ("importance", "ci_low", "ci_high", "r2_share", "performance", "quadrant", "rank")
_PLAN_COLS = ("n", "nps", "margin_now", "needed", "additional")


def _quiet(fn: Any, *args: Any, **kw: Any) -> Any:
    """The engine's table, or None where there is nothing to compute (no comments, no ratings)."""
    try:
        return fn(*args, **kw)
    except KpiInputError as exc:
        if exc.kind in ("empty", "zero-base"):
            return None
        raise


def compute_actions(
    tables: dict[str, pd.DataFrame], st: Settings, clv: dict[str, Any], r_in: pd.DataFrame
) -> dict[str, Any]:
    """Every number of the four tabs and the two closed-loop cards.

    ``r_in`` are the responses of the reporting period; ``clv`` is the CLV step's result (its
    per-customer predictions, when the model could be fitted).
    """
    cust, orders, tix = tables["customers"], tables["orders"], tables["tickets"]
    scores, comments = r_in["nps"].to_numpy(), r_in["comment"].to_numpy(dtype=object)
    groups = {"promoter_min": st.nps_promoter_min, "detractor_max": st.nps_detractor_max}
    out: dict[str, Any] = {"notes": []}
    out["themes"] = _quiet(m.comment_themes, comments, scores, top=THEMES_TOP, examples=2, **groups)
    out["sentiment"] = _quiet(m.comment_sentiment, comments, scores, confidence=st.confidence, **groups)
    out["themes_by"] = _themes_by(r_in, groups)
    out["feedback"] = _feedback(r_in, st, out["notes"])

    value = _value_table(cust, clv)
    flagged = m.followup_list(
        r_in["customer"].to_numpy(dtype=object),
        scores,
        csat=r_in["csat"].to_numpy(),
        csat_max=CSAT_FOLLOWUP_MAX,
        csat_scale=(1, st.csat_scale_max),
        comments=comments,
        response_dates=r_in["date"].to_numpy(),
        value=value,
        tickets=tix.rename(columns={"customer": "customer_id"})[["customer_id", "created", "resolved"]],
        detractor_max=st.nps_detractor_max,
        on_invalid="drop",
    )
    out["followup"] = flagged
    detractors = m.detractor_ids(
        r_in["customer"].to_numpy(dtype=object),
        scores,
        response_dates=r_in["date"].to_numpy(),
        detractor_max=st.nps_detractor_max,
        on_invalid="drop",
    )
    out["risk"] = (
        m.revenue_at_risk(
            value["customer_id"],
            value["predicted_clv"],
            value["p_alive"],
            detractor_ids=detractors,
            segments=value["segment"],
            threshold=RISK_THRESHOLD,
        )
        if "predicted_clv" in value.columns
        else None
    )
    out["advocates"] = _advocates(r_in, cust, orders, value, st)
    ratings = r_in[list(ATTRIBUTES)]
    out["drivers"] = _quiet(m.key_drivers, scores, ratings, n_boot=200, confidence=st.confidence)
    out["plan"] = _quiet(
        m.nps_sample_size_by_segment,
        scores,
        r_in["segment"].to_numpy(dtype=object),
        margin=st.plan_margin,
        confidence=st.confidence,
    )
    out["plan_targets"] = {
        "m": f"{st.plan_margin:g}",
        "c": f"{st.plan_change:g}",
        "p": f"{st.confidence:.0%}",
    }
    total = out["plan"].loc["Total"] if out["plan"] is not None else None
    out["plan_change"] = (
        m.nps_change_sample_size(
            st.plan_change,
            promoters=float(total["pct_promoters"]),
            detractors=float(total["pct_detractors"]),
            confidence=st.confidence,
        )
        if total is not None
        else None
    )
    out["revenue_at_risk"] = (
        None if out["risk"] is None else float(out["risk"].loc["Total", "revenue_at_risk"])
    )
    out["followup_count"] = len(flagged)
    return out


def _themes_by(r_in: pd.DataFrame, groups: dict[str, int]) -> pd.DataFrame | None:
    """The top themes per NPS group within each segment and each month, as one table: ``by``
    ("segment" or "month"), ``label`` and the engine's theme columns. Segments: the SLOTS with most
    comments (the rest are left out, as the Segments sheet does); months: the last THEMES_BY_MONTHS."""
    has = pd.notna(r_in["comment"]).to_numpy() & ~np.isnan(r_in["nps"].to_numpy())
    r = r_in[has]
    if r.empty:
        return None
    parts = []
    seg = m.comment_themes(
        r["comment"], r["nps"], segments=r["segment"], top=THEMES_BY_TOP, examples=1, **groups
    )
    sizes = {k: sum(v.values()) for k, v in seg.attrs["n_comments"].items()}
    biggest = sorted(sizes, key=lambda k: -sizes[k])[:SLOTS]
    parts.append(seg[seg["segment"].isin(biggest)].rename(columns={"segment": "label"}).assign(by="segment"))
    month = m.comment_themes(r["comment"], r["nps"], dates=r["date"], top=THEMES_BY_TOP, examples=1, **groups)
    last = sorted(month["month"].unique())[-THEMES_BY_MONTHS:]
    parts.append(month[month["month"].isin(last)].rename(columns={"month": "label"}).assign(by="month"))
    return pd.concat(parts, ignore_index=True)


def _feedback(r_in: pd.DataFrame, st: Settings, notes: list[str]) -> dict[str, Any] | None:
    """Feedback engagement of the period: of the answers with a comment (the feedback), the share
    answered (a date in the Responses tab's answered column) and the time to answer, in days."""
    fb = r_in[pd.notna(r_in["comment"]).to_numpy()]
    if fb.empty:
        return None
    r = m.feedback_engagement(
        fb["date"].to_numpy(), fb["answered"].to_numpy(), confidence=st.confidence, on_invalid="drop"
    )
    c = r.components
    if r.n_dropped:
        notes.append(
            f"Feedback engagement: {r.n_dropped} answer(s) dated before their response were left out."
        )
    out = {"received": c["received"], "answered": c["answered"], "rate": r.value}
    out.update(rate_low=r.ci_low, rate_high=r.ci_high)
    # Responses carry a date, not a time of day: the time to answer is shown in days.
    for key, hours in (
        ("days", "time_to_answer_hours"),
        ("days_low", "time_ci_low"),
        ("days_high", "time_ci_high"),
    ):
        out[key] = None if c[hours] is None else c[hours] / 24
    return out


def _value_table(cust: pd.DataFrame, clv: dict[str, Any]) -> pd.DataFrame:
    """One row per customer: segment (Customers tab), historical and predicted CLV, P(alive)."""
    seg = pd.Series(cust["segment"].to_numpy(dtype=object), index=cust["customer"].to_numpy(dtype=object))
    seg = seg[seg.index.notna()].groupby(level=0).first()
    if "table" not in clv:
        frame = pd.DataFrame({"customer_id": seg.index.to_numpy(dtype=object), "segment": seg.to_numpy()})
        if "historical_by_customer" in clv:
            hist = clv["historical_by_customer"]["clv"]
            frame["historical_clv"] = hist.reindex(frame["customer_id"]).to_numpy()
        return frame
    pred = clv["table"]
    ids = pred.index.astype(str).to_numpy(dtype=object)
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "segment": seg.reindex(ids).to_numpy(),
            "predicted_clv": pred["clv"].to_numpy(),
            "p_alive": pred["probability_alive"].to_numpy(),
        }
    )
    if "historical_by_customer" in clv:
        hist = clv["historical_by_customer"]["clv"]
        hist.index = hist.index.astype(str)
        frame["historical_clv"] = hist.reindex(ids).to_numpy()
    return frame


def _advocates(
    r_in: pd.DataFrame, cust: pd.DataFrame, orders: pd.DataFrame, value: pd.DataFrame, st: Settings
) -> pd.DataFrame | None:
    answered = r_in[pd.notna(r_in["customer"]) & ~np.isnan(r_in["nps"].to_numpy())]
    if answered.empty:
        return None
    # One row per customer: their latest answer in the period (rows are kept in date order).
    latest = answered.sort_values("date", kind="stable").drop_duplicates("customer", keep="last")
    ok = pd.notna(orders["customer"]) & ~np.isnan(orders["amount"].to_numpy())
    refs = m.referral_summary(
        cust["customer"].to_numpy(dtype=object),
        cust["referred_by"].to_numpy(dtype=object),
        orders.loc[ok, "customer"].to_numpy(dtype=object),
        orders.loc[ok, "amount"].to_numpy(),
    )
    ids = m.id_keys(latest["customer"].to_numpy(dtype=object))
    parts = refs.reindex(ids).fillna(0.0)
    kw: dict[str, Any] = {
        "referrals_made": parts["referrals_made"].to_numpy(),
        "referrals_converted": parts["referrals_converted"].to_numpy(),
        "referral_revenue": parts["referral_revenue"].to_numpy(),
    }
    if "predicted_clv" in value.columns:
        clv = pd.Series(value["predicted_clv"].to_numpy(), index=value["customer_id"].to_numpy(dtype=object))
        kw["clv"] = clv.reindex(ids).fillna(0.0).to_numpy()
    return m.advocates(ids, latest["nps"].to_numpy(), promoter_min=st.nps_promoter_min, **kw)


def theme_chart(actions: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Rows of the top-themes chart: (theme, share of detractor comments, share of promoter comments)."""
    themes = actions.get("themes")
    rows: list[tuple[str, Any, Any]] = []
    if themes is not None and not themes.empty:
        for group, col in (("detractor", 1), ("promoter", 2)):
            top = themes[themes["group"] == group].head(CHART_THEMES)
            for theme, share in zip(top["theme"], top["share_comments"], strict=True):
                rows.append((theme, share, None) if col == 1 else (theme, None, share))
    return rows


# --- the static part of each tab ----------------------------------------------------------------


def build_action_sheets(sheets: dict[str, Any], lab: dict[str, Any], style: dict[str, Any]) -> None:
    """Titles, notes and header rows of the four tabs (``style``: fonts and the header writer of build)."""
    t, k = lab["text"], lab["kpi"]
    title, note, h2, header, widths = (style[x] for x in ("title", "note", "h2", "header", "widths"))

    ws = sheets["comments"]
    ws["A1"], ws["A2"] = t["comments_title"], t["comments_note"]
    ws["A1"].font, ws["A2"].font = title, note
    names = (
        "th_group",
        "th_theme",
        "th_count",
        "th_comments",
        "th_share",
        "th_g2",
        "th_p",
        "th_example",
        "th_example2",
    )
    header(ws, _THEME_HEAD, 1, [t[n] for n in names])
    ws.cell(row=_SENT_TITLE, column=1, value=t["sentiment_title"]).font = h2
    header(
        ws,
        _SENT_TITLE + 1,
        1,
        [t["th_group"]]
        + [
            t[n]
            for n in (
                "sn_scored",
                "sn_not_scored",
                "sn_positive",
                "sn_neutral",
                "sn_negative",
                "sn_pos_low",
                "sn_pos_high",
            )
        ],
    )
    ws.cell(row=_BY_TITLE, column=1, value=t["by_title"].format(n=THEMES_BY_TOP)).font = h2
    ws.cell(row=_BY_TITLE + 1, column=1, value=t["by_note"]).font = note
    header(
        ws,
        _BY_HEAD,
        1,
        [t["th_by"], t["th_by_label"], t["th_group"], t["th_theme"], t["th_share"], t["th_count"], t["th_g2"]]
        + [t["th_example"]],
    )
    widths(ws, {"A": 14, "B": 22, "C": 12, "D": 20, "E": 16, "F": 11, "G": 10, "H": 50, "I": 50})

    ws = sheets["followup"]
    ws["A1"], ws["A2"] = t["followup_title"], t["followup_note"]
    ws["A1"].font, ws["A2"].font = title, note
    ws.cell(row=_RISK_HEAD - 1, column=1, value=t["risk_title"]).font = h2
    header(
        ws,
        _RISK_HEAD,
        1,
        [
            k["segment"],
            k["customers"],
            k["pred_clv"],
            k["risk_detractors"],
            k["risk_lapsing"],
            k["risk_total"],
            k["risk_customers"],
            k["risk_share"],
        ],
    )
    ws.cell(row=_RISK_HEAD - 1, column=_FB_COL, value=t["fb_title"]).font = h2
    ws.cell(row=_RISK_HEAD, column=_FB_COL, value=t["fb_note"]).font = note
    ws.cell(row=_LIST_TITLE, column=1, value=t["list_title"]).font = h2
    header(
        ws,
        _LIST_HEAD,
        1,
        [
            k[c]
            for c in (
                "rank",
                "customer",
                "reason",
                "score_nps",
                "score_csat",
                "comment",
                "answered_on",
                "segment",
                "hist_clv",
                "pred_clv",
                "p_alive",
                "value_at_risk",
                "open_tickets",
                "last_contact",
            )
        ],
    )
    widths(
        ws,
        {
            "A": 16,
            "B": 12,
            "C": 18,
            "D": 12,
            "E": 12,
            "F": 44,
            "G": 12,
            "H": 12,
            "I": 13,
            "J": 13,
            "K": 9,
            "L": 13,
            "M": 9,
            "N": 12,
        },
    )
    ws.freeze_panes = f"A{_LIST_HEAD + 1}"

    ws = sheets["advocates"]
    ws["A1"], ws["A2"] = t["advocates_title"], t["advocates_note"]
    ws["A1"].font, ws["A2"].font = title, note
    header(
        ws,
        _ADV_HEAD,
        1,
        [
            k[c]
            for c in (
                "rank",
                "customer",
                "score_nps",
                "referrals_made",
                "referrals_converted",
                "referral_revenue",
                "pred_clv",
                "advocacy_score",
            )
        ],
    )
    widths(ws, {"A": 8, "B": 12, "C": 10, "D": 12, "E": 12, "F": 14, "G": 14, "H": 12})

    ws = sheets["drivers"]
    ws["A1"], ws["A2"] = t["drivers_title"], t["drivers_note"]
    ws["A1"].font, ws["A2"].font = title, note
    header(
        ws,
        _DRV_HEAD,
        1,
        [
            k[c]
            for c in (
                "attribute",
                "importance",
                "imp_low",
                "imp_high",
                "r2_share",
                "performance",
                "quadrant",
                "rank",
            )
        ],
    )
    ws.cell(row=_PLAN_TITLE, column=1, value=t["plan_title"]).font = h2
    # The note names the targets in use: written by refresh from the settings (see _place_drivers).
    ws.cell(row=_PLAN_TITLE + 1, column=1).font = note
    ws.cell(row=_PLAN_HEAD + SLOTS + 4, column=1).font = note
    header(
        ws, _PLAN_HEAD, 1, [k["segment"], k["nps_n"], k["nps"], k["margin_now"], k["needed"], k["additional"]]
    )
    widths(ws, {"A": 18, "B": 12, "C": 10, "D": 10, "E": 12, "F": 13, "G": 22, "H": 8})
    # Wrapped two-line headers get the height to show both lines (Excel and LibreOffice keep 15 points).
    for key, row in (("comments", _THEME_HEAD), ("comments", _SENT_TITLE + 1), ("comments", _BY_HEAD),
                     ("followup", _RISK_HEAD), ("followup", _LIST_HEAD), ("advocates", _ADV_HEAD),
                     ("drivers", _DRV_HEAD), ("drivers", _PLAN_HEAD)):  # fmt: skip
        sheets[key].row_dimensions[row].height = 30
    # Three lines: "At risk: P(alive) < 50%", the German "Anteil der Kommentare der Gruppe".
    for key, row in (("followup", _RISK_HEAD), ("comments", _THEME_HEAD), ("comments", _BY_HEAD)):
        sheets[key].row_dimensions[row].height = 45


# --- the dynamic cells --------------------------------------------------------------------------


def _plain(v: Any) -> Any:
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, (pd.Timestamp, np.datetime64)):
        return None if pd.isna(v) else pd.Timestamp(v).to_pydatetime()
    if isinstance(v, (float, np.floating)) and not np.isfinite(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def _table(
    frame: pd.DataFrame | None, cols: tuple[str, ...], words: dict[str, str] | None = None
) -> list[list]:
    if frame is None or frame.empty:
        return []
    words = words or {}
    return [
        [_plain(words.get(v, v) if isinstance(v, str) else v) for v in row]
        for row in frame[list(cols)].itertuples(index=False)
    ]


def place_actions(sink: Sink, ctx: Context, actions: dict[str, Any], formats: dict[str, str]) -> None:
    """Write the dynamic cells of the four tabs (each area cleared first: a shorter list leaves no rows
    of the previous refresh behind)."""
    f = formats
    present = ctx.sheet_names
    if "comments" in present:
        _place_comments(sink, ctx, actions, f)
    if "followup" in present:
        _place_followup(sink, ctx, actions, f)
    if "advocates" in present:
        _place_advocates(sink, actions, f)
    if "drivers" in present:
        _place_drivers(sink, ctx, actions, f)
    _place_theme_chart(sink, actions, f)


def _place_comments(sink: Sink, ctx: Context, actions: dict[str, Any], f: dict[str, str]) -> None:
    t = ctx.lab["text"]
    group_names = {g: t[f"group_{g}"] for g in (*_GROUPS, "all")}
    rows = _table(actions.get("themes"), _THEME_COLS, group_names)
    sink.clear("comments", _THEME_HEAD + 1, len(_THEME_COLS), _THEME_HEAD + 3 * THEMES_TOP)
    sink.rows(
        "comments",
        _THEME_HEAD + 1,
        1,
        rows,
        [None, None, f["count"], f["count"], f["share"], "0.0", "0.0000" + _GAP, None, None],
    )
    sent = actions.get("sentiment")
    body = []
    if sent is not None:
        for g in (*_GROUPS, "all"):
            r = sent.loc[g]
            body.append(
                [group_names[g]]
                + [
                    _plain(r.get(c))
                    for c in (
                        "n_scored",
                        "not_scored",
                        "share_positive",
                        "share_neutral",
                        "share_negative",
                        "positive_ci_low",
                        "positive_ci_high",
                    )
                ]
            )
    sink.clear("comments", _SENT_TITLE + 2, 8, _SENT_TITLE + 5)
    sink.rows("comments", _SENT_TITLE + 2, 1, body, [None, f["count"], f["count"]] + [f["share"]] * 5)
    by = actions.get("themes_by")
    rows = []
    if by is not None:
        words = {"segment": t["th_segment"], "month": t["th_month"], **group_names}
        rows = [[words[b], *r] for b, r in zip(by["by"], _table(by, _BY_COLS, group_names), strict=True)]
    sink.clear("comments", _BY_HEAD + 1, len(_BY_COLS) + 1, _BY_HEAD + _BY_ROWS)
    fmts = [None, None, None, None, f["share"], f["count"], "0.0" + _GAP, None]
    sink.rows("comments", _BY_HEAD + 1, 1, rows, fmts)


def _place_followup(sink: Sink, ctx: Context, actions: dict[str, Any], f: dict[str, str]) -> None:
    t, words, date = ctx.lab["text"], ctx.lab["engine_words"], f["date"]
    risk = actions.get("risk")
    body = []
    if risk is not None:
        shown = list(risk.index[:-1][:SLOTS]) + ["Total"]
        for seg in shown:
            label = t["total"] if seg == "Total" else seg
            body.append(
                [label, int(risk.loc[seg, "customers"])] + [_plain(risk.loc[seg, c]) for c in _RISK_COLS]
            )
    sink.clear("followup", _RISK_HEAD + 1, 8, _RISK_HEAD + 1 + SLOTS)
    sink.rows(
        "followup",
        _RISK_HEAD + 1,
        1,
        body,
        [None, f["count"]] + [f["currency"]] * 4 + [f["count"], f["share"]],
    )
    _place_feedback(sink, ctx, actions.get("feedback"), f)
    flagged = actions["followup"]
    unmatched = flagged.attrs.get("unmatched", [])
    line = (
        t["not_joined"].format(
            n=len(unmatched),
            ids=", ".join(map(str, unmatched[:10])) + (" ..." if len(unmatched) > 10 else ""),
        )
        if unmatched
        else t["all_joined"]
    )
    sink.value("followup", _LIST_TITLE + 1, 1, line)
    sink.clear("followup", _LIST_HEAD + 1, len(_LIST_COLS))
    sink.rows(
        "followup",
        _LIST_HEAD + 1,
        1,
        _table(flagged.head(FOLLOWUP_ROWS), _LIST_COLS, words),
        [
            "0" + _GAP,
            None,
            None,
            "0",
            "0" + _GAP,
            None,
            date + _GAP,
            None,
            f["currency"],
            f["currency"],
            "0.00",
            f["currency"],
            "0",
            date,
        ],
    )


def _place_feedback(sink: Sink, ctx: Context, fb: dict[str, Any] | None, f: dict[str, str]) -> None:
    t = ctx.lab["text"]
    first = _RISK_HEAD + 1
    missing = "answered" not in ctx.headers["responses"]
    if missing:
        # A Responses table without the column (built before it): no answers is unknown, not 0%.
        fb = None
    for i, (label, key, unit) in enumerate(_FB_ROWS):
        row = first + i
        sink.value("followup", row, _FB_COL, t[label])
        value = None if fb is None else _plain(fb[key])
        sink.value("followup", row, _FB_VALUE_COL, value, f.get(unit, unit))
    if missing:
        line = t["fb_no_column"].format(col=ctx.lab["col"]["responses"]["answered"])
    elif fb is None:
        line = t["fb_none"]
    else:
        line = None
    sink.value("followup", first + len(_FB_ROWS), _FB_COL, line)


def _place_advocates(sink: Sink, actions: dict[str, Any], f: dict[str, str]) -> None:
    sink.clear("advocates", _ADV_HEAD + 1, len(_ADV_COLS))
    adv = actions.get("advocates")
    if adv is not None and "clv" not in adv.columns:
        adv = adv.assign(clv=np.nan)
    sink.rows(
        "advocates",
        _ADV_HEAD + 1,
        1,
        _table(None if adv is None else adv.head(ADVOCATE_ROWS), _ADV_COLS),
        ["0" + _GAP, None, "0", "0", "0", f["currency"], f["currency"], "0.0"],
    )


def _place_drivers(sink: Sink, ctx: Context, actions: dict[str, Any], f: dict[str, str]) -> None:
    t, words = ctx.lab["text"], ctx.lab["engine_words"]
    drv = actions.get("drivers")
    sink.clear("drivers", _DRV_HEAD + 1, 8, _DRV_HEAD + m.MAX_DRIVERS)
    if drv is None:
        sink.value("drivers", 3, 1, t["drivers_none"])
    else:
        sink.value("drivers", 3, 1, t["drivers_r2"].format(r2=drv.attrs["r2"], n=drv.attrs["n"]))
        names = ctx.headers["responses"]
        body = [
            [names.get(a, a)] + row for a, row in zip(drv.index, _table(drv, _DRV_COLS, words), strict=True)
        ]
        sink.rows(
            "drivers",
            _DRV_HEAD + 1,
            1,
            body,
            [None, f["share"], f["share"], f["share"], "0.000", "0.00", None, "0"],
        )
    plan = actions.get("plan")
    sink.clear("drivers", _PLAN_HEAD + 1, 6, _PLAN_HEAD + SLOTS + 3)
    body = []
    if plan is not None:
        shown = list(plan.index[:-1][:SLOTS]) + ["Total"]
        body = [
            [t["total"] if s == "Total" else s] + [_plain(plan.loc[s, c]) for c in _PLAN_COLS] for s in shown
        ]
    sink.rows("drivers", _PLAN_HEAD + 1, 1, body, [None, f["count"], "0.0", "0.0", f["count"], f["count"]])
    change = actions.get("plan_change")
    targets = actions["plan_targets"]
    settings = ctx.lab["setting"]
    sink.value("drivers", _PLAN_TITLE + 1, 1, t["plan_note"].format(**targets))
    sink.value(
        "drivers",
        _PLAN_HEAD + SLOTS + 4,
        1,
        t["plan_inputs"].format(
            a=settings["plan_margin"][0], b=settings["plan_change"][0], s=ctx.lab["sheet"]["settings"]
        ),
    )
    sink.value("drivers", _PLAN_HEAD + SLOTS + 3, 1, t["plan_change"].format(**targets))
    sink.value("drivers", _PLAN_HEAD + SLOTS + 3, 5, change, f["count"])


def _place_theme_chart(sink: Sink, actions: dict[str, Any], f: dict[str, str]) -> None:
    chart = theme_chart(actions)
    chart += [(None, None, None)] * (2 * CHART_THEMES - len(chart))
    sink.rows("chartdata", CHART_THEMES_ROW + 1, 1, [list(r) for r in chart], [None, f["share"], f["share"]])
    n = sum(1 for r in chart if r[0] is not None)
    sink.hide_rows("chartdata", CHART_THEMES_ROW + 1, CHART_THEMES_ROW + 2 * CHART_THEMES, False)
    if n < 2 * CHART_THEMES:
        sink.hide_rows("chartdata", CHART_THEMES_ROW + 1 + n, CHART_THEMES_ROW + 2 * CHART_THEMES, True)
