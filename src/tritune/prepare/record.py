"""What ``tritune prepare`` leaves in ``<repository>/<name>/``: the report (a frozen record,
written to and read from ``prepare_report.json`` here and nowhere else) and ``PreparedModel``,
the handle the rest of tritune gets.

The JSON keeps the layout of the first prepare reports (``sweep`` for the max-batch search
included), so folders prepared by earlier versions still load."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tritonclient.grpc import model_config_pb2 as mc

from tritune.errors import ModelError
from tritune.prepare.max_batch import MaxBatchResult
from tritune.prepare.validate import Comparison
from tritune.triton.model_config import from_pbtxt

REPORT_FILE = "prepare_report.json"
VARIANTS_DIR = "variants"


@dataclass(frozen=True)
class SourceRecord:
    model: str  # as the user gave it
    kind: str  # see prepare.sources.source_kind
    reference: str  # what the variants were validated against


@dataclass(frozen=True)
class BatchRecord:
    original: str  # "dynamic", "none" or "fixed N": the batch dimension as the model came
    dynamic: bool  # the prepared model batches
    stacked_check: Comparison | None
    reshape_suspects: tuple[str, ...] = ()


@dataclass(frozen=True)
class InputRecord:
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class ValidationRecord:
    inputs: Mapping[str, InputRecord]
    data: str  # the --data file, or "generated"
    results: tuple[Comparison, ...]


@dataclass(frozen=True)
class VariantRecord:
    file: str  # relative to the model directory
    usable: bool  # validated, or written anyway with --force


@dataclass(frozen=True)
class PrepareReport:
    """What prepare did and found, as ``prepare_report.json`` holds it (``to_dict``/``from_dict``
    are the one mapping to and from that JSON)."""

    tritune_version: str
    name: str
    passed: bool
    deployed: bool
    problems: tuple[str, ...]
    source: SourceRecord
    batch: BatchRecord
    changes: tuple[str, ...]
    notes: tuple[str, ...]
    validation: ValidationRecord
    max_batch_size: int
    max_batch_search: MaxBatchResult | None  # None when given (--max-batch-size) or not batching
    variants: Mapping[str, VariantRecord]
    primary_precision: str
    optimization: str

    def to_dict(self) -> dict[str, Any]:
        batch, validation = self.batch, self.validation
        return {
            "tritune_version": self.tritune_version,
            "name": self.name,
            "passed": self.passed,
            "deployed": self.deployed,
            "problems": list(self.problems),
            "source": {"model": self.source.model, "kind": self.source.kind, "reference": self.source.reference},
            "batch": {
                "original": batch.original,
                "dynamic": batch.dynamic,
                "stacked_check": batch.stacked_check.as_dict() if batch.stacked_check else None,
                "reshape_suspects": list(batch.reshape_suspects),
            },
            "changes": list(self.changes),
            "notes": list(self.notes),
            "validation": {
                "inputs": {k: {"shape": list(v.shape), "dtype": v.dtype} for k, v in validation.inputs.items()},
                "data": validation.data,
                "results": [c.as_dict() for c in validation.results],
            },
            "max_batch_size": self.max_batch_size,
            "sweep": self.max_batch_search.as_dict() if self.max_batch_search else None,
            "variants": {p: {"file": v.file, "usable": v.usable} for p, v in self.variants.items()},
            "primary_precision": self.primary_precision,
            "optimization": self.optimization,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PrepareReport:
        batch, validation, source = data["batch"], data["validation"], data["source"]
        check = batch["stacked_check"]
        search = data["sweep"]
        return cls(
            tritune_version=data["tritune_version"],
            name=data["name"],
            passed=bool(data["passed"]),
            deployed=bool(data["deployed"]),
            problems=tuple(data["problems"]),
            source=SourceRecord(source["model"], source["kind"], source["reference"]),
            batch=BatchRecord(
                batch["original"],
                bool(batch["dynamic"]),
                Comparison.from_dict(check) if check else None,
                tuple(batch["reshape_suspects"]),
            ),
            changes=tuple(data["changes"]),
            notes=tuple(data["notes"]),
            validation=ValidationRecord(
                {k: InputRecord(tuple(v["shape"]), v["dtype"]) for k, v in validation["inputs"].items()},
                validation["data"],
                tuple(Comparison.from_dict(c) for c in validation["results"]),
            ),
            max_batch_size=int(data["max_batch_size"]),
            max_batch_search=MaxBatchResult.from_dict(search) if search else None,
            variants={p: VariantRecord(v["file"], bool(v["usable"])) for p, v in data["variants"].items()},
            primary_precision=data["primary_precision"],
            optimization=data["optimization"],
        )

    def write(self, model_dir: Path) -> Path:
        path = model_dir / REPORT_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, model_dir: Path) -> PrepareReport:
        path = model_dir / REPORT_FILE
        if not path.exists():
            raise ModelError(f"{model_dir} has no {REPORT_FILE}: run tritune prepare on the model first")
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError) as error:
            raise ModelError(
                f"{path} is not a prepare report ({type(error).__name__}: {error}): run tritune prepare again"
            ) from None


@dataclass(frozen=True)
class PreparedModel:
    """A prepared model directory (``<repository>/<name>``): its report, and its serving config
    when one was written (None when a check failed and nothing was deployed)."""

    directory: Path
    report: PrepareReport
    config: mc.ModelConfig | None

    @property
    def name(self) -> str:
        return self.report.name

    @property
    def repository(self) -> Path:
        return self.directory.parent

    @property
    def report_path(self) -> Path:
        return self.directory / REPORT_FILE

    @property
    def deployed(self) -> bool:
        return self.config is not None

    @property
    def passed(self) -> bool:
        return self.report.passed

    @property
    def problems(self) -> tuple[str, ...]:
        return self.report.problems

    @property
    def max_batch_size(self) -> int:
        return self.report.max_batch_size

    @property
    def batch_dynamic(self) -> bool:
        return self.report.batch.dynamic

    @property
    def model_files(self) -> dict[str, Path]:
        """Each usable precision's ONNX file: the search's precision dimension."""
        return {p: self.directory / v.file for p, v in self.report.variants.items() if v.usable}

    @property
    def precisions(self) -> tuple[str, ...]:
        return tuple(self.model_files)


def load_prepared(model_dir: str | Path) -> PreparedModel:
    """A model directory written by ``prepare_model`` (``OUT/<name>``), read back from its report."""
    directory = Path(model_dir)
    report = PrepareReport.read(directory)
    config_path = directory / "config.pbtxt"
    config = from_pbtxt(config_path.read_text()) if report.deployed and config_path.exists() else None
    return PreparedModel(directory, report, config)
