"""Charts as data for server-rendered SVG: coordinates, not pictures.

The templates draw what these functions compute (a polyline, dots, crosses, axis labels), so
a chart is plain markup in the page: nothing to load, nothing to run, every label escaped like
the rest of the page, and it prints and screenshots as it shows.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

WIDTH, HEIGHT, MARGIN = 320, 140, 30
HEAT_LEVELS = 8  # colour steps of the test-perf heatmap (CSS classes heat-0 .. heat-7)


@dataclass
class Scale:
    """Perf values to vertical pixels, shared by the curves of one problem."""

    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Scale:
        present = [value for value in values if value is not None]
        if not present:
            return cls(0.0, 1.0)
        low, high = min(present), max(present)
        return cls(low, high) if high > low else cls(low - 0.5, high + 0.5)

    def y(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return round(HEIGHT - MARGIN / 2 - share * (HEIGHT - MARGIN), 1)


@dataclass
class Curve:
    """One algo's learning curve: perf by rank, failed ranks marked on the axis."""

    width: int = WIDTH
    height: int = HEIGHT
    line: str = ""  # the polyline's points
    dots: list[tuple[float, float, str]] = field(default_factory=list)  # x, y, title
    failed: list[tuple[float, str]] = field(default_factory=list)  # x, title
    axis: dict[str, Any] = field(default_factory=dict)


def learning_curve(tasks: Sequence[Mapping[str, Any]], length: int, scale: Scale) -> Curve:
    """The curve of a chain's learnuplets (any order), over ranks 0 .. length - 1."""
    span = max(length - 1, 1)

    def x(rank: int) -> float:
        return round(MARGIN + rank * (WIDTH - 1.5 * MARGIN) / span, 1)

    curve = Curve(axis={"low": scale.low, "high": scale.high, "last_rank": max(length - 1, 0),
                        "y_low": scale.y(scale.low), "y_high": scale.y(scale.high),
                        "x_first": x(0), "x_last": x(span), "base": HEIGHT - MARGIN / 2})
    points = []
    for task in sorted(tasks, key=lambda task: task["rank"]):
        if task.get("status") == "done" and task.get("perf") is not None:
            point = (x(task["rank"]), scale.y(task["perf"]))
            points.append(point)
            curve.dots.append((*point, f"rank {task['rank']}: perf {task['perf']:.4g}"))
        elif task.get("status") == "failed":
            curve.failed.append((x(task["rank"]), f"rank {task['rank']}: failed"))
    curve.line = " ".join(f"{px},{py}" for px, py in points)
    return curve


def heat_level(value: float | None, scale: Scale) -> int | None:
    """The colour step of a test perf (None: no value)."""
    if value is None:
        return None
    share = (value - scale.low) / (scale.high - scale.low)
    return min(HEAT_LEVELS - 1, max(0, int(share * HEAT_LEVELS)))
