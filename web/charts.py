"""Chart geometry for the report dashboard: figures in, SVG coordinates out.

Pure functions, no HTML: ``web/templates/audit/charts.html`` draws what they return, so the
numbers can be tested without parsing markup. Every chart works in its own coordinate system
(the SVG ``viewBox``), with the plot area inside margins for axis labels; values are never drawn
outside the plot area, whatever they are (negative or above the maximum: clamped).
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Each at least 3:1 against white (WCAG 1.4.11), so every segment stands out from the page.
# Dark colours are too close to each other to tell series apart by colour alone (1.4.1), so
# each series also has a pattern, and neighbouring series never share one (see ``style``).
PALETTE = (
    "#0b5cad",
    "#b3261e",
    "#1e7b34",
    "#6a3d9a",
    "#a15c00",
    "#00695c",
    "#455a64",
    "#ad1457",
)
PATTERNS = ("solid", "stripes", "dots", "cross")
FONT = 12  # the labels' font size, in viewBox units
CHAR = 7.2  # a label character's average width at FONT, for clipping labels


@dataclass(frozen=True)
class Plot:
    """The area values are drawn in; margins around it hold the axes' labels."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


@dataclass(frozen=True)
class Tick:
    value: float
    position: float  # x on a horizontal axis, y on a vertical one
    label: str


@dataclass(frozen=True)
class Label:
    text: str
    position: float


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def pattern(index: int) -> str:
    """Neighbours differ (the index steps by one), and so do the first 32 series altogether:
    each run of colours gets the patterns shifted by one."""
    return PATTERNS[(index + index // len(PALETTE)) % len(PATTERNS)]


def style(index: int) -> str:
    """The fill's id for series ``index``: its colour and pattern (``pat-<colour>-<pattern>``,
    defined once per chart by the template)."""
    return f"pat-{index % len(PALETTE)}-{pattern(index)}"


def clip(text: str, width: float) -> str:
    """``text`` cut with an ellipsis to about ``width`` units at the label font size."""
    room = max(1, int(width / CHAR))
    return text if len(text) <= room else text[: room - 1].rstrip() + "…"


def nice_scale(maximum: float, count: int = 5, integer: bool = False) -> tuple[float, float]:
    """(top, step): the axis runs 0..top in steps of 1, 2 or 5 × 10^k, at most ``count`` of
    them, and top >= maximum. Counts (``integer``) step by whole numbers."""
    if not math.isfinite(maximum) or maximum <= 0:
        return (float(count) if integer else 1.0), 1.0 if integer else 0.2
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
    if integer:
        step = max(1.0, float(math.ceil(step)))
    return step * math.ceil(maximum / step - 1e-9), step


def scaled(value: float, maximum: float, start: float, length: float) -> float:
    """``start`` + the share of ``length`` that ``value`` is of ``maximum``, clamped to 0..1."""
    if maximum <= 0 or not math.isfinite(value):
        return start
    return start + length * min(1.0, max(0.0, value / maximum))


def _number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def axis(top: float, step: float, start: float, length: float, suffix: str = "") -> list[Tick]:
    """Ticks 0, step, ..., top along an axis from ``start`` over ``length`` (negative length:
    upwards, as a vertical axis runs in SVG)."""
    count = round(top / step) if step > 0 else 0
    return [
        Tick(n * step, scaled(n * step, top, start, length), _number(n * step) + suffix)
        for n in range(count + 1)
    ]


def every(count: int, room: float, width: float) -> int:
    """Show one label in ``every(...)`` so that ``count`` labels of ``width`` fit ``room``."""
    if count <= 0:
        return 1
    return max(1, math.ceil(count * width / max(room, 1.0)))


# -- horizontal bars -------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    key: str
    label: str  # clipped to the label column
    full_label: str
    value: float
    x: float
    y: float
    width: float
    height: float

    @property
    def middle(self) -> float:
        return self.y + self.height / 2


@dataclass(frozen=True)
class BarChart:
    width: float
    height: float
    plot: Plot
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]


def horizontal_bars(
    items: Sequence[tuple[str, str, float]],
    *,
    maximum: float = 100.0,
    width: float = 640.0,
    label_width: float = 210.0,
    row: float = 26.0,
    gap: float = 8.0,
    suffix: str = "%",
) -> BarChart:
    """One bar per (key, label, value), top to bottom in the order given, on a 0..maximum
    axis (labels on the left, the value after each bar, the ticks below)."""
    plot = Plot(
        left=label_width, top=8.0, width=width - label_width - 56.0, height=len(items) * row
    )
    step = maximum / 4 if maximum > 0 else 1.0
    bars = tuple(
        Bar(
            key=key,
            label=clip(label, label_width - 14),
            full_label=label,
            value=value,
            x=plot.left,
            y=plot.top + index * row + gap / 2,
            width=scaled(value, maximum, 0.0, plot.width),
            height=row - gap,
        )
        for index, (key, label, value) in enumerate(items)
    )
    ticks = tuple(axis(maximum, step, plot.left, plot.width, suffix))
    return BarChart(width, plot.bottom + 28.0, plot, bars, ticks)


# -- stacked columns -------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    series: str
    value: float
    x: float
    y: float
    width: float
    height: float
    color: str
    fill: str  # the id of the colour-and-pattern fill (``style``)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    total: float
    x: float
    width: float
    top: float  # y of the stack's top
    segments: tuple[Segment, ...]
    show_label: bool

    @property
    def middle(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class ColumnChart:
    width: float
    height: float
    plot: Plot
    columns: tuple[Column, ...]
    ticks: tuple[Tick, ...]
    series: tuple[tuple[str, str, str], ...]  # (series, colour, fill id), for the legend


def stacked_columns(
    columns: Sequence[tuple[str, str]],
    series: Sequence[str],
    values: Mapping[tuple[str, str], float],
    *,
    width: float = 640.0,
    height: float = 280.0,
) -> ColumnChart:
    """One column per (key, label), left to right, stacking ``values[(column key, series)]``
    bottom-up in the order of ``series`` (zero and missing values draw nothing)."""
    plot = Plot(left=44.0, top=20.0, width=width - 54.0, height=height - 54.0)
    totals = [sum(max(0.0, values.get((key, s), 0.0)) for s in series) for key, _ in columns]
    top, step = nice_scale(max(totals, default=0.0), integer=True)
    slot = plot.width / max(1, len(columns))
    bar = slot * 0.7
    show = every(len(columns), plot.width, 56.0)
    drawn = []
    for index, ((key, label), total) in enumerate(zip(columns, totals, strict=True)):
        x = plot.left + index * slot + (slot - bar) / 2
        base = plot.bottom
        segments = []
        for number, name in enumerate(series):
            value = max(0.0, values.get((key, name), 0.0))
            if value <= 0:
                continue
            size = scaled(value, top, 0.0, plot.height)
            size = min(size, base - plot.top)  # rounding never pushes a stack past the top
            segment = Segment(name, value, x, base - size, bar, size, color(number), style(number))
            segments.append(segment)
            base -= size
        drawn.append(Column(key, label, total, x, bar, base, tuple(segments), index % show == 0))
    ticks = tuple(axis(top, step, plot.bottom, -plot.height))
    legend = tuple((name, color(number), style(number)) for number, name in enumerate(series))
    return ColumnChart(width, height, plot, tuple(drawn), ticks, legend)


# -- line ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    key: str
    label: str
    value: float
    x: float
    y: float


@dataclass(frozen=True)
class LineChart:
    width: float
    height: float
    plot: Plot
    points: tuple[Point, ...]  # the slots that have a value
    segments: tuple[str, ...]  # SVG polyline ``points``: the line breaks where values are missing
    labels: tuple[Label, ...]  # x-axis labels (some skipped when they would overlap)
    ticks: tuple[Tick, ...]


def line(
    items: Sequence[tuple[str, str, float | None]],
    *,
    maximum: float = 100.0,
    width: float = 640.0,
    height: float = 240.0,
    suffix: str = "%",
) -> LineChart:
    """A line through (key, label, value) at evenly spaced slots, left to right; a missing
    value (None) leaves a gap, so a month without data is not drawn as a zero."""
    plot = Plot(left=48.0, top=12.0, width=width - 64.0, height=height - 46.0)
    slot = plot.width / max(1, len(items))
    points: list[Point] = []
    segments: list[str] = []
    run: list[str] = []
    for index, (key, label, value) in enumerate(items):
        x = plot.left + (index + 0.5) * slot
        if value is None:
            if run:
                segments.append(" ".join(run))
            run = []
            continue
        y = scaled(value, maximum, plot.bottom, -plot.height)
        points.append(Point(key, label, value, x, y))
        run.append(f"{x:.1f},{y:.1f}")
    if run:
        segments.append(" ".join(run))
    show = every(len(items), plot.width, 56.0)
    labels = tuple(
        Label(label, plot.left + (index + 0.5) * slot)
        for index, (_, label, _) in enumerate(items)
        if index % show == 0
    )
    step = maximum / 4 if maximum > 0 else 1.0
    ticks = tuple(axis(maximum, step, plot.bottom, -plot.height, suffix))
    return LineChart(width, height, plot, tuple(points), tuple(segments), labels, ticks)
