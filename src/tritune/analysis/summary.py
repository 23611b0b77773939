"""The facts behind the summary sentence, and the sentence itself (Model Analyzer's wording).

"In N measurements across M configurations, <name> is G % better than the default
configuration at <objective> under the given constraints: T infer/sec, p99 L ms."
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tritune.analysis.configs import ConfigResult, best_per_config
from tritune.analysis.constraints import Constraints
from tritune.analysis.objectives import Objectives
from tritune.domain.metrics import LATENCY_P99, THROUGHPUT, Direction, axis_label, direction, unit


@dataclass(frozen=True)
class SummaryFacts:
    measurements: int
    configurations: int
    objective: str  # "maximizing throughput", or "meeting the objectives" for several
    constrained: bool
    best_name: str | None = None  # None: nothing produced a usable measurement
    best_feasible: bool = False
    best_is_default: bool = False
    default_name: str | None = None
    gain_percent: float | None = None  # None: no usable default measurement to compare with
    throughput: float | None = None  # infer/sec of the best configuration's best load point
    latency_p99_ms: float | None = None
    # The confirm step's evidence (None: the search's single measurements decided).
    confirm_rounds: int | None = None
    gain_spread_percent: float | None = None  # ± of gain_percent over the confirm rounds
    tie_with: str | None = None  # the finalist the best tied with
    tie_reason: str | None = None  # why the best was picked in the tie ("fewer instances")


def metric_noun(metric: str) -> str:
    """A metric as a noun: its axis label without the unit ("p99 latency (ms)" -> "p99 latency")."""
    return axis_label(metric).removesuffix(f" ({unit(metric)})")


def objective_phrase(objectives: Objectives) -> str:
    """ "maximizing throughput": the direction and the name of a single objective, from the metric table."""
    if len(objectives.weights) == 1:
        metric = objectives.metrics[0]
        verb = "maximizing" if direction(metric) is Direction.MAXIMIZE else "minimizing"
        noun = metric_noun(metric)
        # Mid-sentence a word loses its capital, an acronym keeps it ("GPU memory").
        return f"{verb} {noun[:1].lower() + noun[1:] if noun[1:2].islower() else noun}"
    return "meeting the objectives"


def summary_facts(
    configs: Sequence[ConfigResult], objectives: Objectives, constraints: Constraints | None = None
) -> SummaryFacts:
    """Count measurements and configurations, pick the best, and compare it with the default."""
    constraints = constraints or Constraints()
    bests = best_per_config(configs, objectives, constraints)
    facts = SummaryFacts(
        measurements=sum(len(c.measurements) for c in configs),
        configurations=len(configs),
        objective=objective_phrase(objectives),
        constrained=bool(constraints),
    )
    if not bests or bests[0].best is None:
        return facts
    top = bests[0]
    assert top.best is not None
    default = next((b for b in bests if b.config.is_default), None)
    gain = None
    if default is not None and default.best is not None:
        gain = objectives.gain(top.best.metrics, default.best.metrics)
    return SummaryFacts(
        measurements=facts.measurements,
        configurations=facts.configurations,
        objective=facts.objective,
        constrained=facts.constrained,
        best_name=top.config.name,
        best_feasible=top.outcome.feasible,
        best_is_default=top.config.is_default,
        default_name=None if default is None else default.config.name,
        gain_percent=gain,
        throughput=top.best.metric(THROUGHPUT),
        latency_p99_ms=top.best.metric(LATENCY_P99),
    )


def unmet_constraints_line(model: str, constraints: str, closest: str) -> str:
    """The one line for a run whose configurations all miss the constraints: which, the closest
    (kept as the run's best), and the two ways out."""
    return (
        f"no configuration of {model} meets the constraints ({constraints}); {closest} comes closest "
        "and is kept as the run's best: loosen the constraint (--latency-budget, --min-throughput or "
        "the config's constraints) or widen the search (the run_config_search_* limits or manual lists)"
    )


def summary_sentence(facts: SummaryFacts) -> str:
    """One sentence for the terminal and the report header."""
    measurements = _count(facts.measurements, "measurement")
    lead = f"In {measurements} across {_count(facts.configurations, 'configuration')}"
    if facts.best_name is None:
        return f"{lead}, no configuration produced a usable measurement."
    numbers = _numbers(facts)
    under = " under the given constraints" if facts.constrained else ""
    if facts.constrained and not facts.best_feasible:
        return f"{lead}, no configuration meets the given constraints; {facts.best_name} comes closest{numbers}."
    if facts.gain_percent is None:
        return (
            f"{lead}, {facts.best_name} is the best at {facts.objective}{under}{numbers} "
            "(the default configuration has no usable measurement)."
        )
    gain = round(facts.gain_percent)
    evidence = _evidence(facts)
    if facts.best_is_default and facts.confirm_rounds:
        # A gain of the default over itself says nothing: the rounds are the evidence.
        rounds = _count(facts.confirm_rounds, "confirm round")
        return (
            f"{lead}, the default configuration ({facts.best_name}) is still the best after {rounds} "
            f"at {facts.objective}{under}{numbers}.{_tie(facts)}"
        )
    spread = facts.gain_spread_percent
    if (
        not facts.best_is_default
        and gain > 0
        and facts.confirm_rounds
        and spread is not None
        and facts.gain_percent <= spread
    ):
        # A gain within the rounds' own spread could be noise: no gain is claimed.
        return (
            f"{lead}, {facts.best_name} could not be told apart from the default configuration at "
            f"{facts.objective}{under}{numbers}: its {gain}% gain lies within the spread of its rounds"
            f"{evidence}.{_tie(facts)}"
        )
    if facts.best_is_default or gain <= 0:
        return (
            f"{lead}, {facts.best_name} provides no gain over the default configuration{evidence} "
            f"at {facts.objective}{under}{numbers}.{_tie(facts)}"
        )
    return (
        f"{lead}, {facts.best_name} is {gain}%{evidence} better than the default configuration "
        f"at {facts.objective}{under}{numbers}.{_tie(facts)}"
    )


def _evidence(facts: SummaryFacts) -> str:
    """ " (± 4 %, 3 rounds)": how far the confirm rounds spread, and how many there were."""
    if not facts.confirm_rounds:
        return ""
    rounds = _count(facts.confirm_rounds, "round")
    if facts.gain_spread_percent is None:
        return f" ({rounds})"
    return f" (± {facts.gain_spread_percent:.0f} %, {rounds})"


def _tie(facts: SummaryFacts) -> str:
    if facts.tie_with is None:
        return ""
    return (
        f" It ties with {facts.tie_with} within their spread over {_count(facts.confirm_rounds or 0, 'round')}; "
        f"{facts.best_name} is picked for {facts.tie_reason}."
    )


def _numbers(facts: SummaryFacts) -> str:
    parts = []
    if facts.throughput is not None:
        parts.append(f"{facts.throughput:,.1f} {unit(THROUGHPUT)}")
    if facts.latency_p99_ms is not None:
        parts.append(f"p99 {facts.latency_p99_ms:.3g} {unit(LATENCY_P99)}")
    return ": " + ", ".join(parts) if parts else ""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
