"""The engine's front door: no module outside kpi_xl/metrics reaches behind it.

The faces use what ``kpi_xl.metrics`` and its public modules export. A private engine module
(``kpi_xl.metrics._clean``) or a private name (``metrics._x``) used from a face would let that face
keep its own copy of a rule, which is what issue 10 removed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import kpi_xl

PACKAGE = Path(kpi_xl.__file__).parent
METRICS = PACKAGE / "metrics"


def _module_of(path: Path) -> list[str]:
    return ["kpi_xl", *path.relative_to(PACKAGE).with_suffix("").parts]


def _resolve(package: list[str], node: ast.ImportFrom) -> str:
    """The absolute module a ``from X import`` names, relative imports resolved from ``package``."""
    if not node.level:
        return node.module or ""
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _private(dotted: str) -> bool:
    parts = dotted.split(".")
    if parts[:2] != ["kpi_xl", "metrics"]:
        return False
    return any(p.startswith("_") and not p.startswith("__") for p in parts[2:])


def private_engine_uses(source: str, package: list[str], name: str = "") -> list[str]:
    """Every import of, or attribute reach into, a private engine name in one module's source;
    ``package`` is the package the module sits in (for relative imports)."""
    tree = ast.parse(source, filename=name)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = _resolve(package, node)
            if _private(module):
                found.append(f"{name}:{node.lineno}: from {module} import ...")
            elif module.split(".")[:2] == ["kpi_xl", "metrics"]:
                for alias in node.names:
                    if alias.name.startswith("_"):
                        found.append(f"{name}:{node.lineno}: from {module} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{name}:{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            # metrics._clean, m._clean, kpi_xl.metrics._errors ...: a private name of the engine
            # package reached through an attribute.
            base = node.value
            owner = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
            if owner in ("metrics", "m"):
                found.append(f"{name}:{node.lineno}: {owner}.{node.attr}")
    return found


def test_no_module_outside_the_engine_uses_a_private_engine_name():
    outside = [p for p in sorted(PACKAGE.rglob("*.py")) if METRICS not in p.parents]
    assert len(outside) > 20  # the faces are there: cli, data, excel, workbook, udfs
    found = [
        use
        for path in outside
        for use in private_engine_uses(path.read_text(encoding="utf-8"), _module_of(path)[:-1], path.name)
    ]
    assert found == []


def test_the_check_finds_each_form_of_private_use():
    # The check itself, on face-like source that does each forbidden thing once (and one allowed).
    source = (
        "from ..metrics._clean import clean_numbers\n"
        "from kpi_xl.metrics._errors import KpiInputError\n"
        "from kpi_xl.metrics import _result\n"
        "import kpi_xl.metrics._text\n"
        "from kpi_xl import metrics\n"
        "x = metrics._clean\n"
        "from ..metrics.rules import clean_numbers as ok\n"
        "from .._version import v\n"
        "from kpi_xl.metrics.clv.summary import _period_index\n"
    )
    found = private_engine_uses(source, ["kpi_xl", "data"], "probe.py")
    assert sorted(int(f.split(":")[1]) for f in found) == [1, 2, 3, 4, 6, 9], found


def test_no_face_reads_an_engine_message_with_a_regular_expression():
    # The faces that used to turn engine messages back into fields (issue 10) now format from the
    # error's fields; none of them imports the regular-expression module any more.
    for module in ("excel/errors.py", "data/_catalog.py", "data/_validate.py"):
        tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "re" not in imported, module
