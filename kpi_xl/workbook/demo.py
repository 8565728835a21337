"""Seeded, realistic demo data for the template's data tabs (a few thousand rows).

The data are invented but behave like a real subscription business from January 2024 to
December 2025: four segments with different loyalty (SMB has a negative NPS, so the dashboard
shows a bar below zero), churn that differs by segment, repeat orders from a heterogeneous
purchase process (so the BG/NBD model has something to fit), tickets with skewed response times
and some still open, and weekly social posts. Three cells are deliberately invalid (an NPS of
11, a CSAT of "n/a", an amount typed as text "12,50") so a first refresh shows how bad rows are
reported.

Everything comes from one ``numpy.random.Generator`` seeded with :data:`DEMO_SEED`: the same call
gives the same rows, so the generated template is reproducible.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .layout import DEMO_PERIOD

__all__ = ["DEMO_SEED", "demo_tables"]

DEMO_SEED = 20251231
_START = np.datetime64("2024-01-01")
_END = np.datetime64(DEMO_PERIOD[1])
_DAYS = int((_END - _START).astype(int)) + 1

# segment: share of customers, monthly churn hazard, orders per month, mean order value,
# NPS answer probabilities for detractor (0-6), passive (7-8), promoter (9-10)
_SEGMENTS = {
    "Enterprise": (0.12, 0.008, 0.45, 820.0, (0.14, 0.30, 0.56)),
    "Mid-market": (0.26, 0.015, 0.32, 360.0, (0.22, 0.33, 0.45)),
    "SMB": (0.37, 0.035, 0.22, 140.0, (0.42, 0.33, 0.25)),
    "Consumer": (0.25, 0.028, 0.18, 65.0, (0.28, 0.34, 0.38)),
}
_REGIONS = (("DACH", 0.34), ("Nordics", 0.14), ("UK & Ireland", 0.2), ("Benelux", 0.12), ("US", 0.2))
_CHANNELS = (("Web", 0.42), ("Sales", 0.24), ("Partner", 0.18), ("App", 0.16))
_SOCIAL = (("LinkedIn", 5200, 0.021), ("Instagram", 9800, 0.034), ("Newsletter", 7400, 0.012))

# Open comments by language and NPS group (detractor, passive, promoter). Detractors write about slow
# delivery, unanswered support, wrong invoices and a confusing app; promoters about friendly support,
# quality and value: so the themes tab has real differences to find, in each of the three languages.
_COMMENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        (
            "Delivery took too long and nobody told us why.",
            "Support never answered my emails.",
            "The invoice was wrong twice this year.",
            "The new app is confusing and keeps crashing.",
            "Too expensive for what we get.",
            "Slow delivery again, third time this quarter.",
            "Waited a week for support to call back.",
            "Wrong invoice again, very frustrating.",
        ),
        (
            "Good product, but delivery could be faster.",
            "It works. The price is a bit high.",
            "Support is friendly but slow.",
            "Okay overall, nothing special.",
            "The app is fine once you get used to it.",
        ),
        (
            "Quick and friendly support, as always.",
            "Great quality and good value for money.",
            "Would recommend to colleagues.",
            "Fast delivery and friendly support.",
            "Great product, easy to use.",
            "Excellent service, the team really cares.",
        ),
    ),
    "de": (
        (
            "Die Lieferung dauerte viel zu lange.",
            "Der Support hat nie auf meine E-Mails geantwortet.",
            "Die Rechnung war zweimal falsch.",
            "Die neue App ist verwirrend und stürzt ständig ab.",
            "Zu teuer für die Leistung.",
            "Wieder eine langsame Lieferung.",
            "Eine Woche auf den Rückruf vom Support gewartet.",
        ),
        (
            "Gutes Produkt, aber die Lieferung könnte schneller sein.",
            "Funktioniert. Der Preis ist etwas hoch.",
            "Der Support ist freundlich, aber langsam.",
            "Insgesamt in Ordnung.",
        ),
        (
            "Schneller, freundlicher Support.",
            "Sehr gutes Preis-Leistungs-Verhältnis.",
            "Würde ich Kollegen empfehlen.",
            "Schnelle Lieferung und freundlicher Support.",
            "Tolle Qualität, einfach zu bedienen.",
        ),
    ),
    "zh-Hant": (
        (
            "出貨太慢了，等了兩個星期。",
            "客服一直沒有回覆我的郵件。",
            "發票開錯兩次。",
            "新版 App 很難用，常常當機。",
            "價格太貴了。",
            "又是出貨太慢。",
        ),
        (
            "產品不錯，但出貨可以再快一點。",
            "還可以，價格有點高。",
            "客服很親切但是回覆很慢。",
        ),
        (
            "客服快速又親切。",
            "品質很好，物超所值。",
            "會推薦給同事。",
            "出貨很快，客服很親切。",
            "產品很好用。",
        ),
    ),
}
#: Share of comments written in the workbook's language; the rest are split over the other two
#: (an international customer base answers in its own language).
_OWN_LANGUAGE = 0.7


def _day(offsets: np.ndarray) -> np.ndarray:
    return (_START + offsets.astype("timedelta64[D]")).astype("datetime64[ns]")


def _pick(rng: np.random.Generator, options: tuple[tuple[str, float], ...], n: int) -> np.ndarray:
    names = np.array([o[0] for o in options], dtype=object)
    p = np.array([o[1] for o in options])
    return names[rng.choice(len(names), size=n, p=p / p.sum())]


def demo_tables(
    *, yes: str = "yes", no: str = "no", lang: str = "en", seed: int = DEMO_SEED
) -> dict[str, pd.DataFrame]:
    """The five demo tables, keyed by table key, with columns named by column key.

    ``yes``/``no`` are the workbook's flag words (they differ by language); ``lang`` picks the
    language of the free-text comments. Dates are ``datetime64`` (tickets carry times of day).
    """
    rng = np.random.default_rng(seed)
    seg_names = np.array(list(_SEGMENTS), dtype=object)
    seg_p = np.array([v[0] for v in _SEGMENTS.values()])

    # Customers: 200 already active when the data start, then steady growth.
    n_old, n_new = 200, 1000
    n_cust = n_old + n_new
    seg = seg_names[rng.choice(len(seg_names), size=n_cust, p=seg_p)]
    signup_off = np.concatenate(
        [-rng.integers(30, 700, size=n_old), np.sort(rng.integers(0, _DAYS - 10, size=n_new))]
    )
    hazard = np.array([_SEGMENTS[s][1] for s in seg])
    life_days = rng.exponential(30.4375 / hazard)
    churn_off = signup_off + np.ceil(life_days).astype(int)
    churned = churn_off < _DAYS
    ids = np.array([f"C{i:05d}" for i in range(1, n_cust + 1)], dtype=object)
    referrer = np.where(rng.random(n_cust) < 0.15, ids[rng.integers(0, n_cust, size=n_cust)], None)
    referrer = np.where(referrer == ids, None, referrer)
    customers = pd.DataFrame(
        {
            "customer": ids,
            "segment": seg,
            "region": _pick(rng, _REGIONS, n_cust),
            "channel": _pick(rng, _CHANNELS, n_cust),
            "signup": _day(signup_off),
            "churn": np.where(churned, _day(np.minimum(churn_off, _DAYS - 1)), np.datetime64("NaT")),
            "referred_by": referrer,
        }
    )
    customers["churn"] = pd.to_datetime(customers["churn"])

    # Orders: each customer buys at a gamma-distributed rate while active (inside the data window).
    active_from = np.maximum(signup_off, 0)
    active_to = np.where(churned, churn_off, _DAYS)
    active_days = np.maximum(active_to - active_from, 0)
    rate = np.array([_SEGMENTS[s][2] for s in seg]) * rng.gamma(2.0, 0.5, size=n_cust)
    n_orders = rng.poisson(rate * active_days / 30.4375)
    # New customers place their first order at signup, as in a shop where signing up is buying.
    first = (signup_off >= 0) & (active_days > 0)
    n_orders = n_orders + first
    owner = np.repeat(np.arange(n_cust), n_orders)
    offset = active_from[owner] + (rng.random(owner.size) * active_days[owner]).astype(int)
    is_first = np.zeros(owner.size, dtype=bool)
    starts = np.concatenate([[0], np.cumsum(n_orders)[:-1]])
    is_first[starts[first]] = True
    offset = np.where(is_first, active_from[owner], offset)
    mean_value = np.array([_SEGMENTS[s][3] for s in seg])[owner] * rng.gamma(4.0, 0.25, size=n_cust)[owner]
    amount = np.round(rng.gamma(3.0, mean_value / 3.0), 2)
    order_rows = np.argsort(offset, kind="stable")
    orders = pd.DataFrame(
        {
            "order": [f"O{i:06d}" for i in range(1, owner.size + 1)],
            "customer": ids[owner[order_rows]],
            "date": _day(offset[order_rows]),
            "amount": amount[order_rows].astype(object),
            "refunded": np.where(rng.random(owner.size) < 0.045, yes, no),
        }
    )

    # Responses: about 1,500 survey answers from active customers, slowly improving over time.
    n_resp = 1500
    who = rng.integers(0, n_cust, size=n_resp * 4)
    when = rng.integers(0, _DAYS, size=n_resp * 4)
    ok = (when >= signup_off[who]) & (when < active_to[who])
    who, when = who[ok][:n_resp], when[ok][:n_resp]
    n_resp = who.size
    order_r = np.argsort(when, kind="stable")
    who, when = who[order_r], when[order_r]
    probs = np.array([_SEGMENTS[s][4] for s in seg[who]])
    shift = 0.08 * (when / _DAYS)[:, None] * np.array([-1.0, 0.0, 1.0])
    probs = np.clip(probs + shift, 0.01, None)
    probs /= probs.sum(axis=1, keepdims=True)
    group = (rng.random(n_resp)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    nps_score = np.select(
        [group == 0, group == 1],
        [rng.integers(0, 7, size=n_resp), rng.integers(7, 9, size=n_resp)],
        rng.integers(9, 11, size=n_resp),
    )
    csat = np.clip(np.round(1 + nps_score * 0.4 + rng.normal(0, 0.7, size=n_resp)), 1, 5)
    ces = np.clip(np.round(1.5 + nps_score * 0.5 + rng.normal(0, 1.0, size=n_resp)), 1, 7)
    csat_col = np.where(rng.random(n_resp) < 0.05, None, csat.astype(int)).astype(object)
    ces_col = np.where(rng.random(n_resp) < 0.12, None, ces.astype(int)).astype(object)
    has_comment = rng.random(n_resp) < 0.3
    # Drawn (and not used) so every table after this one keeps the rows of the seeded stream.
    rng.integers(0, 6, size=n_resp)
    # Comment texts and attribute ratings come from their own stream for the same reason.
    aux = np.random.default_rng([seed, 12])
    comment = _comments(aux, nps_score, has_comment, lang)
    ratings = _ratings(aux, nps_score)
    answered = _answered(aux, nps_score, comment, _day(when))
    responses = pd.DataFrame(
        {
            "date": _day(when),
            "customer": ids[who],
            "segment": seg[who],
            "nps": nps_score.astype(object),
            "csat": csat_col,
            "ces": ces_col,
            "comment": comment,
            **ratings,
            "answered": answered,
        }
    )

    # Tickets: created at a time of day; first reply after a skewed wait; some still open at the end.
    n_tix = 900
    t_who = rng.integers(0, n_cust, size=n_tix * 4)
    t_when = rng.random(n_tix * 4) * _DAYS
    ok = (t_when >= np.maximum(signup_off[t_who], 0)) & (t_when < active_to[t_who])
    t_who, t_when = t_who[ok][:n_tix], t_when[ok][:n_tix]
    sort_t = np.argsort(t_when, kind="stable")
    t_who, t_when = t_who[sort_t], t_when[sort_t]
    n_tix = t_who.size
    hour_ns = np.timedelta64(3_600_000_000_000, "ns")
    created = _START.astype("datetime64[ns]") + np.round(t_when * 24 * 4) / 4 * hour_ns
    wait_h = np.round(rng.lognormal(np.log(5.0), 1.1, size=n_tix), 2)
    fix_h = np.round(wait_h + rng.lognormal(np.log(20.0), 0.9, size=n_tix), 2)
    end = _END.astype("datetime64[ns]") + 24 * hour_ns
    first_reply = created + (wait_h * 3600).astype("int64").astype("timedelta64[s]")
    resolved = created + (fix_h * 3600).astype("int64").astype("timedelta64[s]")
    first_reply = np.where(
        (first_reply >= end) | (rng.random(n_tix) < 0.01), np.datetime64("NaT"), first_reply
    )
    resolved = np.where(
        np.isnat(first_reply) | (resolved >= end) | (rng.random(n_tix) < 0.03), np.datetime64("NaT"), resolved
    )
    tickets = pd.DataFrame(
        {
            "ticket": [f"T{i:05d}" for i in range(1, n_tix + 1)],
            "customer": ids[t_who],
            "created": pd.to_datetime(created).floor("min"),
            "first_response": pd.to_datetime(first_reply).floor("min"),
            "resolved": pd.to_datetime(resolved).floor("min"),
            "complaint": np.where(rng.random(n_tix) < 0.14, yes, no),
        }
    )

    # Engagement: one row per channel and week.
    weeks = np.arange(0, _DAYS, 7)
    rows = []
    for name, followers0, er in _SOCIAL:
        followers = np.round(followers0 * (1 + 0.004) ** np.arange(weeks.size)).astype(int)
        reach = np.round(followers * rng.uniform(0.25, 0.6, size=weeks.size)).astype(int)
        eng = rng.poisson(reach * er)
        likes = np.round(eng * 0.75).astype(int)
        comments_n = np.round(eng * 0.1).astype(int)
        rows.append(
            pd.DataFrame(
                {
                    "date": _day(weeks),
                    "channel": name,
                    "reach": reach,
                    "followers": followers,
                    "likes": likes,
                    "comments": comments_n,
                    "shares": eng - likes - comments_n,
                }
            )
        )
    engagement = pd.concat(rows).sort_values(["date", "channel"], kind="stable").reset_index(drop=True)

    _plant_invalid(responses, orders)
    return {
        "responses": responses,
        "customers": customers,
        "orders": orders,
        "tickets": tickets,
        "engagement": engagement,
    }


def _comments(aux: np.random.Generator, scores: np.ndarray, has: np.ndarray, lang: str) -> np.ndarray:
    """A comment per answer where ``has``: the group's texts, mostly in the workbook's language."""
    own = lang if lang in _COMMENTS else "en"
    others = [k for k in _COMMENTS if k != own]
    group = np.select([scores <= 6, scores <= 8], [0, 1], 2)
    which = aux.random(scores.size)
    langs = np.where(
        which < _OWN_LANGUAGE, own, np.where(which < (1 + _OWN_LANGUAGE) / 2, others[0], others[1])
    )
    pick = aux.random(scores.size)
    out = np.full(scores.size, None, dtype=object)
    for i in np.flatnonzero(has):
        texts = _COMMENTS[str(langs[i])][int(group[i])]
        out[i] = texts[int(pick[i] * len(texts))]
    return out


def _ratings(aux: np.random.Generator, scores: np.ndarray) -> dict[str, np.ndarray]:
    """Attribute ratings 1-5 that move with the score: support most, product less, price least (so a
    driver analysis has an order to find); about 8% of each left blank."""
    out = {}
    for key, base, slope, noise in (
        ("price", 2.6, 0.12, 1.0),
        ("support", 0.6, 0.36, 0.75),
        ("product", 1.7, 0.26, 0.85),
    ):
        r = np.clip(np.round(base + slope * scores + aux.normal(0, noise, scores.size)), 1, 5).astype(int)
        out[key] = np.where(aux.random(scores.size) < 0.08, None, r).astype(object)
    return out


def _answered(
    aux: np.random.Generator, scores: np.ndarray, comment: np.ndarray, day: np.ndarray
) -> np.ndarray:
    """When the team answered each comment: detractors most often (85%), passives and promoters less
    (55%, 60%); after a skewed wait (median about a day and a half) at a time of the working day.
    An answer not given by the end of the data is blank (still open)."""
    p = np.select([scores <= 6, scores <= 8], [0.85, 0.55], 0.60)
    yes = pd.notna(comment) & (aux.random(scores.size) < p)
    wait_days = np.floor(aux.lognormal(np.log(1.5), 0.9, scores.size))
    minutes = aux.integers(8 * 60, 18 * 60, scores.size)
    when = day + (wait_days * 1440 + minutes).astype("int64").astype("timedelta64[m]")
    end = _END.astype("datetime64[ns]") + np.timedelta64(1, "D")
    return pd.to_datetime(np.where(yes & (when < end), when, np.datetime64("NaT"))).floor("min")


def _plant_invalid(responses: pd.DataFrame, orders: pd.DataFrame) -> None:
    """Three bad cells inside the demo reporting period, the kind real exports contain."""
    in_period = np.flatnonzero(responses["date"].to_numpy() >= np.datetime64(DEMO_PERIOD[0]))
    responses.loc[in_period[5], "nps"] = 11
    responses.loc[in_period[17], "csat"] = "n/a"
    o_in = np.flatnonzero(orders["date"].to_numpy() >= np.datetime64(dt.date(2025, 11, 1)))
    orders.loc[o_in[3], "amount"] = "12,50"
