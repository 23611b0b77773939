"""The steps of ``prepare_model``, in order: import and make the batch dynamic, check the batch,
run the reference, make and validate each precision, search the max batch size. Each step works
in a temporary directory and writes what it changed, noticed and found wrong to ``Findings``."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import psutil

from tritune.domain.devices import CUDA, Device, install_fix
from tritune.domain.model import ModelSignature
from tritune.errors import ModelError, UsageError
from tritune.prepare.batch import BatchInfo, detect_batch, link_output_batch, make_batch_dynamic, reshape_suspects
from tritune.prepare.feeds import random_feeds, validation_feeds
from tritune.prepare.max_batch import MaxBatchResult, max_batch_search, ort_throughput
from tritune.prepare.nobatch import batched_notes, unbatched_notes
from tritune.prepare.options import PrepareOptions
from tritune.prepare.sources import Source, import_source, onnx_device_runner, onnx_runner
from tritune.prepare.transforms import (
    convert_fp16,
    drop_initializer_inputs,
    optimize_offline,
    save_model,
    symbolic_shape_inference,
)
from tritune.prepare.validate import Comparison, compare_outputs, error_text, run_in_chunks, stacked_batch_check
from tritune.triton.model_config import load_onnx, signature_from_onnx

Log = Callable[[str], None]

CPU = Device("cpu")

# The note that names a precision tried but left out (profile reads it back to say why).
OPTIONAL_LEFT_OUT = "{precision} left out"


@dataclass
class Findings:
    """What the run changed, noticed and found wrong, in order, for the report."""

    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Imported:
    source: Source
    original: onnx.ModelProto  # as imported, for the fallback and the Reshape suspects
    batch: BatchInfo  # the batch dimension as imported
    model: Path  # with a dynamic batch (when it can have one) and inferred shapes


@dataclass
class BatchOutcome:
    batched: bool
    model: Path
    signature: ModelSignature
    feeds: dict[str, np.ndarray]
    check: Comparison | None = None
    suspects: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Precisions:
    variants: dict[str, Path]  # every precision that could be made
    verdicts: dict[str, bool]  # whether it passed validation
    comparisons: list[Comparison]


def _stage(model: onnx.ModelProto, work: Path, tag: str, found: Findings, *, record: bool = True) -> Path:
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


def import_step(model_arg: str, work: Path, options: PrepareOptions, found: Findings, say: Log) -> Imported:
    """Import the source, make a fixed batch dynamic, infer shapes and optionally optimize."""
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
    return Imported(src, original, batch, current)


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


def _unbatched_notes(signature: ModelSignature, feeds: Mapping[str, np.ndarray], options: PrepareOptions) -> list[str]:
    return unbatched_notes(signature, feeds, user_data=options.data is not None, given=options.given_inputs)


def batch_step(imported: Imported, work: Path, options: PrepareOptions, found: Findings, say: Log) -> BatchOutcome:
    """Run the stacked-batch check on a model whose inputs have a dynamic batch; fall back to
    the model's own fixed batch (reported as a problem) when the batch turns out pinned."""
    src, current = imported.source, imported.model
    signature = signature_from_onnx(load_onnx(current))
    if imported.batch.kind == "none" or not _batch_inputs_dynamic(signature) or not options.dynamic_batch:
        if options.dynamic_batch is False and _batch_inputs_dynamic(signature):
            # Asked for (--no-dynamic-batch): served without batching, so no stacked-batch check
            # to fail with advice to pass the flag that was passed.
            found.notes.append("--no-dynamic-batch: served without batching; the stacked-batch check was skipped")
        feeds = validation_feeds(signature, 1, options, batched=False)
        found.notes.extend(_unbatched_notes(signature, feeds, options))
        return BatchOutcome(False, current, signature, feeds)
    n = options.validation_batch
    if src.reference_batch and src.reference_batch > 1:
        n = math.ceil(n / src.reference_batch) * src.reference_batch
    feeds = validation_feeds(signature, n, options, batched=True)
    found.notes.extend(batched_notes(signature, feeds, user_data=options.data is not None, given=options.given_inputs))
    say(f"checking batch {next(iter(feeds.values())).shape[0]} against stacked batch-1 runs ...")
    check = stacked_batch_check(onnx_runner(current), feeds, options.tolerance("fp32"))
    if check.passed:
        if not signature.batch_is_dynamic:
            # Outputs declared with a fixed first dim that the check shows follows the batch.
            model = load_onnx(current, load_external_data=True)
            found.changes.extend(link_output_batch(model))
            save_model(model, current)
            signature = signature_from_onnx(model)
        return BatchOutcome(True, current, signature, feeds, check)
    suspects = [s.describe() for s in reshape_suspects(imported.original, imported.batch.size or 1)]
    found.problems.append(_pinned_problem(check, suspects))
    # What does work is the model as exported, at its own batch size.
    current = _stage(imported.original, work, "as_exported", found, record=False)
    found.notes.append("the batch changes were reverted: the model is kept as exported, without batching")
    signature = signature_from_onnx(load_onnx(current))
    unbatched = not _batch_inputs_dynamic(signature)
    feeds = validation_feeds(signature, 1, options, batched=not unbatched)
    if unbatched:
        found.notes.extend(_unbatched_notes(signature, feeds, options))
    return BatchOutcome(False, current, signature, feeds, check, suspects)


def reference_outputs(source: Source, feeds: Mapping[str, np.ndarray], batched: bool) -> dict[str, np.ndarray]:
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


def precision_step(
    src: Source, outcome: BatchOutcome, reference: Mapping[str, np.ndarray], work: Path,
    options: PrepareOptions, found: Findings, say: Log,
) -> Precisions:  # fmt: skip
    """Make each asked-for precision from the batch-checked model and validate it against the
    reference; a failed conversion or validation is a problem, the next precision still runs."""
    variants: dict[str, Path] = {}
    verdicts: dict[str, bool] = {}
    comparisons: list[Comparison] = []
    for precision in options.precisions:
        label = f"{precision} vs {src.reference_label}"
        path = outcome.model
        if precision == "fp16":
            say("converting to FP16 ...")
            try:
                path = work / "fp16.onnx"
                converted, converter = convert_fp16(load_onnx(outcome.model, load_external_data=True))
                save_model(converted, path)
            except ModelError as error:
                comparisons.append(Comparison(label, options.tolerance(precision), error=error.message))
                continue
            found.changes.append(
                f"fp16 variant by {converter}: FP32 tensors to FP16, inputs/outputs kept FP32, range clamped to +-65504"
            )
        say(f"validating {precision} ...")
        comparisons.append(_validate(label, path, reference, outcome.feeds, options, precision))
        variants[precision] = path
        verdicts[precision] = comparisons[-1].passed
    for precision, comparison in zip(options.precisions, comparisons, strict=True):
        if comparison.passed:
            continue
        if precision in options.optional_precisions:
            # Tried because it may pay, not asked for: the run goes on without it, and says why.
            found.notes.append(f"{OPTIONAL_LEFT_OUT.format(precision=precision)}: {comparison.summary()}")
            variants.pop(precision, None)
            verdicts.pop(precision, None)
        else:
            found.problems.append(f"numeric validation failed: {comparison.summary()}")
    return Precisions(variants, verdicts, comparisons)


def _search_max_batch(
    path: Path, signature: ModelSignature, options: PrepareOptions, device: Device, found: Findings
) -> tuple[MaxBatchResult, Device]:
    run, providers = onnx_device_runner(path, device.providers)
    if device.gpu and CUDA not in providers:
        # ONNX Runtime drops a provider it cannot start (CUDA libraries missing) without failing.
        reason = f"ONNX Runtime could not start {CUDA} (session providers: {', '.join(providers)})"
        if device.forced:
            raise UsageError(f"--device gpu: {reason}: {install_fix()}, with the CUDA libraries it needs")
        found.notes.append(f"{reason}: the max-batch search ran on the CPU, and the config serves there")
        device = CPU
    elif device.gpu:
        found.notes.append(f"the max-batch search ran on the GPU ({CUDA})")
    rng = np.random.default_rng(options.seed)

    def make_feeds(batch: int) -> dict[str, np.ndarray]:
        return random_feeds(signature, batch, options, True, rng)

    # Host memory bounds the inputs either way (they are made there); a GPU's own limit shows as
    # an allocation failure, which the search reads as out of memory.
    budget = psutil.virtual_memory().available // 2
    measure = ort_throughput(run, make_feeds, min_time_s=options.max_batch_min_time_s, memory_budget_bytes=budget)
    return max_batch_search(measure, options.max_batch_cap), device


def max_batch_step(
    outcome: BatchOutcome, variants: Mapping[str, Path], options: PrepareOptions, found: Findings, say: Log,
    device: Device = CPU,
) -> tuple[tuple[int, MaxBatchResult | None], Device]:  # fmt: skip
    """The max batch size to serve: 0 for a model that cannot batch, the one asked for, or the
    one measured on the primary precision on ``device`` (with the search that found it); and
    the device to serve on (the CPU where the GPU could not start)."""
    if not outcome.batched:
        if options.max_batch_size:
            found.problems.append(
                f"max batch size {options.max_batch_size} was asked for, but the model cannot batch: "
                "drop --max-batch-size or fix the batch dimension"
            )
        return (0, None), device
    if options.max_batch_size is not None:
        return (options.max_batch_size, None), device
    primary = options.precisions[0]
    if primary not in variants:
        return (0, None), device
    say(f"searching the max batch size up to {options.max_batch_cap} on the {device.kind.upper()} ...")
    search, device = _search_max_batch(variants[primary], outcome.signature, options, device, found)
    return (search.max_batch_size, search), device
