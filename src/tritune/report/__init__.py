"""Reports from the run store: summary and detailed HTML (+ PDF), Model Analyzer's CSVs, JSON.

``build_report_data`` is pure (tests assert on its result); ``write_reports`` does the IO.
"""

from tritune.report.build import build_report_data
from tritune.report.load import load_run, load_runs
from tritune.report.records import ReportData, ReportSettings, RunSnapshot
from tritune.report.terminal import print_summary
from tritune.report.write import WrittenReports, write_reports

__all__ = [
    "ReportData",
    "ReportSettings",
    "RunSnapshot",
    "WrittenReports",
    "build_report_data",
    "load_run",
    "load_runs",
    "print_summary",
    "write_reports",
]
