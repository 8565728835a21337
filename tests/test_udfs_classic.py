"""Classic registration (Windows "Import Functions") of kpi_xl.udfs, proven on Linux.

Classic xlwings turns each UDF into a VBA function (``xlwings.udfs.generate_vba_wrapper``) and sets
its wizard help with ``Application.MacroOptions`` from the ``__xlfunc__`` metadata its decorators
record. Both steps are pure Python apart from the pywin32 imports at the top of ``xlwings.udfs``, so a
child process stubs those three modules, installs the classic decorators in place of the no-op ones,
imports ``kpi_xl.udfs`` and reports the generated VBA and the metadata. The stubs never reach this
process. (Calling the functions through COM needs Excel; the plain-function tests feed them the values
COM delivers instead.)
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys

import pytest


@pytest.fixture
def udfs():
    # Imported here, not at the top: the child process runs this file and must install the classic
    # decorators before kpi_xl.udfs is imported.
    from kpi_xl import udfs

    return udfs


@pytest.fixture(scope="module")
def classic():
    out = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def test_the_functions_run_in_classic_mode(classic):
    assert classic["office_js"] is False


def test_vba_wrapper_has_every_function_with_its_arguments_in_order(classic, udfs):
    vba = classic["vba"]
    for name in udfs.__all__:
        params = inspect.signature(getattr(udfs, name)).parameters.values()
        args = [("Optional " if p.default is not inspect.Parameter.empty else "") + p.name for p in params]
        assert f"Function {name}({', '.join(args)})" in vba, name
        names = ", ".join(p.name for p in params)
        call = f'XLPy.CallUDF("kpi_xl.udfs", "{name}", Array({names}), ThisWorkbook, Application.Caller)'
        assert f"{name} = {call}" in vba, name
    assert len(re.findall(r"^Function ", vba, flags=re.M)) == len(udfs.__all__)
    assert "Sub " not in vba  # no @script in the UDF module: a Sub with a parameter breaks buttons


def test_wizard_help_fits_macrooptions_and_nothing_classic_only_is_used(classic):
    for name, f in classic["functions"].items():
        # MacroOptions cuts at 255 characters: the texts must fit, not be cut.
        assert len(f["doc"]) <= 255 and not f["doc"].startswith("Python function"), name
        assert f["category"] == "kpi-xl", name
        assert (f["volatile"], f["call_in_wizard"], f["async_mode"]) == (False, True, None), name
        assert f["ret_options"] == {}, name  # no expand= (legacy spill) and no return converter
        for arg in f["args"]:
            assert arg["options"] == {"convert": "raw"}, (name, arg["name"])
            assert arg["vba"] is None and len(arg["doc"]) <= 255, (name, arg["name"])
            assert not arg["doc"].startswith("Positional argument"), (name, arg["name"])


def _report() -> None:
    """Child process: classic decorators over kpi_xl.udfs; print the VBA and metadata as JSON."""
    import io
    import types

    # xlwings.udfs imports these at the top; only their names are needed to generate VBA.
    for module in ("pythoncom", "pywintypes", "win32com", "win32com.client"):
        sys.modules[module] = types.ModuleType(module)
    sys.modules["pythoncom"].CoInitialize = lambda: None
    sys.modules["pywintypes"].TimeType = type("TimeType", (), {})
    sys.modules["win32com"].client = sys.modules["win32com.client"]
    sys.modules["win32com.client"].Dispatch = lambda *args, **kwargs: None

    import xlwings as xw
    import xlwings.udfs as classic_udfs

    # What `import xlwings` does on Windows with pywin32 installed.
    xw.func, xw.arg, xw.ret = classic_udfs.xlfunc, classic_udfs.xlarg, classic_udfs.xlret

    from kpi_xl import udfs as module
    from kpi_xl.excel import errors

    class Workbook:
        Name = "kpi_report.xlsm"

    vba = io.StringIO()
    classic_udfs.generate_vba_wrapper("kpi_xl.udfs", module, vba, Workbook())
    functions = {}
    for name in module.__all__:
        info = getattr(module, name).__xlfunc__
        functions[name] = {
            "doc": info["ret"]["doc"],
            "ret_options": info["ret"]["options"],
            "category": info["category"],
            "volatile": info["volatile"],
            "call_in_wizard": info["call_in_wizard"],
            "async_mode": info["async_mode"],
            "args": [{k: a[k] for k in ("name", "doc", "vba", "options")} for a in info["args"]],
        }
    json.dump({"office_js": errors.OFFICE_JS, "vba": vba.getvalue(), "functions": functions}, sys.stdout)


if __name__ == "__main__":
    _report()
