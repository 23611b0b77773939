"""The records a run's modules share: :class:`ModelFiles` (what is profiled, as the search sees
it) and :class:`RunConclusion` (what one model's run found). They live apart from the run itself
(orchestrator.py) so that what only reads them (identity.py, notify.py, the CLI, reports) does
not import the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tritune.analysis.configs import ConfigResult
from tritune.analysis.confirm import ConfirmResult
from tritune.analysis.summary import SummaryFacts
from tritune.domain.model import ModelSignature
from tritune.domain.serving import ServingConfig
from tritune.store import RunRecord
from tritune.triton.user_model import UserModel


@dataclass(frozen=True)
class ModelFiles:
    """The model to profile: prepared ONNX files (one per precision) served by tritune's runner,
    or, with ``user``, an entry of the user's model repository served by its own backend."""

    name: str
    files: dict[str, Path]  # "fp32" -> path (always), "fp16" -> path (optional); {} for a user model
    signature: ModelSignature
    user: UserModel | None = None
    # How the model is served now (a user model: Triton's completed config), the search's
    # default configuration; None: the untuned default tritune gives a model file.
    default: ServingConfig | None = None
    # The backend that serves it (a user model: as Triton completed it, so an inferred backend
    # counts); None: tritune's runner. Its knobs join the search space.
    backend: str | None = None
    # An ensemble's composing models (each a user model as above), in step order: their knobs
    # are searched jointly and ``user`` is the ensemble's own entry. Empty for any other model.
    steps: tuple[ModelFiles, ...] = ()
    # The steps are models profiled concurrently (run_config_profile_models_concurrently_enable):
    # served side by side and driven together, no entry of their own (``user`` None), ``name``
    # the run's (domain.names.concurrent_name).
    concurrent: bool = False

    @property
    def batches(self) -> bool:
        """Whether requests carry a batch dimension (the model's max_batch_size is above 0)."""
        return self.default.max_batch_size > 0 if self.default else self.signature.batch_is_dynamic


@dataclass
class RunConclusion:
    """What one model's run found: every configuration, the summary, where the best went."""

    run: RunRecord
    resumed: bool
    configs: list[ConfigResult]
    facts: SummaryFacts
    sentence: str
    best_name: str | None
    best_config_path: Path | None
    measured_now: int = 0
    replayed: int = 0
    exported_to: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    confirmation: ConfirmResult | None = None  # the confirm step's decision (None: it did not run)
    # The line that says no configuration meets the constraints (None: one does, or none were given).
    unmet_constraints: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The summary scripts read (``tritune profile --json``)."""
        facts = self.facts
        return {
            "model": self.run.model_name,
            "run_id": self.run.id,
            "resumed": self.resumed,
            "sentence": self.sentence,
            "best": self.best_name,
            "best_config": str(self.best_config_path) if self.best_config_path else None,
            "exported_to": str(self.exported_to) if self.exported_to else None,
            "gain_percent": facts.gain_percent,
            "throughput": facts.throughput,
            "latency_p99_ms": facts.latency_p99_ms,
            "measurements": facts.measurements,
            "configurations": facts.configurations,
            "measured_now": self.measured_now,
            "replayed": self.replayed,
            "ranked": self.extra.get("ranked", []),
            # The confirm step's evidence: rounds per finalist, medians, spread, the tie if any.
            "confirm": None if self.confirmation is None else self.confirmation.to_json(),
            "constraints_met": self.unmet_constraints is None,
        }
