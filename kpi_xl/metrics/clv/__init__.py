r"""Predictive CLV: BG/NBD (how many repeat purchases) and Gamma-Gamma (what each one is worth).

The pipeline is the one of Fader, Hardie & Lee (2005a, 2005b):

1. :func:`rfm_summary` turns a transaction log into one row per customer: ``frequency`` (repeat
   purchase periods), ``recency`` (first to last purchase period), ``T`` (first purchase period to
   the end of observation) and ``monetary_value`` (mean spend per repeat purchase period).
2. :class:`BetaGeoFitter` fits the BG/NBD model to (frequency, recency, T) and predicts repeat
   purchases and the probability that a customer is still active.
3. :class:`GammaGammaFitter` fits the Gamma-Gamma model to (frequency, monetary_value) of repeat
   customers and predicts each customer's expected spend per purchase.
4. :func:`predict_clv` does all of it in one call and discounts the predicted cash flows.

**The time unit is always explicit.** ``frequency`` counts *distinct days* with a purchase, and
``recency``, ``T``, prediction horizons and the rate parameters (BG/NBD's ``alpha``) are measured
in the model's time unit as the literature measures them: elapsed days divided by 7 for
``"week"`` (Fader, Hardie & Lee 2005; CLVTools), 30.4375 for ``"month"``, 365.25 for ``"year"``,
or 1 for ``"day"``. Calendar buckets stay available by name: ``"calendar-week"`` (Monday to
Sunday) and ``"calendar-month"`` count purchases once per bucket and times in whole buckets.
There is no default unit: mixing units silently is the best-known way to get CLV wrong by a
factor of 4 or 30 (lifetimes issues #137 and #194: 360 *weeks* projected where 12 months were
meant). Every fitted parameter and log-likelihood says its unit (``summary["unit"]``,
``log_likelihood_unit``).

Fitting works on distinct (frequency, recency, T) patterns with a count as weight, so its cost
grows with the number of distinct patterns, not the number of customers (Fader & Hardie fit the
CDNOW data the same way). Everything is numpy/scipy; lifetimes is used only in the tests, as a
reference implementation.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005a). "Counting Your Customers" the Easy Way: An
Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005b). RFM and CLV: Using Iso-Value Curves for
Customer Base Analysis. Journal of Marketing Research 42(4), 415-430.
Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value (note 025).
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2008). Computing P(alive) Using the BG/NBD Model
(note 021).
Davidson-Pilon, C. lifetimes 0.11.3 (MIT), the Python implementation these results are tested
against.
"""

from ._discount import length_in_units, read_step
from ._inputs import check_time_unit as check_time_unit
from .bgbb import BetaGeoBetaBinomFitter
from .bgnbd import BetaGeoFitter
from .by_segment import SegmentClv, predict_clv_by_segment
from .gamma_gamma import GammaGammaFitter
from .holdout import HoldoutReport, calibration_holdout_summary, clv_holdout, compare_purchase_models
from .mbgnbd import ModifiedBetaGeoFitter
from .pareto_nbd import ParetoNBDFitter
from .predict import (
    INTERVAL_METHOD,
    ClvPatterns,
    ClvPrediction,
    ClvSettings,
    predict_clv,
    predict_clv_from_patterns,
    predict_clv_from_summary,
)
from .sbg import ShiftedBetaGeoFitter, cohort_survivors
from .summary import rfm_summary

__all__ = [
    "rfm_summary",
    "BetaGeoFitter",
    "GammaGammaFitter",
    "ParetoNBDFitter",
    "ModifiedBetaGeoFitter",
    "BetaGeoBetaBinomFitter",
    "ShiftedBetaGeoFitter",
    "cohort_survivors",
    "calibration_holdout_summary",
    "clv_holdout",
    "compare_purchase_models",
    "HoldoutReport",
    "predict_clv_by_segment",
    "SegmentClv",
    "predict_clv",
    "predict_clv_from_summary",
    "predict_clv_from_patterns",
    "ClvPatterns",
    "ClvPrediction",
    "ClvSettings",
    "INTERVAL_METHOD",
    "read_step",
    "length_in_units",
]
