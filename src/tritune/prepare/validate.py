"""Numeric checks: a candidate's outputs against a reference's, and the stacked-batch check
(a batch of N must equal N batch-1 runs stacked). The comparisons are pure; running models is
the callers' business (they pass a Runner)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tritune.prepare.options import Tolerance

Runner = Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class OutputComparison:
    """``max_rel`` is taken over elements whose reference exceeds ``atol`` in magnitude (near 0 a
    relative error says nothing: 1e-27 vs 1e-3 would read 1e24); ``mismatched`` counts elements
    outside ``atol + rtol * |reference|``."""

    name: str
    passed: bool
    max_abs: float | None = None
    max_rel: float | None = None
    mismatched: int = 0
    elements: int = 0
    note: str = ""


@dataclass(frozen=True)
class Comparison:
    label: str
    tolerance: Tolerance
    outputs: tuple[OutputComparison, ...] = ()
    error: str = ""  # the candidate (or reference) could not run at all

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.outputs) and all(o.passed for o in self.outputs)

    def summary(self) -> str:
        if self.error:
            return f"{self.label}: FAILED ({self.error})"
        worst = ", ".join(
            f"{o.name} max abs {format_3g(o.max_abs)} rel {format_3g(o.max_rel)}" + (f" [{o.note}]" if o.note else "")
            for o in self.outputs
        )
        verdict = "passed" if self.passed else "FAILED"
        return f"{self.label}: {verdict} (atol {self.tolerance.atol:g}, rtol {self.tolerance.rtol:g}; {worst})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "passed": self.passed,
            "atol": self.tolerance.atol,
            "rtol": self.tolerance.rtol,
            "error": self.error,
            "outputs": [asdict(o) for o in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        """The inverse of ``as_dict`` (``passed`` is recomputed from the outputs)."""
        return cls(
            data["label"],
            Tolerance(data["atol"], data["rtol"]),
            tuple(OutputComparison(**o) for o in data["outputs"]),
            data["error"],
        )


def format_3g(value: float | None) -> str:
    """A measured error for people: three significant digits, n/a when there was none."""
    return "n/a" if value is None else f"{value:.3g}"


def compare_output(name: str, reference: np.ndarray, candidate: np.ndarray, tol: Tolerance) -> OutputComparison:
    if reference.shape != candidate.shape:
        return OutputComparison(
            name, False, elements=int(reference.size),
            note=f"shape {list(candidate.shape)}, expected {list(reference.shape)}",
        )  # fmt: skip
    if reference.size == 0:
        return OutputComparison(name, True, 0.0, 0.0, 0, 0)
    ref = reference.astype(np.float64) if reference.dtype != np.bool_ else reference.astype(np.int8)
    got = candidate.astype(np.float64) if candidate.dtype != np.bool_ else candidate.astype(np.int8)
    close = np.isclose(got, ref, atol=tol.atol, rtol=tol.rtol, equal_nan=True)
    both_finite = np.isfinite(ref) & np.isfinite(got)
    diff = np.abs(got - ref)
    max_abs = float(diff[both_finite].max()) if both_finite.any() else None
    nonzero = both_finite & (np.abs(ref) > tol.atol)
    max_rel = float((diff[nonzero] / np.abs(ref[nonzero])).max()) if nonzero.any() else None
    mismatched = int((~close).sum())
    note = ""
    new_nonfinite = int((~np.isfinite(got) & np.isfinite(ref)).sum())
    if new_nonfinite:
        note = f"{new_nonfinite} non-finite value(s) where the reference is finite"
    return OutputComparison(name, mismatched == 0, max_abs, max_rel, mismatched, int(ref.size), note)


def compare_outputs(
    label: str, reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray], tol: Tolerance
) -> Comparison:
    missing = sorted(set(reference) - set(candidate))
    extra = sorted(set(candidate) - set(reference))
    if missing or extra:
        return Comparison(
            label, tol, error=f"outputs differ: missing {missing or 'none'}, unexpected {extra or 'none'}"
        )
    results = tuple(compare_output(n, np.asarray(reference[n]), np.asarray(candidate[n]), tol) for n in reference)
    return Comparison(label, tol, results)


def split_batch(feeds: Mapping[str, np.ndarray], chunk: int = 1) -> list[dict[str, np.ndarray]]:
    """Cut a batch along dimension 0 into pieces of ``chunk`` (the batch must divide evenly)."""
    sizes = {v.shape[0] for v in feeds.values()}
    if len(sizes) != 1:
        raise ValueError(f"inputs disagree on the batch size: {sorted(sizes)}")
    (batch,) = sizes
    return [{k: v[i : i + chunk] for k, v in feeds.items()} for i in range(0, batch, chunk)]


def run_in_chunks(run: Runner, feeds: Mapping[str, np.ndarray], chunk: int) -> dict[str, np.ndarray]:
    """Run ``feeds`` as consecutive sub-batches of ``chunk`` and stack the outputs: how a model
    (or the reference) that accepts only one batch size answers a larger batch."""
    parts = [run(piece) for piece in split_batch(feeds, chunk)]
    return {name: np.concatenate([p[name] for p in parts], axis=0) for name in parts[0]}


def error_text(error: BaseException) -> str:
    """An exception as one short line: its type and the last line of its message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1] if text else ''}"[:400]


# A batched output off from its stacked single runs by at most this share of the output's scale,
# with every row nearest its own single run, differs by reduction order (ONNX Runtime sums in
# another order for another batch size), not by a pinned batch: a pinned batch broadcasts one
# row, scrambles rows or errs by the order of the values themselves. Measured on a production
# classifier (softmax over 214 classes, 0/1 inputs): 4.5e-3 of a scale of 1.
NOISE_OF_SCALE = 1e-2


def rows_follow_the_batch(reference: np.ndarray, candidate: np.ndarray) -> bool:
    """Whether each row of ``candidate`` is nearest the same row of ``reference`` (its own
    sample's single run) rather than another sample's."""
    if reference.ndim == 0 or len(reference) < 2 or reference.shape != candidate.shape:
        return reference.shape == candidate.shape
    ref = reference.reshape(len(reference), -1).astype(np.float64)
    got = candidate.reshape(len(candidate), -1).astype(np.float64)
    distances = np.linalg.norm(got[:, None, :] - ref[None, :, :], axis=2)
    own = np.diag(distances)
    return bool(np.all(own <= distances.min(axis=1)))


def _reduction_noise(comparison: OutputComparison, reference: np.ndarray, candidate: np.ndarray) -> bool:
    if comparison.passed or comparison.note or comparison.max_abs is None or reference.dtype.kind not in "fc":
        return False
    scale = float(np.nanmax(np.abs(reference))) if reference.size else 0.0
    return scale > 0 and comparison.max_abs <= NOISE_OF_SCALE * scale and rows_follow_the_batch(reference, candidate)


def _pinned_evidence(result: OutputComparison, reference: np.ndarray, candidate: np.ndarray) -> str:
    """Why a batched output is not the stacked single runs, in the words a person checks."""
    differ = f"{result.mismatched} of {result.elements} values differ"
    if not rows_follow_the_batch(reference, candidate):
        return f"{differ}; rows do not follow their own samples (broadcast or mixed up): a pinned batch"
    scale = float(np.nanmax(np.abs(reference))) if reference.size else 0.0
    worst = result.max_abs or 0.0
    share = f"{worst / scale:.2g} of the output's scale" if scale > 0 else "the output is all zeros"
    return f"{differ}, by up to {format_3g(result.max_abs)} ({share}): more than reduction order explains"


def stacked_batch_check(run: Runner, feeds: Mapping[str, np.ndarray], tol: Tolerance) -> Comparison:
    """The model on the whole batch vs. the same model on each sample alone, stacked. A Reshape
    that bakes in batch 1 either fails here or returns outputs of the wrong shape."""
    batch = next(iter(feeds.values())).shape[0]
    label = f"batch {batch} vs {batch} x batch 1 stacked"
    try:
        singles = run_in_chunks(run, feeds, 1)
    except Exception as error:
        return Comparison(label, tol, error=f"batch 1 does not run: {error_text(error)}")
    try:
        batched = run(feeds)
    except Exception as error:
        return Comparison(label, tol, error=f"batch {batch} does not run: {error_text(error)}")
    check = compare_outputs(label, singles, batched, tol)
    if check.passed or check.error:
        return check
    outputs = []
    for result in check.outputs:
        reference, candidate = np.asarray(singles[result.name]), np.asarray(batched[result.name])
        if _reduction_noise(result, reference, candidate):
            scale, worst = float(np.nanmax(np.abs(reference))), result.max_abs or 0.0
            note = (
                f"off by up to {format_3g(worst)} ({worst / scale:.2g} of the output's scale "
                f"{format_3g(scale)}), every row nearest its own single run: reduction order, not a pinned batch"
            )
            result = OutputComparison(**{**asdict(result), "passed": True, "note": note})
        elif not result.passed and not result.note and result.max_abs is not None:
            result = OutputComparison(**{**asdict(result), "note": _pinned_evidence(result, reference, candidate)})
        outputs.append(result)
    return Comparison(label, tol, tuple(outputs))
