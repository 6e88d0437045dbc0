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


MAYBE_THE_GRADERS_FAULT = frozenset({Status.TIMEOUT, Status.KERNEL_DIED, Status.FAILED})
"""Endings a busy or stopped grading machine can cause as well as the student: graded again on every
re-run instead of reused, since nobody can tell from the grade which it was."""


@dataclass(frozen=True)
class PartResult:
    """The outcome of one graded test cell of one submission."""

    grade_id: str
    points: float
    max_points: float
    message: str = ""
    """Why points were lost, in words a student can act on; empty when the part passed."""


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
