"""Score: turn the executed graded cells of a notebook into points, with a reason for every loss.

A test cell earns all its points when the kernel says it ran to its end, as in nbgrader, and every
observation the reference run made in it matches (see `verdict`); otherwise it earns none. A written
answer or task (nbgrader's manually graded cells) counts in the maximum, as nbgrader counts it, and
waits for a person: its part keeps what the student wrote and is `pending` until a TA scores it. An
answer left as released scores 0 at once, as nbgrader does with an unchanged answer; a task always
waits, as in nbgrader.
"""

import re
from typing import TYPE_CHECKING

from nbformat import NotebookNode

from autograder.core.cells import (
    cell_outcome,
    is_canary,
    is_graded,
    is_manually_graded,
    is_task,
    is_test,
    nbgrader_meta,
    points_of,
)
from autograder.core.model import NEEDS_MANUAL_GRADE, PartKind, PartResult
from autograder.grading.execute import INTERRUPTED
from autograder.grading.observation import observations
from autograder.grading.verdict import judge

if TYPE_CHECKING:  # reference imports this module for failure_message
    from autograder.grading.reference import Reference

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FRAME = re.compile(r'^\s*(Cell In\[\d+\]|File ".*"), line \d+')


def graded_cells(notebook: NotebookNode) -> list[NotebookNode]:
    """The autograded test cells of a notebook, in order."""
    return [cell for cell in notebook.cells if is_test(cell)]


def part_kind(cell: NotebookNode) -> PartKind:
    if is_task(cell):
        return PartKind.TASK
    return PartKind.ANSWER if is_manually_graded(cell) else PartKind.TEST


def max_score(notebook: NotebookNode) -> float:
    """Points available in a (source) notebook: its tests' and its manually graded cells'."""
    return sum(points_of(c) for c in notebook.cells if is_graded(c))


def unscored_parts(notebook: NotebookNode, reason: str) -> list[PartResult]:
    """Every part at 0 points for the same reason (no notebook, unreadable notebook)."""
    return [
        PartResult(nbgrader_meta(c)["grade_id"], 0.0, points_of(c), reason, kind=part_kind(c))
        for c in notebook.cells
        if is_graded(c)
    ]


def score_parts(
    executed: NotebookNode,
    reference: "Reference",
    release: NotebookNode | None = None,
    task_work: dict[str, str] | None = None,
) -> list[PartResult]:
    """One PartResult per graded cell of an executed notebook, in order.

    Tests are judged against the reference run. A written part takes the student's text from the
    executed notebook (an answer) or from `task_work` (a task); it is unanswered when it equals the
    `release`'s cell.
    """
    released = {nbgrader_meta(c)["grade_id"]: c.source for c in (release.cells if release else [])}
    results = []
    for cell in executed.cells:
        if not is_graded(cell):
            continue
        grade_id, points = nbgrader_meta(cell)["grade_id"], points_of(cell)
        if is_manually_graded(cell):
            written = (task_work or {}).get(grade_id, "") if is_task(cell) else cell.source
            results.append(_written_part(grade_id, points, part_kind(cell), written, released.get(grade_id)))
            continue
        expected = reference.observed.get(grade_id, [])
        problem = failure_message(cell) or judge(expected, observations(cell))
        results.append(PartResult(grade_id, 0.0 if problem else points, points, problem))
    return results


def _written_part(grade_id: str, points: float, kind: PartKind, written: str, stub: str | None) -> PartResult:
    # nbgrader's rule: an answer left exactly as released scores 0 without a TA; a task always waits
    # for one, since its work may be anywhere in the notebook.
    if kind == PartKind.ANSWER and written.strip() == (stub or "").strip():
        return PartResult(grade_id, 0.0, points, "not answered", kind=kind)
    return PartResult(grade_id, 0.0, points, NEEDS_MANUAL_GRADE, kind=kind, answer=written, pending=True)


def canary_passed(executed: NotebookNode) -> bool:
    """Whether a canary (a test that must fail, see `guard`) ran to its end: evidence of tampering."""
    return any(is_canary(cell) and cell_outcome(cell).get("status") == "ok" for cell in executed.cells)


def failure_message(cell: NotebookNode) -> str:
    """Why a test cell failed, in one or two lines a student can act on; '' if it passed."""
    outcome = cell_outcome(cell)
    if not outcome:
        return "these tests did not run: the notebook stopped before reaching them"
    if outcome.get("status") == "ok":
        return ""
    name, value = outcome.get("ename") or "Error", str(outcome.get("evalue") or "").strip()
    if name == INTERRUPTED:
        return "the tests were stopped because they ran past the time limit (an endless loop?)"
    if name == "NotImplementedError" and not value:
        return "not answered yet: replace `raise NotImplementedError()` with your code"
    if name == "AssertionError" and not value:
        error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), {})
        line = _failing_line(error.get("traceback", []))
        return f"a check failed: {line}" if line else "a check failed"
    return f"{name}: {value}" if value else name


def _failing_line(traceback: list[str]) -> str:
    """The source line where the innermost frame of an IPython traceback stopped.

    Grading kernels print plain tracebacks (a frame's header line, then its source line), which
    cost a tenth of the time of IPython's default ones; the arrow of the default ones is read too.
    """
    lines = [_ANSI.sub("", line) for frame in traceback for line in frame.splitlines()]
    marked = [line for line in lines if line.lstrip().startswith("---->") or line.lstrip().startswith("->")]
    if marked:
        return re.sub(r"^\s*-+>\s*\d*\s*", "", marked[-1]).strip()
    sources = [lines[i + 1].strip() for i, line in enumerate(lines[:-1]) if _FRAME.match(line)]
    return sources[-1] if sources else ""
