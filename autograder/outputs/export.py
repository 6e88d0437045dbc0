"""Export: the grades as files a teacher hands on, in our CSV and in the formats LMSs import.

`export_grades` writes, next to the gradebook:

- `grades.csv`, always: `student_id,assignment,score,max_score,status`, one row per student.
- `questions.csv`, always: one row per student and graded part (test, written answer or task), with
  its points, whether it still waits for a TA, and the reason for lost points or the TA's comment.
- `canvas.csv` (`--format canvas`): the CSV that Canvas's *Grades → Import* accepts, in the layout
  of Canvas's own gradebook export: `Student`, `ID` (Canvas user id), `SIS User ID`, `SIS Login ID`,
  `Section`, then one column named after the assignment, and a `Points Possible` row under the
  header. Canvas finds each student by `ID`, then by the SIS ids, then by name; it finds the
  assignment by the id in `Name (id)` when given, else by its exact title, and otherwise offers to
  create a new assignment with that name and the points possible. Numbers use a decimal point,
  which Canvas reads whatever its locale. An excused student (`Status.EXCUSED`) gets `EX`, the
  mark Canvas's own gradebook uses for an excused submission (it counts in no total).
- `moodle.csv` (`--format moodle`): Moodle's *offline grading worksheet* of the assignment
  activity (*Grade → Upload grading worksheet*; enable "Offline grading worksheet" and "Feedback
  comments" under the assignment's feedback types). We write the worksheet rather than a gradebook
  import CSV because the worksheet names each student by the same participant id as the
  assignment's "Download all submissions" zip, which is what the roster keeps, whereas the
  gradebook import needs an email address or user name we never see; the worksheet also carries a
  feedback comment, grades through the assignment (students are notified) and leaves alone any
  grade a teacher changed in Moodle after our run (its `Last modified (grade)` is the time of this
  export). Moodle reads the columns `Identifier` (`Participant <id>`), `Grade`,
  `Last modified (grade)` and `Feedback comments` by their English names, so upload it with
  Moodle's interface in English; the other columns are for the reader. The grade uses a decimal
  point, which Moodle accepts in every language. An excused student's grade is left empty (no
  grade, rather than 0), with `excused` as the status and a comment that says the assignment does
  not count for them.
- `feedback.zip`: every feedback page, as `<student_id>/<notebook>.html`, to hand out by any means;
  a page whose written parts still wait for a TA is held back until they are graded (every zip).
- `feedback-moodle.zip` (`--format moodle`): the same pages in the layout of Moodle's
  *Upload multiple feedback files in a zip*: one folder per student named as in Moodle's own
  download, `Full Name_<participant id>_assignfeedback_file_/<notebook>.html` (Moodle reads the
  participant id between the first two underscores, so underscores in names become spaces, as in
  Moodle's download). Canvas has no such upload: its "Re-upload submissions" needs the id of each
  student's original attachment, which its download does not give us.

Each student's LMS identity comes from the roster (`roster.read_roster`) that unpacking an LMS
download writes. Without one, the student id stands in for the LMS id (Canvas's `ID` and
`SIS User ID`, Moodle's participant id), which only matches when the folders were named so.
"""

import csv
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from itertools import groupby
from pathlib import Path

from autograder.core.errors import CourseError
from autograder.core.model import NotebookGrade, Status, Student
from autograder.outputs.feedback import feedback_path

GRADES_HEADER = [
    "student_id",
    "assignment",
    "score",
    "max_score",
    "status",
    "name",
    "lms_id",
    "raw_score",
    "late_hours",
    "penalty",
    "needs_manual_grade",
]
"""grades.csv's columns: the first five as before, then who the student is in the LMS (empty without a
roster), the points before the late penalty, how late (0: on time or no deadline), the penalty and how
many written parts still wait for a TA (the score counts them as 0 until then)."""
QUESTIONS_HEADER = [
    "student_id",
    "assignment",
    "notebook",
    "question",
    "kind",
    "points",
    "max_points",
    "needs_manual_grade",
    "note",
]
"""questions.csv's columns: one row per student and graded part; `note` is why points were lost, or the
TA's comment on a written part."""
FORMATS = ("csv", "canvas", "moodle")
"""What `--format` accepts; `csv` (grades.csv) is written whatever is asked."""

CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_HEADER = [
    "Identifier",
    "Full name",
    "Email address",
    "Status",
    "Grade",
    "Maximum Grade",
    "Grade can be changed",
    "Last modified (submission)",
    "Last modified (grade)",
    "Feedback comments",
]
CANVAS_EXCUSED = "EX"
"""Canvas's mark of an excused submission in its gradebook (and its CSV import)."""
MOODLE_FEEDBACK_PLUGIN = "assignfeedback_file"
"""Plugin part of Moodle's folder names; feedback files must be enabled for the zip upload anyway."""

NO_ROSTER_NOTE = (
    "no roster (students.csv) in the submissions folder: the student ids stand in for the LMS's ids"
)


@dataclass(frozen=True)
class StudentTotal:
    """One student's grade summed over the assignment's notebooks, with their LMS identity."""

    student: Student
    assignment: str
    score: float
    max_score: float
    status: str
    """`graded`, or the first problem among the notebooks (`missing`, `timeout`, ...)."""
    grades: tuple[NotebookGrade, ...]

    @property
    def excused(self) -> bool:
        """Whether the teacher excused the student (see `attendance`): nothing of this counts."""
        return self.status == Status.EXCUSED

    @property
    def pending(self) -> int:
        """How many written parts of the student's notebooks still wait for a TA."""
        return sum(len(g.pending_manual) for g in self.grades)

    @property
    def lms_id(self) -> str:
        return self.student.lms_user_id or self.student.student_id

    @property
    def name(self) -> str:
        return self.student.name or self.student.student_id

    @property
    def submitted_at(self) -> str:
        return next((g.submitted_at for g in self.grades if g.submitted_at), self.student.submitted_at)


def check_formats(formats: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The formats asked for, without repeats; CourseError naming the known ones for any other."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise CourseError(f"unknown export format {unknown[0]!r}; known formats: {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(formats))


def export_paths(out_dir: Path, formats: tuple[str, ...] | list[str] = ()) -> list[Path]:
    """Every file `export_grades` writes for `formats`, in the order it writes them."""
    formats = check_formats(formats)
    paths = [out_dir / "grades.csv", out_dir / "questions.csv", out_dir / "feedback.zip"]
    if "canvas" in formats:
        paths.append(out_dir / "canvas.csv")
    if "moodle" in formats:
        paths += [out_dir / "moodle.csv", out_dir / "feedback-moodle.zip"]
    return paths


def formats_present(out_dir: Path) -> tuple[str, ...]:
    """The LMS formats whose files are already in `out_dir`: a later export writes them again too."""
    return tuple(f for f in FORMATS if f != "csv" and export_paths(out_dir, [f])[-1].is_file())


def export_grades(
    out_dir: Path,
    grades: list[NotebookGrade],
    roster: dict[str, Student] | None = None,
    formats: tuple[str, ...] | list[str] = (),
    now: datetime | None = None,
) -> list[Path]:
    """Write grades.csv, feedback.zip and the files of each LMS format to `out_dir`; return their paths.

    `roster` maps student ids to their LMS identity (empty: the student ids stand in); `now` is the
    time stamped on the LMS files as the grades' modification time (default: the current time).
    """
    formats = check_formats(formats)
    now = now or datetime.now(UTC)
    totals = student_totals(grades, roster or {})
    write_grades_csv(out_dir / "grades.csv", grades, roster)
    write_questions_csv(out_dir / "questions.csv", grades)
    write_feedback_zip(out_dir / "feedback.zip", out_dir, grades, now)
    if "canvas" in formats:
        write_canvas_csv(out_dir / "canvas.csv", totals)
    if "moodle" in formats:
        write_moodle_csv(out_dir / "moodle.csv", totals, now)
        write_moodle_feedback_zip(out_dir / "feedback-moodle.zip", out_dir, totals, now)
    return export_paths(out_dir, formats)


def student_totals(grades: list[NotebookGrade], roster: dict[str, Student]) -> list[StudentTotal]:
    """Each student's notebooks summed, sorted by student id; the status is the first that is not `graded`."""
    totals = []
    ordered = sorted(grades, key=lambda g: (g.student_id, g.assignment, g.notebook))
    for (student_id, assignment), group in groupby(ordered, key=lambda g: (g.student_id, g.assignment)):
        group = tuple(group)
        totals.append(
            StudentTotal(
                student=roster.get(student_id, Student(student_id)),
                assignment=assignment,
                score=sum(g.score for g in group),
                max_score=sum(g.max_score for g in group),
                status=next((g.status for g in group if g.status != Status.GRADED), Status.GRADED),
                grades=group,
            )
        )
    return totals


def write_grades_csv(
    path: Path, grades: list[NotebookGrade], roster: dict[str, Student] | None = None
) -> None:
    """Write `grades` summed over each student's notebooks; the status is the first that is not `graded`."""
    rows = [
        [
            t.student.student_id,
            t.assignment,
            f"{t.score:g}",
            f"{t.max_score:g}",
            t.status,
            t.student.name,
            t.student.lms_user_id,
            f"{sum(g.raw_score for g in t.grades):g}",
            f"{max(g.late_seconds for g in t.grades) / 3600:.2f}".rstrip("0").rstrip("."),
            f"{sum(g.penalty for g in t.grades):g}",
            str(t.pending),
        ]
        for t in student_totals(grades, roster or {})
    ]
    _write_csv(path, [GRADES_HEADER, *rows])


def write_questions_csv(path: Path, grades: list[NotebookGrade]) -> None:
    """Write one row per student and graded part: the per-question scores, written parts included."""
    rows = [
        [
            grade.student_id,
            grade.assignment,
            grade.notebook,
            part.grade_id,
            str(part.kind),
            f"{part.points:g}",
            f"{part.max_points:g}",
            "1" if part.pending else "0",
            part.comment if part.is_manual and not part.pending else part.message,
        ]
        for grade in sorted(grades, key=lambda g: (g.student_id, g.notebook))
        for part in grade.parts
    ]
    _write_csv(path, [QUESTIONS_HEADER, *rows])


def released_pages(out_dir: Path, grades: tuple[NotebookGrade, ...] | list[NotebookGrade]) -> list[Path]:
    """The feedback pages of `grades` that may go to students: those with nothing waiting for a TA."""
    pages = [feedback_path(out_dir, g) for g in grades if not g.pending_manual]
    return [page for page in pages if page.is_file()]


def write_canvas_csv(path: Path, totals: list[StudentTotal], assignment_id: str = "") -> None:
    """Write the Canvas gradebook import; `assignment_id` (Canvas's) pins the column to that assignment."""
    if not totals:
        _write_csv(path, [CANVAS_STUDENT_COLUMNS])
        return
    column = totals[0].assignment + (f" ({assignment_id})" if assignment_id else "")
    points = [["Points Possible", "", "", "", "", _number(max(t.max_score for t in totals))]]
    rows = [
        # Without a roster the student id is the only id we have; as `SIS User ID` too, so that
        # Canvas still finds students whose university number names their folder.
        [t.name, t.lms_id, "" if t.student.lms_user_id else t.student.student_id, "", "", _canvas_grade(t)]
        for t in totals
    ]
    _write_csv(path, [[*CANVAS_STUDENT_COLUMNS, column], *points, *rows])


def _canvas_grade(total: StudentTotal) -> str:
    return CANVAS_EXCUSED if total.excused else _number(total.score)


def write_moodle_csv(path: Path, totals: list[StudentTotal], now: datetime) -> None:
    """Write Moodle's offline grading worksheet of the assignment, graded at `now`."""
    rows = [
        [
            f"Participant {t.lms_id}",
            t.name,
            "",
            t.status,
            "" if t.excused else _number(t.score),
            _number(t.max_score),
            "Yes",
            t.submitted_at or "-",
            now.isoformat(timespec="seconds"),
            feedback_comment(t),
        ]
        for t in totals
    ]
    _write_csv(path, [MOODLE_HEADER, *rows])


def feedback_comment(total: StudentTotal) -> str:
    """One line for the LMS's comment field: the score, what lost points, and where the details are."""
    lost = [
        f"{part.grade_id} ({part.message})" if part.message else part.grade_id
        for grade in total.grades
        for part in grade.parts
        if part.points < part.max_points and not part.pending
    ]
    penalty = sum(g.penalty for g in total.grades)
    if total.excused:  # the teacher's reason stays theirs: this comment goes to the student
        return "You are excused from this assignment: it does not count for you."
    sentences = [f"Score {_number(total.score)} / {_number(total.max_score)}."]
    if penalty:
        sentences.append(f"Late hand-in: {_number(penalty)} points off.")
    if lost:
        sentences.append("Lost points: " + "; ".join(lost) + ".")
    if total.pending:
        sentences.append(f"{total.pending} written part(s) wait for a TA and count 0 until then.")
    else:
        sentences.append("Details in the attached feedback page.")
    # Moodle stores the comment as HTML: escaped, a student's `<` in a message stays text.
    return escape(" ".join(sentences), quote=False)


def write_feedback_zip(path: Path, out_dir: Path, grades: list[NotebookGrade], now: datetime) -> None:
    """Pack the released feedback pages of `grades` as `<student_id>/<notebook>.html`."""
    ordered = sorted(grades, key=lambda g: (g.student_id, g.notebook))
    files = {f"{page.parent.name}/{page.name}": page for page in released_pages(out_dir, ordered)}
    _write_zip(path, files, now)


def write_moodle_feedback_zip(path: Path, out_dir: Path, totals: list[StudentTotal], now: datetime) -> None:
    """Pack the feedback pages for Moodle's "Upload multiple feedback files in a zip"."""
    files = {}
    for total in totals:
        folder = f"{moodle_folder_name(total.student)}_{total.lms_id}_{MOODLE_FEEDBACK_PLUGIN}_"
        for page in released_pages(out_dir, total.grades):
            files[f"{folder}/{page.name}"] = page
    _write_zip(path, files, now)


def moodle_folder_name(student: Student) -> str:
    """The name part of a student's folder as Moodle's download writes it (`Participant` when unknown)."""
    name = (student.name or "Participant").replace("_", " ")
    # What Moodle's clean_filename drops, and what no zip entry should hold.
    return re.sub(r'[\x00-\x1f\x7f/\\:*?"<>|]', "", name).strip() or "Participant"


def _number(value: float) -> str:
    """A score as both LMSs read it: decimal point, at most two decimals (what Canvas's gradebook shows)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # UTF-8 without a byte-order mark: Canvas and Moodle both default to it, and a BOM would
    # become part of the first header's name.
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def _write_zip(path: Path, files: dict[str, Path], now: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = now.timetuple()[:6]
    with zipfile.ZipFile(path, "w") as archive:
        for name, source in files.items():
            entry = zipfile.ZipInfo(name, date_time=stamp)
            archive.writestr(entry, source.read_bytes(), compress_type=zipfile.ZIP_DEFLATED)
