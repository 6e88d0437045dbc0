"""Grade: the pipeline from a folder of hand-ins to the gradebook, grades CSV, feedback and report.

For each student notebook: read it (never changing the file), match its answers to the release,
rebuild the notebook from the source (hidden tests included), run it in a scratch folder, score the
test cells, store the grade, write the feedback page. A grade whose submission and assignment are
unchanged since the last run is reused unless `regrade` is set.
"""

import difflib
import functools
import hashlib
import os
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.authoring.release import release_notebook
from autograder.core.attendance import Attendance, load_attendance
from autograder.core.cells import is_answer, is_student_cell, nbgrader_meta, needs_gpu
from autograder.core.config import GRADEBOOK_FILE, GradingSettings
from autograder.core.course import Course
from autograder.core.errors import CourseError
from autograder.core.interrupt import Interrupted
from autograder.core.late import apply_late, describe, load_policy
from autograder.core.model import MAYBE_THE_GRADERS_FAULT, NotebookGrade, PartResult, Status
from autograder.core.settings import CONFIG_FILE, course_settings, grading_settings
from autograder.grading import reference as references
from autograder.grading.evidence import suspicious_lines
from autograder.grading.execute import Execution, execute
from autograder.grading.guard import add_guards
from autograder.grading.kernels import discard_spare
from autograder.grading.match import MatchedAnswers, given_overlap, match_answers, rebuild_for_grading
from autograder.grading.parallel import run_all, runs_here
from autograder.grading.reference import Reference
from autograder.grading.sandbox import check_sandbox
from autograder.grading.score import canary_passed, max_score, score_parts, unscored_parts
from autograder.intake.lms import prepare_submissions
from autograder.intake.roster import merge_roster, read_roster
from autograder.intake.submissions import (
    Submission,
    UnreadableNotebook,
    find_submissions,
    read_notebook,
    save_picks,
    saved_picks,
)
from autograder.outputs.export import check_formats, export_grades, formats_present
from autograder.outputs.feedback import (
    conceal_hidden_tests,
    feedback_path,
    keep_graded_notebook,
    rewrite_feedback,
    write_feedback,
)
from autograder.outputs.gradebook import Gradebook, sqlite_url
from autograder.outputs.report import load_plotting_in_background, write_report


@dataclass(frozen=True)
class GradingTarget:
    """One notebook of an assignment, loaded once per run: its source, its release, its fingerprint."""

    assignment: str
    notebook: str
    source: NotebookNode
    release: NotebookNode
    folder: Path
    data_files: tuple[Path, ...]
    """Other files of the assignment (data), relative to `folder`, copied next to each notebook that runs."""
    digest: str
    """Fingerprint of the source notebook, its data files and the grading code."""
    reference: Reference | None = None
    """What the solution observed in each test cell (see `with_reference`); None: not yet run."""

    @classmethod
    def load(cls, course: Course, assignment: str, notebook: str) -> "GradingTarget":
        folder = course.source_root / assignment
        raw = (folder / notebook).read_bytes()
        source = nbformat.reads(raw.decode("utf-8"), as_version=4)
        data = tuple(p for p in course.source_files(assignment) if p.suffix != ".ipynb")
        fingerprint = hashlib.sha256(raw + code_digest().encode())
        for relative in data:
            fingerprint.update((folder / relative).read_bytes())
        digest = fingerprint.hexdigest()
        release = release_notebook(source, f"{course.source_root.name}/{assignment}/{notebook}")
        return cls(assignment, notebook, source, release, folder, data, digest)

    def with_reference(self, settings: GradingSettings) -> "GradingTarget":
        """This target with its reference: read from the cache, or recorded by grading the solution once."""
        if self.reference is not None:
            return self
        gpu = settings.gpus > 0 and needs_gpu(self.source)
        cache = Path(settings.reference_cache) if settings.reference_cache else references.default_cache()
        path = (
            cache
            / self.assignment
            / f"{Path(self.notebook).stem}-{self.digest[:24]}{'-gpu' if gpu else ''}.json"
        )
        reference = references.load(path)
        if reference is None:
            # It runs alone, so its kernel may use every core.
            executed, _ = _run(self, self.source, replace(settings, workers=1))
            if executed.status != Status.GRADED:
                raise CourseError(
                    f"{self.assignment}/{self.notebook}: the source notebook did not run to its end"
                    f" ({executed.message}), so it cannot serve as the reference; fix it and grade again"
                )
            reference = Reference.record(executed.notebook, f"{self.assignment}/{self.notebook}")
            references.save(path, reference)
        return replace(self, reference=reference)


@functools.cache
def code_digest() -> str:
    """Fingerprint of the grading code itself: every module of this package, its subpackages' included."""
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for module in sorted(package.rglob("*.py")):
        digest.update(str(module.relative_to(package)).encode() + module.read_bytes())
    return digest.hexdigest()


def grade_assignment(
    course: Course,
    assignment: str,
    submissions_dir: Path,
    out_dir: Path,
    db_url: str | None = None,
    settings: GradingSettings | None = None,
    report: Callable[[NotebookGrade, bool], None] = lambda grade, reused: None,
    on_start: Callable[[int], None] = lambda notebooks: None,
    formats: tuple[str, ...] = (),
    say: Callable[[str], None] = lambda line: None,
    students: tuple[str, ...] = (),
    picks: dict[str, str] | None = None,
) -> list[NotebookGrade]:
    """Grade every student in `submissions_dir` (or only `students`); write the outputs to `out_dir`.

    `on_start` is told how many notebooks there are; `report` is called after each notebook with its
    grade and whether an earlier grade was reused. The outputs (`write_outputs`) always cover every
    grade of the assignment in the gradebook, so regrading one student keeps the rest of the class.
    `formats` adds LMS grade files (`canvas`, `moodle`; see `export`) to grades.csv and feedback.zip,
    which are always written. `submissions_dir` may also be an LMS's zip or nbgrader's submitted/ tree
    (see `lms`), unpacked into `out_dir` first, with `say` told what was found; deadlines and late
    penalties come from the course's nbgrader_config.py (see `late`), and so do the students left
    out and excused (see `attendance`): an excluded student is not graded, and `say` is told who was
    left out. `picks` chooses, for a student
    who handed in several notebooks and none by the expected name, the file to grade; picks are kept
    in `out_dir` for later runs. Returns this run's grades.

    `settings` None: the course's own, from its nbgrader_config.py (see `settings`).
    An `Interrupted` (Ctrl-C, SIGTERM) ends the run: the notebook in flight is not recorded, the
    outputs are written from what the gradebook holds, and it is raised again with the counts.
    """
    course.require(assignment)
    settings = settings or grading_settings(course.root)
    formats = check_formats(formats)
    if settings.sandbox:
        check_sandbox()
    targets = {
        name: GradingTarget.load(course, assignment, name) for name in course.notebook_names(assignment)
    }
    policy = load_policy(course.root, assignment, course.assignments())
    attendance = load_attendance(course.root, assignment, course.assignments())
    show_hidden = course_settings(course.root).hidden_tests_in_feedback
    say(describe(policy, assignment))
    for student in students:
        if student in attendance.excluded:
            raise CourseError(
                f"{student!r} is excluded (c.Autograder.excluded in {CONFIG_FILE}): take them off that list"
                " to grade them"
            )
    if submissions_dir.is_dir() and out_dir.resolve().is_relative_to(submissions_dir.resolve()):
        raise CourseError(
            f"--out {out_dir} is inside the submissions folder {submissions_dir}, where the next run would"
            " take it for a student: choose a folder outside it"
        )
    prepared = prepare_submissions(
        submissions_dir, out_dir, assignment, course.root, policy, settings.unzip_limits
    )
    if prepared.summary():
        say(prepared.summary())
    submissions_dir = prepared.folder
    chosen = {**saved_picks(out_dir), **(picks or {})}
    submissions = [
        replace(s, notes=(*prepared.notes.get(s.student_id, ()), *s.notes))
        for s in find_submissions(submissions_dir, list(targets), chosen)
    ]
    if picks:
        save_picks(out_dir, chosen)
    submissions = _only(submissions, students)
    left_out = attendance.left_out(s.student_id for s in submissions)
    submissions = [s for s in submissions if s.student_id not in attendance.excluded]
    if left_out:
        say(attendance.summary(left_out))
    _check_they_are_this_assignment(course, assignment, targets, submissions)

    def late(grade: NotebookGrade) -> NotebookGrade:
        student = prepared.students.get(grade.student_id)
        submitted_at = student.submitted_at if student else ""
        return apply_late(grade, submitted_at, policy, grade.student_id in prepared.marked_late)

    out_dir.mkdir(parents=True, exist_ok=True)
    merge_roster(out_dir, read_roster(submissions_dir))
    gradebook = Gradebook(db_url or sqlite_url(out_dir / GRADEBOOK_FILE))
    grades, to_grade, digests = [], [], {}
    on_start(len(submissions))
    try:
        for submission in submissions:
            digest = _fingerprint(targets[submission.notebook], submission, show_hidden)
            stored = gradebook.get(assignment, submission.student_id, submission.notebook)
            if (
                stored is not None
                and stored.digest == digest
                and not settings.regrade
                and stored.status not in MAYBE_THE_GRADERS_FAULT
                and feedback_path(out_dir, stored).exists()
                and late(replace(stored)) == stored  # the same lateness: the same page
            ):
                grades.append(stored)
                report(stored, True)
            else:
                digests[submission.student_id, submission.notebook] = digest
                to_grade.append((targets[submission.notebook], submission, settings))
        # The solution is graded first, once per version (cached), for the verdicts to compare with.
        needed = {target.notebook for target, _, _ in to_grade}
        ready = {name: targets[name].with_reference(settings) for name in sorted(needed)}
        if runs_here(settings, len(to_grade)):  # one notebook at a time: its kernel may use every core
            settings = replace(settings, workers=1)
        to_grade = [(ready[target.notebook], submission, settings) for target, submission, _ in to_grade]
        # Every notebook but the last has another after it, whose kernel can start early.
        to_grade = [(*args, n < len(to_grade) - 1) for n, args in enumerate(to_grade)]
        # Workers grade; this process alone writes, each grade as soon as it is done.
        jobs = run_all(
            grade_notebook, to_grade, settings, job_needs_gpu, on_failure=_failed_job, cleanup=discard_spare
        )
        with closing(jobs) as graded:
            for done, (grade, executed) in enumerate(graded):
                if done == 0:  # the workers are forked by now; the report's imports can start
                    load_plotting_in_background()
                grade.digest = digests[grade.student_id, grade.notebook]
                late(grade)
                grade = _store(out_dir, gradebook, grade, executed, show_hidden)
                grades.append(grade)
                report(grade, False)
    except Interrupted as stop:
        write_outputs(out_dir, assignment, gradebook, formats, course)
        raise stop.after(graded=len(grades), total=len(submissions)) from None
    else:
        write_outputs(out_dir, assignment, gradebook, formats, course)
    finally:
        gradebook.close()
    return grades


def _store(
    out_dir: Path,
    gradebook: Gradebook,
    grade: NotebookGrade,
    executed: NotebookNode | None,
    show_hidden: bool = True,
) -> NotebookGrade:
    """Write a grade's feedback page, then the grade; whatever the notebook held, both get written.

    With `show_hidden` False the stored messages quote no hidden test (`conceal_hidden_tests`): they
    reach the LMS's comment too.

    The page first: a run killed in between must not leave a stored grade without its page. Should
    the notebook's content break either (text that is not valid unicode, say), the grade is stored as
    `grading-failed` with a page that shows no content of the notebook.
    """
    try:
        if not show_hidden:
            grade = conceal_hidden_tests(grade, executed)
        keep_graded_notebook(out_dir, grade, executed)
        write_feedback(feedback_path(out_dir, grade), grade, executed, show_hidden)
        gradebook.put(grade)
        return grade
    except Exception as error:  # the boundary around storing one notebook: see `_failed_job`
        failed = _failed(grade, "its grade and feedback page could not be written", error)
        write_feedback(feedback_path(out_dir, failed), failed, None)
        gradebook.put(failed)
        return failed


def _failed_job(args: tuple, error: Exception) -> tuple[NotebookGrade, None]:
    """The row of a notebook whose grading raised, or whose Dask worker died under it (see `run_all`).

    The one boundary around grading a notebook, from reading the file to cleaning up its kernel:
    whatever a notebook holds or does, it ends as its student's row, and the batch goes on.
    """
    target, submission = args[0], args[1]
    grade = _new_grade(target, submission, Status.FAILED)
    grade.parts = unscored_parts(target.source, "not graded")
    return _failed(grade, "the grader failed on this notebook", error), None


def _new_grade(target: GradingTarget, submission: Submission, status: Status) -> NotebookGrade:
    """A grade of `submission` with no parts yet, carrying the notices of how its files were read."""
    return NotebookGrade(
        student_id=submission.student_id,
        assignment=target.assignment,
        notebook=submission.notebook,
        status=status,
        max_score=max_score(target.source),
        notices=list(submission.notes),
    )


def _failed(grade: NotebookGrade, what: str, error: Exception) -> NotebookGrade:
    """`grade` as `grading-failed`: no points, and a message that names the error, in plain text."""
    reason = f"{type(error).__name__}: {str(error)[:200]}".encode("ascii", "backslashreplace").decode()
    return replace(
        grade,
        status=Status.FAILED,
        message=f"{what} ({reason}); that says nothing about the work in it, and your teacher is told",
        parts=[PartResult(part.grade_id, 0.0, part.max_points, "not graded") for part in grade.parts],
        evidence=[],
    )


def write_outputs(
    out_dir: Path,
    assignment: str,
    gradebook: Gradebook,
    formats: tuple[str, ...] = (),
    course: Course | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> list[NotebookGrade]:
    """Write grades.csv, feedback.zip, the LMS files of `formats` and report.html from the gradebook alone.

    An LMS file an earlier run wrote into `out_dir` is written again too, whatever `formats` says.

    They cover every grade of `assignment` the gradebook holds, with the students' LMS identities from
    the roster kept in `out_dir`, as the `course`'s nbgrader_config.py has them (see `attendance`):
    the excluded students left out (`say` is told who, and their pages are taken out of `feedback/`),
    the excused ones marked; returns the grades as shown. The pages of notebooks with written parts
    are written again, with what the TAs gave them so far. `course` None: nobody excluded or excused.
    """
    attendance, show_hidden = Attendance(), True
    if course is not None:
        attendance = load_attendance(course.root, assignment, course.assignments())
        show_hidden = course_settings(course.root).hidden_tests_in_feedback
    stored = gradebook.grades_of(assignment)
    left_out = attendance.left_out(g.student_id for g in stored)
    for grade in stored:
        if grade.student_id in attendance.excluded:
            # A page left in feedback/ could still be handed out; grading them again rewrites it.
            feedback_path(out_dir, grade).unlink(missing_ok=True)
        elif any(part.is_manual for part in grade.parts):
            rewrite_feedback(out_dir, grade, show_hidden)
    if left_out:
        say(attendance.summary(left_out))
    grades = attendance.apply(stored)
    roster = read_roster(out_dir)
    formats = tuple(dict.fromkeys((*formats, *formats_present(out_dir))))
    export_grades(out_dir, grades, roster, formats)
    names = {s: who.name for s, who in roster.items()}
    write_report(out_dir / "report.html", assignment, grades, names, attendance, left_out)
    return grades


NOT_THIS_ASSIGNMENT = 0.1
"""A hand-in that keeps less than this share of the release's given cells is not of this assignment."""


def _check_they_are_this_assignment(
    course: Course, assignment: str, targets: dict[str, GradingTarget], submissions: list[Submission]
) -> None:
    """CourseError when most hand-ins are not of `assignment`, naming the assignment they look like.

    Graded against the wrong assignment, a whole class would get 0 and status `graded`.
    """
    overlaps = []
    for submission in submissions:
        if submission.path is not None:
            try:
                handed_in = read_notebook(submission.path)
                overlaps.append((handed_in, given_overlap(targets[submission.notebook].release, handed_in)))
            except Exception:  # noqa: BLE001 (grading reports on this notebook; here it is no evidence)
                continue
    strangers = [handed_in for handed_in, overlap in overlaps if overlap < NOT_THIS_ASSIGNMENT]
    if not overlaps or len(strangers) * 2 <= len(overlaps):
        return
    fits = {}
    for other in course.assignments():
        if other != assignment:
            releases = [
                GradingTarget.load(course, other, name).release for name in course.notebook_names(other)
            ]
            fits[other] = sum(max(given_overlap(r, nb) for r in releases) for nb in strangers) / len(
                strangers
            )
    likely = max(fits, key=fits.get, default=None)
    hint = (
        f"; they look like {likely!r}: `autograder grade {likely} ...`"
        if likely and fits[likely] >= 0.5
        else "; is this the right folder?"
    )
    raise CourseError(
        f"{len(strangers)} of {len(overlaps)} hand-ins share almost none of the given cells of"
        f" {assignment!r}, so they are not its hand-ins{hint}"
    )


def _only(submissions: list[Submission], students: tuple[str, ...]) -> list[Submission]:
    """The submissions of `students` (all when empty); CourseError naming the nearest id for one not found."""
    if not students:
        return submissions
    known = sorted({s.student_id for s in submissions})
    for student in students:
        if student not in known:
            near = difflib.get_close_matches(student, known, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f" (it holds {len(known)} students)"
            raise CourseError(f"no student {student!r} in the submissions{hint}")
    return [s for s in submissions if s.student_id in students]


def grade_notebook(
    target: GradingTarget, submission: Submission, settings: GradingSettings, more_to_come: bool = False
) -> tuple[NotebookGrade, NotebookNode | None]:
    """Grade one student notebook; return its grade and the executed notebook (None if nothing ran).

    `more_to_come` says that this process will grade another notebook after this one: its kernel
    then starts while this one runs (see `kernels`).
    """
    grade = _new_grade(target, submission, Status.GRADED)
    grade.sandboxed = settings.sandbox
    if submission.path is None:
        grade.status, grade.message = submission.problem, submission.message
        grade.parts = unscored_parts(target.source, "no notebook to grade")
        return grade, None
    try:
        handed_in = read_notebook(submission.path)
    except UnreadableNotebook as error:
        grade.status, grade.message = Status.INVALID, f"{submission.notebook}: {error}"
        grade.parts = unscored_parts(target.source, "the notebook could not be read")
        return grade, None

    if target.reference is None:
        raise ValueError("grade_notebook needs a target with its reference (GradingTarget.with_reference)")
    execution, matched = _run(target, handed_in, settings, more_to_come)
    grade.status, grade.message, grade.seconds = execution.status, execution.message, execution.seconds
    grade.repairs += matched.repairs
    grade.parts = score_parts(execution.notebook, target.reference, target.release, matched.task_work)
    grade.evidence = suspicious_lines(
        [(_label(cell), cell.source) for cell in execution.notebook.cells if _written_by_student(cell)]
    )
    if grade.status == Status.GRADED and canary_passed(execution.notebook):
        grade.status = Status.TAMPERING
        grade.message = (
            "tampering suspected: a check that must fail on every notebook passed, so this notebook"
            " changed how its cells run or report; your teacher will read it"
        )
    return grade, execution.notebook


def _run(
    target: GradingTarget, handed_in: NotebookNode, settings: GradingSettings, more_to_come: bool = False
) -> tuple[Execution, MatchedAnswers]:
    """Match, rebuild, guard and execute one hand-in (or the solution itself, for the reference).

    Returns the execution and what the matcher found (the answers, a task's work, the repairs).
    """
    matched = match_answers(target.release, handed_in)
    notebook = add_guards(rebuild_for_grading(target.source, target.release, matched))
    execution = execute(notebook, settings, target.folder, target.data_files, start_spare=more_to_come)
    return execution, matched


def _written_by_student(cell: NotebookNode) -> bool:
    return is_answer(cell) or is_student_cell(cell)


def _label(cell: NotebookNode) -> str:
    return f"answer '{nbgrader_meta(cell)['grade_id']}'" if is_answer(cell) else "a cell the student added"


def job_needs_gpu(args: tuple) -> bool:
    """Whether a `grade_notebook` job (its arguments) grades a notebook marked as needing a GPU."""
    return needs_gpu(args[0].source)


def _fingerprint(target: GradingTarget, submission: Submission, show_hidden: bool = True) -> str:
    """Changes whenever the student's file, the assignment's source, this tool's version or whether
    the pages show the hidden tests changes (the pages of a re-run must follow the setting)."""
    try:
        content = submission.path.read_bytes() if submission.path is not None else b"<missing>"
    except OSError:  # unreadable: graded (as unreadable) on every run
        content = os.urandom(16)
    hidden = (
        b"" if show_hidden else b"hidden tests kept out of the feedback"
    )  # the default's digest as before
    return hashlib.sha256(target.digest.encode() + hashlib.sha256(content).digest() + hidden).hexdigest()
