"""Which locale the Excel functions read number and date text by.

``=CHURN("1.000", 120)`` is one thousand customers to a German user and one to an American; text
dates such as ``03/04/2025`` are 3 April or 4 March. The engine reads such text by the locale in
effect (:func:`kpi_xl.metrics.rules.use_locale`) and calls it ambiguous when none is known. The
Excel functions take the locale, first found wins, from:

1. the environment variable ``KPI_XL_LOCALE`` (``de``, ``en``, ``de-DE``, ``en-US`` ...);
2. the key ``KPI_XL_LOCALE`` in the user's ``xlwings.conf`` (``~/.xlwings/xlwings.conf``, read once
   per Python process, like xlwings' own settings);
3. the culture of the workbook, where the runtime passes it: Office.js (xlwings Server and Lite)
   sends ``culture_info_name`` with every call. xlwings reads it for date formats but hands it to no
   function, so it is taken from the call in progress (:func:`office_js_culture`).

Classic (COM) Excel passes no culture: set ``KPI_XL_LOCALE`` there.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from kpi_xl.metrics import KpiInputError
from kpi_xl.metrics.rules import locale_of

__all__ = ["LOCALE_SETTING", "excel_locale", "office_js_culture"]

#: The setting's name, as environment variable and as xlwings.conf key.
LOCALE_SETTING = "KPI_XL_LOCALE"


def _conf_setting() -> str | None:
    try:
        from xlwings.utils import get_cached_user_config
    except ImportError:  # an xlwings without the config reader: the setting is read from the environment only
        return None
    try:
        return get_cached_user_config(LOCALE_SETTING)
    except OSError:
        return None


def office_js_culture() -> str | None:
    """The ``culture_info_name`` of the Office.js call in progress (``"de-DE"``), or ``None``.

    xlwings' ``custom_functions_call(data, module)`` runs the function while its frame (holding the
    call's payload ``data``) is on the stack; nothing else reaches the function.
    """
    frame: Any = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "custom_functions_call" and "xlwings" in code.co_filename:
            data = frame.f_locals.get("data")
            culture = data.get("culture_info_name") if isinstance(data, dict) else None
            return str(culture) if culture else None
        frame = frame.f_back
    return None


def excel_locale() -> str | None:
    """The locale for the function being calculated (see the module notes), or ``None``.

    A setting that names no locale is an error that says where it was set.
    """
    for source, value in (
        ("environment variable", os.environ.get(LOCALE_SETTING)),
        ("xlwings.conf", _conf_setting()),
    ):
        if value is not None and str(value).strip():
            if locale_of(value) is None:
                raise KpiInputError(
                    argument=LOCALE_SETTING,
                    value=value,
                    reason=f"(in the {source}) is not a locale: use de, en, or a culture name such as "
                    "de-DE or en-US",
                )
            return str(value).strip()
    culture = office_js_culture()
    return culture if locale_of(culture) is not None else None
