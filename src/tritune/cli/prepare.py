"""``tritune prepare MODEL``: ONNX/PyTorch/TensorFlow in, a validated batching model repository
entry out (config.pbtxt, 1/model.onnx + runner, variants/, prepare_report.json)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tritune.cli import options
from tritune.cli.app import App
from tritune.cli.options import check_writable
from tritune.domain.devices import DEVICES
from tritune.errors import STORAGE_ERRNOS, ModelError, UsageError, storage_error
from tritune.prepare import PreparedModel, PrepareOptions, Tolerance, parse_input_option, prepare_model
from tritune.prepare.options import OPTIMIZATION_LEVELS
from tritune.prepare.validate import format_3g


def _tolerances(options: tuple[str, ...]) -> dict[str, Tolerance]:
    """``fp16:1e-2,5e-3`` -> {"fp16": Tolerance(atol=1e-2, rtol=5e-3)}."""
    result = {}
    for option in options:
        precision, _, values = option.partition(":")
        try:
            atol, rtol = (float(v) for v in values.split(","))
        except ValueError:
            raise UsageError(
                f"--tolerance {option!r} is not PRECISION:ATOL,RTOL: e.g. --tolerance fp16:1e-2,1e-2"
            ) from None
        if atol < 0 or rtol < 0:
            raise UsageError(f"--tolerance {option!r} is negative: tolerances are >= 0")
        result[precision] = Tolerance(atol, rtol)
    return result


def _print_summary(app: App, prepared: PreparedModel) -> None:
    report = prepared.report

    def say(line: str) -> None:
        app.out.print(line, markup=False)

    say(f"model {prepared.name}: {prepared.directory}")
    batch = report.batch
    say(
        f"batch: {batch.original} -> {'dynamic' if batch.dynamic else 'not batching'}, "
        f"max_batch_size {prepared.max_batch_size}"
    )
    if batch.stacked_check:
        check = batch.stacked_check
        say(f"  stacked-batch check: {'passed' if check.passed else 'FAILED'} ({check.label})")
    for change in report.changes:
        say(f"  changed: {change}")
    for note in report.notes:
        say(f"  note: {note}")
    for result in report.validation.results:
        errors = "; ".join(
            f"{o.name}: max abs {format_3g(o.max_abs)}, max rel {format_3g(o.max_rel)}"
            + (f", {o.mismatched}/{o.elements} outside" if o.mismatched else "")
            + (f" ({o.note})" if o.note else "")
            for o in result.outputs
        )
        verdict = "passed" if result.passed else "FAILED"
        tolerance = result.tolerance
        say(
            f"validation {result.label}: {verdict} (atol {tolerance.atol:g}, rtol {tolerance.rtol:g}) "
            f"{result.error or errors}"
        )
    search = report.max_batch_search
    if search:
        steps = ", ".join(
            f"{s.batch_size}: {s.throughput:.1f}/s" if s.throughput is not None else f"{s.batch_size}: {s.status}"
            for s in search.steps
        )
        say(f"max-batch search (samples/s): {steps} -> max {search.max_batch_size} ({search.stop_reason})")
    say(f"variants: {', '.join(f'{p}={f}' for p, f in prepared.model_files.items()) or 'none'}")
    say(f"report: {prepared.report_path}")
    if prepared.deployed:
        say(f"config: {prepared.directory / 'config.pbtxt'}")


@click.command()
@click.argument("model")
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("model_repository"),
    show_default=True,
    help="Model repository to write <name>/ into.",
)
@options.model_name
@options.model_inputs
@click.option("--precision", default="fp32", show_default=True, help="Comma list of fp32, fp16; the first is served.")
@click.option(
    "--tolerance",
    "tolerances",
    multiple=True,
    metavar="PRECISION:ATOL,RTOL",
    help="Validation tolerance (default fp32:1e-4,1e-3, fp16:2e-2,2e-2). Repeatable.",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Validation inputs: an .npz with one array per input (batch included).",
)
@click.option(
    "--no-dynamic-batch",
    is_flag=True,
    help="Serve without batching: keep the batch dimension as exported, no stacked-batch check.",
)
@click.option("--no-fix-reshapes", is_flag=True, help="Do not rewrite Reshape constants that bake in the batch.")
@click.option(
    "--optimize",
    type=click.Choice(OPTIMIZATION_LEVELS),
    default="none",
    show_default=True,
    help="ONNX Runtime graph optimization written into the file.",
)
@options.max_batch_size
@click.option(
    "--max-batch-cap",
    "--sweep-cap",  # its name before 'sweep' came to mean only a variant's load sweep; scripts still use it
    "max_batch_cap",
    type=click.IntRange(min=1),
    default=128,
    show_default=True,
    help="Largest batch size the max-batch search tries.",
)
@click.option("--validation-batch", type=click.IntRange(min=2), default=3, show_default=True)
@click.option("--opset", type=click.IntRange(min=7), default=18, show_default=True, help="For PyTorch/TF exports.")
@click.option(
    "--device",
    type=click.Choice(DEVICES),
    default="auto",
    show_default=True,
    help="Where the max-batch search runs and the config serves (KIND_GPU or KIND_CPU); auto: the GPU "
    "where ONNX Runtime has CUDAExecutionProvider and a GPU is visible.",
)
@click.option(
    "--no-serve-check",
    is_flag=True,
    help="Do not load the written config in an embedded Triton for one request (the check prepare runs by default).",
)
@click.option("--force", is_flag=True, help="Write the serving config even when a check failed (exit 0).")
@options.as_json
@click.pass_obj
def prepare(
    app: App,
    model: str,
    out_dir: Path,
    name: str | None,
    inputs: tuple[str, ...],
    precision: str,
    tolerances: tuple[str, ...],
    data: Path | None,
    no_dynamic_batch: bool,
    no_fix_reshapes: bool,
    optimize: str,
    max_batch_size: int | None,
    max_batch_cap: int,
    validation_batch: int,
    opset: int,
    device: str,
    no_serve_check: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Convert MODEL to a validated ONNX model with a dynamic batch and its Triton config.

    MODEL is an .onnx file, a TorchScript .pt, an ExportedProgram .pt2, a factory
    package.module:function returning an nn.Module, or a TensorFlow SavedModel directory.
    """
    options = PrepareOptions(
        inputs=tuple(parse_input_option(i) for i in inputs),
        precisions=tuple(p.strip() for p in precision.split(",") if p.strip()),
        tolerances=_tolerances(tolerances),
        dynamic_batch=not no_dynamic_batch,
        fix_reshapes=not no_fix_reshapes,
        optimize=optimize,
        validation_batch=validation_batch,
        data=data,
        max_batch_size=max_batch_size,
        max_batch_cap=max_batch_cap,
        opset=opset,
        force=force,
        device=device,
        serve_check=not no_serve_check,
    )
    # Checked before any work: the model's conversion and its max-batch search take minutes.
    check_writable(out_dir, "-o", folder=True)
    try:
        prepared = prepare_model(model, out_dir, name, options, log=app.info)
    except OSError as error:  # the disk filled or went read-only while prepare wrote
        if error.errno not in STORAGE_ERRNOS:
            raise
        raise storage_error(error.filename or out_dir, error, "give -o a folder on another disk") from None
    if as_json:
        app.out.print_json(json.dumps(prepared.report.to_dict()))
    else:
        _print_summary(app, prepared)
    if not prepared.passed:
        if force:
            app.warn(f"{len(prepared.problems)} problem(s), written anyway (--force): see {prepared.report_path}")
            return
        raise ModelError(
            f"prepare found {len(prepared.problems)} problem(s), so no config.pbtxt was written: "
            f"fix them or pass --force (report: {prepared.report_path})",
            detail="\n".join(f"- {p}" for p in prepared.problems),
        )
