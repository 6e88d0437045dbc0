"""Late: deadlines and late penalties, read from the course's `nbgrader_config.py`.

nbgrader 0.9 keeps due dates in its database, not in its config, so the autograder reads a section
of its own that nbgrader ignores, next to nbgrader's own penalty setting:

    c.Autograder.deadlines = {"warmup": "2026-12-01 23:59 Europe/Copenhagen"}
    c.Autograder.allow_late = True            # False: an attempt before the deadline always wins
    c.Autograder.late_penalty_per_day = 0.1   # fraction of the max score off per started day late
    c.Autograder.timezone = "Europe/Copenhagen"  # for LMS times that carry no zone
    c.Autograder.extensions = {"warmup": {"s230002": "2026-12-08 23:59 Europe/Copenhagen", "s230003": "48h"}}
    c.LateSubmissionPlugin.penalty_method = "zero"  # nbgrader's: a late notebook scores 0

A deadline is `YYYY-MM-DD HH:MM` followed by an IANA time zone, or ISO 8601 with an offset
(`2026-12-01T23:59+01:00`). Without `penalty_method = "zero"` and without a per-day penalty, late
hand-ins are graded in full but still marked late.

An extension is one student's own deadline for one assignment: a date as above, or a duration added
to the assignment's deadline (`48h`, `3d`, `1.5d`). It replaces the deadline for that student alone,
in choosing their attempt and in the late penalty, and the late note names it. An LMS's late mark
without a time (Canvas's `LATE`) is the LMS's verdict against its own deadline, so it does not count
for a student with an extension.
"""

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autograder.core.errors import CourseError
from autograder.core.model import NotebookGrade
from autograder.core.settings import CONFIG_FILE, course_settings, load_config, nearest


@dataclass(frozen=True)
class LatePolicy:
    """When an assignment is due and what handing it in late costs."""

    deadline: datetime | None = None
    """Aware datetime; None when the assignment has no deadline."""
    allow_late: bool = True
    """Whether a late attempt may replace an earlier one handed in on time."""
    penalty_method: str = "none"
    """nbgrader's `LateSubmissionPlugin.penalty_method`: `none` or `zero`."""
    per_day: float = 0.0
    """Fraction of the max score taken off per started day late (with `penalty_method = "none"`)."""
    timezone: tzinfo | None = None
    """Zone of times an LMS writes without one; None: the deadline's zone, else this machine's."""
    extensions: dict[str, datetime] = field(default_factory=dict, hash=False)
    """Student id -> that student's own deadline (aware), replacing `deadline` for them alone."""

    def deadline_for(self, student_id: str) -> datetime | None:
        """The deadline that holds for `student_id`: their extension, else the assignment's."""
        return self.extensions.get(student_id, self.deadline)

    def extension_note(self, student_id: str) -> str:
        """'extension to <date> (deadline <date>)' for a student with one; '' for everyone else."""
        if student_id not in self.extensions:
            return ""
        was = f" (deadline {_when(self.deadline)})" if self.deadline else ""
        return f"extension to {_when(self.extensions[student_id])}{was}"

    def zone(self) -> tzinfo:
        """The zone to read zone-less LMS times in."""
        if self.timezone is not None:
            return self.timezone
        if self.deadline is not None and self.deadline.tzinfo is not None:
            return self.deadline.tzinfo
        return datetime.now().astimezone().tzinfo  # type: ignore[return-value]


def load_policy(course_root: Path, assignment: str, assignments: list[str] | None = None) -> LatePolicy:
    """The late policy of `assignment` from the course root's nbgrader_config.py.

    A setting of c.Autograder that does not exist, or a deadline of an assignment not in
    `assignments` (the course's), is a CourseError naming the nearest valid name: ignored, either
    would silently grade without the late penalties the teacher set.
    """
    settings = course_settings(course_root)
    where = f"{CONFIG_FILE}: c.Autograder"
    deadlines = settings.deadlines
    for name in deadlines:
        if assignments is not None and name not in assignments:
            raise CourseError(
                f"{where}.deadlines names {name!r}, not an assignment{nearest(name, assignments)}"
            )
    timezone = _zone(settings.timezone, f"{where}.timezone") if settings.timezone else None
    deadline = deadlines.get(assignment)
    parsed = parse_deadline(deadline, f"{where}.deadlines[{assignment!r}]") if deadline else None
    allow_late, per_day = settings.allow_late, settings.late_penalty_per_day
    method = load_config(course_root).get("LateSubmissionPlugin", {}).get("penalty_method", "none")
    if not 0 <= per_day <= 1:
        raise CourseError(f"{where}.late_penalty_per_day must be a fraction from 0 to 1, not {per_day!r}")
    if method not in ("none", "zero"):
        raise CourseError(f"{CONFIG_FILE}: c.LateSubmissionPlugin.penalty_method must be 'none' or 'zero'")
    return LatePolicy(
        deadline=parsed,
        allow_late=allow_late,
        penalty_method=method,
        per_day=float(per_day),
        timezone=timezone,
        extensions=_extensions(settings.extensions, assignment, assignments, parsed),
    )


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(h|d)\s*$")
"""An extension as a duration: `48h`, `3d`, `1.5d`."""


def _extensions(
    extensions: dict, assignment: str, assignments: list[str] | None, deadline: datetime | None
) -> dict[str, datetime]:
    """The extensions of `assignment`, as aware deadlines; CourseError in one line for any mistake."""
    where = f"{CONFIG_FILE}: c.Autograder.extensions"
    example = "{'s230002': '2026-12-08 23:59 Europe/Copenhagen'} or {'s230002': '48h'}"
    for name, students in extensions.items():
        if assignments is not None and name not in assignments:
            raise CourseError(f"{where} names {name!r}, not an assignment{nearest(name, assignments)}")
        if not isinstance(students, dict) or not all(isinstance(s, str) for s in students):
            raise CourseError(f"{where}[{name!r}] must map student ids to new deadlines, e.g. {example}")
    result = {}
    for student, text in extensions.get(assignment, {}).items():
        at = f"{where}[{assignment!r}][{student!r}]"
        duration = _DURATION.match(text) if isinstance(text, str) else None
        if duration:
            if deadline is None:
                raise CourseError(
                    f"{at}: {text!r} extends the deadline, but {assignment!r} has none in"
                    " c.Autograder.deadlines; give a date instead, such as '2026-12-08 23:59 Europe/Copenhagen'"
                )
            hours = float(duration.group(1)) * (24 if duration.group(2) == "d" else 1)
            result[student] = deadline + timedelta(hours=hours)
        else:
            result[student] = parse_deadline(text, at)
        if deadline is not None and result[student] < deadline:
            raise CourseError(
                f"{at}: {_when(result[student])} is before the deadline {_when(deadline)}; an extension"
                " must come after it"
            )
    return result


def _when(moment: datetime | None) -> str:
    return moment.isoformat(" ", "minutes") if moment else ""


def describe(policy: LatePolicy, assignment: str) -> str:
    """One line on the deadline and penalty in force, said at the start of a grading run."""
    if policy.deadline is None:
        return f"{assignment}: no deadline set (c.Autograder.deadlines in {CONFIG_FILE}); nothing is late"
    due = policy.deadline.strftime("%Y-%m-%d %H:%M %Z").strip()
    if policy.penalty_method == "zero":
        cost = "a late notebook scores 0"
    elif policy.per_day:
        cost = f"{policy.per_day:.0%} of the max score off per started day late"
    else:
        cost = "late hand-ins are marked late, with no penalty"
    newest = "" if policy.allow_late else "; an attempt before the deadline wins over a later one"
    count = len(policy.extensions)
    extended = f"; {count} student{'s' if count > 1 else ''} with an extension" if count else ""
    return f"{assignment}: due {due}; {cost}{newest}{extended}"


def parse_deadline(text: str, where: str = "deadline") -> datetime:
    """`2026-12-01 23:59 Europe/Copenhagen` or ISO 8601 with an offset, as an aware datetime."""
    if not isinstance(text, str):
        raise CourseError(f"{where}: expected a string such as '2026-12-01 23:59 Europe/Copenhagen'")
    when, _, zone = text.strip().rpartition(" ")
    if when and not zone[:1].isdigit() and zone[:1] not in "+-":
        try:
            return datetime.fromisoformat(when).replace(tzinfo=_zone(zone, where))
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise CourseError(
            f"{where}: cannot read {text!r} as a deadline; write it as '2026-12-01 23:59 Europe/Copenhagen'"
            " or '2026-12-01T23:59+01:00' (a time zone is required)"
        )
    return parsed


def _zone(name: str, where: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise CourseError(
            f"{where}: unknown time zone {name!r} (use a name such as Europe/Copenhagen)"
        ) from error


def apply_late(
    grade: NotebookGrade, submitted_at: str, policy: LatePolicy, marked_late: bool = False
) -> NotebookGrade:
    """Set the grade's submission time, lateness, penalty and late note from `policy`.

    `submitted_at` is ISO 8601 with a zone, or empty when unknown. `marked_late` is the LMS's own
    verdict when it gives no time (Canvas's `LATE`): it counts as one started day late.
    Re-applying replaces the earlier verdict, so a changed deadline needs no re-grade.
    """
    grade.submitted_at, grade.late_seconds, grade.penalty, grade.late_note = submitted_at, 0.0, 0.0, ""
    late_seconds = None
    due = policy.deadline_for(grade.student_id)
    extended = grade.student_id in policy.extensions
    if submitted_at and due is not None:
        seconds = (datetime.fromisoformat(submitted_at) - due).total_seconds()
        late_seconds = seconds if seconds > 0 else None
    elif marked_late and not extended:  # the LMS judged it by its own deadline, not the extension
        late_seconds = 0.0
    if late_seconds is None:
        return grade
    grade.late_seconds = late_seconds
    days = max(1, math.ceil(late_seconds / 86400))
    if policy.penalty_method == "zero":
        grade.penalty = grade.raw_score
        rule = "a late notebook scores 0"
    else:
        grade.penalty = min(grade.raw_score, round(days * policy.per_day * grade.max_score, 6))
        rule = f"{policy.per_day:.0%} of the max score per started day" if policy.per_day else "no penalty"
    how_late = f"{_duration(late_seconds)} after the deadline" if late_seconds else "late (the LMS says so)"
    if extended:
        how_late = how_late.replace("the deadline", "the extended deadline")
        was = f" (an extension; the deadline was {_when(policy.deadline)})" if policy.deadline else ""
        deadline = f" of {_when(due)}{was}"
    else:
        deadline = f" of {_when(due)}" if due else ""
    grade.late_note = f"handed in {how_late}{deadline}: {grade.penalty:g} points off ({rule})"
    return grade


def _duration(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return " ".join(p for p in parts if p) or "0 min"
