"""One rulebook, every face: the same messy data gives the same value, n, n_dropped and problems.

A small survey and a small order log, each written as a German export (``;``, ``31.12.2025``,
``9,0``, German headers) and an English one (``,``, ISO dates, ``9.0``, English headers), with
blanks, placeholders (``n/a``, ``k.A.``), an off-scale score, text that is no number, an unreadable
date, and segment labels that differ only in case, padding or a no-break space, plus a blank one.
They go through

* the engine (:mod:`kpi_xl.metrics`: the metric with ``on_invalid="drop"``, ``segment_table``, and
  ``rules.verdicts`` for the problem list): the reference;
* the command line, on the pandas and on the DuckDB path (``kpi-xl metric``, ``--by``, ``report``);
* the Excel functions in xlwings' Office.js runtime (one child process) with the ``de-DE`` and
  ``en-US`` cultures (``NPS_BREAKDOWN``, ``KPI_BY_SEGMENT``, ``AOV`` and the error of ``NPS``);
* the workbook refresh (the Segments sheet and the Start tab's list of invalid values).

Every face must give the reference's value, n and n_dropped, by segment as in total, and list the
same cells (row and column) with the same verdict. The test fails on the first face that disagrees.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_udfs_runtime import OfficeJs, Raised, serial

from kpi_xl import cli
from kpi_xl import metrics as m
from kpi_xl.metrics import rules

# --------------------------------------------------------------------------------------------------
# The messy inputs (file row numbers: the header is row 1)
# --------------------------------------------------------------------------------------------------

HEADERS = {
    "de": {"date": "Datum", "segment": "Segment", "nps": "Weiterempfehlung", "customer": "Kunden-ID",
           "amount": "Betrag"},
    "en": {"date": "date", "segment": "segment", "nps": "nps", "customer": "customer_id", "amount": "amount"},
}  # fmt: skip

BAD_DATE = {"de": "31.02.2025", "en": "2025-02-31"}

#: date, segment, NPS answer (as text the way each locale writes it; None: an empty cell).
SURVEY = [
    ("2025-03-01", "Nord", "10"),  # row 2
    ("2025-03-02", " nord", {"de": "9,0", "en": "9.0"}),  # row 3: padded, lower case; 9 as text
    ("2025-03-03", "NORD\u00a0", "7"),  # row 4: upper case, a no-break space
    ("2025-03-04", "Süd", "3"),  # row 5
    ("2025-03-05", None, "0"),  # row 6: no segment
    ("2025-03-06", "Süd", None),  # row 7: no answer
    ("2025-03-07", "süd", "n/a"),  # row 8: a placeholder
    ("2025-03-08", "Süd", "11"),  # row 9: off the 0-10 scale
    (None, "Nord", "9"),  # row 10: an unreadable date (BAD_DATE)
    ("2025-03-10", "Süd", "k.A."),  # row 11: German "keine Angabe"
    ("2025-04-01", "Nord", "8"),  # row 12
]

#: customer, date, amount (text as each locale writes it).
ORDERS = [
    ("K1", "2025-01-03", {"de": "1.234,56", "en": "1,234.56"}),  # row 2
    ("K1", "2025-02-15", {"de": "100,00", "en": "100.00"}),  # row 3
    ("K2", "2025-01-31", {"de": "12,5", "en": "12.5"}),  # row 4
    ("K2", "2025-02-01", None),  # row 5: blank amount
    ("K3", "2025-02-01", "n/a"),  # row 6: placeholder amount
    (None, "2025-02-02", "5"),  # row 7: blank customer id
    ("K4", "2025-03-10", "abc"),  # row 8: not a number
    ("K5", "2025-03-12", "-5"),  # row 9: negative
    ("K3", "2025-03-12", "7"),  # row 10
]


def _cell(value, lang: str):
    return value[lang] if isinstance(value, dict) else value


def _date_text(iso: str | None, lang: str) -> str:
    if iso is None:
        return BAD_DATE[lang]
    return pd.Timestamp(iso).strftime("%d.%m.%Y") if lang == "de" else iso


def survey_frame(lang: str) -> pd.DataFrame:
    """The survey as a reader would hand it over: text cells, None for an empty cell."""
    h = HEADERS[lang]
    rows = [(_date_text(d, lang), s, _cell(v, lang)) for d, s, v in SURVEY]
    frame = pd.DataFrame(rows, columns=[h["date"], h["segment"], h["nps"]], dtype=object)
    frame.index = pd.RangeIndex(2, 2 + len(frame))
    return frame


def orders_frame(lang: str) -> pd.DataFrame:
    h = HEADERS[lang]
    rows = [(c, _date_text(d, lang), _cell(a, lang)) for c, d, a in ORDERS]
    frame = pd.DataFrame(rows, columns=[h["customer"], h["date"], h["amount"]], dtype=object)
    frame.index = pd.RangeIndex(2, 2 + len(frame))
    return frame


def write_csv(frame: pd.DataFrame, path: Path, lang: str) -> Path:
    frame.to_csv(path, sep=";" if lang == "de" else ",", index=False, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# The reference: the engine on the same cells
# --------------------------------------------------------------------------------------------------


def triple(value, n, n_dropped):
    value = None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)
    return (None if value is None else round(value, 9), int(n), int(n_dropped))


def engine_nps(lang: str) -> dict:
    h = HEADERS[lang]
    frame = survey_frame(lang)
    total = m.nps(frame[h["nps"]].to_numpy(), on_invalid="drop")
    table = m.segment_table(frame, "nps", columns=h["nps"], by=h["segment"], on_invalid="drop")
    groups = {g: triple(v, n, d) for g, v, n, d in table[["group", "value", "n", "n_dropped"]].to_numpy()}
    problems = set()
    for column, kind, scale in ((h["nps"], "score", (0, 10)), (h["date"], "date", None)):
        v = rules.verdicts(frame[column].to_numpy(), kind, scale=scale, locale=lang)
        problems |= {
            (int(row), column, verdict)
            for row, verdict in zip(frame.index, v.verdict, strict=True)
            if verdict != "valid" and not (kind == "date" and verdict == "blank")
        }
    return {
        "total": triple(total.value, total.n_used, total.n_dropped),
        "groups": groups,
        "problems": problems,
    }


def engine_aov(lang: str) -> dict:
    h = HEADERS[lang]
    frame = orders_frame(lang)
    total = m.average_order_value(frame[h["amount"]].to_numpy(), on_invalid="drop")
    problems = set()
    for column, kind in ((h["amount"], "amount"), (h["customer"], "id")):
        v = rules.verdicts(frame[column].to_numpy(), kind, locale=lang)
        problems |= {
            (int(row), column, verdict)
            for row, verdict in zip(frame.index, v.verdict, strict=True)
            if verdict != "valid"
        }
    return {"total": triple(total.value, total.n_used, total.n_dropped), "problems": problems}


def test_the_reference_is_what_the_rules_say():
    # Hand check of the reference itself. NPS over 10, 9, 7, 3, 0, 9, 8: 2 promoters (10, 9 of row 3
    # and the 9 of row 10 make 3), detractors 3 and 0: (3 - 2) / 7 = 14.29; dropped: row 7 (blank),
    # rows 8 and 11 (placeholders), row 9 (11 is off the scale).
    for lang in ("de", "en"):
        ref = engine_nps(lang)
        assert ref["total"] == (round(100 / 7, 9), 7, 4)
        # Nord: 10, 9, 7, 9, 8 -> 3 promoters of 5; Süd: 3 of 1, 4 dropped; (blank): the 0.
        assert ref["groups"] == {
            "Nord": (60.0, 5, 0),
            "Süd": (-100.0, 1, 4),
            "(blank)": (-100.0, 1, 0),
            "Total": (round(100 / 7, 9), 7, 4),
        }
        h = HEADERS[lang]
        assert ref["problems"] == {
            (7, h["nps"], "blank"),
            (8, h["nps"], "placeholder"),
            (9, h["nps"], "invalid"),
            (11, h["nps"], "placeholder"),
            (10, h["date"], "invalid"),
        }
        # AOV over 1234.56, 100, 12.5, 5, 7: 1359.06 / 5; dropped: blank, n/a, abc, -5.
        aov = engine_aov(lang)
        assert aov["total"] == (round(1359.06 / 5, 9), 5, 4)


# --------------------------------------------------------------------------------------------------
# The command line, pandas and DuckDB
# --------------------------------------------------------------------------------------------------


def _run(argv, capsys) -> dict:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def _cli_problems(payload: dict) -> set:
    rows = payload["skipped"]["rows"] + payload["blank"]["rows"]
    return {(p["row"], p["column"], p["verdict"]) for p in rows}


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
@pytest.mark.parametrize("lang", ["de", "en"])
def test_command_line_agrees_with_the_engine(tmp_path, capsys, lang, engine):
    h = HEADERS[lang]
    survey = write_csv(survey_frame(lang), tmp_path / f"survey_{lang}.csv", lang)
    ref = engine_nps(lang)
    whole = _run(["metric", "nps", survey, "--format", "json", "--engine", engine], capsys)
    (row,) = whole["results"]
    assert triple(row["value"], row["n"], row["n_dropped"]) == ref["total"]
    assert _cli_problems(whole) == ref["problems"]
    by = _run(["metric", "nps", survey, "--by", h["segment"], "--format", "json", "--engine", engine], capsys)
    assert {g["group"]: triple(g["value"], g["n"], g["n_dropped"]) for g in by["groups"]} == ref["groups"]
    assert _cli_problems(by) == ref["problems"]

    # By month: the unreadable date of row 10 puts its answer in "(no date)", in every face.
    months = m.segment_table(
        survey_frame(lang), "nps", columns=h["nps"], period="month", date=h["date"], on_invalid="drop"
    )
    want = {g: triple(v, n, d) for g, v, n, d in months[["group", "value", "n", "n_dropped"]].to_numpy()}
    assert "(no date)" in want and want["Total"] == ref["total"]
    by = _run(["metric", "nps", survey, "--period", "month", "--format", "json", "--engine", engine], capsys)
    assert {g["group"]: triple(g["value"], g["n"], g["n_dropped"]) for g in by["groups"]} == want

    orders = write_csv(orders_frame(lang), tmp_path / f"orders_{lang}.csv", lang)
    ref = engine_aov(lang)
    report = _run(["report", orders, "--format", "json", "--engine", engine], capsys)
    aov = next(r for r in report["results"] if r["metric"] == "aov")
    assert triple(aov["value"], aov["n"], aov["n_dropped"]) == ref["total"]
    # The report lists every cell left out of a number it shows (amounts and customer ids).
    assert _cli_problems(report) >= ref["problems"]
    listed = {(r, c) for r, c, _ in _cli_problems(report)}
    assert listed - {(r, c) for r, c, _ in ref["problems"]} <= {(r, h["date"]) for r in range(2, 11)}


# --------------------------------------------------------------------------------------------------
# The Excel functions in the Office.js runtime (one child process for the module)
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xl():
    runtime = OfficeJs()
    yield runtime
    runtime.close()


def _column(header: str, values) -> list[list]:
    return [[header]] + [[None if v is None else v] for v in values]


@pytest.mark.parametrize(("lang", "culture"), [("de", "de-DE"), ("en", "en-US")])
def test_excel_functions_agree_with_the_engine(xl, lang, culture):
    h = HEADERS[lang]
    frame = survey_frame(lang)
    ref = engine_nps(lang)
    scores = _column(h["nps"], frame[h["nps"]].tolist())
    spilled = dict(xl.call("NPS_BREAKDOWN", scores, 0.95, True, culture=culture))
    assert triple(spilled["nps"], spilled["n"], spilled["n_dropped"]) == ref["total"]

    table = [[h["segment"], h["nps"]]] + [
        [s, v] for s, v in zip(frame[h["segment"]], frame[h["nps"]], strict=True)
    ]
    got = xl.call(
        "KPI_BY_SEGMENT", table, h["segment"], "nps", h["nps"], None, None, 30, True, True, culture=culture
    )
    header, *rows = got
    col = {name: i for i, name in enumerate(header)}
    groups = {r[col["group"]]: triple(r[col["value"]], r[col["n"]], r[col["n_dropped"]]) for r in rows}
    assert groups == ref["groups"]

    # By month, with the dates as Excel sends them (serial numbers; the unreadable one stays text).
    dated = [[h["date"], h["nps"]]] + [
        [serial(d) if d else BAD_DATE[lang], _cell(v, lang)] for d, _, v in SURVEY
    ]
    got = xl.call(
        "KPI_BY_SEGMENT", dated, None, "nps", h["nps"], None, h["date"], 30, True, True, culture=culture
    )
    header, *rows = got
    col = {name: i for i, name in enumerate(header)}
    months = m.segment_table(
        survey_frame(lang), "nps", columns=h["nps"], period="month", date=h["date"], on_invalid="drop"
    )
    want = {g: triple(v, n, d) for g, v, n, d in months[["group", "value", "n", "n_dropped"]].to_numpy()}
    assert {r[col["group"]]: triple(r[col["value"]], r[col["n"]], r[col["n_dropped"]]) for r in rows} == want

    # Without skip_invalid the first invalid value is the error, named by its row in the range.
    first = min(r for r, c, v in ref["problems"] if v == "invalid" and c == h["nps"])
    with pytest.raises(Raised, match=rf"\brow {first}\b"):
        xl.call("NPS", scores, culture=culture)

    orders = orders_frame(lang)
    aov_ref = engine_aov(lang)
    amounts = _column(h["amount"], orders[h["amount"]].tolist())
    value = xl.call("AOV", amounts, False, True, culture=culture)[0][0]
    assert round(value, 9) == aov_ref["total"][0]


# --------------------------------------------------------------------------------------------------
# The workbook refresh
# --------------------------------------------------------------------------------------------------


def _excel_cell(value, lang: str):
    """What a cell holds after a user typed the text in Excel of that locale: numbers as numbers;
    placeholders and other text stay text."""
    if value is None:
        return None
    try:
        return rules.read_number(value, locale=lang)
    except m.KpiInputError:
        return value


def test_workbook_refresh_agrees_with_the_engine(tmp_path):
    from openpyxl import load_workbook

    from kpi_xl.workbook import build_template, expected_values, refresh_workbook
    from kpi_xl.workbook.labels import labels
    from kpi_xl.workbook.layout import SLOTS, block_row

    lang = "de"
    sheet = labels("en")["sheet"]
    book = build_template(tmp_path / "kpi.xlsx", empty=True)
    wb = load_workbook(book)
    resp = wb[sheet["responses"]]
    for i, (d, s, v) in enumerate(SURVEY, start=2):
        resp.cell(row=i, column=1).value = dt.datetime.fromisoformat(d) if d else BAD_DATE[lang]
        resp.cell(row=i, column=2).value = f"C{i}"
        resp.cell(row=i, column=3).value = s
        resp.cell(row=i, column=4).value = _excel_cell(_cell(v, lang), lang)
    for key, value in (("period_start", dt.datetime(2025, 3, 1)), ("period_end", dt.datetime(2025, 4, 30))):
        (target,) = wb.defined_names[f"kpi_{key}"].destinations
        wb[target[0]][target[1].replace("$", "")].value = value
    wb.save(book)
    report = refresh_workbook(book, predict=False)

    # The workbook reports a period: the row whose date is unreadable is in none, so the reference
    # is the engine on the other rows.
    frame = survey_frame(lang).drop(index=10)
    h = HEADERS[lang]
    table = m.segment_table(frame, "nps", columns=h["nps"], by=h["segment"], on_invalid="drop")
    want = {g: (round(v, 9), int(n)) for g, v, n in table[["group", "value", "n"]].to_numpy()}
    # The refreshed values of the Segments sheet's formula cells (LibreOffice recomputes the live
    # formulas and finds the same in test_workbook_libreoffice.py).
    values = expected_values(book, predict=False)
    seg = load_workbook(book)[sheet["segments"]]
    top = block_row(0) + 2
    got = {}
    for r in range(top, top + SLOTS + 1):
        label = "Total" if r == top + SLOTS else seg.cell(row=r, column=1).value
        if label:
            nps = values[(sheet["segments"], f"F{r}")]
            got[label] = (round(nps, 9), values[(sheet["segments"], f"B{r}")])
    assert got == want
    # The Start tab lists the engine's invalid and placeholder cells, by row and column, with their
    # verdict (blank cells are not listed there: an empty cell is plain to see).
    ref = engine_nps(lang)
    columns = {"NPS score": h["nps"], "Date": h["date"]}
    found = {(i.row, columns[i.column], i.verdict) for i in report.invalid}
    assert found == {p for p in ref["problems"] if p[2] != "blank"}
