"""Release: turn source notebooks (solutions, hidden tests) into the student notebooks in `assignments/`.

The work is done by nbgrader's own preprocessors, in the order `nbgrader generate_assignment` uses,
so a released notebook is exactly what plain nbgrader would release, minus its database. Writing is
deterministic, which lets `release --check` compare the committed files with a fresh release.
"""

import re
import shutil
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    IncludeHeaderFooter,
    LockCells,
)
from traitlets.config import Config

from autograder.core.cells import is_test, nbgrader_meta
from autograder.core.course import Course
from autograder.core.errors import CourseError

# nbgrader's GenerateAssignment pipeline without SaveCells (it writes nbgrader's database) and
# InstantiateTests (it expands `### AUTOTEST` templates, which this course does not use).
_PIPELINE = [
    IncludeHeaderFooter,
    LockCells,
    ClearSolutions,
    ClearOutput,
    CheckCellMetadata,
    ComputeChecksums,
    ClearHiddenTests,
    ClearMarkScheme,
    ComputeChecksums,
    CheckCellMetadata,
]


def release_notebook(source: NotebookNode, where: str = "the source notebook") -> NotebookNode:
    """Return the student version of a source notebook; `source` itself is left unchanged.

    A source whose nbgrader cells lack a `grade_id` or share one, or that uses nbgrader's
    `### AUTOTEST` directives, is a CourseError naming `where`.
    """
    check_grade_ids(source, where)
    check_no_autotests(source, where)
    notebook = nbformat.from_dict(source)
    resources: dict = {}
    config = Config()
    for step in _PIPELINE:
        notebook, resources = step(config=config).preprocess(notebook, resources)
    return notebook


def check_grade_ids(source: NotebookNode, where: str) -> None:
    """Every answer, test and locked cell has its own `grade_id`, as nbgrader needs; else one line saying which."""
    seen: dict[str, int] = {}
    for number, cell in enumerate(source.cells, 1):
        meta = cell.get("metadata", {}).get("nbgrader", {})  # as written: a teacher's typo must show
        meta = meta if isinstance(meta, dict) else {}
        if not (meta.get("solution") or meta.get("grade") or meta.get("locked") or meta.get("task")):
            continue
        grade_id = meta.get("grade_id")
        if not isinstance(grade_id, str) or not grade_id:
            raise CourseError(
                f"{where}: cell {number} is an nbgrader cell without a grade_id; give it one"
                " (View > Cell Toolbar > Create Assignment, the ID field)"
            )
        if grade_id in seen:
            raise CourseError(
                f"{where}: cells {seen[grade_id]} and {number} share the grade_id {grade_id!r};"
                " give each cell its own"
            )
        seen[grade_id] = number


AUTOTEST = re.compile(r"^\s*###\s*(HASHED\s+)?AUTOTEST\b", re.M)


def check_no_autotests(source: NotebookNode, where: str) -> None:
    """CourseError for nbgrader 0.9's `### AUTOTEST` directives, which this tool does not expand.

    Left as they are they would be comments, and a blank notebook would pass those tests.
    """
    for number, cell in enumerate(source.cells, 1):
        if cell.cell_type == "code" and AUTOTEST.search(cell.source):
            raise CourseError(
                f"{where}: cell {number} uses nbgrader's ### AUTOTEST directive, which autograder does not"
                " expand; write the test with observe(name, value) instead (README: Adding an assignment)"
            )


def render_release(course: Course, assignment: str) -> dict[Path, bytes]:
    """Every file of an assignment's release, as relative path -> content, computed in memory."""
    folder = course.source_root / assignment
    files: dict[Path, bytes] = {}
    for relative in course.source_files(assignment):
        if relative.suffix == ".ipynb":
            source = nbformat.read(folder / relative, as_version=4)
            where = f"{course.source_root.name}/{assignment}/{relative}"
            text = nbformat.writes(release_notebook(source, where)) + "\n"
            files[relative] = text.encode()
        else:
            files[relative] = (folder / relative).read_bytes()
    return files


def release(course: Course, assignments: list[str] | None = None) -> list[Path]:
    """Write `assignments/<name>/` afresh for each assignment (all by default); return the files written."""
    written = []
    for assignment in assignments or course.assignments():
        course.require(assignment)
        target = course.release_root / assignment
        files = render_release(course, assignment)
        if target.exists():
            shutil.rmtree(target)
        for relative, content in files.items():
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            written.append(path)
    return written


def stale_releases(course: Course, assignments: list[str] | None = None) -> list[str]:
    """Describe every difference between `assignments/` and a fresh release; empty when up to date."""
    problems = []
    for assignment in assignments or course.assignments():
        course.require(assignment)
        target = course.release_root / assignment
        expected = render_release(course, assignment)
        present = (
            {p.relative_to(target) for p in target.rglob("*") if p.is_file()} if target.is_dir() else set()
        )
        for relative in sorted(set(expected) | present):
            shown = f"{course.release_root.name}/{assignment}/{relative}"
            if relative not in present:
                problems.append(f"{shown} is missing")
            elif relative not in expected:
                problems.append(f"{shown} has no source")
            elif (target / relative).read_bytes() != expected[relative]:
                problems.append(f"{shown} differs from its source")
    return problems


_OBSERVE_CALL = re.compile(r"\bobserve\s*\(")


def unobserved_tests(course: Course, assignments: list[str] | None = None) -> list[str]:
    """Test cells of the sources that call no `observe`: their verdict would rest on the student's kernel."""
    problems = []
    for assignment in assignments or course.assignments():
        course.require(assignment)
        for name in course.notebook_names(assignment):
            source = nbformat.read(course.source_root / assignment / name, as_version=4)
            for cell in source.cells:
                if is_test(cell) and not _OBSERVE_CALL.search(cell.source):
                    problems.append(
                        f"{course.source_root.name}/{assignment}/{name}: test cell"
                        f" '{nbgrader_meta(cell)['grade_id']}' observes nothing; call observe(name, value)"
                        " on what it checks, so the grader can compare it outside the student's kernel"
                    )
    return problems
