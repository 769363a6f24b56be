"""Chart geometry (web/charts.py): values land where they belong and never outside the plot."""

import math
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from web import charts

EPSILON = 1e-6
values = st.floats(min_value=-50, max_value=1e6, allow_nan=False)
counts = st.integers(min_value=0, max_value=100_000)


def test_bars_are_proportional_and_keep_their_order() -> None:
    chart = charts.horizontal_bars([("a", "Đơn vị A", 50.0), ("b", "Đơn vị B", 100.0)])
    a, b = chart.bars
    assert (a.key, b.key) == ("a", "b") and a.y < b.y
    assert a.width == pytest.approx(chart.plot.width / 2)
    assert b.width == pytest.approx(chart.plot.width)
    assert [tick.label for tick in chart.ticks] == ["0%", "25%", "50%", "75%", "100%"]
    assert chart.ticks[-1].position == pytest.approx(chart.plot.right)


def test_long_labels_are_clipped_with_an_ellipsis() -> None:
    name = "Ủy ban nhân dân phường Phú Xuân, thành phố Huế, tỉnh Thừa Thiên Huế"
    [bar] = charts.horizontal_bars([("u", name, 10.0)]).bars
    assert bar.label.endswith("…") and len(bar.label) < len(name)
    assert bar.full_label == name
    assert charts.clip("Huế", 100) == "Huế"


@given(st.lists(values, max_size=40))
def test_bars_never_leave_the_plot_and_keep_the_order(numbers: list[float]) -> None:
    items = [(f"k{i}", f"label {i}", value) for i, value in enumerate(numbers)]
    chart = charts.horizontal_bars(items)
    plot = chart.plot
    assert [bar.key for bar in chart.bars] == [key for key, _, _ in items]
    for bar in chart.bars:
        assert bar.x >= plot.left - EPSILON and bar.x + bar.width <= plot.right + EPSILON
        assert bar.y >= plot.top - EPSILON and bar.y + bar.height <= plot.bottom + EPSILON
        assert bar.width >= 0
    assert all(one.y < two.y for one, two in pairwise(chart.bars))
    ranked = sorted(chart.bars, key=lambda bar: bar.value)
    assert all(one.width <= two.width + EPSILON for one, two in pairwise(ranked))
    assert chart.height >= plot.bottom


@given(st.dictionaries(st.tuples(st.integers(0, 11), st.integers(0, 5)), counts, max_size=60))
def test_stacks_never_leave_the_plot_and_add_up(cells: dict[tuple[int, int], int]) -> None:
    columns = [(f"m{i}", f"2026-{i + 1:02d}") for i in range(12)]
    series = [f"c{j}" for j in range(6)]
    values = {(f"m{i}", f"c{j}"): float(n) for (i, j), n in cells.items()}
    chart = charts.stacked_columns(columns, series, values)
    plot = chart.plot
    top = chart.ticks[-1].value
    assert [column.key for column in chart.columns] == [key for key, _ in columns]
    assert all(one.x < two.x for one, two in pairwise(chart.columns))
    for column in chart.columns:
        expected = sum(values.get((column.key, s), 0.0) for s in series)
        assert column.total == expected and top >= expected
        assert column.top >= plot.top - EPSILON
        stacked = sum(segment.height for segment in column.segments)
        assert stacked == pytest.approx(expected / top * plot.height, abs=1e-6)
        assert [s.series for s in column.segments] == [
            s for s in series if values.get((column.key, s), 0) > 0
        ]
        for segment in column.segments:
            assert segment.y >= plot.top - EPSILON
            assert segment.y + segment.height <= plot.bottom + EPSILON
            assert plot.left <= segment.x and segment.x + segment.width <= plot.right + EPSILON


@given(st.lists(st.one_of(st.none(), st.floats(0, 100)), max_size=36))
def test_the_line_breaks_at_gaps_and_stays_in_the_plot(numbers: list[float | None]) -> None:
    items = [(f"m{i}", f"{i}", value) for i, value in enumerate(numbers)]
    chart = charts.line(items)
    plot = chart.plot
    assert [p.key for p in chart.points] == [key for key, _, v in items if v is not None]
    assert all(one.x < two.x for one, two in pairwise(chart.points))
    for point in chart.points:
        assert plot.left <= point.x <= plot.right
        assert plot.top - EPSILON <= point.y <= plot.bottom + EPSILON
    runs = sum(
        1
        for i, value in enumerate(numbers)
        if value is not None and (i == 0 or numbers[i - 1] is None)
    )
    assert len(chart.segments) == runs


def test_a_full_score_is_at_the_top_and_zero_at_the_bottom() -> None:
    chart = charts.line([("a", "a", 100.0), ("b", "b", None), ("c", "c", 0.0)])
    high, low = chart.points
    assert high.y == pytest.approx(chart.plot.top) and low.y == pytest.approx(chart.plot.bottom)
    assert len(chart.segments) == 2  # no line drawn through the month without ratings


@given(st.floats(min_value=0.001, max_value=1e9), st.booleans())
def test_nice_scales_cover_the_maximum_in_few_round_steps(maximum: float, integer: bool) -> None:
    top, step = charts.nice_scale(maximum, integer=integer)
    assert top >= maximum * (1 - 1e-9)
    assert top / step <= 5 + EPSILON or (integer and step == 1)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 5) or (integer and step == math.ceil(step))


def test_count_axes_step_by_whole_numbers() -> None:
    assert charts.nice_scale(3, integer=True) == (3, 1)
    assert charts.nice_scale(0, integer=True)[0] > 0
    assert charts.nice_scale(87) == (100, 20)


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_series_stand_out_from_the_page_and_from_their_neighbours() -> None:
    """Every colour 3:1 on white (WCAG 1.4.11); neighbouring series differ by 3:1 or by
    pattern (1.4.1), and the 16 categories of the volume chart are all told apart."""
    assert all(_contrast(colour, "#ffffff") >= 3 for colour in charts.PALETTE)
    for index in range(40):
        a, b = index, index + 1
        assert _contrast(charts.color(a), charts.color(b)) >= 3 or charts.pattern(
            a
        ) != charts.pattern(b)
    assert len({charts.style(i) for i in range(16)}) == 16
