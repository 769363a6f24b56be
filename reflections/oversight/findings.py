"""What verifying the audit chains found: each broken link, named, and the report of a run."""

from dataclasses import dataclass, field
from enum import StrEnum

MAX_PROBLEMS = 50  # problems kept in a report (all are counted)


class ProblemKind(StrEnum):
    """What is wrong at a broken link."""

    HISTORY_MISSING = "history_missing"  # a reflection without a single history row
    ROW_MISSING = "row_missing"  # a gap in seq, or fewer rows than the version says
    SEQ_OUT_OF_ORDER = "seq_out_of_order"  # rows reordered (their chain says otherwise)
    CONTENT_CHANGED = "content_changed"  # the hash does not match the row's content
    BROKEN_LINK = "broken_link"  # prev_hash is not the previous row's hash
    EXTRA_ROW = "extra_row"  # more rows than the reflection's version
    IMPOSSIBLE_HISTORY = "impossible_history"  # the lifecycle could not have produced it
    STATE_MISMATCH = "state_mismatch"  # the reflection is not where its history ends
    REFLECTION_MISSING = "reflection_missing"  # history rows whose reflection row is gone
    ANCHOR_CHAIN = "anchor_chain"  # an anchor's prev_hash is not the previous anchor's hash
    ANCHOR_RANGE = "anchor_range"  # anchors' id ranges leave a gap or overlap
    ANCHOR_DIGEST = "anchor_digest"  # the rows in an anchor's range no longer match it


@dataclass(frozen=True)
class Problem:
    """One broken link: where (a reflection and seq, or an anchor and its id range) and what."""

    kind: ProblemKind
    detail: str
    reflection_id: int | None = None
    tracking_code: str | None = None
    seq: int | None = None
    history_id: int | None = None
    anchor_id: int | None = None
    first_history_id: int | None = None
    last_history_id: int | None = None

    @property
    def where(self) -> str:
        if self.anchor_id is not None:
            return (
                f"anchor {self.anchor_id} "
                f"(history ids {self.first_history_id}–{self.last_history_id})"
            )
        place = (
            f"reflection {self.tracking_code}"
            if self.tracking_code
            else f"reflection id {self.reflection_id}"
        )
        if self.seq is not None:
            place += f" seq {self.seq}"
        if self.history_id is not None:
            place += f" (history id {self.history_id})"
        return place

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"


@dataclass
class VerifyReport:
    """What was checked and, unless intact, the broken links (the first first)."""

    reflections: int = 0
    rows: int = 0
    anchors: int = 0
    anchored_rows: int = 0  # rows inside an anchor's id range
    unanchored_rows: int = 0  # rows after the last anchor: only their own chain covers them
    problem_count: int = 0
    problems: list[Problem] = field(default_factory=list)  # the first MAX_PROBLEMS

    @property
    def intact(self) -> bool:
        return self.problem_count == 0

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def summary(self) -> str:
        """One line: "chain intact: ..." or "chain broken at ...: ..."."""
        counts = f"{self.reflections} reflections, {self.rows} rows, {self.anchors} anchors" + (
            f", {self.unanchored_rows} rows not yet anchored" if self.unanchored_rows else ""
        )
        if self.first_problem is None:
            return f"chain intact: {counts}"
        more = self.problem_count - 1
        also = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
        return f"chain broken at {self.first_problem}{also}; checked {counts}"
