"""The plain data that passes between the grading steps."""

from dataclasses import dataclass, field


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
    """`graded`, or a short error class: `missing`, `invalid-notebook`, `timeout`, `kernel-died`."""
    max_score: float
    parts: list[PartResult] = field(default_factory=list)
    message: str = ""
    repairs: list[str] = field(default_factory=list)
    """What the matcher fixed in the notebook (stripped metadata, moved cells), for the feedback."""
    digest: str = ""
    """Fingerprint of the submission and the assignment; an equal digest means the grade still holds."""
    seconds: float = 0.0
    submitted_at: str = ""
    """When the student handed the notebook in (ISO 8601 with time zone); empty when unknown."""
    late_seconds: float = 0.0
    """How long after the deadline it was handed in; 0 when on time or when there is no deadline."""
    penalty: float = 0.0
    """Points taken off for lateness (see `late`); the parts keep their own points."""

    @property
    def raw_score(self) -> float:
        """The points the parts earned, before any late penalty."""
        return sum(part.points for part in self.parts)

    @property
    def score(self) -> float:
        """The points that count: the parts' points less the late penalty, never below 0."""
        return max(0.0, self.raw_score - self.penalty)
