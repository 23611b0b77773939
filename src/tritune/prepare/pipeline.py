"""``prepare_model``: source -> ONNX -> dynamic batch -> symbolic shapes -> [optimization] ->
precision variants, each validated against the source -> max-batch search -> a model repository
entry with config.pbtxt and prepare_report.json. A failed check is reported, never hidden: the
serving config is written only when every check passed (or when forced).

The steps are in ``steps.py``, the report record in ``record.py``; this module orders them and
writes the results."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from tritonclient.grpc import model_config_pb2 as mc

from tritune import __version__
from tritune.domain.devices import Device, choose_device
from tritune.domain.names import check_model_name, default_model_name
from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.errors import UsageError
from tritune.prepare.max_batch import MaxBatchResult
from tritune.prepare.options import PrepareOptions, Tolerance
from tritune.prepare.record import (
    REPORT_FILE,
    VARIANTS_DIR,
    BatchRecord,
    InputRecord,
    PreparedModel,
    PrepareReport,
    SourceRecord,
    ValidationRecord,
    VariantRecord,
)
from tritune.prepare.serve_check import serve_check
from tritune.prepare.sources import source_kind
from tritune.prepare.steps import (
    BatchOutcome,
    Findings,
    Imported,
    Log,
    Precisions,
    batch_step,
    import_step,
    max_batch_step,
    precision_step,
    reference_outputs,
)
from tritune.prepare.transforms import external_files, save_model
from tritune.triton.model_config import load_onnx
from tritune.triton.repository import deploy_onnx

MODEL_FILE = "model.onnx"
# In a model folder prepare is still writing (removed with the report written): a folder a
# SIGKILL left half-written is not taken for a prepared model, and the rerun may reuse it.
CLAIM_FILE = ".tritune-prepare-incomplete"


def host_device(requested: str) -> Device:
    """The device ``requested`` stands for on this host (see ``choose_device``)."""
    from tritune.system import list_gpus, runtime_providers

    if requested == "cpu":
        return choose_device(requested, (), 0)  # no need to ask NVML or ONNX Runtime
    return choose_device(requested, runtime_providers(), len(list_gpus()))


def _claim(model_dir: Path) -> None:
    """Reuse a directory only when it is empty or a previous prepare made it."""
    if model_dir.exists():
        if not model_dir.is_dir():
            raise UsageError(f"{model_dir} exists and is a file: choose another output (-o) or --name")
        ours = (model_dir / REPORT_FILE).exists() or (model_dir / CLAIM_FILE).exists()
        if any(model_dir.iterdir()) and not ours:
            raise UsageError(
                f"{model_dir} exists and was not made by tritune prepare: choose another output (-o) or --name"
            )
        shutil.rmtree(model_dir)
    model_dir.mkdir(parents=True)
    (model_dir / CLAIM_FILE).write_text("tritune prepare is writing this model: not ready until prepare_report.json\n")


def _copy_variant(source: Path, target_dir: Path) -> Path:
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / MODEL_FILE
    model = load_onnx(source, load_external_data=True)
    save_model(model, target)  # re-saving names external data after the target, not the temp file
    return target


def _report(
    model_arg: str, name: str, imported: Imported, outcome: BatchOutcome, precisions: Precisions,
    max_batch: tuple[int, MaxBatchResult | None], variants: Mapping[str, VariantRecord],
    deployed: bool, options: PrepareOptions, found: Findings,
) -> PrepareReport:  # fmt: skip
    batch, src = imported.batch, imported.source
    return PrepareReport(
        tritune_version=__version__,
        name=name,
        passed=not found.problems,
        deployed=deployed,
        problems=tuple(found.problems),
        source=SourceRecord(model_arg, src.kind, src.reference_label),
        batch=BatchRecord(
            batch.kind if batch.kind != "fixed" else f"fixed {batch.size}",
            outcome.batched,
            outcome.check,
            tuple(outcome.suspects),
        ),
        changes=tuple(found.changes),
        notes=tuple(found.notes),
        validation=ValidationRecord(
            {k: InputRecord(tuple(v.shape), str(v.dtype)) for k, v in outcome.feeds.items()},
            str(options.data) if options.data else "generated",
            tuple(precisions.comparisons),
        ),
        max_batch_size=max_batch[0],
        max_batch_search=max_batch[1],
        variants=variants,
        primary_precision=options.precisions[0],
        optimization=options.optimize,
    )


def served_tolerance(config: mc.ModelConfig, options: PrepareOptions) -> Tolerance:
    """The bound for Triton's answer against the reference (made in full fp32 on the CPU).

    On a GPU instance the runner's CUDA provider does fp32 convolutions and matrix products in
    TF32 (ONNX Runtime's default; a 10-bit mantissa, fp16's), so fp32 there is held to the
    looser of fp32's and fp16's default bounds (a wrong row or layout still misses those by far);
    a bound the user gave is kept as given."""
    primary = options.tolerance(options.precisions[0])
    on_gpu = any(group.kind == mc.ModelInstanceGroup.KIND_GPU for group in config.instance_group)
    if not on_gpu or options.precisions[0] != "fp32" or "fp32" in options.tolerances:
        return primary
    half = options.tolerance("fp16")
    return Tolerance(atol=max(primary.atol, half.atol), rtol=max(primary.rtol, half.rtol))


def _prove(
    config: mc.ModelConfig, path: Path, feeds: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray],
    options: PrepareOptions, found: Findings,
) -> mc.ModelConfig | None:  # fmt: skip
    """The config when Triton loads it and answers one request like the model run directly;
    else a problem, and (unless forced) the config removed: never a written and broken config."""
    problem, note = serve_check(path.parent.parent, config, feeds, reference, served_tolerance(config, options))
    if note:
        found.notes.append(note)
    if problem is None:
        return config
    found.problems.append(problem)
    if options.force:
        return config
    path.unlink(missing_ok=True)
    return None


def prepare_model(
    source: str | Path,
    out_dir: str | Path,
    name: str | None = None,
    options: PrepareOptions | None = None,
    *,
    log: Log | None = None,
) -> PreparedModel:
    """Prepare ``source`` into ``out_dir/<name>`` (see the module docstring).

    Raises TrituneError (UsageError/ModelError) when the source cannot be used at all; a check
    that fails is returned as ``passed=False`` with ``problems``, so a caller decides."""
    options = options or PrepareOptions()
    say = log or (lambda _message: None)
    model_arg = str(source)
    kind = source_kind(model_arg)  # an unsupported input fails before anything is written
    name = check_model_name(name or default_model_name(model_arg, directory=kind == "savedmodel"))
    repository = Path(out_dir)
    model_dir = repository / name
    found = Findings()
    device = host_device(options.device)  # before any work: --device gpu without CUDA fails here
    if device.note:  # a GPU without CUDA: said once, with the fix
        found.notes.append(device.note)
    claimed = False  # from here on model_dir is ours: a stop (Ctrl-C, an error) removes it
    try:
        with tempfile.TemporaryDirectory(prefix="tritune-prepare-") as tmp:
            work = Path(tmp)
            imported = import_step(model_arg, work, options, found, say)
            outcome = batch_step(imported, work, options, found, say)
            say("running the source model for reference outputs ...")
            reference = reference_outputs(imported.source, outcome.feeds, outcome.batched)
            precisions = precision_step(imported.source, outcome, reference, work, options, found, say)
            max_batch, device = max_batch_step(outcome, precisions.variants, options, found, say, device)
            _claim(model_dir)
            claimed = True
            files = {p: _copy_variant(path, model_dir / VARIANTS_DIR / p) for p, path in precisions.variants.items()}
        variants = {
            p: VariantRecord(str(f.relative_to(model_dir)), options.force or precisions.verdicts[p])
            for p, f in files.items()
        }
        config = None
        primary = options.precisions[0]
        if (not found.problems or options.force) and primary in files:
            size = max_batch[0]
            # One instance of the device's kind: on KIND_GPU Triton reads count 1 as one per GPU.
            serving = ServingConfig(
                max_batch_size=size,
                instance_kind=device.instance_kind,
                dynamic_batching=DynamicBatching() if size > 0 else None,
            )
            deployed = deploy_onnx(
                repository, name, files[primary], serving, external_data=external_files(files[primary])
            )
            config = deployed.config
            if options.serve_check:
                say("loading the config in Triton for one request ...")
                config = _prove(deployed.config, deployed.config_path, outcome.feeds, reference, options, found)
        report = _report(
            model_arg, name, imported, outcome, precisions, max_batch, variants, config is not None, options, found
        )
        report.write(model_dir)
        (model_dir / CLAIM_FILE).unlink()
    except BaseException:
        if claimed:
            shutil.rmtree(model_dir, ignore_errors=True)
        raise
    return PreparedModel(model_dir, report, config)
