"""One way to serve a model: the knobs of a Triton model configuration tritune varies."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from tritune.domain.devices import InstanceKind
from tritune.domain.model import ModelSignature

DEFAULT_MAX_BATCH_SIZE = 8
_SHOWN_WHEN_SET = ("backend_options", "gpus", "steps")


@dataclass(frozen=True)
class DynamicBatching:
    max_queue_delay_us: int = 0
    preferred_batch_sizes: tuple[int, ...] = ()


@dataclass(frozen=True)
class RunnerOptions:
    """Options of the generic runner, carried as ``parameters`` in config.pbtxt."""

    runtime: str = "onnxruntime"
    execution_providers: tuple[str, ...] = ()  # empty: the runtime's default for the device
    intra_op_threads: int = 0  # 0: the runtime's default
    inter_op_threads: int = 0
    graph_optimization_level: str = "all"
    model_filename: str = "model.onnx"
    # GPU and diagnostic knobs (runner/runtimes/ort_options.py, runner/phases.py). Written as parameters, and named in
    # the repr, only when set: a variant without them keeps its config text and its repr (which
    # seeds the synthetic surface's noise) as they were before these knobs existed.
    cuda_graph: bool = False  # CUDA graphs, one per input shape (IO binding)
    io_binding: str = ""  # "": the runner's default (auto); "device", "host" or "off"
    trt_fp16: bool = False  # TensorRT EP: let TensorRT pick fp16 kernels
    trt_cache_dir: str = ""  # TensorRT EP: engine cache folder (e.g. <run>/trt_cache)
    batch_buckets: str = ""  # "": the runner's default (pow2 on a GPU); "off", "pow2" or "max"
    phase_timing_s: float = 0.0  # > 0: the runner logs where execute()'s time goes this often (runner/phases.py)
    # "": batches staged in reused buffers, page-locked on a GPU (runner/staging.py); "unpinned" or "off"
    host_staging: str = ""

    def _gpu_parameters(self) -> dict[str, str]:
        gpu = {
            "enable_cuda_graph": "1" if self.cuda_graph else "",
            "io_binding": self.io_binding,
            "trt_fp16": "1" if self.trt_fp16 else "",
            "trt_cache_dir": self.trt_cache_dir,
            "batch_buckets": self.batch_buckets,
            "phase_timing": f"{self.phase_timing_s:g}" if self.phase_timing_s > 0 else "",
            "host_staging": self.host_staging,
        }
        return {key: value for key, value in gpu.items() if value}

    def as_parameters(self) -> dict[str, str]:
        return {
            "runtime": self.runtime,
            "execution_providers": ",".join(self.execution_providers),
            "intra_op_threads": str(self.intra_op_threads),
            "inter_op_threads": str(self.inter_op_threads),
            "graph_optimization_level": self.graph_optimization_level,
            "model_filename": self.model_filename,
            **self._gpu_parameters(),
        }

    def __repr__(self) -> str:
        shown = [f.name for f in fields(self) if f.name not in _GPU_FIELDS or getattr(self, f.name) != f.default]
        return f"RunnerOptions({', '.join(f'{name}={getattr(self, name)!r}' for name in shown)})"


_GPU_FIELDS = frozenset(
    {"cuda_graph", "io_binding", "trt_fp16", "trt_cache_dir", "batch_buckets", "phase_timing_s", "host_staging"}
)


@dataclass(frozen=True)
class ServingConfig:
    """The server-side half of a variant (the client load is the other half)."""

    max_batch_size: int = 0
    instance_count: int = 1
    instance_kind: str = InstanceKind.KIND_CPU  # or KIND_GPU (kept as the plain word: a repr seeds noise)
    dynamic_batching: DynamicBatching | None = None
    runner: RunnerOptions = field(default_factory=RunnerOptions)
    # The model's own backend knobs, as (option key, value) pairs (domain/backends.py names the
    # keys). Sorted, so two configs with the same knobs are equal and hash alike; empty for
    # tritune's runner, whose knobs are ``runner``.
    backend_options: tuple[tuple[str, str], ...] = ()
    # The GPUs a KIND_GPU instance group is placed on (Triton's ``gpus``); empty: every GPU.
    gpus: tuple[int, ...] = ()
    # An ensemble's: each composing model's own serving config, as (model name, config) pairs in
    # the ensemble's step order; the fields above are then the ensemble's own (its max batch
    # size). Empty for a model that is not an ensemble.
    steps: tuple[tuple[str, ServingConfig], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "instance_kind", str(self.instance_kind))
        object.__setattr__(self, "backend_options", tuple(sorted((str(k), str(v)) for k, v in self.backend_options)))
        object.__setattr__(self, "gpus", tuple(int(g) for g in self.gpus))
        object.__setattr__(self, "steps", tuple((str(name), serving) for name, serving in self.steps))

    def __repr__(self) -> str:
        # The dataclass's repr, naming the later fields only when set: a repr seeds the synthetic
        # surface's noise (testing/synthetic.py), which must not move for configs without them.
        shown = [f.name for f in fields(self) if f.name not in _SHOWN_WHEN_SET or getattr(self, f.name)]
        return f"ServingConfig({', '.join(f'{name}={getattr(self, name)!r}' for name in shown)})"

    def step(self, name: str) -> ServingConfig:
        """An ensemble's composing model's config (KeyError when ``name`` is not one of its steps)."""
        return dict(self.steps)[name]

    def backend_option(self, key: str) -> str | None:
        """The value a backend knob is set to, or None where the backend's default holds."""
        return dict(self.backend_options).get(key)


def default_serving_config(
    signature: ModelSignature, max_batch_size: int | None = None, *, gpu: bool = False
) -> ServingConfig:
    """What an untuned Triton serves: one instance on the GPU (or the CPU without one), and
    batching with dynamic batching where the model's first dimension allows it."""
    kind = InstanceKind.KIND_GPU if gpu else InstanceKind.KIND_CPU
    if not signature.batch_is_dynamic:
        return ServingConfig(max_batch_size=0, instance_kind=kind)
    return ServingConfig(
        max_batch_size=max_batch_size or DEFAULT_MAX_BATCH_SIZE, instance_kind=kind, dynamic_batching=DynamicBatching()
    )
