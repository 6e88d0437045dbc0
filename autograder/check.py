"""Check: how strong an assignment's tests are, by grading its solution, its blank release and mutants.

1. The source notebook must score full marks and the released (blank) notebook 0, and every test
   cell must observe something (see `observation`): a cell that observes nothing is graded by the
   kernel's word alone, which the student's code can forge.
2. Mutation analysis: each mutant of the reference solution (see `mutate`) is handed in like a
   student's notebook and graded by the real pipeline, hidden tests included. A mutant is killed
   when it loses a point, errs or runs out of time; a survivor is a bug the tests let through, or an
   equivalent mutant, which the teacher lists in `.equivalent_mutants` beside the source notebook.

Mutants get shorter time limits than students (scaled from the solution's own run), since a mutant
that hangs counts as killed anyway, and they are graded in parallel on the grader's Dask path.
"""

import dataclasses
import math
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.authoring.mutate import (
    EQUIVALENTS_FILE,
    Mutant,
    notebook_mutants,
    read_equivalents,
    sample_mutants,
)
from autograder.core.cells import is_answer, nbgrader_meta
from autograder.core.config import GradingSettings
from autograder.core.course import Course
from autograder.core.errors import CourseError
from autograder.core.model import NotebookGrade, Status
from autograder.grade import GradingTarget, grade_notebook, job_needs_gpu
from autograder.grading.parallel import run_all
from autograder.grading.sandbox import check_sandbox
from autograder.intake.submissions import Submission

DEFAULT_THRESHOLD = 0.9
"""Share of the graded (non-equivalent) mutants the tests must kill."""


@dataclass(frozen=True)
class MutantResult:
    """How one mutant fared when graded."""

    notebook: str
    mutant: Mutant
    grade: NotebookGrade

    @property
    def killed(self) -> bool:
        return not self.grade.passes_every_test

    @property
    def lost(self) -> list[str]:
        """The parts that failed, or the reason nothing was scored."""
        parts = [p.grade_id for p in self.grade.tests if p.points < p.max_points]
        return parts or ([self.grade.status] if self.grade.status != Status.GRADED else [])


@dataclass(frozen=True)
class Baseline:
    """The grades of a notebook's own solution and of its blank release."""

    notebook: str
    solution: NotebookGrade
    blank: NotebookGrade
    unobserved: tuple[str, ...] = ()
    """Test cells that observe nothing in the reference run."""

    @property
    def solution_full(self) -> bool:
        return self.solution.passes_every_test

    @property
    def problems(self) -> list[str]:
        found = []
        if self.unobserved:
            found.append(
                f"{self.notebook}: test cells that observe nothing, so the grader cannot check their"
                f" verdict outside the student's kernel: {', '.join(self.unobserved)}"
                " (call observe(name, value) on what each test checks)"
            )
        if not self.solution_full:
            failed = [p.grade_id for p in self.solution.tests if p.points < p.max_points]
            why = self.solution.message or f"failed: {', '.join(failed)}"
            found.append(
                f"{self.notebook}: the source scores {self.solution.score:g}/{self.solution.max_score:g}"
                f" ({why})"
            )
        if self.blank.score > 0:
            passed = [p.grade_id for p in self.blank.parts if p.points > 0]
            found.append(
                f"{self.notebook}: the blank release scores {self.blank.score:g}, not 0"
                f" (passed: {', '.join(passed)})"
            )
        return found


@dataclass
class CheckReport:
    """Everything `autograder check` found about one assignment."""

    assignment: str
    threshold: float
    equivalents_file: Path
    baselines: list[Baseline] = field(default_factory=list)
    made: int = 0
    """Distinct compilable mutants of the solution, before sampling."""
    equivalent: list[Mutant] = field(default_factory=list)
    """Sampled mutants skipped because the equivalents file lists them."""
    results: list[MutantResult] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    """Ids in the equivalents file that no mutant of the current solution has."""
    seconds: float = 0.0

    @property
    def killed(self) -> int:
        return sum(r.killed for r in self.results)

    @property
    def survivors(self) -> list[MutantResult]:
        return [r for r in self.results if not r.killed]

    @property
    def score(self) -> float | None:
        """Share of graded mutants killed; None when none was graded."""
        return self.killed / len(self.results) if self.results else None

    @property
    def problems(self) -> list[str]:
        return [problem for baseline in self.baselines for problem in baseline.problems]

    @property
    def passed(self) -> bool:
        return not self.problems and (self.score is None or self.score >= self.threshold)


def check_assignment(
    course: Course,
    assignment: str,
    settings: GradingSettings = GradingSettings(),
    seed: int = 0,
    sample: int | None = None,
    max_mutants: int | None = None,
    only: Iterable[str] = (),
    cell_timeout: float | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    on_start: Callable[[int], None] = lambda mutants: None,
    report: Callable[[MutantResult], None] = lambda result: None,
) -> CheckReport:
    """Grade the solution, the blank release and the mutants of `assignment`; see the module docstring.

    `sample` grades that many mutants in all, `max_mutants` at most that many per answer cell (both
    drawn with `seed`); `only` grades just the mutants with these ids. `cell_timeout` is the time
    limit of a mutant's cell (default: from the solution's run time). `on_start` is told how many
    mutants will be graded, `report` is called with each result as it comes.
    """
    course.require(assignment)
    for name, value in (("sample", sample), ("max-mutants", max_mutants)):
        if value is not None and value < 1:
            raise CourseError(f"--{name} must be at least 1, got {value}")
    if not 0 <= threshold <= 1:
        raise CourseError(f"--threshold must be a share between 0 and 1, got {threshold:g}")
    if settings.sandbox:
        check_sandbox()
    started = time.monotonic()
    folder = course.source_root / assignment
    check = CheckReport(assignment, threshold, folder / EQUIVALENTS_FILE)
    equivalents = read_equivalents(check.equivalents_file)
    targets = [
        GradingTarget.load(course, assignment, name).with_reference(settings)
        for name in course.notebook_names(assignment)
    ]
    if not targets:
        raise CourseError(f"assignment {assignment!r} has no notebook in {folder}")

    every = {target.notebook: notebook_mutants(target.source) for target in targets}
    check.made = sum(len(mutants) for mutants in every.values())
    known = {m.id for mutants in every.values() for m in mutants}
    check.stale = sorted(set(equivalents) - known)
    wanted = set(only)
    if wanted - known:
        raise CourseError(
            f"{assignment} has no mutant with id {', '.join(sorted(wanted - known))}"
            " (ids come from the survivors `autograder check` lists)"
        )

    with tempfile.TemporaryDirectory(prefix="autograder-check-") as scratch:
        hand_ins = Path(scratch)
        baseline_jobs = []
        for target in targets:
            blank = hand_ins / "blank" / target.notebook
            blank.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(target.release, blank)
            baseline_jobs += [
                (target, Submission("solution", target.notebook, folder / target.notebook), settings),
                (target, Submission("blank", target.notebook, blank), settings),
            ]
        grades = {
            (g.student_id, g.notebook): g
            for g, _ in run_all(grade_notebook, baseline_jobs, settings, job_needs_gpu)
        }
        check.baselines = [
            Baseline(
                t.notebook,
                grades["solution", t.notebook],
                grades["blank", t.notebook],
                tuple(t.reference.unobserved()),
            )
            for t in targets
        ]
        if not all(b.solution_full for b in check.baselines):
            check.seconds = time.monotonic() - started
            return check  # mutants of a solution that fails its own tests tell nothing

        pool = [(t, m) for t in targets for m in every[t.notebook] if not wanted or m.id in wanted]
        if not wanted:
            picked = {id(m) for m in sample_mutants([m for _, m in pool], seed, sample, max_mutants)}
            pool = [(t, m) for t, m in pool if id(m) in picked]
        limits = {
            b.notebook: _mutant_settings(settings, b.solution.seconds, cell_timeout) for b in check.baselines
        }
        jobs = []
        for target, mutant in pool:
            if mutant.id in equivalents:
                check.equivalent.append(mutant)
                continue
            notebook = nbformat.from_dict(target.source)
            for cell in notebook.cells:
                if is_answer(cell) and nbgrader_meta(cell)["grade_id"] == mutant.grade_id:
                    cell.source = mutant.code
            path = hand_ins / "mutants" / mutant.id / target.notebook
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, path)
            jobs.append((target, Submission(mutant.id, target.notebook, path), limits[target.notebook]))
        by_key = {(m.id, t.notebook): m for t, m in pool}
        on_start(len(jobs))
        for grade, _ in run_all(grade_notebook, jobs, settings, job_needs_gpu):
            result = MutantResult(grade.notebook, by_key[grade.student_id, grade.notebook], grade)
            check.results.append(result)
            report(result)
    order = {(job[1].student_id, job[1].notebook): index for index, job in enumerate(jobs)}
    check.results.sort(key=lambda r: order[r.mutant.id, r.notebook])
    check.seconds = time.monotonic() - started
    return check


def _mutant_settings(
    settings: GradingSettings, solution_seconds: float, cell_timeout: float | None
) -> GradingSettings:
    """Time limits for mutants: a few times the solution's run, never more than a student gets.

    A mutant that loops for ever is killed either way; a short limit just stops paying for it. The
    margin covers mutants graded side by side on a busy machine, which run slower than the solution.
    """
    if cell_timeout is None:
        cell_timeout = min(settings.cell_timeout, max(15.0, 2 * solution_seconds))
    cell = math.ceil(cell_timeout)  # nbclient takes whole seconds only
    whole = min(settings.notebook_timeout, max(60.0, 3 * solution_seconds, 2 * cell))
    return dataclasses.replace(settings, cell_timeout=cell, notebook_timeout=whole)
