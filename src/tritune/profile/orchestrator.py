"""ask -> deploy -> measure -> store -> tell, for one model, on one running server.

The searcher proposes (it never measures); each trial's variant is loaded into the running
server under its own name, its load sweep is measured (or replayed from the store), and the
searcher is told the outcome. Everything is in the store as soon as it is measured, so a
rerun of the same command resumes where the last one stopped.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tritune.analysis.concurrent import sharing_sentence
from tritune.analysis.configs import ConfigResult, best_per_config
from tritune.analysis.confirm import ConfirmResult, confirmed_facts, confirmed_ranking
from tritune.analysis.summary import summary_facts, summary_sentence, unmet_constraints_line
from tritune.config import ProfileConfig
from tritune.domain.joint_space import JointSpace, joint_space
from tritune.domain.layout import RunLayout
from tritune.domain.status import RunStatus
from tritune.errors import ModelError, UsageError
from tritune.profile.confirm import ConfirmStep
from tritune.profile.context import RunContext
from tritune.profile.deploy import variant_name
from tritune.profile.evaluate import VariantEvaluator

# Re-exported: the run's identity was defined here before identity.py held it.
from tritune.profile.identity import measurement_identity as measurement_identity
from tritune.profile.identity import model_identity as model_identity
from tritune.profile.identity import run_fingerprint
from tritune.profile.records import ModelFiles, RunConclusion
from tritune.search.factory import SearchPlan, build_space, concurrent_plan, create_plan
from tritune.store.results import config_results
from tritune.triton.user_model import CONFIG_FILE, config_diff

START_FAILURES = 2


def plan_for(
    config: ProfileConfig,
    model: ModelFiles,
    *,
    gpu_available: bool,
    providers: tuple[str, ...] = (),
    cpu_cores: int | None = None,
) -> SearchPlan:
    """``providers``: the execution providers the runner's ONNX Runtime offers (GPU space);
    ``cpu_cores``: the cores the server may use (CPU space; None: not known). An ensemble's
    space is its composing models' spaces, searched jointly (domain/joint_space.py), as is the
    space of models profiled concurrently."""
    if model.concurrent:
        joint = _joint_space(config, model, gpu_available, cpu_cores)
        return concurrent_plan(config, model.name, [s.name for s in model.steps], model.signature, joint)
    if model.steps:
        return create_plan(
            config, model.name, model.signature, space=_joint_space(config, model, gpu_available, cpu_cores)
        )
    space = build_space(
        config,
        model.name,
        model.signature,
        gpu_available=gpu_available,
        default=model.default,
        dynamic_batching=model.user.batching_searchable if model.user else True,
        backend=model.backend,
        precisions=tuple(model.files),
        providers=providers,
        cpu_cores=cpu_cores,
    )
    return create_plan(config, model.name, model.signature, space=space)


def _joint_space(config: ProfileConfig, model: ModelFiles, gpu_available: bool, cpu_cores: int | None) -> JointSpace:
    """Each composing model's space as a single model of the repository gets it (the ensemble's
    settings apply to each), joined; UsageError where the ensemble cannot be searched."""
    spaces = {
        step.name: build_space(
            config,
            step.name if model.concurrent else model.name,  # concurrent: each model's own settings
            step.signature,
            gpu_available=gpu_available,
            default=step.default,
            dynamic_batching=step.user.batching_searchable if step.user else True,
            backend=step.backend,
            cpu_cores=cpu_cores,
        )
        for step in model.steps
    }
    # Models profiled concurrently each send batches of 1 (the client batch is an ensemble's).
    batch_sizes = (1,) if model.concurrent else tuple(config.profile_models[model.name].parameters.batch_sizes or (1,))
    # A BLS model (not an ensemble; concurrent models have no entry) runs instances of its own: searched too.
    bls = model.user is not None and not model.user.is_ensemble
    own = build_space(config, model.name, model.signature, default=model.default, cpu_cores=cpu_cores) if bls else None
    max_batch = model.default.max_batch_size if model.default else 0
    try:
        return joint_space(spaces, max_batch_size=max_batch, client_batch_sizes=batch_sizes, own=own)
    except ValueError as error:
        raise UsageError(f"{model.name}: {error}") from None


class ProfileRun:
    """One model's search, from the first ask to the written best config."""

    def __init__(
        self,
        *,
        config: ProfileConfig,
        model: ModelFiles,
        layout: RunLayout,
        context: RunContext,
        gpu_available: bool = False,
        hardware: dict[str, Any] | None = None,
        providers: tuple[str, ...] = (),
        cpu_cores: int | None = None,
    ) -> None:
        """``context``: the store, deployer, measurement, warm-up and notifier the run, its
        evaluator and its confirm step share; ``cpu_cores``: the cores the server may use (None:
        not known), a fact for the CPU space."""
        if model.name not in config.profile_models and not model.concurrent:
            raise UsageError(f"model {model.name!r} is not in profile_models: add it to the config")
        self.config = config
        self.model = model
        self.layout = layout
        self.context = context
        self.store = context.store
        self.plan = plan_for(config, model, gpu_available=gpu_available, providers=providers, cpu_cores=cpu_cores)
        settings = {
            "model": model.name,
            "objectives": dict(self.plan.objectives.weights),
            "constraints": {
                b.metric: {k: v for k, v in (("min", b.min), ("max", b.max)) if v is not None}
                for b in self.plan.constraints.bounds
            },
            "mode": config.mode,
            "search_mode": self.plan.mode,
            "top_n": config.num_configs_per_model,
            "config": json.loads(config.model_dump_json()),
        }
        self.run, self.resumed = self.store.open_run(
            model.name,
            run_fingerprint(model, config),
            settings,
            hardware or {},
        )
        self.deployer = context.deployer
        self.notifier = context.notifier
        self.evaluator = VariantEvaluator(context, self.run)
        self.measured_now = 0  # by the search (the confirm step counts its own)
        self.replayed = 0
        self.confirm_step: ConfirmStep | None = None
        self.confirmation: ConfirmResult | None = None

    def _name_for(self, params: dict[str, Any], is_default: bool) -> str:
        known = self.store.variant_named_by_params(self.run.id, params)
        if known is not None:
            return known
        if is_default:
            return variant_name(self.model.name, None)
        return variant_name(self.model.name, self.store.variant_count(self.run.id, defaults=False))

    def search(self, on_trial: Callable[[int], None] | None = None) -> None:
        searcher = self.plan.searcher
        failed_at_start: list[str] = []
        evaluated = 0
        while (trial := searcher.ask()) is not None:
            variant = self.plan.variant(trial)
            params = dict(trial.params)
            evaluation = self.evaluator.evaluate(
                self._name_for(params, trial.is_default),
                params,
                variant.serving,
                self.plan.load_sweep(trial),
                precision=variant.precision,
                is_default=trial.is_default,
            )
            evaluated += 1
            if evaluation.failed and evaluated == len(failed_at_start) + 1 <= START_FAILURES:
                failed_at_start.append(evaluation.failed)
                if len(failed_at_start) == START_FAILURES:
                    # As Model Analyzer does: the same failure twice at the start is a setup
                    # problem (inputs, providers, server), not a property of the configurations.
                    raise ModelError(
                        f"the first {START_FAILURES} configurations failed ({failed_at_start[-1]}): "
                        "fix that before searching; what was measured is stored"
                    )
            self.measured_now += evaluation.measured_now
            self.replayed += len(evaluation.measurements) - evaluation.measured_now
            searcher.tell(trial, self.plan.score(evaluation.measurements, error=evaluation.failed))
            if on_trial is not None:
                on_trial(trial.number)
        self.store.set_run_status(self.run.id, RunStatus.COMPLETE)

    def confirm(self) -> ConfirmResult | None:
        """After the search: the finalists re-measured in interleaved rounds at the winner's load
        point (profile/confirm.py); the conclusion then decides on their medians. Resumable: the
        rounds stored are replayed."""
        self.confirm_step = ConfirmStep(
            self.context,
            self.run,
            settings=self.config.confirm,
            objectives=self.plan.objectives,
            constraints=self.plan.constraints,
            top=self.config.num_configs_per_model,
        )
        self.confirmation = self.confirm_step.run(config_results(self.store, self.run.id))
        self.store.set_run_status(self.run.id, RunStatus.COMPLETE)
        return self.confirmation

    def conclude(self, export: Path | None = None) -> RunConclusion:
        """Rank what the store holds (the confirm step's decision first, when it ran), write the
        best config.pbtxt, and optionally export it."""
        configs = config_results(self.store, self.run.id)
        facts = summary_facts(configs, self.plan.objectives, self.plan.constraints)
        if self.confirmation is not None:
            facts = confirmed_facts(facts, self.confirmation)
        sentence = summary_sentence(facts)
        if self.model.concurrent and facts.best_name is not None:
            sentence += " " + self._sharing(configs, facts.best_name)
        searched = best_per_config(configs, self.plan.objectives, self.plan.constraints)
        bests = confirmed_ranking(searched, self.confirmation)
        best_name = facts.best_name
        best_path: Path | None = None
        exported: Path | None = None
        if best_name is not None:
            best_path = self._write_best(best_name)
            if export is not None:
                exported = self._export(export, best_name)
        unmet = None
        if best_name is not None and facts.constrained and not facts.best_feasible:
            unmet = unmet_constraints_line(self.model.name, self.plan.constraints.describe(), best_name)
        return RunConclusion(
            run=self.run,
            resumed=self.resumed,
            configs=configs,
            facts=facts,
            sentence=sentence,
            best_name=best_name,
            best_config_path=best_path,
            measured_now=self.measured_now + (self.confirm_step.measured_now if self.confirm_step else 0),
            replayed=self.replayed + (self.confirm_step.replayed if self.confirm_step else 0),
            exported_to=exported,
            extra={"ranked": [b.config.name for b in bests]},
            confirmation=self.confirmation,
            unmet_constraints=unmet,
        )

    def _sharing(self, configs: list[ConfigResult], name: str) -> str:
        """How the pick of models profiled concurrently shares the machine, at its best load point."""
        bests = best_per_config(configs, self.plan.objectives, self.plan.constraints)
        best = next((b for b in bests if b.config.name == name), None)
        metrics = best.best.metrics if best is not None and best.best is not None else {}
        return sharing_sentence(self._variant_precision(name)[0], metrics)

    def _variant_precision(self, name: str) -> tuple[Any, str]:
        for variant in self.store.variants(self.run.id):
            if variant.name == name:
                return variant.serving, str(variant.params.get("precision", "fp32"))
        raise KeyError(name)

    def _write_best(self, name: str) -> Path:
        """A deployable repository entry under <run>/best/ (named for the model, not the variant)."""
        shutil.rmtree(self.layout.best, ignore_errors=True)
        config_path = self._export(self.layout.best, name)
        self.layout.best_marker.write_text(name + "\n")
        shutil.copy2(config_path, self.layout.best_config)
        own = self.model.user
        if own is not None or self.model.concurrent:
            # An ensemble's own config changes nowhere, and models profiled concurrently have
            # none: the diff is each composing (or concurrent) model's.
            diffs = [config_diff(own, config_path.read_text())] if own is not None and not self.model.steps else []
            for step in self.model.steps:
                assert step.user is not None
                step_config = self.layout.best / step.name / CONFIG_FILE
                diffs.append(config_diff(step.user, step_config.read_text(), f"best/{step.name}/{CONFIG_FILE}"))
            self.layout.best_diff.write_text("".join(diffs))
        return self.layout.best_config

    def _export(self, repository: Path, name: str) -> Path:
        serving, precision = self._variant_precision(name)
        return self.deployer.export(repository, self.model.name, serving, precision)
