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

    @property
    def score(self) -> float:
        return sum(part.points for part in self.parts)
