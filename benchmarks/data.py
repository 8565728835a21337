"""Generated data for the benchmark suite: seeded, so every run measures the same rows.

* :func:`report_workbook`: the template with its data tabs filled (responses, customers, orders,
  tickets) at a given size, written the way Excel saves a pasted export: numbers and dates as
  cells with the template's formats, text as shared strings.
* :func:`survey_sheet`: a plain sheet of survey answers with a per-segment COUNTIFS/AVERAGEIFS
  block, the workbook a user would build instead of kpi-xl.
* :func:`clv_customers`: per-customer (frequency, recency, T, monetary value) drawn from the BG/NBD
  and Gamma-Gamma processes with the published CDNOW parameters, in whole weeks.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np

from kpi_xl.workbook import build_template
from kpi_xl.workbook.labels import labels
from kpi_xl.workbook.layout import TABLES
from kpi_xl.workbook.package import Package, table_with_ref, write_copy

SEGMENTS = ("Enterprise", "Mid-market", "SMB", "Consumer", "Public sector", "Education", "Partner", "Retail")
_REGIONS = ("DACH", "Nordics", "UK & Ireland", "Benelux", "US")
_CHANNELS = ("Web", "Sales", "Partner", "App")
_COMMENTS = ("Quick and friendly support.", "Delivery took too long.", "Great value for money.", "")
_EPOCH = np.datetime64("1899-12-30")
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_START = np.datetime64("2024-01-01")
_DAYS = 731  # 2024-01-01 .. 2025-12-31, the demo data's span (the template's period is Q4 2025)


def _serial(days: np.ndarray) -> np.ndarray:
    """Excel serial numbers of day offsets from 2024-01-01 (fractions are times of day)."""
    return (_START - _EPOCH).astype(int) + days


def report_tables(
    responses: int, customers: int, orders: int, tickets: int, seed: int = 2026
) -> dict[str, dict[str, np.ndarray]]:
    """Columns of each data table: floats are numbers or Excel serials (NaN blank), objects are text
    (None blank)."""
    rng = np.random.default_rng(seed)
    ids = np.char.add("C", np.char.zfill(np.arange(1, customers + 1).astype(str), 7)).astype(object)
    seg_p = np.array([0.2, 0.2, 0.25, 0.15, 0.05, 0.05, 0.05, 0.05])
    seg_of = rng.choice(len(SEGMENTS), customers, p=seg_p)
    segments = np.array(SEGMENTS, dtype=object)
    signup = rng.integers(0, _DAYS - 30, customers).astype(float)
    churned = rng.random(customers) < 0.25
    churn = np.where(churned, signup + rng.integers(1, 400, customers), np.nan)
    churn[churn >= _DAYS] = np.nan
    cust = {
        "customer": ids,
        "segment": segments[seg_of],
        "region": np.array(_REGIONS, dtype=object)[rng.integers(0, len(_REGIONS), customers)],
        "channel": np.array(_CHANNELS, dtype=object)[rng.integers(0, len(_CHANNELS), customers)],
        "signup": _serial(signup),
        "churn": _serial(churn),
        "referred_by": np.where(
            rng.random(customers) < 0.1, ids[rng.integers(0, customers, customers)], None
        ),
    }
    # Orders: a first order at signup, then repeat orders from the BG/NBD process (gamma-distributed
    # weekly rates, beta-distributed drop-out after each order), so the CLV model has a fit to make.
    weeks = (_DAYS - signup) / 7.0
    arrivals = rng.poisson(rng.gamma(0.9, 1 / 3.0, customers) * weeks)
    repeats = np.minimum(arrivals, rng.geometric(rng.beta(0.8, 5.0, customers)) - 1)
    # The first `repeats` of each customer's uniformly spread arrival times: buying stops at drop-out.
    owner = np.repeat(np.arange(customers), arrivals)
    when = signup[owner] + np.floor(rng.random(owner.size) * (_DAYS - signup[owner]))
    by_time = np.lexsort((when, owner))
    owner, when = owner[by_time], when[by_time]
    rank = np.arange(owner.size) - np.repeat(np.cumsum(arrivals) - arrivals, arrivals)
    keep = rank < repeats[owner]
    owner, when = owner[keep], when[keep]
    # Exactly `orders` rows: drop surplus repeat orders at random, or add one-order customers' twins.
    surplus = customers + owner.size - orders
    if surplus > 0:
        kept = np.sort(rng.choice(owner.size, owner.size - surplus, replace=False))
        owner, when = owner[kept], when[kept]
    elif surplus < 0:
        extra = rng.integers(0, customers, -surplus)
        owner, when = np.concatenate([owner, extra]), np.concatenate([when, signup[extra]])
    who = np.concatenate([np.arange(customers), owner])
    day = np.concatenate([signup, when])
    order = np.argsort(day, kind="stable")
    who, day = who[order], day[order]
    ords = {
        "order": np.char.add("O", np.char.zfill(np.arange(1, orders + 1).astype(str), 8)).astype(object),
        "customer": ids[who],
        "date": _serial(day),
        "amount": np.round(rng.gamma(2.0, 60.0, orders), 2),
        "refunded": np.where(rng.random(orders) < 0.05, "yes", "no").astype(object),
    }
    # Survey answers: NPS skewed by segment, CSAT and CES; about 5% blank each.
    who = rng.integers(0, customers, responses)
    day = np.sort(rng.integers(0, _DAYS, responses)).astype(float)
    lean = np.array([1.5, 0.8, -1.0, 0.2, 0.0, 0.5, 1.0, -0.5])[seg_of[who]]
    score = np.clip(np.round(rng.normal(7.2 + lean, 2.3)), 0, 10)
    csat = np.clip(np.round(rng.normal(3.9 + lean / 3, 0.9)), 1, 5)
    ces = np.clip(np.round(rng.normal(5.0 + lean / 3, 1.2)), 1, 7)
    for col in (score, csat, ces):
        col[rng.random(responses) < 0.05] = np.nan
    resp = {
        "date": _serial(day),
        "customer": ids[who],
        "segment": segments[seg_of[who]],
        "nps": score,
        "csat": csat,
        "ces": ces,
        "comment": np.array(_COMMENTS, dtype=object)[rng.integers(0, len(_COMMENTS), responses)],
    }
    resp["comment"][resp["comment"] == ""] = None
    # Tickets: a created time, a first response hours later, most resolved.
    who = rng.integers(0, customers, tickets)
    created = np.sort(rng.random(tickets) * _DAYS)
    first = created + rng.gamma(1.2, 10.0, tickets) / 24
    resolved = np.where(rng.random(tickets) < 0.9, first + rng.gamma(1.5, 30.0, tickets) / 24, np.nan)
    tix = {
        "ticket": np.char.add("T", np.char.zfill(np.arange(1, tickets + 1).astype(str), 7)).astype(object),
        "customer": ids[who],
        "created": _serial(np.round(created * 1440) / 1440),
        "first_response": _serial(np.round(first * 1440) / 1440),
        "resolved": _serial(np.round(resolved * 1440) / 1440),
        "complaint": np.where(rng.random(tickets) < 0.08, "yes", "no").astype(object),
    }
    return {"responses": resp, "customers": cust, "orders": ords, "tickets": tix}


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _letter(i: int) -> str:
    return chr(ord("A") + i)


def _sheet_rows(
    header_row: str, columns: list[np.ndarray], styles: list[str], strings: dict[str, int], offset: int
) -> tuple[str, int]:
    """The rows of a data sheet as Excel writes them: numbers with their cell format, text as
    shared-string indexes (new strings are added to ``strings``, numbered from ``offset``), blanks
    left out."""
    n = len(columns[0])
    cells: list[list[str]] = []
    for j, col in enumerate(columns):
        letter, s = _letter(j), styles[j]
        rows = np.arange(2, n + 2).astype(str)
        if col.dtype == object:
            keep = np.array([v is not None for v in col])
            idx = np.array(
                [offset + strings.setdefault(v, len(strings)) if v is not None else -1 for v in col]
            )
            text = np.char.add(np.char.add(f'<c r="{letter}', rows), f'"{s} t="s"><v>')
            text = np.char.add(np.char.add(text, idx.astype(str)), "</v></c>")
        else:
            keep = ~np.isnan(col)
            vals = np.array([f"{v:.10g}" for v in col])
            text = np.char.add(np.char.add(f'<c r="{letter}', rows), f'"{s}><v>')
            text = np.char.add(np.char.add(text, vals), "</v></c>")
        cells.append(np.where(keep, text, "").tolist())
    body = [header_row]
    body += [f'<row r="{i + 2}">{"".join(parts)}</row>' for i, parts in enumerate(zip(*cells, strict=True))]
    return "".join(body), n + 1


def report_workbook(
    path: Path, *, responses: int, customers: int, orders: int, tickets: int, seed: int = 2026
) -> Path:
    """The template (English, demo settings and engagement tab) with generated data tabs."""
    data = report_tables(responses, customers, orders, tickets, seed)
    sheet = labels("en")["sheet"]
    with tempfile.TemporaryDirectory() as tmp:
        base = build_template(Path(tmp) / "base.xlsm")
        pkg = Package(base)
        strings: dict[str, int] = {}
        replace: dict[str, bytes] = {}
        for key, cols in data.items():
            part = pkg.sheets[sheet[key]]
            xml = pkg.read(part).decode()
            rows = re.findall(r"<row\b.*?</row>", xml, re.S)
            # The cell format of each column, from the first demo row (dates keep their format).
            first = dict(re.findall(r'<c r="([A-Z])2"((?: s="\d+")?)', rows[1]))
            spec = TABLES[key]
            styles = [first.get(_letter(j), "") for j in range(len(spec.columns))]
            # Optional columns the generator does not fill (the attribute ratings) stay blank.
            n = len(next(iter(cols.values())))
            columns = [cols[c.key] if c.key in cols else np.full(n, np.nan) for c in spec.columns]
            body, last = _sheet_rows(rows[0], columns, styles, strings, 0)
            end = _letter(len(spec.columns) - 1)
            head = xml[: xml.index("<sheetData")]
            head = re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="A1:{end}{last}"', head)
            replace[part] = (head + "<sheetData>" + body + xml[xml.index("</sheetData>") :]).encode()
            table = next(t for t in pkg.tables(sheet[key]) if t.display_name == spec.name)
            replace[table.part] = table_with_ref(pkg.read(table.part), f"A1:{end}{last}")
        # A shared-string table, as Excel keeps text (openpyxl writes text inline).
        items = "".join(f'<si><t xml:space="preserve">{_esc(s)}</t></si>' for s in strings)
        replace["xl/sharedStrings.xml"] = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<sst xmlns="{_MAIN}" count="{len(strings)}" uniqueCount="{len(strings)}">{items}</sst>'
        ).encode()
        rels = pkg.read("xl/_rels/workbook.xml.rels").decode()
        rel = f'<Relationship Id="rIdSst" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
        replace["xl/_rels/workbook.xml.rels"] = rels.replace(
            "</Relationships>", rel + "</Relationships>"
        ).encode()
        types = pkg.read("[Content_Types].xml").decode()
        sst_type = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_SST_TYPE}"/>'
        replace["[Content_Types].xml"] = types.replace("</Types>", sst_type + "</Types>").encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_copy(pkg, path, replace)
    return path


#: Segments of the survey sheet and the KPI columns of its formula block, in order.
SURVEY_KPIS = ("n", "promoters", "detractors", "nps", "csat", "ces")


def survey_frame(n: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Survey answers: segment, NPS 0-10, CSAT 1-5, CES 1-7, whole numbers, about 5% blank each."""
    rng = np.random.default_rng(seed)
    seg = rng.integers(0, len(SEGMENTS), n)
    lean = np.linspace(-1.5, 1.5, len(SEGMENTS))[seg]
    cols = {
        "segment": np.array(SEGMENTS, dtype=object)[seg],
        "nps": np.clip(np.round(rng.normal(7.0 + lean, 2.3)), 0, 10),
        "csat": np.clip(np.round(rng.normal(3.8 + lean / 3, 0.9)), 1, 5),
        "ces": np.clip(np.round(rng.normal(5.0 + lean / 3, 1.2)), 1, 7),
    }
    for key in ("nps", "csat", "ces"):
        cols[key][rng.random(n) < 0.05] = np.nan
    return cols


def survey_sheet(path: Path, n: int, seed: int = 7) -> Path:
    """The workbook an analyst builds without kpi-xl: the answers on one sheet, and per segment a
    row of COUNTIFS/AVERAGEIFS formulas (responses, promoters, detractors, NPS, CSAT top-2-box
    share, mean CES) on another, over bounded ranges of the answers."""
    from openpyxl import Workbook

    cols = survey_frame(n, seed)
    wb = Workbook(write_only=True)
    data = wb.create_sheet("Responses")
    data.append(["Segment", "NPS", "CSAT", "CES"])
    nums = [[None if np.isnan(v) else int(v) for v in cols[k]] for k in ("nps", "csat", "ces")]
    for row in zip(cols["segment"], *nums, strict=True):
        data.append(list(row))
    kpis = wb.create_sheet("KPIs")
    kpis.append(["Segment", *SURVEY_KPIS])
    last = n + 1
    seg, nps, csat, ces = (f"Responses!${c}$2:${c}${last}" for c in "ABCD")
    for i, name in enumerate(SEGMENTS, start=2):
        s = f"{seg},$A{i}"
        valid = f'COUNTIFS({s},{csat},">=1",{csat},"<=5")'
        kpis.append(
            [
                name,
                f'=COUNTIFS({s},{nps},">=0",{nps},"<=10")',
                f'=COUNTIFS({s},{nps},">=9",{nps},"<=10")',
                f'=COUNTIFS({s},{nps},">=0",{nps},"<=6")',
                f'=IF(B{i}=0,"",(C{i}-D{i})/B{i}*100)',
                f'=IF({valid}=0,"",COUNTIFS({s},{csat},">=4",{csat},"<=5")/{valid})',
                f'=IFERROR(AVERAGEIFS({ces},{s},{ces},">=1",{ces},"<=7"),"")',
            ]
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def clv_customers(n: int, seed: int = 11, weeks: int = 78) -> dict[str, np.ndarray]:
    """``n`` customers' (frequency, recency, T, monetary_value) in whole weeks, drawn from BG/NBD
    and Gamma-Gamma with the published CDNOW parameters (r 0.243, alpha 4.414, a 0.793, b 2.426;
    p 6.25, q 3.74, v 15.44), first purchases spread over the first 12 weeks, spend in cents."""
    rng = np.random.default_rng(seed)
    T = weeks - rng.integers(0, 12, n).astype(float)
    lam = rng.gamma(0.243, 1 / 4.414, n)
    drop = rng.beta(0.793, 2.426, n)
    arrivals = rng.poisson(lam * T)
    x = np.minimum(arrivals, rng.geometric(drop) - 1)
    # The last purchase is the x-th of the arrivals spread uniformly over (0, T): T * Beta(x, k - x + 1)
    # (the latest arrival when the customer never dropped out, an earlier one when they did).
    last = T * rng.beta(np.maximum(x, 1), arrivals - x + 1)
    recency = np.where(x > 0, np.minimum(np.ceil(last), T), 0.0)
    nu = rng.gamma(3.74, 1 / 15.44, n)
    spend = rng.gamma(6.25 * np.maximum(x, 1), 1 / nu) / np.maximum(x, 1)
    monetary = np.where(x > 0, np.round(spend, 2), 0.0)
    return {"frequency": x.astype(float), "recency": recency, "T": T, "monetary_value": monetary}
