"""Concrete input tensors for a model: shapes resolved from the signature plus user overrides
(perf_analyzer's ``--shape name:dims`` semantics: dims exclude the batch dimension of a
batching model), filled with random or zero data from an injected generator. A string (BYTES)
input, which a model of the user's repository may take (a tokenizer), is a NumPy object array
of ``bytes``: random text is words drawn from :data:`WORDS`, zero text is empty."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from tritune.domain.model import DYNAMIC, ModelSignature, TensorSpec
from tritune.errors import ModelError, UsageError
from tritune.runner.dtypes import numpy_dtype

# Dynamic non-batch dims the user did not pin get this size (and a notice from the CLI).
DEFAULT_DYNAMIC_DIM = 16
STRING_TYPE = "TYPE_STRING"
# Random text: a few words each, from this fixed list (no vocabulary file, nothing downloaded).
_SENTENCE = (
    "the quick brown fox jumps over a lazy dog while triton serves many models on one server "
    "and each request carries short sentence of plain text to tokenizer"
)
WORDS = tuple(_SENTENCE.split())
WORDS_PER_TEXT = (3, 12)


def tensor_dtype(tensor: TensorSpec) -> np.dtype:
    """The NumPy dtype of ``tensor``'s data as tritune's runner takes it; ModelError for a type
    the runner cannot serve (BYTES)."""
    try:
        return numpy_dtype(tensor.triton_type)
    except TypeError as error:
        raise ModelError(f"input {tensor.name!r}: {error}") from None


def request_dtype(tensor: TensorSpec) -> np.dtype:
    """The NumPy dtype of ``tensor``'s data in a request: object (``bytes`` elements) for a
    string tensor, which a model of the user's repository may take; else :func:`tensor_dtype`."""
    return np.dtype(np.object_) if tensor.triton_type == STRING_TYPE else tensor_dtype(tensor)


def random_text(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """An object array of ``shape``, each element a few of :data:`WORDS` as UTF-8 ``bytes``."""
    texts = np.empty(shape, dtype=np.object_)
    for index in np.ndindex(*shape):
        count = int(rng.integers(*WORDS_PER_TEXT, endpoint=True))
        texts[index] = " ".join(WORDS[int(i)] for i in rng.integers(0, len(WORDS), size=count)).encode()
    return texts


def as_text(values: object, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``values`` (str or bytes, nested lists or a NumPy string array) as an object array of
    UTF-8 ``bytes``, reshaped to ``shape`` when given."""
    given = np.asarray(values, dtype=np.object_)
    texts = np.empty(given.size, dtype=np.object_)
    for i, value in enumerate(given.ravel()):
        texts[i] = value if isinstance(value, bytes) else str(value).encode()
    return texts.reshape(shape if shape is not None else given.shape)


def parse_shape_options(options: list[str] | tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """``["input_ids:16", "x:3,224,224"]`` -> ``{"input_ids": (16,), "x": (3, 224, 224)}``."""
    shapes: dict[str, tuple[int, ...]] = {}
    for option in options:
        name, sep, dims = option.rpartition(":")
        try:
            parsed = tuple(int(d) for d in dims.split(","))
        except ValueError:
            parsed = ()
        if not sep or not name or not parsed or any(d <= 0 for d in parsed):
            raise UsageError(f"--shape {option!r} is not NAME:D1,D2,...: e.g. --shape input_ids:128")
        shapes[name] = parsed
    return shapes


def _full_shape_hint(name: str, given: Sequence[int], declared: Sequence[int]) -> str:
    """For an ``--input`` that left a non-batching model's batch out: the full shape that fits,
    with the batch (the missing first dimension) as 1; '' when none can be guessed."""
    if len(given) + 1 == len(declared) and declared[0] == DYNAMIC:
        guess = (1, *given)
        if all(d in (DYNAMIC, g) for d, g in zip(declared, guess, strict=True)):
            return f"{name}:{','.join(map(str, guess))}"
    if len(given) == len(declared):
        return ""
    return f"{name}:{','.join(str(1 if d == DYNAMIC else d) for d in declared)}"


def resolve_shapes(
    signature: ModelSignature,
    batch_size: int,
    overrides: Mapping[str, tuple[int, ...]],
    batched: bool,
    *,
    flag: str = "--shape",
) -> dict[str, tuple[int, ...]]:
    """Full request shapes (batch dim included when ``batched``). ``flag`` is the option the
    overrides came from, named in the errors (prepare takes the same values as ``--input``)."""
    names = {t.name for t in signature.inputs}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise UsageError(
            f"{flag} names unknown input(s) {', '.join(unknown)}: the model's inputs are {', '.join(sorted(names))}"
        )
    if not batched and batch_size != 1:
        raise UsageError(
            f"batch size {batch_size} needs a model that batches (max_batch_size > 0); this one does not: use -b 1"
        )
    shapes = {}
    for tensor in signature.inputs:
        declared = tensor.shape[1:] if batched else tensor.shape
        if tensor.name in overrides:
            given = overrides[tensor.name]
            if len(given) != len(declared) or any(d not in (DYNAMIC, g) for d, g in zip(declared, given, strict=True)):
                shown = f"{flag} {tensor.name}:{','.join(map(str, given))} does not fit the model's shape"
                if batched:
                    raise UsageError(f"{shown} {list(declared)} (-1 is free; leave the batch dimension out)")
                hint = _full_shape_hint(tensor.name, given, declared)
                raise UsageError(
                    f"{shown} {list(declared)}: the model is served without batching, so give the full shape, "
                    "the batch dimension included (-1 is free)" + (f", e.g. {flag} {hint}" if hint else "")
                )
            dims = given
        else:
            dims = tuple(DEFAULT_DYNAMIC_DIM if d == DYNAMIC else d for d in declared)
        shapes[tensor.name] = ((batch_size,) if batched else ()) + tuple(dims)
    return shapes


def make_inputs(
    signature: ModelSignature,
    shapes: Mapping[str, tuple[int, ...]],
    kind: str = "random",
    rng: np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """Random data is uniform in [0, 1) for floats and 0/1 for integers and booleans: small
    integers are valid token ids, masks and segment ids alike, so any integer input works; a
    string input gets :func:`random_text` (zero: empty strings)."""
    if kind not in ("random", "zero"):
        raise UsageError(f"input data {kind!r} is not 'random' or 'zero'")
    rng = rng or np.random.default_rng(0)
    feeds = {}
    for tensor in signature.inputs:
        dtype = request_dtype(tensor)
        shape = shapes[tensor.name]
        if dtype == np.object_:
            feeds[tensor.name] = np.full(shape, b"", dtype=np.object_) if kind == "zero" else random_text(shape, rng)
        elif kind == "zero":
            feeds[tensor.name] = np.zeros(shape, dtype=dtype)
        elif np.issubdtype(dtype, np.floating):
            feeds[tensor.name] = rng.random(shape, dtype=np.float32).astype(dtype)
        else:
            feeds[tensor.name] = rng.integers(0, 2, size=shape).astype(dtype)
    return feeds


# -- --input-data FILE ----------------------------------------------------------------------
# perf_analyzer's JSON form: {"data": [{NAME: [flat values] | {"content": [...], "shape": [...]}
# | {"b64": "..."}}, ...]}, one entry per sample (no batch dimension). An .npz file holds one
# array per input whose first dimension indexes samples. Requests take samples round-robin,
# ``batch_size`` at a time.


def _sample_shape(
    tensor_shape: tuple[int, ...], batched: bool, fixed: Mapping[str, tuple[int, ...]], name: str
) -> tuple[int, ...]:
    declared = tensor_shape[1:] if batched else tensor_shape
    return fixed.get(name, tuple(DEFAULT_DYNAMIC_DIM if d == DYNAMIC else d for d in declared))


def load_input_file(
    path: str | os.PathLike[str],
    signature: ModelSignature,
    batched: bool,
    overrides: Mapping[str, tuple[int, ...]] | None = None,
) -> list[dict[str, np.ndarray]]:
    """Samples (each without the batch dimension) from a perf_analyzer JSON or an .npz file."""
    path = Path(path)
    overrides = overrides or {}
    if not path.is_file():
        raise UsageError(f"input data file {path} does not exist: give a .json or .npz file, 'random' or 'zero'")
    names = [t.name for t in signature.inputs]
    dtypes = {t.name: request_dtype(t) for t in signature.inputs}
    shapes = {t.name: _sample_shape(t.shape, batched, overrides, t.name) for t in signature.inputs}
    samples: list[dict[str, np.ndarray]] = []
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
        missing = [n for n in names if n not in arrays]
        if missing:
            raise UsageError(f"{path} lacks input(s) {', '.join(missing)}: add one array per input")
        counts = {arrays[n].shape[0] if arrays[n].ndim else 0 for n in names}
        if len(counts) != 1 or 0 in counts:
            raise UsageError(f"{path}: every input array needs the same number of samples on its first axis")
        for index in range(counts.pop()):
            samples.append({n: _sample(arrays[n][index], dtypes[n]) for n in names})
    elif path.suffix == ".json":
        try:
            document = json.loads(path.read_text())
            entries = document["data"]
        except (OSError, ValueError, KeyError, TypeError):
            raise UsageError(
                f'{path} is not perf_analyzer input JSON: expected {{"data": [{{NAME: [...]}}, ...]}}'
            ) from None
        for number, entry in enumerate(entries):
            sample = {}
            for name in names:
                if name not in entry:
                    raise UsageError(
                        f"{path}: entry {number} lacks input {name!r}: give every entry a value for each of "
                        f"the model's inputs ({', '.join(names)})"
                    )
                value = entry[name]
                shape = shapes[name]
                text = dtypes[name] == np.object_
                if isinstance(value, dict) and "b64" in value:
                    raw = base64.b64decode(value["b64"])
                    # A string input's b64 is one element's bytes (perf_analyzer's, too).
                    array = as_text([raw]) if text else np.frombuffer(raw, dtype=dtypes[name])
                    shape = tuple(value.get("shape", shape))
                elif isinstance(value, dict):
                    content = value.get("content")
                    array = as_text(content) if text else np.asarray(content, dtype=dtypes[name])
                    shape = tuple(value.get("shape", shape))
                else:
                    array = as_text(value) if text else np.asarray(value, dtype=dtypes[name])
                if array.size != int(np.prod(shape)):
                    raise UsageError(
                        f"{path}: entry {number}, input {name!r} has {array.size} values but shape "
                        f"{list(shape)} needs {int(np.prod(shape))}: fix the data or pass --shape"
                    )
                sample[name] = array.reshape(shape)
            samples.append(sample)
    else:
        raise UsageError(f"input data file {path} must end in .json or .npz")
    if not samples:
        raise UsageError(f"{path} holds no samples: give at least one")
    return samples


def _sample(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """One sample of an .npz array in the input's request dtype (strings as UTF-8 ``bytes``)."""
    return as_text(array) if dtype == np.object_ else np.ascontiguousarray(array, dtype=dtype)


def batch_samples(samples: list[dict[str, np.ndarray]], batch_size: int, batched: bool) -> list[dict[str, np.ndarray]]:
    """Request feeds taking samples round-robin ``batch_size`` at a time, until every sample
    has been used once (at least one request)."""
    if not batched:
        return samples
    requests = []
    count = max(1, -(-len(samples) // batch_size))
    for request in range(count):
        picks = [samples[(request * batch_size + i) % len(samples)] for i in range(batch_size)]
        requests.append({name: np.stack([p[name] for p in picks]) for name in picks[0]})
    return requests


def request_feeds(
    signature: ModelSignature,
    batch_size: int,
    overrides: Mapping[str, tuple[int, ...]],
    batched: bool,
    input_data: str,
    rng: np.random.Generator | None = None,
) -> list[dict[str, np.ndarray]]:
    """The requests ``--input-data`` asks for: one of random or zero data, or a file's samples
    taken ``batch_size`` at a time (``batch_samples``)."""
    shapes = resolve_shapes(signature, batch_size, overrides, batched)
    if input_data in ("random", "zero"):
        return [make_inputs(signature, shapes, input_data, rng)]
    return batch_samples(load_input_file(input_data, signature, batched, overrides), batch_size, batched)
