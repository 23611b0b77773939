"""``tritune prepare``: turn a model (ONNX, PyTorch, TensorFlow) into a validated, batching ONNX
model with its Triton config, plus the precision variants the search may serve."""

from tritune.prepare.options import (
    DEFAULT_TOLERANCES,
    InputSpec,
    PrepareOptions,
    Tolerance,
    parse_input_option,
)
from tritune.prepare.pipeline import prepare_model
from tritune.prepare.record import PreparedModel, PrepareReport, load_prepared
from tritune.prepare.variants import ensure_prepared, precision_variant, search_dimensions

__all__ = [
    "DEFAULT_TOLERANCES",
    "InputSpec",
    "PrepareOptions",
    "PrepareReport",
    "PreparedModel",
    "Tolerance",
    "ensure_prepared",
    "load_prepared",
    "parse_input_option",
    "precision_variant",
    "prepare_model",
    "search_dimensions",
]
