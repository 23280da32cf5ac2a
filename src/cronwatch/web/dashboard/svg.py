"""Runtime pictures drawn on the server as inline SVG: they need no JavaScript.

:func:`sparkline` is the overview's small picture of a job's latest runtimes; :func:`chart`
is the job page's runtime chart for browsers without JavaScript (with it, uPlot draws the
interactive one). Both return markup built only from numbers and from text passed through
:func:`markupsafe.escape`, and draw with presentation attributes and classes, never ``style``
attributes (the Content-Security-Policy allows no inline styles).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from markupsafe import Markup, escape

from cronwatch.durations import format_duration
from cronwatch.storage.dashboard import RunPoint


def _seconds(point: RunPoint) -> float:
    assert point.duration is not None
    return point.duration.total_seconds()


def _fd(seconds: float) -> str:
    return format_duration(timedelta(seconds=seconds))


def _scale(low: float, high: float, top: float, bottom: float) -> tuple[float, float]:
    """``y = a * value + b`` mapping [low, high] onto [bottom, top] (SVG y grows down)."""
    if high <= low:
        return 0.0, (top + bottom) / 2
    a = (top - bottom) / (high - low)
    return a, bottom - a * low


def sparkline(points: Sequence[RunPoint], *, width: int = 120, height: int = 28) -> Markup:
    """The durations of ``points`` (finished runs, oldest first) left to right, evenly spaced;
    failed runs as red dots. A dash when there is nothing to draw."""
    finished = [p for p in points if p.duration is not None]
    if not finished:
        return Markup('<span class="spark-empty" aria-label="no finished runs yet">—</span>')
    values = [_seconds(p) for p in finished]
    low, high = min(values), max(values)
    pad = 3.0
    a, b = _scale(low, high, pad, height - pad)
    step = (width - 2 * pad) / max(1, len(values) - 1)
    xy = [
        (pad + i * step if len(values) > 1 else width / 2, a * v + b) for i, v in enumerate(values)
    ]
    failures = sum(1 for p in finished if p.outcome == "failure")
    label = (
        f"runtime of the last {len(values)} runs: {_fd(low)} to {_fd(high)}, "
        f"last {_fd(values[-1])}" + (f"; {failures} failed" if failures else "")
    )
    parts = [
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>',
        '<polyline class="spark-line" fill="none" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        + '"/>',
    ]
    for (x, y), point in zip(xy, finished, strict=True):
        if point.outcome == "failure":
            parts.append(f'<circle class="spark-fail" cx="{x:.1f}" cy="{y:.1f}" r="2.5"/>')
    x, y = xy[-1]
    if finished[-1].outcome != "failure":
        parts.append(f'<circle class="spark-last" cx="{x:.1f}" cy="{y:.1f}" r="2"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def chart(
    points: Sequence[RunPoint],
    *,
    start: datetime,
    end: datetime,
    missed: Sequence[datetime] = (),
    band: tuple[float, float] | None = None,
    bounds: tuple[float | None, float | None] = (None, None),
    width: int = 800,
    height: int = 220,
) -> Markup:
    """A static runtime chart over ``[start, end]``: durations by start time, failures in
    red, missed slots as ticks along the bottom, the learned ``band`` shaded and the
    ``bounds`` (min, max runtime) as dashed lines. For pages viewed without JavaScript."""
    finished = [p for p in points if p.duration is not None]
    values = [_seconds(p) for p in finished]
    levels = [v for v in (*values, *(band or ()), *bounds) if v is not None]
    high = max(levels, default=1.0) * 1.1 or 1.0
    frame = _Frame(start, end, high, width, height)
    label = f"runtime of {len(values)} runs" + (f", {len(missed)} missed slots" if missed else "")
    parts = [
        *_axes(frame, label),
        *_limits(frame, band, bounds),
        *_runs(frame, finished, values),
        *_missed(frame, missed),
        "</svg>",
    ]
    return Markup("".join(parts))


class _Frame:
    """Where the chart draws: seconds map to y (0 at the bottom), times to x."""

    def __init__(self, start: datetime, end: datetime, high: float, width: int, height: int):
        self.start, self.end, self.high = start, end, high
        self.width, self.height = width, height
        self.left, self.right, self.top, self.bottom = 56.0, width - 8.0, 8.0, height - 22.0
        self.a, self.b = _scale(0.0, high, self.top, self.bottom)
        self.span = (end - start).total_seconds() or 1.0

    def x_of(self, t: datetime) -> float:
        fraction = (t - self.start).total_seconds() / self.span
        return self.left + (self.right - self.left) * max(0.0, min(1.0, fraction))

    def y_of(self, seconds: float) -> float:
        return self.a * seconds + self.b


def _axes(frame: _Frame, label: str) -> list[str]:
    left, right, top, bottom, height = (
        frame.left,
        frame.right,
        frame.top,
        frame.bottom,
        frame.height,
    )
    return [
        f'<svg class="chart-static" viewBox="0 0 {frame.width} {height}" role="img"'
        f' aria-label="{escape(label)}"><title>{escape(label)}</title>',
        f'<line class="axis" x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}"/>',
        f'<text class="tick" x="{left - 6}" y="{top + 8}" text-anchor="end">'
        f"{escape(_fd(frame.high))}</text>",
        f'<text class="tick" x="{left - 6}" y="{bottom}" text-anchor="end">0s</text>',
        f'<text class="tick" x="{left}" y="{height - 4}">{escape(_short(frame.start))}</text>',
        f'<text class="tick" x="{right}" y="{height - 4}" text-anchor="end">'
        f"{escape(_short(frame.end))}</text>",
    ]


def _limits(
    frame: _Frame, band: tuple[float, float] | None, bounds: tuple[float | None, float | None]
) -> list[str]:
    """The learned band, shaded, and the min/max runtime bounds, dashed."""
    parts = []
    if band is not None:
        y_high, y_low = frame.y_of(band[1]), frame.y_of(band[0])
        parts.append(
            f'<rect class="band" x="{frame.left}" y="{y_high:.1f}"'
            f' width="{frame.right - frame.left}" height="{max(1.0, y_low - y_high):.1f}"/>'
        )
    for value, name in zip(bounds, ("min", "max"), strict=True):
        if value is not None:
            y = frame.y_of(value)
            parts.append(
                f'<line class="bound bound-{name}" x1="{frame.left}" y1="{y:.1f}"'
                f' x2="{frame.right}" y2="{y:.1f}"/>'
            )
    return parts


def _runs(frame: _Frame, finished: Sequence[RunPoint], values: Sequence[float]) -> list[str]:
    """The successful runs as a line, and every run as a dot (a failure's larger, red)."""
    parts = []
    line = [
        (frame.x_of(p.started), frame.y_of(v))
        for p, v in zip(finished, values, strict=True)
        if p.outcome == "success"
    ]
    if line:
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in line)
        parts.append(f'<polyline class="runs" fill="none" points="{coords}"/>')
    for point, value in zip(finished, values, strict=True):
        kind = "fail" if point.outcome == "failure" else "ok"
        parts.append(
            f'<circle class="run-{kind}" cx="{frame.x_of(point.started):.1f}"'
            f' cy="{frame.y_of(value):.1f}" r="{3 if kind == "fail" else 2}"/>'
        )
    return parts


def _missed(frame: _Frame, missed: Sequence[datetime]) -> list[str]:
    """A tick along the bottom for each missed slot."""
    bottom = frame.bottom
    return [
        f'<line class="missed" x1="{x:.1f}" y1="{bottom - 10}" x2="{x:.1f}" y2="{bottom}"/>'
        for x in map(frame.x_of, missed)
    ]


def _short(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")
