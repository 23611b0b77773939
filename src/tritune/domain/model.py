"""What a model looks like from the outside: its tensors and whether it batches."""

from __future__ import annotations

from dataclasses import dataclass

DYNAMIC = -1


@dataclass(frozen=True)
class TensorSpec:
    name: str
    triton_type: str  # "TYPE_FP32", ...
    shape: tuple[int, ...]  # full shape as the model declares it, -1 for a dynamic dim


@dataclass(frozen=True)
class ModelSignature:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @property
    def batch_is_dynamic(self) -> bool:
        """True when every tensor's first dimension is dynamic: Triton may then batch it."""
        tensors = self.inputs + self.outputs
        return bool(tensors) and all(t.shape and t.shape[0] == DYNAMIC for t in tensors)

    def input(self, name: str) -> TensorSpec:
        for tensor in self.inputs:
            if tensor.name == name:
                return tensor
        raise KeyError(name)
