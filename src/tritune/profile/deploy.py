"""Putting one variant on a server: the :class:`Deployer` seam between what a run does and how a
variant is served, and Triton's one deployer, :class:`GroupDeployer`. On Triton a variant is a
group of entries of the output model repository (files there, then a load through the
model-control API, never a server restart): a model file served by tritune's runner, or a model
of the user's repository, is a group of one; an ensemble's or a BLS model's is its composing
models, then itself; models profiled concurrently are each model. The group deployer loads a
group in order and unloads it in reverse; what each kind of model puts in its group is
:mod:`tritune.profile.entries`'s."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tritune.domain.serving import ServingConfig
from tritune.errors import ModelLoadError

if TYPE_CHECKING:
    from tritune.loadgen.warmup import Warmup, WarmupFn


def variant_name(model: str, index: int | None) -> str:
    """Model Analyzer's names: ``<model>_config_default`` and ``<model>_config_<N>``."""
    return f"{model}_config_default" if index is None else f"{model}_config_{index}"


class Deployer(Protocol):
    """Serves variants of one model under their own names."""

    # Whether two variants can be loaded together (the confirm step loads its finalists side by
    # side when they can, one at a time when they cannot).
    side_by_side: bool

    def write(self, name: str, serving: ServingConfig, precision: str) -> None:
        """The variant's files only: a variant replayed from the store is still in the output."""
        ...

    def load(self, name: str, serving: ServingConfig, precision: str) -> float:
        """Write and load the variant; the seconds the load took. ModelLoadError when it cannot."""
        ...

    def unload(self, name: str) -> None: ...

    def check_server(self) -> None:
        """ServerError when the server serving the variants is gone (asked after a failed
        measurement: a dead server's failures are not the variant's results)."""
        ...

    def export(self, repository: Path, name: str, serving: ServingConfig, precision: str) -> Path:
        """A deployable entry ``<repository>/<name>`` outside the run; its config.pbtxt."""
        ...


def load_and_warm_up(
    deployer: Deployer,
    warm_up: WarmupFn | None,
    name: str,
    serving: ServingConfig,
    precision: str,
    client_batch_size: int,
) -> tuple[float, Warmup | None]:
    """Load a variant and warm it up for its first measurement (the search's and the confirm
    step's alike: a cold variant's first window measures cuDNN's planning, not the config); the
    load's seconds and the warm-up (None when warm-up is off). ModelLoadError when it cannot load."""
    load_time_s = deployer.load(name, serving, precision)
    return load_time_s, (warm_up(name, client_batch_size) if warm_up is not None else None)


class ModelLoader(Protocol):
    """What the group deployer asks of the server (``triton.control.ModelControl`` does it)."""

    def load(self, name: str) -> float: ...

    def unload(self, name: str) -> None: ...

    def check_server(self) -> None: ...


@dataclass(frozen=True)
class Entry:
    """One model of a variant's group: ``write`` lays out ``<repository>/<served>/`` (its
    config.pbtxt, which it returns, beside the model's files) and the server loads it as ``served``."""

    served: str
    write: Callable[[Path], Path]


@dataclass(frozen=True)
class Group:
    """What one variant serves: its entries in load order (a model before the one that calls it;
    unloaded in reverse), and which entry's config.pbtxt stands for the variant (an export's)."""

    entries: tuple[Entry, ...]
    main: int = -1

    @property
    def served(self) -> tuple[str, ...]:
        return tuple(entry.served for entry in self.entries)

    def write(self, repository: Path) -> Path:
        """Every entry into ``repository``; the main entry's config.pbtxt."""
        return [entry.write(repository) for entry in self.entries][self.main]


class GroupKind(Protocol):
    """What one kind of model serves for a variant (entries.py): all the group deployer lacks."""

    @property
    def side_by_side(self) -> bool:
        """Whether two variants' groups can be loaded together (they share no served name)."""
        ...

    def group(self, name: str, serving: ServingConfig, precision: str, *, export: bool) -> Group:
        """Variant ``name``'s group: in the output repository, under names of the variant's own
        where it can (the user's files linked); with ``export``, named as the user named the
        model (the files copied)."""
        ...


class GroupDeployer:
    """Variants of one model written into ``output_repository`` and served by one running Triton,
    each as the group of entries ``kind`` builds for it: loaded in order; unloaded in reverse,
    also when a load fails midway (the failure is raised once what it had loaded is gone)."""

    def __init__(self, control: ModelLoader, output_repository: Path, kind: GroupKind) -> None:
        self.kind = kind
        self.side_by_side = kind.side_by_side
        self._control = control
        self._repository = output_repository
        self._loaded: set[str] = set()  # served names now loaded
        self._groups: dict[str, tuple[str, ...]] = {}  # variant -> its served names, in load order

    def write(self, name: str, serving: ServingConfig, precision: str) -> None:
        self.kind.group(name, serving, precision, export=False).write(self._repository)

    def load(self, name: str, serving: ServingConfig, precision: str) -> float:
        group = self.kind.group(name, serving, precision, export=False)
        if not self.side_by_side:
            # The groups share served names: loading this one would make another variant's
            # loaded entries serve this one's configs.
            beside = sorted(self._loaded - set(group.served))
            if beside:
                raise ModelLoadError(f"{name} cannot load beside {', '.join(beside)}: its variants serve alone")
        group.write(self._repository)
        self._groups[name] = group.served
        seconds = 0.0
        try:
            for served in group.served:
                seconds += self._control.load(served)
                self._loaded.add(served)
        except ModelLoadError:
            self.unload(name)
            raise
        return seconds

    def unload(self, name: str) -> None:
        for served in reversed(self._groups.get(name, ())):
            if served in self._loaded:
                self._loaded.discard(served)
                self._control.unload(served)
        self._groups.pop(name, None)

    def check_server(self) -> None:
        self._control.check_server()

    def export(self, repository: Path, name: str, serving: ServingConfig, precision: str) -> Path:
        return self.kind.group(name, serving, precision, export=True).write(repository)
