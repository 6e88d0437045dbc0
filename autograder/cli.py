"""The `autograder` command: a thin layer over `release` and `grade`.

Every user error ends in one clear line and a non-zero exit, never in a traceback.
"""

import os
import sys
import time
from pathlib import Path

import click

from autograder.config import GradingSettings
from autograder.course import Course, CourseError
from autograder.grade import grade_assignment
from autograder.model import NotebookGrade
from autograder.release import release, stale_releases

_course_option = click.option(
    "--course",
    "course_root",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Root of the course repository (holds source_notebooks/ and assignments/).",
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
            for problem in problems:
                click.echo(problem)
            if problems:
                raise click.ClickException("assignments/ is out of date: run `autograder release`")
            click.echo("assignments/ is up to date")
            return
        for path in release(course, list(assignments)):
            click.echo(f"wrote {path}")


@cli.command("grade")
@click.argument("assignment")
@click.argument("submissions", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for grades.csv, feedback/ and the default SQLite gradebook.",
)
@click.option("--db", "db_url", help="Gradebook database URL [default: sqlite in --out].")
@click.option(
    "--regrade", is_flag=True, help="Grade unchanged submissions again instead of reusing their grade."
)
@click.option(
    "--cell-timeout",
    type=float,
    default=GradingSettings.cell_timeout,
    show_default=True,
    help="Seconds one cell may run before it is stopped.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="the number of cores",
    help="Notebooks graded at once, each in its own Dask worker process.",
)
@click.option(
    "--scheduler", help="Grade on an existing Dask cluster: its scheduler's address (tcp://host:8786)."
)
@click.option(
    "--unsafe-no-sandbox",
    is_flag=True,
    help="Run students' code without the bubblewrap sandbox, with your own rights (not recommended).",
)
@_course_option
def grade_command(
    assignment: str,
    submissions: Path,
    out_dir: Path,
    db_url: str | None,
    regrade: bool,
    cell_timeout: float,
    workers: int,
    scheduler: str | None,
    unsafe_no_sandbox: bool,
    course_root: Path,
) -> None:
    """Grade every student folder in SUBMISSIONS (SUBMISSIONS/<student_id>/<notebook>.ipynb).

    Example: autograder grade warmup demo/warmup --out _build/grades/warmup
    """
    settings = GradingSettings(
        cell_timeout=cell_timeout,
        regrade=regrade,
        workers=workers,
        scheduler=scheduler,
        sandbox=not unsafe_no_sandbox,
    )
    if unsafe_no_sandbox:
        click.echo("WARNING: grading without a sandbox: students' code runs with your rights.", err=True)
    progress = _Progress()
    with _user_errors():
        grades = grade_assignment(
            Course(course_root),
            assignment,
            submissions,
            out_dir,
            db_url,
            settings,
            report=progress,
            on_start=progress.start,
        )
    students = len({g.student_id for g in grades})
    click.echo(
        f"graded {students} students: {out_dir / 'grades.csv'}; feedback pages in {out_dir / 'feedback'}"
    )
    click.echo(f"report for you: {out_dir / 'report.html'}")


class _Progress:
    """One line per notebook as it finishes: count, time left, score and any problem."""

    def __init__(self) -> None:
        self.total = self.done = self.fresh = 0
        self.started = time.monotonic()

    def start(self, total: int) -> None:
        self.total = total
        click.echo(f"grading {total} notebooks")

    def __call__(self, grade: NotebookGrade, reused: bool) -> None:
        self.done += 1
        self.fresh += not reused
        left = self.total - self.done
        elapsed = time.monotonic() - self.started
        eta = f", about {elapsed / self.fresh * left:.0f} s left" if self.fresh and left else ""
        note = " (unchanged, grade reused)" if reused else ""
        problem = f" - {grade.message}" if grade.message else ""
        click.echo(
            f"[{self.done}/{self.total}{eta}] {grade.student_id:<16} "
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
    sys.exit(cli.main(standalone_mode=True))
