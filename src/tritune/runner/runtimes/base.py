"""What every runtime offers the runner."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Device:
    kind: str = "CPU"  # "CPU" or "GPU", from Triton's instance kind
    device_id: int = 0


class Runtime(Protocol):
    """Runs one model; knows nothing of Triton."""

    input_names: list[str]
    output_names: list[str]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...
