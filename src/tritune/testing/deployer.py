"""A Deployer without a server, for running the product's search loop in unit tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from tritune.domain.measurement import LoadPoint, Measurement
from tritune.domain.serving import ServingConfig
from tritune.domain.space import Variant
from tritune.errors import ModelLoadError


class InMemoryDeployer:
    """Remembers which serving config and precision is loaded under which name, so a measure
    function can tell what it measures (see :func:`measured_by`)."""

    def __init__(self, *, side_by_side: bool = True) -> None:
        self.side_by_side = side_by_side
        self.most_loaded = 0  # the most variants loaded at once
        self.written: dict[str, tuple[ServingConfig, str]] = {}
        self.loaded: dict[str, tuple[ServingConfig, str]] = {}
        self.loads = 0

    def write(self, name: str, serving: ServingConfig, precision: str) -> None:
        self.written[name] = (serving, precision)

    def load(self, name: str, serving: ServingConfig, precision: str) -> float:
        self.write(name, serving, precision)
        self.loaded[name] = (serving, precision)
        self.most_loaded = max(self.most_loaded, len(self.loaded))
        self.loads += 1
        return 0.0

    def unload(self, name: str) -> None:
        self.loaded.pop(name, None)

    def check_server(self) -> None:
        """No server to lose: a failed measurement here is the variant's."""

    def export(self, repository: Path, name: str, serving: ServingConfig, precision: str) -> Path:
        # A stand-in for config.pbtxt: enough for the run to copy it to best/ and name it.
        path = repository / name / "config.pbtxt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {precision}\n{serving!r}\n")
        return path

    def variant(self, name: str, client_batch_size: int) -> Variant:
        """The variant loaded as ``name``, called with ``client_batch_size`` (a load's batch)."""
        serving, precision = self.loaded[name]
        return Variant(serving, client_batch_size, precision)


class RecordingControl:
    """A server's model control without a server (``profile.deploy.ModelLoader``), for the group
    deployer: it keeps what is loaded, in order, and every call in ``calls``; loading a name in
    ``refuse`` fails as Triton refuses a model (ModelLoadError)."""

    def __init__(self, refuse: Sequence[str] = ()) -> None:
        self.refuse = set(refuse)
        self.loaded: list[str] = []
        self.calls: list[str] = []

    def load(self, name: str) -> float:
        self.calls.append(f"load {name}")
        if name in self.refuse:
            raise ModelLoadError(f"model {name!r} failed to load: refused by the test")
        self.loaded.append(name)
        return 0.0

    def unload(self, name: str) -> None:
        self.calls.append(f"unload {name}")
        self.loaded.remove(name)

    def check_server(self) -> None:
        """No server to lose."""


def measured_by(
    measure: Callable[[Variant, LoadPoint], Measurement], deployer: InMemoryDeployer
) -> Callable[[str, LoadPoint], Measurement]:
    """A MeasureFn for the run: the loaded variant, looked up by name, measured by ``measure``."""
    return lambda name, load: measure(deployer.variant(name, load.batch_size), load)


class FixedLoadSweep:
    """A load sweep that asks each of ``points`` once, whatever it is told: for tests of the
    evaluator, where the sweep's own decisions are not what is tested."""

    def __init__(self, points: Sequence[LoadPoint]) -> None:
        self._left = list(points)

    def ask(self) -> LoadPoint | None:
        return self._left.pop(0) if self._left else None

    def tell(self, load: LoadPoint, measurement: Measurement) -> None:
        return None
