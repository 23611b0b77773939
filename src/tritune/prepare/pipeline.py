"""``prepare_model``: source -> ONNX -> dynamic batch -> symbolic shapes -> [optimization] ->
precision variants, each validated against the source -> max-batch search -> a model repository
entry with config.pbtxt and prepare_report.json. A failed check is reported, never hidden: the
serving config is written only when every check passed (or when forced)."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import psutil
from tritonclient.grpc import model_config_pb2 as mc

from tritune import __version__
from tritune.domain.model import ModelSignature
from tritune.domain.names import check_model_name, default_model_name
from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.errors import ModelError, UsageError
from tritune.inputs import make_inputs, resolve_shapes
from tritune.prepare.batch import detect_batch, link_output_batch, make_batch_dynamic, reshape_suspects
from tritune.prepare.max_batch import MaxBatchResult, max_batch_search, ort_throughput
from tritune.prepare.options import PrepareOptions
from tritune.prepare.sources import Source, import_source, onnx_runner, source_kind
from tritune.prepare.transforms import (
    convert_fp16,
    drop_initializer_inputs,
    external_files,
    optimize_offline,
    save_model,
    symbolic_shape_inference,
)
from tritune.prepare.validate import (
    Comparison,
    compare_outputs,
    error_text,
    run_in_chunks,
    stacked_batch_check,
)
from tritune.runner.dtypes import numpy_dtype
from tritune.triton.model_config import load_onnx, signature_from_onnx
from tritune.triton.repository import deploy_onnx

REPORT_FILE = "prepare_report.json"
VARIANTS_DIR = "variants"
MODEL_FILE = "model.onnx"

Log = Callable[[str], None]


@dataclass(frozen=True)
class PreparedModel:
    """The result. ``model_files`` maps each usable precision to its ONNX file (the search's
    precision dimension); ``config`` is None when a check failed and nothing was deployed."""

    name: str
    repository: Path
    model_files: dict[str, Path]
    max_batch_size: int
    batch_dynamic: bool
    passed: bool
    problems: tuple[str, ...]
    report: dict[str, Any]
    config: mc.ModelConfig | None

    @property
    def directory(self) -> Path:
        return self.repository / self.name

    @property
    def report_path(self) -> Path:
        return self.directory / REPORT_FILE

    @property
    def deployed(self) -> bool:
        return self.config is not None

    @property
    def precisions(self) -> tuple[str, ...]:
        return tuple(self.model_files)


def _claim(model_dir: Path) -> None:
    """Reuse a directory only when it is empty or a previous prepare made it."""
    if model_dir.exists():
        if not model_dir.is_dir():
            raise UsageError(f"{model_dir} exists and is a file: choose another output (-o) or --name")
        if any(model_dir.iterdir()) and not (model_dir / REPORT_FILE).exists():
            raise UsageError(
                f"{model_dir} exists and was not made by tritune prepare: choose another output (-o) or --name"
            )
        shutil.rmtree(model_dir)
    model_dir.mkdir(parents=True)


def _load_data(path: Path, signature: ModelSignature, batched: bool) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as archive:
            data = {k: archive[k] for k in archive.files}
    except Exception as error:
        raise UsageError(f"cannot read validation data {path} ({error_text(error)}): pass an .npz file") from None
    expected = {t.name for t in signature.inputs}
    if set(data) != expected:
        raise UsageError(
            f"validation data {path} holds {sorted(data)}, the model's inputs are {sorted(expected)}: "
            "store one array per input, named after it"
        )
    for tensor in signature.inputs:
        array = data[tensor.name]
        declared = tensor.shape
        if len(array.shape) != len(declared) or any(
            d not in (-1, a) for d, a in zip(declared, array.shape, strict=True)
        ):
            raise UsageError(
                f"validation data {tensor.name!r} has shape {list(array.shape)}, "
                f"the model expects {list(declared)} (-1 is free; the batch dimension included)"
            )
        data[tensor.name] = array.astype(numpy_dtype(tensor.triton_type), copy=False)
    if batched and min(a.shape[0] for a in data.values()) < 2:
        raise UsageError(f"validation data {path} holds one sample: give at least 2 so batching is checked")
    return data


def _shapes(
    signature: ModelSignature, batch: int, options: PrepareOptions, batched: bool
) -> dict[str, tuple[int, ...]]:
    for spec in options.inputs:
        if spec.dtype is None:
            continue
        try:
            declared = numpy_dtype(signature.input(spec.name).triton_type)
        except KeyError:
            continue  # resolve_shapes names the unknown input
        if np.dtype(spec.dtype) != declared:
            raise UsageError(
                f"--input {spec.name} says {spec.dtype}, the model's input is {declared.name}: fix --input"
            )
    overrides = {spec.name: spec.dims for spec in options.inputs}
    try:
        return resolve_shapes(signature, batch, overrides, batched)
    except UsageError as error:
        # The shared resolver speaks of perf's --shape; here the same values come from --input.
        raise UsageError(error.message.replace("--shape", "--input")) from None


def _feeds(
    signature: ModelSignature, batch: int, options: PrepareOptions, batched: bool, seed: int
) -> dict[str, np.ndarray]:
    shapes = _shapes(signature, batch, options, batched)
    return make_inputs(signature, shapes, "random", np.random.default_rng(seed))


def _reference_outputs(source: Source, feeds: Mapping[str, np.ndarray], batched: bool) -> dict[str, np.ndarray]:
    try:
        if batched and source.reference_batch:
            return run_in_chunks(source.reference, feeds, source.reference_batch)
        return source.reference(feeds)
    except Exception as error:
        shown = ", ".join(f"{k} {list(v.shape)} {v.dtype}" for k, v in feeds.items())
        raise ModelError(
            f"the source model fails on the validation inputs ({shown}): {error_text(error)}: "
            "check --input shapes/dtypes or --data"
        ) from None


def _validate(label: str, path: Path, reference: Mapping[str, np.ndarray], feeds: Mapping[str, np.ndarray],
              options: PrepareOptions, precision: str) -> Comparison:  # fmt: skip
    tolerance = options.tolerance(precision)
    try:
        candidate = onnx_runner(path)(feeds)
    except Exception as error:
        return Comparison(
            label, tolerance, error=f"does not run: {getattr(error, 'message', None) or error_text(error)}"
        )
    return compare_outputs(label, reference, candidate, tolerance)


def _stage(model: onnx.ModelProto, work: Path, tag: str, found: _Findings, *, record: bool = True) -> Path:
    """Save, then let ONNX Runtime's symbolic shape inference link every output to the inputs."""
    staged = work / f"{tag}.onnx"
    save_model(model, staged)
    inferred = work / f"{tag}.inferred.onnx"
    failure = symbolic_shape_inference(staged, inferred)
    if failure:
        found.notes.append(f"symbolic shape inference failed ({failure}); kept the shapes ONNX declares")
        return staged
    if record:
        found.changes.append("shapes inferred by ONNX Runtime's symbolic_shape_infer (auto-merge)")
    return inferred


def _search_max_batch(path: Path, signature: ModelSignature, options: PrepareOptions) -> MaxBatchResult:
    run = onnx_runner(path)
    rng = np.random.default_rng(options.seed)

    def make_feeds(batch: int) -> dict[str, np.ndarray]:
        return make_inputs(signature, _shapes(signature, batch, options, True), "random", rng)

    budget = psutil.virtual_memory().available // 2
    measure = ort_throughput(run, make_feeds, min_time_s=options.max_batch_min_time_s, memory_budget_bytes=budget)
    return max_batch_search(measure, options.max_batch_cap)


def _copy_variant(source: Path, target_dir: Path) -> Path:
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / MODEL_FILE
    model = load_onnx(source, load_external_data=True)
    save_model(model, target)  # re-saving names external data after the target, not the temp file
    return target


@dataclass
class _Findings:
    """What the run changed, noticed and found wrong, in order, for the report."""

    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class _BatchOutcome:
    batched: bool
    model: Path
    signature: ModelSignature
    feeds: dict[str, np.ndarray]
    check: Comparison | None = None
    suspects: list[str] = field(default_factory=list)


def _batch_inputs_dynamic(signature: ModelSignature) -> bool:
    return bool(signature.inputs) and all(t.shape and t.shape[0] == -1 for t in signature.inputs)


def _pinned_problem(check: Comparison, suspects: list[str]) -> str:
    why = check.error or "; ".join(
        f"{o.name}: {o.note or f'{o.mismatched} of {o.elements} values differ'}" for o in check.outputs if not o.passed
    )
    return (
        f"the batch dimension is pinned ({why})"
        + (f"; suspects: {'; '.join(suspects)}" if suspects else "")
        + ": export with a dynamic batch (e.g. x.view(x.size(0), -1), not view(1, -1)), "
        "or serve without batching (--no-dynamic-batch)"
    )


def _batch_step(
    src: Source, original: onnx.ModelProto, batch_kind: str, batch_size: int | None, current: Path,
    work: Path, options: PrepareOptions, found: _Findings, say: Log,
) -> _BatchOutcome:  # fmt: skip
    """Run the stacked-batch check on a model whose inputs have a dynamic batch; fall back to
    the model's own fixed batch (reported as a problem) when the batch turns out pinned."""
    signature = signature_from_onnx(load_onnx(current))
    if batch_kind == "none" or not _batch_inputs_dynamic(signature):
        feeds = _validation_feeds(signature, 1, options, batched=False)
        return _BatchOutcome(False, current, signature, feeds)
    n = options.validation_batch
    if src.reference_batch and src.reference_batch > 1:
        n = math.ceil(n / src.reference_batch) * src.reference_batch
    feeds = _validation_feeds(signature, n, options, batched=True)
    say(f"checking batch {next(iter(feeds.values())).shape[0]} against stacked batch-1 runs ...")
    check = stacked_batch_check(onnx_runner(current), feeds, options.tolerance("fp32"))
    if check.passed:
        if not signature.batch_is_dynamic:
            # Outputs declared with a fixed first dim that the check shows follows the batch.
            model = load_onnx(current, load_external_data=True)
            found.changes.extend(link_output_batch(model))
            save_model(model, current)
            signature = signature_from_onnx(model)
        return _BatchOutcome(True, current, signature, feeds, check)
    suspects = [s.describe() for s in reshape_suspects(original, batch_size or 1)]
    found.problems.append(_pinned_problem(check, suspects))
    # What does work is the model as exported, at its own batch size.
    current = _stage(original, work, "as_exported", found, record=False)
    found.notes.append("the batch changes were reverted: the model is kept as exported, without batching")
    signature = signature_from_onnx(load_onnx(current))
    feeds = _validation_feeds(signature, 1, options, batched=_batch_inputs_dynamic(signature))
    return _BatchOutcome(False, current, signature, feeds, check, suspects)


def _validation_feeds(
    signature: ModelSignature, batch: int, options: PrepareOptions, *, batched: bool
) -> dict[str, np.ndarray]:
    if options.data:
        return _load_data(options.data, signature, batched and batch > 1)
    return _feeds(signature, batch, options, batched, options.seed)


def _precision_step(
    src: Source, current: Path, reference: Mapping[str, np.ndarray], feeds: Mapping[str, np.ndarray],
    work: Path, options: PrepareOptions, found: _Findings, say: Log,
) -> tuple[dict[str, Path], dict[str, bool], list[Comparison]]:  # fmt: skip
    variants: dict[str, Path] = {}
    verdicts: dict[str, bool] = {}
    comparisons: list[Comparison] = []
    for precision in options.precisions:
        label = f"{precision} vs {src.reference_label}"
        path = current
        if precision == "fp16":
            say("converting to FP16 ...")
            try:
                path = work / "fp16.onnx"
                converted, converter = convert_fp16(load_onnx(current, load_external_data=True))
                save_model(converted, path)
            except ModelError as error:
                comparisons.append(Comparison(label, options.tolerance(precision), error=error.message))
                continue
            found.changes.append(
                f"fp16 variant by {converter}: FP32 tensors to FP16, inputs/outputs kept FP32, range clamped to +-65504"
            )
        say(f"validating {precision} ...")
        comparisons.append(_validate(label, path, reference, feeds, options, precision))
        variants[precision] = path
        verdicts[precision] = comparisons[-1].passed
    found.problems.extend(f"numeric validation failed: {c.summary()}" for c in comparisons if not c.passed)
    return variants, verdicts, comparisons


def _max_batch_step(
    outcome: _BatchOutcome, variants: Mapping[str, Path], options: PrepareOptions, found: _Findings, say: Log
) -> tuple[int, MaxBatchResult | None]:
    if not outcome.batched:
        if options.max_batch_size:
            found.problems.append(
                f"max batch size {options.max_batch_size} was asked for, but the model cannot batch: "
                "drop --max-batch-size or fix the batch dimension"
            )
        return 0, None
    if options.max_batch_size is not None:
        return options.max_batch_size, None
    primary = options.precisions[0]
    if primary not in variants:
        return 0, None
    say(f"searching the max batch size up to {options.max_batch_cap} ...")
    sweep = _search_max_batch(variants[primary], outcome.signature, options)
    return sweep.max_batch_size, sweep


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
    found = _Findings()
    with tempfile.TemporaryDirectory(prefix="tritune-prepare-") as tmp:
        work = Path(tmp)
        say(f"importing {model_arg} ...")
        src = import_source(model_arg, work, options)
        found.notes.extend(src.notes)
        original = load_onnx(src.onnx_path, load_external_data=True)
        found.changes.extend(drop_initializer_inputs(original))
        batch = detect_batch(original)
        model = onnx.ModelProto()
        model.CopyFrom(original)
        if batch.kind == "fixed" and options.dynamic_batch:
            assert batch.size is not None
            model, made = make_batch_dynamic(original, batch.size, fix_reshapes=options.fix_reshapes)
            found.changes.extend(made)
        elif batch.kind == "dynamic":
            found.changes.extend(link_output_batch(model))
        elif batch.kind == "none":
            found.notes.append(f"no batch dimension: {batch.reason}; the model is served without batching")
        say("inferring shapes ...")
        current = _stage(model, work, "prepared", found)
        if options.optimize != "none":
            optimized = work / "optimized.onnx"
            optimize_offline(current, optimized, options.optimize)
            found.changes.append(f"graph optimized offline by ONNX Runtime ({options.optimize})")
            current = optimized
        outcome = _batch_step(src, original, batch.kind, batch.size, current, work, options, found, say)
        say("running the source model for reference outputs ...")
        reference = _reference_outputs(src, outcome.feeds, outcome.batched)
        variants, verdicts, comparisons = _precision_step(
            src, outcome.model, reference, outcome.feeds, work, options, found, say
        )
        max_batch_size, sweep = _max_batch_step(outcome, variants, options, found, say)
        _claim(model_dir)
        files = {p: _copy_variant(path, model_dir / VARIANTS_DIR / p) for p, path in variants.items()}
    passed = not found.problems
    usable = {p: f for p, f in files.items() if options.force or verdicts[p]}
    config = None
    primary = options.precisions[0]
    if (passed or options.force) and primary in files:
        serving = ServingConfig(
            max_batch_size=max_batch_size, dynamic_batching=DynamicBatching() if max_batch_size > 0 else None
        )
        deployed = deploy_onnx(repository, name, files[primary], serving, external_data=external_files(files[primary]))
        config = deployed.config
    report = {
        "tritune_version": __version__,
        "name": name,
        "passed": passed,
        "deployed": config is not None,
        "problems": found.problems,
        "source": {"model": model_arg, "kind": src.kind, "reference": src.reference_label},
        "batch": {
            "original": batch.kind if batch.kind != "fixed" else f"fixed {batch.size}",
            "dynamic": outcome.batched,
            "stacked_check": outcome.check.as_dict() if outcome.check else None,
            "reshape_suspects": outcome.suspects,
        },
        "changes": found.changes,
        "notes": found.notes,
        "validation": {
            "inputs": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in outcome.feeds.items()},
            "data": str(options.data) if options.data else "generated",
            "results": [c.as_dict() for c in comparisons],
        },
        "max_batch_size": max_batch_size,
        "sweep": sweep.as_dict() if sweep else None,
        "variants": {p: {"file": str(f.relative_to(model_dir)), "usable": p in usable} for p, f in files.items()},
        "primary_precision": primary,
        "optimization": options.optimize,
    }
    (model_dir / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n")
    return PreparedModel(
        name,
        repository,
        usable,
        max_batch_size,
        outcome.batched,
        passed,
        tuple(found.problems),
        report,
        config,
    )
