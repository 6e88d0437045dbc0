"""Cells: what a notebook's cells say about themselves, in nbgrader's metadata and in ours.

nbgrader marks answers, tests and locked cells in `metadata.nbgrader`. The grader keeps its own marks
in `metadata.autograder`: where a cell came from (`origin`: a guard cell, a canary, a cell the
student added), how its run ended (`outcome`, the kernel's execute reply) and, on the notebook,
whether it wants a GPU (`gpu`). Every step reads and writes those marks through these functions, so
the protocol lives in one place.
"""

from collections.abc import Mapping
from enum import StrEnum

import nbformat
from nbformat import NotebookNode

OWN = "autograder"
"""The metadata key under which the grader keeps its marks."""


class Origin(StrEnum):
    """Where a cell of the notebook that is graded came from, when not from the source notebook."""

    GRADER = "grader"
    """A cell the guard added (the prelude, snapshots, restores)."""
    CANARY = "canary"
    """A test-like cell that must fail on every notebook (see `guard`)."""
    STUDENT = "student"
    """A code cell the student added to their notebook."""


def nbgrader_meta(cell: NotebookNode) -> dict:
    """The cell's nbgrader metadata, or {} when it has none or none that makes sense.

    A student's editor may have mangled it (a `grade_id` that is a list): such a cell is treated as
    one whose metadata was stripped, and found by what it defines.
    """
    metadata = cell.get("metadata", {})
    meta = metadata.get("nbgrader", {}) if isinstance(metadata, dict) else {}
    if not isinstance(meta, dict) or not isinstance(meta.get("grade_id", ""), str):
        return {}
    return meta


def is_answer(cell: NotebookNode) -> bool:
    """True for a cell in which students write their solution."""
    return bool(nbgrader_meta(cell).get("solution"))


def is_test(cell: NotebookNode) -> bool:
    """True for an autograded test cell (graded, not an answer)."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"


def is_manual_answer(cell: NotebookNode) -> bool:
    """True for nbgrader's "manually graded answer": an answer cell (markdown or code) a person scores."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and bool(meta.get("solution"))


def is_task(cell: NotebookNode) -> bool:
    """True for nbgrader's "manually graded task": a locked markdown cell whose work a person scores."""
    return bool(nbgrader_meta(cell).get("task"))


def is_manually_graded(cell: NotebookNode) -> bool:
    """True for a cell whose points a person gives (an answer or a task)."""
    return is_manual_answer(cell) or is_task(cell)


def is_graded(cell: NotebookNode) -> bool:
    """True for a cell that carries points: an autograded test, or a manually graded answer or task."""
    return is_test(cell) or is_manually_graded(cell)


def points_of(cell: NotebookNode) -> float:
    """The points a graded cell is worth (0 when it names none)."""
    try:
        return float(nbgrader_meta(cell).get("points", 0) or 0)
    except (TypeError, ValueError):
        return 0.0


def mark_scheme(cell: NotebookNode) -> str:
    """The mark scheme written in a source cell, '' when it has none.

    As nbgrader's ClearMarkScheme reads it: the lines between one holding `BEGIN MARK SCHEME` and one
    holding `END MARK SCHEME` (`=== BEGIN MARK SCHEME ===` by convention); the release drops them.
    """
    kept, inside = [], False
    for line in cell.source.split("\n"):
        if "BEGIN MARK SCHEME" in line:
            inside = True
        elif "END MARK SCHEME" in line:
            inside = False
        elif inside:
            kept.append(line)
    return "\n".join(kept).strip()


def _own(node: Mapping) -> Mapping:
    metadata = node.get("metadata", {})
    own = metadata.get(OWN, {}) if isinstance(metadata, Mapping) else {}
    return own if isinstance(own, Mapping) else {}


def origin(cell: NotebookNode) -> str | None:
    """The cell's `Origin`, or None for a cell of the source notebook."""
    return _own(cell).get("origin")


def marked_cell(source: str, came_from: Origin) -> NotebookNode:
    """A new code cell marked with where it came from."""
    return nbformat.v4.new_code_cell(source, metadata={OWN: {"origin": str(came_from)}})


def is_grader_cell(cell: NotebookNode) -> bool:
    """True for a cell the guard added (the feedback page leaves them out)."""
    return origin(cell) in (Origin.GRADER, Origin.CANARY)


def is_canary(cell: NotebookNode) -> bool:
    """True for a canary: a test-like cell that must fail (see `guard`)."""
    return origin(cell) == Origin.CANARY


def is_student_cell(cell: NotebookNode) -> bool:
    """True for a code cell the student added to the notebook (see `match.rebuild_for_grading`)."""
    return origin(cell) == Origin.STUDENT


def cell_outcome(cell: NotebookNode) -> dict:
    """How the kernel said a cell ended: {'status': 'ok' | 'error' | 'aborted', 'ename', 'evalue'}.

    Empty for a cell that never finished. The grader scores from the kernel's execute reply rather
    than from what a cell printed, which student code can fake or hide.
    """
    return dict(_own(cell).get("outcome", {}))


def record_outcome(cell: NotebookNode, outcome: dict) -> None:
    """Keep how the kernel said the cell ended (see `cell_outcome`)."""
    cell.setdefault("metadata", {}).setdefault(OWN, {})["outcome"] = outcome


def needs_gpu(notebook: Mapping) -> bool:
    """True for a notebook whose metadata says {"autograder": {"gpu": true}}: it uses a GPU when it sees one."""
    return bool(_own(notebook).get("gpu", False))


BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
"""nbgrader's markers of the hidden tests in a test cell of the source notebook."""


def split_hidden_tests(source: str) -> tuple[str, list[str]]:
    """A test cell's source as released (the hidden blocks cut out, markers included, as nbgrader's
    `ClearHiddenTests` does) and the lines of its hidden blocks."""
    shown: list[str] = []
    hidden: list[str] = []
    inside = False
    for line in source.splitlines(keepends=True):
        marker = line.strip()
        if marker == BEGIN_HIDDEN:
            inside = True
        elif marker == END_HIDDEN:
            inside = False
        elif inside:
            hidden.append(line.rstrip("\n"))
        else:
            shown.append(line)
    return "".join(shown).rstrip("\n"), hidden
