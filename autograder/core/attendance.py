"""Attendance: who counts in an assignment's outputs, from the course's nbgrader_config.py.

    c.Autograder.excluded = ["s230099"]                               # dropped the course, a test account
    c.Autograder.excused = {"warmup": {"s230005": "medical certificate"}}

An *excluded* student is left out of every output of every assignment (grades.csv, questions.csv,
the LMS files, the feedback zips, the report, nbgrader's feedback folder) and is not graded; every
run says how many it left out and who, so nobody is lost unseen. The gradebook keeps any grade
they already had, so taking them off the list brings it back.

An *excused* student keeps a row with the status `excused` (see `Status.EXCUSED`), also when they
handed nothing in. One who did hand in is still graded: their score stays visible in grades.csv
and the report, flagged, so that excusing after grading loses nothing, but it counts for nothing
(Canvas's import gets `EX`, Moodle's worksheet an empty grade). The reason is for the teacher: it
appears in the report, never in anything a student receives.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from autograder.core.errors import CourseError
from autograder.core.late import load_policy
from autograder.core.model import NotebookGrade, Status
from autograder.core.settings import CONFIG_FILE, course_settings, nearest


@dataclass(frozen=True)
class Attendance:
    """Who is left out of an assignment, who is excused from it and who has an extension."""

    excluded: frozenset[str] = frozenset()
    excused: dict[str, str] = field(default_factory=dict, hash=False)
    """Student id -> the teacher's reason."""
    extensions: dict[str, str] = field(default_factory=dict, hash=False)
    """Student id -> 'extension to <date> (deadline <date>)', for the report."""

    def left_out(self, student_ids: Iterable[str]) -> list[str]:
        """The excluded ones among `student_ids`, sorted, each once."""
        return sorted(set(student_ids) & self.excluded)

    def apply(self, grades: list[NotebookGrade]) -> list[NotebookGrade]:
        """The grades the outputs show: the excluded left out, the excused marked `excused`.

        An excused student with no grade at all gets one per notebook, with no parts and the other
        grades' max score, so their row is there. The grades passed in are not changed.
        """
        shown = []
        for grade in grades:
            if grade.student_id in self.excluded:
                continue
            if grade.student_id in self.excused:
                was = f"{grade.status}: {grade.message}" if grade.message else str(grade.status)
                reason = self.excused[grade.student_id]
                grade = replace(grade, status=Status.EXCUSED, message=f"excused ({reason}); graded as {was}")
            shown.append(grade)
        notebooks = {g.notebook: g for g in grades}
        have = {g.student_id for g in grades}
        for student, reason in sorted(self.excused.items()):
            if student in have or student in self.excluded:
                continue
            for notebook, other in sorted(notebooks.items()):
                shown.append(
                    NotebookGrade(
                        student_id=student,
                        assignment=other.assignment,
                        notebook=notebook,
                        status=Status.EXCUSED,
                        max_score=other.max_score,
                        message=f"excused ({reason}); nothing handed in was graded",
                    )
                )
        return shown

    def summary(self, left_out: list[str]) -> str:
        """The run's line on the students it left out; '' when none."""
        if not left_out:
            return ""
        count = len(left_out)
        return (
            f"left out {count} excluded student{'s' if count > 1 else ''} (c.Autograder.excluded in"
            f" {CONFIG_FILE}): {', '.join(left_out)}"
        )


def load_attendance(course_root: Path, assignment: str, assignments: list[str] | None = None) -> Attendance:
    """The attendance of `assignment` from the course root's nbgrader_config.py.

    A mistake (an assignment that does not exist, a reason that is not text, a student both excluded
    and excused) is a CourseError in one line: ignored, it would grade a student the teacher meant
    to excuse.
    """
    settings = course_settings(course_root)
    where = f"{CONFIG_FILE}: c.Autograder"
    excluded = settings.excluded
    if not all(isinstance(s, str) and s for s in excluded):
        raise CourseError(f"{where}.excluded must be a list of student ids, such as ['s230099']")
    example = "{'s230005': 'medical certificate'}"
    for name, students in settings.excused.items():
        if assignments is not None and name not in assignments:
            raise CourseError(
                f"{where}.excused names {name!r}, not an assignment{nearest(name, assignments)}"
            )
        if not isinstance(students, dict) or not all(
            isinstance(s, str) and isinstance(r, str) for s, r in students.items()
        ):
            raise CourseError(f"{where}.excused[{name!r}] must map student ids to reasons, e.g. {example}")
        both = sorted(set(students) & set(excluded))
        if both:
            raise CourseError(
                f"{where}: {both[0]!r} is both excluded and excused from {name!r}; keep one of the two"
            )
    policy = load_policy(course_root, assignment, assignments)
    return Attendance(
        excluded=frozenset(excluded),
        excused=dict(settings.excused.get(assignment, {})),
        extensions={student: policy.extension_note(student) for student in policy.extensions},
    )
