"""The plain data that passes between the grading steps."""

from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    """How the grading of one notebook ended; every value but `graded` is a reason to look."""

    GRADED = "graded"
    """Every cell ran to its end (some tests may have failed)."""
    MISSING = "missing"
    """No notebook of that name was handed in."""
    AMBIGUOUS = "ambiguous"
    """Several notebooks could be the one; none was graded."""
    INVALID = "invalid-notebook"
    """The file is not a readable notebook."""
    TIMEOUT = "timeout"
    """A cell or the whole notebook ran past its time limit."""
    KERNEL_DIED = "kernel-died"
    """The Python kernel died while running the notebook."""
    TAMPERING = "tampering-suspected"
    """A check that fails on every honest notebook passed: the notebook changed how cells run."""
    FAILED = "grading-failed"
    """The grader itself failed on this notebook (the message says where); a human should look."""
    EXCUSED = "excused"
    """The teacher excused the student from the assignment (`c.Autograder.excused`): the row stays, its
    score shows what any hand-in earned, and none of it counts (Canvas gets `EX`, Moodle no grade).
    Set on the outputs' copy of a grade (see `attendance`), never stored by grading: excusing or
    un-excusing needs no re-grade."""


MAYBE_THE_GRADERS_FAULT = frozenset({Status.TIMEOUT, Status.KERNEL_DIED, Status.FAILED})
"""Endings a busy or stopped grading machine can cause as well as the student: graded again on every
re-run instead of reused, since nobody can tell from the grade which it was."""


class PartKind(StrEnum):
    """What kind of graded cell a part is, in nbgrader's terms."""

    TEST = "test"
    """An autograded test cell: the grader scores it."""
    ANSWER = "manual-answer"
    """A manually graded answer (markdown or code): a person scores what the student wrote."""
    TASK = "manual-task"
    """A manually graded task: a person scores the cells the student wrote under it."""


NEEDS_MANUAL_GRADE = "needs manual grade"
"""The message of a written part that waits for a person (see `PartResult.pending`)."""


@dataclass(frozen=True)
class PartResult:
    """The outcome of one graded cell (a test, or a written answer a person grades) of one submission."""

    grade_id: str
    points: float
    max_points: float
    message: str = ""
    """Why points were lost, in words a student can act on; empty when the part passed."""
    kind: PartKind = PartKind.TEST
    answer: str = ""
    """What the student wrote, for the person who grades it (manual parts only)."""
    pending: bool = False
    """A manual part that waits for a person: no score yet, or the answer changed since it was scored."""
    comment: str = ""
    """What the person who graded it wrote for the student (manual parts only)."""

    @property
    def is_manual(self) -> bool:
        return self.kind != PartKind.TEST


@dataclass
class NotebookGrade:
    """The grade of one student's notebook of one assignment."""

    student_id: str
    assignment: str
    notebook: str
    status: str
    """One of `Status` (stored and compared as its string)."""
    max_score: float
    parts: list[PartResult] = field(default_factory=list)
    message: str = ""
    repairs: list[str] = field(default_factory=list)
    """What the matcher fixed in the notebook (stripped metadata, moved cells), for the feedback."""
    notices: list[str] = field(default_factory=list)
    """How the student's files were read (a renamed notebook, a zip unpacked, the teacher's pick)."""
    late_note: str = ""
    """Why the hand-in counts as late and what that cost; empty when it is on time (see `late`)."""
    evidence: list[str] = field(default_factory=list)
    """Lines of the student's code that reach into the grading machinery, for the teacher (not a penalty)."""
    digest: str = ""
    """Fingerprint of the submission and the assignment; an equal digest means the grade still holds."""
    seconds: float = 0.0
    submitted_at: str = ""
    """When the student handed the notebook in (ISO 8601 with time zone); empty when unknown."""
    late_seconds: float = 0.0
    """How long after the deadline it was handed in; 0 when on time, without a deadline, or when the
    LMS marked it late without a time (Canvas's LATE; then `late_note` says so)."""
    penalty: float = 0.0
    """Points taken off for lateness (see `late`); the parts keep their own points."""
    sandboxed: bool = True
    """Whether the notebook ran in the sandbox (false only with --unsafe-no-sandbox)."""

    @property
    def is_late(self) -> bool:
        return bool(self.late_note)

    @property
    def pending_manual(self) -> list[PartResult]:
        """The written parts still waiting for a person."""
        return [part for part in self.parts if part.pending]

    @property
    def tests(self) -> list[PartResult]:
        """The autograded parts alone: what `check` and the mutation score judge."""
        return [part for part in self.parts if not part.is_manual]

    @property
    def passes_every_test(self) -> bool:
        """Graded, and every autograded part earned all its points (written parts aside)."""
        return self.status == Status.GRADED and all(p.points == p.max_points for p in self.tests)

    @property
    def raw_score(self) -> float:
        """The points the parts earned, before any late penalty."""
        return sum(part.points for part in self.parts)

    @property
    def score(self) -> float:
        """The points that count: the parts' points less the late penalty, never below 0."""
        return max(0.0, self.raw_score - self.penalty)


@dataclass(frozen=True)
class Student:
    """One student as the LMS named them in its download."""

    student_id: str
    """The folder name their notebooks are graded under."""
    name: str = ""
    lms: str = ""
    """Where the submission came from: `moodle`, `canvas`, `brightspace`, `nbgrader` or empty."""
    lms_user_id: str = ""
    """The LMS's own id of the student (Moodle participant id, Canvas user id, ...)."""
    submitted_at: str = ""
    """When the graded attempt was handed in, ISO 8601 with time zone; empty when unknown."""


@dataclass(frozen=True)
class RubricItem:
    """One line of a written question's rubric: a reusable comment and the points it adds (or takes)."""

    item_id: str
    text: str
    points: float
    position: int = 0


@dataclass(frozen=True)
class ManualScore:
    """A person's grade of one written part: the rubric items chosen, an adjustment and a comment.

    Its points are worked out from the rubric as it is now (`points`), so changing an item's points
    re-grades every answer that has it.
    """

    assignment: str
    student_id: str
    notebook: str
    grade_id: str
    items: tuple[str, ...] = ()
    """The `RubricItem.item_id`s that apply."""
    adjustment: float = 0.0
    """Points added to the items' (negative: taken off)."""
    comment: str = ""
    grader: str = ""
    answer_digest: str = ""
    """Fingerprint of the answer that was graded: a changed answer waits for a person again."""
    version: int = 0
    """Bumped by every save; a save based on an older version is refused (two TAs at once)."""

    def points(self, rubric: list[RubricItem], max_points: float) -> float:
        """The part's points: the chosen items' points plus the adjustment, within 0 and `max_points`."""
        chosen = sum(item.points for item in rubric if item.item_id in self.items)
        return min(max(chosen + self.adjustment, 0.0), max_points)

    def feedback(self, rubric: list[RubricItem]) -> str:
        """What the student reads: the chosen items' comments, then the grader's own words."""
        lines = [f"{item.text} ({item.points:+g})" for item in rubric if item.item_id in self.items]
        return "\n".join([*lines, self.comment.strip()]).strip()
