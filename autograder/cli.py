"""The `autograder` command: a thin layer over `release`, `grade` and `check`.

Every user error ends in one clear line and a non-zero exit, never in a traceback.
"""

import gc
import getpass
import shlex
import sys
import time
from pathlib import Path

import click

from autograder.authoring.mutate import equivalent_line
from autograder.authoring.publish import publish, verify_publication
from autograder.authoring.release import release, stale_releases, unobserved_tests
from autograder.check import DEFAULT_THRESHOLD, CheckReport, MutantResult, check_assignment
from autograder.core.attendance import load_attendance
from autograder.core.config import GRADEBOOK_FILE, GradingSettings
from autograder.core.course import Course
from autograder.core.errors import CourseError
from autograder.core.interrupt import Interrupted, stop_on_signals
from autograder.core.model import NotebookGrade, Status
from autograder.core.settings import (
    CONFIG_FILE,
    Autograder,
    course_settings,
    feedback_folder,
    grading_settings,
)
from autograder.grade import grade_assignment, write_outputs
from autograder.grading.parallel import BATCH_SYSTEMS
from autograder.intake.lms import UNPACKED_DIR
from autograder.intake.roster import read_roster
from autograder.outputs.export import FORMATS, NO_ROSTER_NOTE, check_formats, export_paths
from autograder.outputs.gradebook import Gradebook, sqlite_url
from autograder.outputs.nbgrader import SECRET_FILE, write_nbgrader_feedback
from autograder.review.app import ReviewApp
from autograder.review.questions import import_scores, questions

_course_option = click.option(
    "--course",
    "course_root",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Root of the course repository (holds source_notebooks/ and assignments/).",
)


# Options that `grade` and `check` share: both grade notebooks, on the same Dask machinery.
_workers_option = click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Notebooks graded at once, each in its own Dask worker process"
    " [default: c.Autograder.workers, else the number of cores].",
)
_scheduler_option = click.option(
    "--scheduler", help="Grade on an existing Dask cluster: its scheduler's address (tcp://host:8786)."
)


def _out_option(help: str):
    """The --out folder every command that writes outputs takes; `help` says what goes there."""
    return click.option(
        "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True, help=help
    )


_db_option = click.option("--db", "db_url", help="Gradebook database URL [default: sqlite in --out].")
_formats_option = click.option(
    "--format",
    "formats",
    type=click.Choice(FORMATS),
    multiple=True,
    help="Also write the grades as this LMS imports them (canvas.csv, moodle.csv); repeatable."
    " grades.csv, feedback.zip and report.html are always written.",
)
_unsafe_option = click.option(
    "--unsafe-no-sandbox",
    is_flag=True,
    help="Run the notebooks' code without the bubblewrap sandbox, with your own rights (not recommended).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="autograder")
def cli() -> None:
    """Release and grade the course's assignments."""


@cli.command("release")
@click.argument("assignments", nargs=-1)
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if assignments/ is out of date.")
@_course_option
def release_command(assignments: tuple[str, ...], check: bool, course_root: Path) -> None:
    """Write the student versions of ASSIGNMENTS (all by default) to assignments/.

    Example: autograder release warmup
    """
    course = Course(course_root)
    with _user_errors():
        if check:
            problems = stale_releases(course, list(assignments))
            faults = unobserved_tests(course, list(assignments))
            for problem in problems + faults:
                click.echo(problem)
            if problems:
                raise click.ClickException("assignments/ is out of date: run `autograder release`")
            if faults:
                raise click.ClickException("some test cells observe nothing (listed above)")
            click.echo("assignments/ is up to date, and every test cell observes what it checks")
            return
        for path in release(course, list(assignments)):
            click.echo(f"wrote {path}")


@cli.command("publish")
@click.argument("out_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--repository",
    metavar="URL",
    help="The public repository, https://github.com/OWNER/REPO [default: repository.url in _config.yml].",
)
@click.option("--branch", help="The public repository's branch [default: repository.branch in _config.yml].")
@click.option(
    "--hub",
    metavar="URL",
    help="The JupyterHub, '' for none [default: launch_buttons.jupyterhub_url in _config.yml].",
)
@click.option(
    "--site",
    type=click.Path(file_okay=False, path_type=Path),
    help="The built site [default: _build/html in the course].",
)
@click.option(
    "--verify",
    is_flag=True,
    help="Change nothing; exit 1 if DIR, an earlier publication, holds a solution or hidden-test line.",
)
@_course_option
def publish_command(
    out_dir: Path,
    repository: str | None,
    branch: str | None,
    hub: str | None,
    site: Path | None,
    verify: bool,
    course_root: Path,
) -> None:
    """Write the student-facing repository to DIR: the built site in docs/ (for GitHub Pages), the released
    assignments, the chapter notebooks without outputs, book/widgets.py and a README with the course's links.

    Nothing of source_notebooks/, demo/, the hidden tests, the gradebook or the tool is copied, and the tree
    is scanned for solution and hidden-test lines before it is written. Refuses while an address in
    _config.yml is a placeholder (the shipped example repository, or a host such as example.edu).

    Example: autograder publish ../course-public --repository https://github.com/my-uni/dl-course --hub https://hub.my-uni.dk
    """
    course = Course(course_root)
    with _user_errors():
        if verify:
            findings = verify_publication(course, out_dir)
            for finding in findings:
                click.echo(str(finding))
            if findings:
                raise click.ClickException(f"{out_dir} holds what students must not see (listed above)")
            click.echo(f"{out_dir} holds no solution or hidden-test line and no placeholder address")
            return
        publication = publish(course, out_dir, repository=repository, hub=hub, branch=branch, site=site)
    for note in publication.notes:
        click.echo(f"note: {note} (a chapter prints this line too)")
    click.echo(f"wrote {len(publication.files)} files to {out_dir}; push it as the public repository")


@cli.command("grade")
@click.argument("assignment")
@click.argument("submissions", type=click.Path(path_type=Path))
@_out_option("Folder for grades.csv, feedback/ and the default SQLite gradebook.")
@_db_option
@click.option(
    "--regrade", is_flag=True, help="Grade unchanged submissions again instead of reusing their grade."
)
@click.option(
    "--cell-timeout",
    type=click.IntRange(min=1),  # whole seconds: Jupyter's executor takes no fractions
    help=f"Seconds one cell may run before it is stopped [default: c.Autograder.cell_timeout,"
    f" else {GradingSettings.cell_timeout}].",
)
@_workers_option
@_scheduler_option
@click.option(
    "--cluster",
    type=click.Choice(list(BATCH_SYSTEMS)),
    help="Grade in batch jobs on this HPC system (dask-jobqueue); job settings from "
    "~/.config/dask/jobqueue.yaml. Example: --cluster lsf --queue hpc --walltime 01:00 --jobs 8",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=GradingSettings.jobs,
    show_default=True,
    help="With --cluster: batch jobs to submit, one Dask worker each.",
)
@click.option("--queue", help="With --cluster: the jobs' queue [default: from jobqueue.yaml].")
@click.option(
    "--walltime", help="With --cluster: each job's time limit, e.g. 01:00 [default: from jobqueue.yaml]."
)
@click.option(
    "--gpus",
    type=click.IntRange(min=0),
    default=GradingSettings.gpus,
    show_default=True,
    help="GPU notebooks (metadata autograder.gpu) graded at once, each on its own GPU; 0: on the CPU.",
)
@_formats_option
@click.option(
    "--pick",
    "picks",
    multiple=True,
    metavar="STUDENT=FILE",
    help="For a student who handed in several notebooks and none by the expected name: the file to"
    " grade (repeatable; remembered for later runs into --out).",
)
@click.option(
    "--student",
    "students",
    multiple=True,
    metavar="ID",
    help="Grade only this student (repeatable); the outputs still cover the whole class in the gradebook.",
)
@_unsafe_option
@_course_option
def grade_command(
    assignment: str,
    submissions: Path,
    out_dir: Path,
    db_url: str | None,
    regrade: bool,
    cell_timeout: int,
    workers: int,
    scheduler: str | None,
    cluster: str | None,
    jobs: int,
    queue: str | None,
    walltime: str | None,
    gpus: int,
    formats: tuple[str, ...],
    picks: tuple[str, ...],
    students: tuple[str, ...],
    unsafe_no_sandbox: bool,
    course_root: Path,
) -> None:
    """Grade every student folder in SUBMISSIONS (SUBMISSIONS/<student_id>/<notebook>.ipynb).

    SUBMISSIONS may also be the "download all submissions" zip of Moodle, Canvas or Brightspace, or
    nbgrader's submitted/ folder (or the course root holding it): it is unpacked into OUT/submissions.

    Example: autograder grade warmup demo/warmup --out _build/grades/warmup --format moodle
    """
    with _user_errors():  # the course's nbgrader_config.py, with these flags on top
        settings = grading_settings(
            course_root,
            cell_timeout=cell_timeout,
            regrade=regrade,
            workers=workers,
            scheduler=scheduler,
            cluster=cluster,
            jobs=jobs,
            queue=queue,
            walltime=walltime,
            gpus=gpus,
            sandbox=not unsafe_no_sandbox,
        )
    if unsafe_no_sandbox:
        click.echo("WARNING: grading without a sandbox: students' code runs with your rights.", err=True)
    chosen = {}
    for pick in picks:
        student, equals, file = pick.partition("=")
        if not (student and equals and file):
            raise click.BadParameter(f"{pick!r}: write it as STUDENT=FILE", param_hint="--pick")
        chosen[student] = file
    progress = _Progress(out_dir)
    with _user_errors(), stop_on_signals():
        try:
            grades = grade_assignment(
                Course(course_root),
                assignment,
                submissions,
                out_dir,
                db_url,
                settings,
                report=progress,
                on_start=progress.start,
                formats=formats,
                say=click.echo,
                students=students,
                picks=chosen,
            )
        except Interrupted as stop:
            click.echo(str(stop), err=True)
            sys.exit(stop.exit_code)
    click.echo(f"graded {progress.fresh} notebooks in this run, reused {progress.done - progress.fresh}")
    _print_outputs(out_dir, formats)
    ambiguous = [g for g in grades if g.status == Status.AMBIGUOUS]
    if ambiguous:
        example = shlex.quote(f"{ambiguous[0].student_id}=<file>")
        click.echo(
            f"{len(ambiguous)} student{'s' if len(ambiguous) > 1 else ''} handed in several notebooks and"
            " none named as expected"
            f" ({', '.join(g.student_id for g in ambiguous)}): choose the file to grade for each and grade"
            f" again with --pick, e.g. `autograder grade {assignment} {submissions} --out {out_dir} --pick {example}`"
        )


@cli.command("settings")
@_course_option
def settings_command(course_root: Path) -> None:
    """Print every setting of the c.Autograder section of nbgrader_config.py, with its help and default,
    ready to paste into that file; then check the course's own file.

    Example: autograder settings >> nbgrader_config.py
    """
    click.echo(Autograder.class_config_section())
    with _user_errors():
        course_settings(course_root)
    click.echo(f"# {course_root / CONFIG_FILE}: every c.Autograder setting there is valid", err=True)


@cli.command("export")
@click.argument("assignment")
@_out_option("The folder `grade --out` wrote to: its outputs are written again.")
@_db_option
@_formats_option
@_course_option
def export_command(
    assignment: str, out_dir: Path, db_url: str | None, formats: tuple[str, ...], course_root: Path
) -> None:
    """Write grades.csv, feedback.zip, the LMS files and report.html of ASSIGNMENT from the gradebook alone.

    Runs no notebook: use it to add an LMS format, or to rebuild outputs that were deleted or
    were left from a run that stopped.

    Example: autograder export warmup --out _build/grades/warmup --format canvas
    """
    with _user_errors():
        gradebook = _graded_gradebook(assignment, out_dir, db_url)
        try:
            course = Course(course_root)  # its nbgrader_config.py: who is excluded or excused
            grades = write_outputs(
                out_dir, assignment, gradebook, check_formats(formats), course, say=click.echo
            )
        finally:
            gradebook.close()
    if not grades:
        raise click.ClickException(f"the gradebook holds no grades of {assignment!r}")
    _print_outputs(out_dir, formats)


@cli.command("review")
@click.argument("assignment")
@_out_option("The folder `grade --out` wrote to: its outputs are written again with the TAs' grades.")
@_db_option
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="Port on 127.0.0.1 [default: a free one]."
)
@click.option(
    "--grader", default=getpass.getuser, show_default="your user name", help="Name kept with each grade."
)
@click.option("--show-names", is_flag=True, help="Show who wrote each answer (grading is blind by default).")
@click.option(
    "--import",
    "import_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Store the scores of a CSV file (student_id,question,points; optional notebook,comment,grader)"
    " instead of serving the TA view.",
)
@_course_option
def review_command(
    assignment: str,
    out_dir: Path,
    db_url: str | None,
    port: int,
    grader: str,
    show_names: bool,
    import_file: Path | None,
    course_root: Path,
) -> None:
    """Grade ASSIGNMENT's written answers (nbgrader's manually graded cells), question by question.

    Serves the TA view on 127.0.0.1 and prints its secret link: one question is read in every
    student's notebook in a row, blind by default, with its mark scheme beside and a rubric of
    reusable comments. Several TAs can grade at once on one PostgreSQL gradebook (--db). Stop it with
    Ctrl-C: grades.csv, the LMS files, the report and the feedback pages are then written again.

    Example: autograder review warmup --out _build/grades/warmup
    """
    with _user_errors():
        course = Course(course_root)
        course.require(assignment)
        gradebook = _graded_gradebook(assignment, out_dir, db_url)
        try:
            if import_file is not None:
                stored = import_scores(gradebook, course, assignment, import_file)
                click.echo(f"stored {stored} TA scores from {import_file}")
            else:
                _serve_review(course, assignment, out_dir, gradebook, grader, show_names, port)
            write_outputs(out_dir, assignment, gradebook, course=course, say=click.echo)
        finally:
            gradebook.close()
    _print_outputs(out_dir, ())


def _serve_review(
    course: Course, assignment: str, out_dir: Path, gradebook: Gradebook, grader: str, names: bool, port: int
) -> None:
    """Serve the TA view until Ctrl-C or SIGTERM."""
    roster = {s: who.name for s, who in read_roster(out_dir).items()}
    excluded = load_attendance(course.root, assignment, course.assignments()).excluded
    app = ReviewApp(assignment, questions(course, assignment), gradebook, grader, not names, roster, excluded)
    if not app.questions:
        raise CourseError(f"{assignment} has no manually graded answers or tasks: nothing to review")
    server = app.serve(port)
    host, bound = server.server_address[:2]
    click.echo(f"TA view of {assignment}: http://{host}:{bound}/?token={app.token}")
    click.echo(f"grading as {grader}; Ctrl-C stops it and writes the outputs")
    try:
        with stop_on_signals():
            server.serve_forever()
    except KeyboardInterrupt:  # Interrupted is one too
        click.echo("stopped; writing the outputs")
    finally:
        server.server_close()


@cli.command("nbgrader-feedback")
@click.argument("assignment")
@_out_option("The folder `grade --out` wrote to, from nbgrader's submitted/ folder.")
@_db_option
@_course_option
def nbgrader_feedback_command(assignment: str, out_dir: Path, db_url: str | None, course_root: Path) -> None:
    """Put ASSIGNMENT's feedback pages where `nbgrader release_feedback` takes them from.

    For a class graded from nbgrader's submitted/ folder (`nbgrader collect`): each student's page goes
    to the course's c.CourseDirectory.feedback_directory as <student_id>/<assignment>/<notebook>.html,
    with the submission's secret, which names it in the exchange for that student alone.

    Example: autograder nbgrader-feedback warmup --out grades/warmup && nbgrader release_feedback warmup
    """
    with _user_errors():
        submissions = out_dir / UNPACKED_DIR
        if not submissions.is_dir() or db_url is None and not (out_dir / GRADEBOOK_FILE).is_file():
            raise CourseError(
                f"no hand-ins from nbgrader in {submissions}: grade nbgrader's submitted/ folder first"
                f" (`autograder grade {assignment} submitted --out {out_dir}`)"
            )
        gradebook = Gradebook(db_url or sqlite_url(out_dir / GRADEBOOK_FILE))
        try:
            grades = gradebook.grades_of(assignment)
        finally:
            gradebook.close()
        attendance = load_attendance(course_root, assignment, Course(course_root).assignments())
        left_out = attendance.left_out(g.student_id for g in grades)
        if left_out:
            click.echo(attendance.summary(left_out))
        grades = [g for g in grades if g.student_id not in attendance.excluded]
        target = feedback_folder(course_root)
        result = write_nbgrader_feedback(target, assignment, out_dir, submissions, grades)
    if result.without_secret:
        click.echo(
            f"not handed in with `nbgrader submit` (no {SECRET_FILE}), so no page for the exchange:"
            f" {', '.join(result.without_secret)}"
        )
    if result.held_back:
        click.echo(
            f"held back until a TA grades their written answers (`autograder review {assignment}`):"
            f" {', '.join(result.held_back)}"
        )
    if not result.written:
        raise click.ClickException(f"no feedback page of {assignment!r} to hand over")
    click.echo(
        f"wrote {len(result.written)} feedback pages to {target}; now run `nbgrader release_feedback {assignment}`"
    )


def _graded_gradebook(assignment: str, out_dir: Path, db_url: str | None) -> Gradebook:
    """The gradebook a grading run into `out_dir` wrote (or `db_url`); CourseError saying to grade first."""
    if db_url is None and not (out_dir / GRADEBOOK_FILE).is_file():
        raise CourseError(
            f"no gradebook in {out_dir}: grade first (`autograder grade {assignment} ... --out {out_dir}`)"
        )
    return Gradebook(db_url or sqlite_url(out_dir / GRADEBOOK_FILE))


def _print_outputs(out_dir: Path, formats: tuple[str, ...]) -> None:
    """Say where the outputs are, and how many students they cover."""
    with (out_dir / "grades.csv").open(encoding="utf-8") as handle:
        students = sum(1 for _ in handle) - 1
    click.echo(f"{students} students in {out_dir / 'grades.csv'}; feedback pages in {out_dir / 'feedback'}")
    click.echo(f"report for you: {out_dir / 'report.html'}")
    for path in export_paths(out_dir, formats)[1:]:
        click.echo(f"wrote {path}")
    if {"canvas", "moodle"} & set(formats) and not read_roster(out_dir):
        click.echo(f"note: {NO_ROSTER_NOTE}")


@cli.command("check")
@click.argument("assignment")
@click.option("--sample", type=click.IntRange(min=1), help="Grade only this many mutants, drawn with --seed.")
@click.option(
    "--max-mutants", type=click.IntRange(min=1), help="Grade at most this many mutants per answer cell."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --sample and --max-mutants.")
@click.option(
    "--only", multiple=True, metavar="ID", help="Grade only the mutant with this id (repeatable): survivors."
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=DEFAULT_THRESHOLD,
    show_default=True,
    help="Exit 1 when the tests kill a smaller share of the (non-equivalent) mutants.",
)
@click.option(
    "--cell-timeout",
    type=click.IntRange(min=1),
    help="Seconds a mutant's cell may run [default: twice the solution's run, at least 15 s].",
)
@_workers_option
@_scheduler_option
@_unsafe_option
@_course_option
def check_command(
    assignment: str,
    sample: int | None,
    max_mutants: int | None,
    seed: int,
    only: tuple[str, ...],
    threshold: float,
    cell_timeout: int | None,
    workers: int,
    scheduler: str | None,
    unsafe_no_sandbox: bool,
    course_root: Path,
) -> None:
    """Check how strong ASSIGNMENT's tests are: the solution must score full marks, the blank release 0,
    and the tests must catch small bugs (mutants) put into the solution.

    Survivors are listed with an id: add a test that catches them, or, when a mutant cannot change
    any result, add its line to source_notebooks/ASSIGNMENT/.equivalent_mutants. Exits 1 when the
    share of mutants killed is below --threshold or the solution or the blank release is graded wrong.

    Example: autograder check warmup --sample 20
    """
    progress = _CheckProgress()
    with _user_errors():
        settings = grading_settings(
            course_root, workers=workers, scheduler=scheduler, sandbox=not unsafe_no_sandbox
        )
        report = check_assignment(
            Course(course_root),
            assignment,
            settings,
            seed=seed,
            sample=sample,
            max_mutants=max_mutants,
            only=only,
            cell_timeout=cell_timeout,
            threshold=threshold,
            on_start=progress.start,
            report=progress,
        )
    _print_check(report)
    if not report.passed:
        sys.exit(1)


class _CheckProgress:
    """One line per mutant as it finishes."""

    def __init__(self) -> None:
        self.total = self.done = 0

    def start(self, total: int) -> None:
        self.total = total
        click.echo(f"grading {total} mutants")

    def __call__(self, result: MutantResult) -> None:
        self.done += 1
        verdict = f"killed ({', '.join(result.lost)})" if result.killed else "SURVIVED"
        click.echo(f"[{self.done}/{self.total}] {result.mutant.id} {result.grade.seconds:5.1f} s  {verdict}")


def _tests_score(grade: NotebookGrade) -> str:
    """'points/maximum' of a grade's autograded parts alone."""
    return f"{sum(p.points for p in grade.tests):g}/{sum(p.max_points for p in grade.tests):g}"


def _print_check(report: CheckReport) -> None:
    for baseline in report.baselines:
        written = sum(p.max_points for p in baseline.solution.parts if p.is_manual)
        by_people = f" (plus {written:g} points of written answers, graded by people)" if written else ""
        click.echo(
            f"{baseline.notebook}: solution {_tests_score(baseline.solution)},"
            f" blank release {_tests_score(baseline.blank)}{by_people}"
        )
    for problem in report.problems:
        click.echo(f"PROBLEM: {problem}")
    if report.problems and not report.results:
        click.echo("mutants not graded: the solution must score full marks first")
        return
    shown = report.equivalents_file
    for ident in report.stale:
        click.echo(f"note: {shown} lists {ident}, which no mutant of the current solution has")
    click.echo(
        f"{report.made} mutants of the solution; {len(report.equivalent)} sampled ones marked equivalent;"
        f" {len(report.results)} graded in {report.seconds:.0f} s"
    )
    if report.survivors:
        click.echo(f"survivors (add a test, or add the line to {shown} with the reason):")
        for result in report.survivors:
            click.echo(f"  {equivalent_line(result.mutant)}")
    if report.score is not None:
        verdict = "met" if report.score >= report.threshold else "NOT met"
        click.echo(
            f"killed {report.killed} of {len(report.results)} mutants: {report.score:.1%}"
            f" (threshold {report.threshold:.0%}: {verdict})"
        )


@cli.command("similarity")
@click.argument("assignment")
@click.argument("submissions", type=click.Path(path_type=Path))
@_out_option("Folder for similarity.html (and an LMS zip's unpacked hand-ins).")
@_course_option
def similarity_command(assignment: str, submissions: Path, out_dir: Path, course_root: Path) -> None:
    """Compare the students' answers in SUBMISSIONS pairwise and write a page of the most similar pairs,
    their code side by side, to OUT/similarity.html.

    Renamed variables and reformatted code still compare as alike; the code the released notebook gives
    is left out. The page shows where code is alike, not why: read both before concluding anything.

    Example: autograder similarity warmup demo/warmup --out _build/grades/warmup
    """
    # copydetect imports matplotlib's pyplot: paid for by this command only.
    from autograder.similarity import PAGE, similarity_report, write_similarity

    with _user_errors():
        report = similarity_report(Course(course_root), assignment, submissions, out_dir)
        page = out_dir / PAGE
        write_similarity(page, report)
    click.echo(
        f"compared {len(report.students)} students' hand-ins: {len(report.pairs)} pairs share some code"
    )
    for student, why in sorted(report.not_compared.items()):
        click.echo(f"not compared: {student}: {why}")
    click.echo(f"the most similar pairs, side by side: {page}")


class _Progress:
    """One line per notebook as it finishes: count, time left, student, score and any problem."""

    def __init__(self, out_dir: Path) -> None:
        self.total = self.done = self.fresh = 0
        self.started = time.monotonic()
        self.out_dir = out_dir
        self.names: dict[str, str] = {}

    def start(self, total: int) -> None:
        self.total = total
        # The run has merged the LMS's roster into the output folder by now.
        self.names = {s: student.name for s, student in read_roster(self.out_dir).items() if student.name}
        click.echo(f"grading {total} notebooks")

    def __call__(self, grade: NotebookGrade, reused: bool) -> None:
        self.done += 1
        self.fresh += not reused
        left = self.total - self.done
        elapsed = time.monotonic() - self.started
        eta = f", about {elapsed / self.fresh * left:.0f} s left" if self.fresh and left else ""
        note = " (unchanged, grade reused)" if reused else ""
        problem = f" - {grade.message}" if grade.message else ""
        name = self.names.get(grade.student_id)
        who = f"{grade.student_id} ({name})" if name else grade.student_id
        click.echo(
            f"[{self.done}/{self.total}{eta}] {who:<16} "
            f"{grade.score:>5g} / {grade.max_score:<5g} {grade.status}{note}{problem}"
        )


class _user_errors:
    """Turn CourseError into click's one-line error message and exit code 1."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if isinstance(error, CourseError):
            raise click.ClickException(str(error)) from None
        return False


def main() -> None:
    """Entry point of the `autograder` console script."""
    try:
        cli.main(standalone_mode=True)
    finally:
        # All is written and closed by now; the collector's last pass over what a grading run
        # built (half a second after a class of 48) only delays the exit.
        gc.freeze()
