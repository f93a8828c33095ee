"""Is a memory series flat? Least-squares trend and spread of samples after a warm-up (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Trend:
    """A series' fitted line over [start, end] seconds and its spread."""

    samples: int
    start: float
    end: float
    slope: float
    """Units per second of the least-squares line."""
    fitted_start: float
    fitted_end: float
    low: float
    high: float

    @property
    def growth(self) -> float:
        """Fitted growth over the span, relative to the fitted start (0.1 = 10 %)."""
        return (self.fitted_end - self.fitted_start) / self.fitted_start if self.fitted_start > 0 else 0.0

    @property
    def max_min_ratio(self) -> float:
        """Highest sample over lowest."""
        return self.high / self.low if self.low > 0 else float("inf")

    def as_dict(self, unit: float = 2**20, per: float = 60.0) -> dict[str, Any]:
        """JSON-able figures, values divided by ``unit`` (MiB) and the slope per ``per`` seconds (a minute)."""
        return {
            "samples": self.samples,
            "span_s": [round(self.start, 1), round(self.end, 1)],
            "first_fit_mib": round(self.fitted_start / unit, 2),
            "last_fit_mib": round(self.fitted_end / unit, 2),
            "min_mib": round(self.low / unit, 2),
            "max_mib": round(self.high / unit, 2),
            "slope_mib_per_min": round(self.slope * per / unit, 4),
            "growth": round(self.growth, 4),
            "max_min_ratio": round(self.max_min_ratio, 4),
        }


def fit(points: Sequence[tuple[float, float]]) -> Trend:
    """The least-squares line through ``points`` (time, value); ValueError with fewer than 2 times."""
    if len({t for t, _ in points}) < 2:
        raise ValueError("a trend needs samples at two different times at least")
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / var
    start = min(t for t, _ in points)
    end = max(t for t, _ in points)
    values = [v for _, v in points]

    def at(t: float) -> float:
        return mean_v + slope * (t - mean_t)

    return Trend(n, start, end, slope, at(start), at(end), min(values), max(values))
