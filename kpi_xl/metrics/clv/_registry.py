"""The repeat-purchase models one can choose by name (CLI, Excel, predict_clv, holdout)."""

from __future__ import annotations

from typing import Any

from .._errors import KpiInputError
from .bgnbd import BetaGeoFitter
from .mbgnbd import ModifiedBetaGeoFitter
from .pareto_nbd import ParetoNBDFitter

#: Name -> fitter class of the continuous-time repeat-purchase models on (frequency, recency, T).
PURCHASE_MODELS: dict[str, type] = {
    "bg/nbd": BetaGeoFitter,
    "mbg/nbd": ModifiedBetaGeoFitter,
    "pareto/nbd": ParetoNBDFitter,
}


def _check_model_name(name: Any) -> str:
    # "BG/NBD", "bgnbd", "pareto-nbd", "Pareto_NBD" all name a model.
    squeezed = {k.replace("/", ""): k for k in PURCHASE_MODELS}
    key = (
        squeezed.get(name.strip().lower().translate(str.maketrans("", "", "/-_ ")))
        if isinstance(name, str)
        else None
    )
    if key is None:
        raise KpiInputError(
            f"model must be one of {', '.join(map(repr, PURCHASE_MODELS))}, got {name!r}",
            argument="model",
            value=name,
        )
    return key
