"""One-command set-up for kpi-xl: ``python install.py``.

What it does, in order, and what it prints:

1. Installs kpi-xl and its dependencies into the Python that runs this script (use a virtual
   environment if you keep several projects apart), with xlwings pinned to the exact version the
   Excel add-in must match. ``--no-dev`` skips the test tools (pytest, ruff, hypothesis, lifetimes).
2. Sets up the Excel functions where Excel exists (Windows/macOS): installs the xlwings add-in,
   points xlwings at this Python and at the ``kpi_xl.udfs`` module, and says the one step left in
   Excel. On a machine without Excel it says so and carries on.
3. Runs the main job: builds the template workbook ``workbooks/kpi_report.xlsm`` with demo data and
   refreshes it headlessly, so there is a finished report to open.

Safe to run again: it upgrades in place and never overwrites a workbook you have edited unless you
pass ``--rebuild-template``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TEMPLATE = ROOT / "workbooks" / "kpi_report.xlsm"


def _run(cmd: list[str], what: str) -> None:
    print(f"==> {what}")
    print("    $ " + " ".join(cmd))
    result = subprocess.run(cmd, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"install.py: {what} failed (exit code {result.returncode}); see the output above.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-dev", action="store_true", help="skip the test tools")
    parser.add_argument("--no-excel", action="store_true", help="do not touch Excel or the xlwings add-in")
    parser.add_argument(
        "--rebuild-template",
        action="store_true",
        help=f"rebuild {TEMPLATE.relative_to(ROOT)} even if it exists (a backup is kept)",
    )
    args = parser.parse_args(argv)

    # Runs before kpi-xl is installed, so the requires-python check has not protected the user yet.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit(f"kpi-xl needs Python 3.11 or newer; this is {sys.version.split()[0]}.")

    extras = "files" if args.no_dev else "files,dev"
    _run(
        [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", f".[{extras}]"],
        f"installing kpi-xl[{extras}] into {sys.executable}",
    )

    if not args.no_excel:
        _run(
            [
                sys.executable,
                "-c",
                "import sys; from kpi_xl.excel.setup import register; sys.exit(register())",
            ],
            "setting up the Excel functions (xlwings add-in and configuration)",
        )

    cli = [sys.executable, "-m", "kpi_xl.cli"]
    if args.rebuild_template or not TEMPLATE.exists():
        _run([*cli, "template", "-o", str(TEMPLATE), "--force"], f"building the template {TEMPLATE.name}")
    else:
        print(
            f"==> keeping your existing {TEMPLATE.relative_to(ROOT)} (use --rebuild-template to replace it)"
        )
    _run([*cli, "refresh", str(TEMPLATE)], f"refreshing {TEMPLATE.name} from its data tabs")

    print(
        f"\nkpi-xl is ready.\n  Report workbook: {TEMPLATE}\n"
        "  Command line:    kpi-xl --help\n"
        "  Tests:           python -m pytest\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
