"""Published industry figures for the Benchmarks tab, each with its source and year.

Only figures with a named source are here, all taken from the project's research notes
(``research/metrics.md`` section 4, which records where each was read). Figures that were only
found quoted on a vendor page are marked "secondary" in their note. Undated or unsourced figures
(e.g. lists that state no year) are left out on purpose.

Three kinds of figure, each compared with the matching value of the user's own data:

* ``"nps"``: Net Promoter Score in points (-100..100), compared with the period's NPS.
* ``"acsi"``: the American Customer Satisfaction Index, a 0-100 *index*, not "% satisfied". The
  user's comparable value is the mean satisfaction score rescaled to 0-100
  (``(mean - 1) / (scale max - 1) * 100``), the way ACSI rescales its 1-10 answers. It is an
  approximation (ACSI combines three questions) and the note on each row says so.
* ``"churn_monthly"``: median monthly subscription churn (a share), compared with the period's
  start-based churn converted to a monthly rate (``1 - (1 - c)^(30.4375 / days in period)``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Benchmark", "BENCHMARKS", "INDUSTRIES", "ALL_INDUSTRIES", "TOLERANCE", "DIRECTION"]

ALL_INDUSTRIES = "All industries"


@dataclass(frozen=True)
class Benchmark:
    metric: str
    industry: str
    value: float
    period: str
    source: str
    url: str
    note: str = ""


_TEMKIN = (
    "Temkin Group, NPS Benchmark Study 2017 (20 US industries, 299 companies, 10,000 consumers)",
    "http://www.tmcnet.com/usubmit/2017/12/14/8667928.htm",
)
_SATMETRIX_2010 = (
    "Satmetrix US industry benchmarks 2010 (19,500 consumers), via The Wise Marketer",
    "https://thewisemarketer.com/new-multi-industry-nps-benchmarks-published-2/",
)
_ACSI_TELECOM_2024 = (
    "ACSI Telecommunications Study 2024, via BusinessWire 2024-06-04",
    "https://businesswire.com/news/home/20240604727642/en/",
)
_ACSI_2019_LIST = (
    "ACSI industry scores published Nov 2019, via GetFeedback (secondary)",
    "https://www.getfeedback.com/resources/cx/customer-satisfaction-score-csat-industry-benchmarks/",
)
_RECURLY_2019 = (
    "Recurly Annual Subscription Billing Metrics Report (about 2,000 sites)",
    "https://recurly.com/research/annual-subscription-billling-metrics-report",
)

BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("nps", "Auto dealers", 43, "2017", *_TEMKIN, "highest industry average in the study"),
    Benchmark(
        "nps", "TV & internet service providers", 9, "2017", *_TEMKIN, "lowest industry average in the study"
    ),
    Benchmark(
        "nps",
        "Department & specialty stores",
        62,
        "2018",
        "NICE Satmetrix 2018 B2C Benchmarks (23 sectors, 62,000 US respondents), via e-Strategy",
        "https://e-strategy.com/2018/09/14/average-net-promoter-score-b2c-industry",
        "secondary; top B2C sector",
    ),
    Benchmark("nps", "Health insurance", -13, "2010", *_SATMETRIX_2010, "industry average"),
    Benchmark("nps", "Brokerage & investments", 29, "2010", *_SATMETRIX_2010, "industry average"),
    Benchmark(
        "nps",
        "B2B services",
        18,
        "2018",
        "ClearlyRated / Inavero 2018 NPS benchmarks for B2B service providers",
        "https://wf.clearlyrated.com/resources/2018-nps-benchmarks-b2b-service-providers",
        "client NPS",
    ),
    Benchmark(
        "acsi",
        ALL_INDUSTRIES,
        77.8,
        "Q4 2023",
        "ACSI national score (theacsi.org)",
        "https://www.theacsi.org/the-acsi-difference/us-overall-customer-satisfaction/",
        "record high; index 0-100, your value is mean satisfaction rescaled to 0-100",
    ),
    Benchmark(
        "acsi",
        "TV & internet service providers",
        71,
        "12 months to Mar 2024",
        *_ACSI_TELECOM_2024,
        "ISPs (fiber 76, non-fiber 68); index 0-100",
    ),
    Benchmark("acsi", "Video streaming", 79, "12 months to Mar 2024", *_ACSI_TELECOM_2024, "index 0-100"),
    Benchmark("acsi", "Subscription TV", 70, "12 months to Mar 2024", *_ACSI_TELECOM_2024, "index 0-100"),
    Benchmark("acsi", "Banks", 78, "2019", *_ACSI_2019_LIST, "index 0-100"),
    Benchmark("acsi", "Internet retail", 81, "2019", *_ACSI_2019_LIST, "index 0-100"),
    Benchmark("acsi", "Hotels", 76, "2019", *_ACSI_2019_LIST, "index 0-100"),
    Benchmark("acsi", "Airlines", 75, "2019", *_ACSI_2019_LIST, "index 0-100"),
    Benchmark("acsi", "Health insurance", 72, "2019", *_ACSI_2019_LIST, "index 0-100"),
    Benchmark("churn_monthly", "Subscription: all", 0.0548, "2019", *_RECURLY_2019, "median monthly churn"),
    Benchmark("churn_monthly", "Subscription: B2B", 0.0515, "2019", *_RECURLY_2019, "median monthly churn"),
    Benchmark("churn_monthly", "Subscription: B2C", 0.0681, "2019", *_RECURLY_2019, "median monthly churn"),
)

#: The choices of the Settings tab's industry drop-down.
INDUSTRIES: tuple[str, ...] = (ALL_INDUSTRIES,) + tuple(
    dict.fromkeys(b.industry for b in BENCHMARKS if b.industry != ALL_INDUSTRIES)
)

#: How far below the benchmark still counts as "close" (amber), in the metric's unit.
TOLERANCE = {"nps": 10.0, "acsi": 3.0, "churn_monthly": 0.01}
#: +1 where higher is better, -1 where lower is better.
DIRECTION = {"nps": 1, "acsi": 1, "churn_monthly": -1}
