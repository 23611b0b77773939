"""Where everything of a profile run lives: the one place that spells a run folder's paths.

    <root>/tritune.db                                   the run store (SQLite)
    <root>/tritune.lock                                 held by the one tritune running here (store/lock.py)
    <root>/tritonserver.log                             the embedded server's log
    <root>/prepared/<model>/...                         what ``tritune prepare`` made of the model
    <root>/output_model_repository/<variant>/config.pbtxt   every variant tried
    <root>/best/config.pbtxt (+ BEST_VARIANT, model files)  the winner, ready to deploy
    <root>/best/config.diff                             a repository model: its config -> the winner
    <root>/reports/summaries/<model>/result_summary.html
    <root>/reports/detailed/<variant>/detailed_report.html
    <root>/reports/report_data.json
    <root>/results/metrics-*.csv                        Model Analyzer's CSVs

The profile run writes it, the reports read it (their ``<root>`` may be another output folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RUNS_DIR = "tritune_runs"  # under the export path, a run folder per model
STORE_FILE = "tritune.db"


@dataclass(frozen=True)
class RunLayout:
    root: Path

    @classmethod
    def default(cls, export_path: Path, model: str) -> RunLayout:
        """``<export_path>/tritune_runs/<model>``: where a run goes unless told otherwise."""
        return cls(Path(export_path) / RUNS_DIR / model)

    @property
    def store(self) -> Path:
        return self.root / STORE_FILE

    @property
    def server_log(self) -> Path:
        return self.root / "tritonserver.log"

    @property
    def prepared(self) -> Path:
        """The model repository ``tritune prepare`` writes the run's prepared model into."""
        return self.root / "prepared"

    @property
    def output_repository(self) -> Path:
        return self.root / "output_model_repository"

    def variant_config(self, variant: str) -> Path:
        return self.output_repository / variant / "config.pbtxt"

    @property
    def best(self) -> Path:
        return self.root / "best"

    @property
    def best_config(self) -> Path:
        return self.best / "config.pbtxt"

    @property
    def best_diff(self) -> Path:
        """What the winner changes in the user's own config.pbtxt (a model of their repository)."""
        return self.best / "config.diff"

    @property
    def best_marker(self) -> Path:
        """Names the winning variant, so a deployed ``best/`` can be traced back to the store."""
        return self.best / "BEST_VARIANT"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def summary_html(self, model: str) -> Path:
        return self.reports / "summaries" / model / "result_summary.html"

    def detailed_html(self, variant: str) -> Path:
        return self.reports / "detailed" / variant / "detailed_report.html"

    @property
    def report_json(self) -> Path:
        return self.reports / "report_data.json"

    @property
    def results(self) -> Path:
        """Model Analyzer's CSVs."""
        return self.root / "results"
