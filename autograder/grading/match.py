"""Match cells: find each answer in a student's notebook and rebuild the notebook that gets graded.

Students' notebooks come back edited: metadata stripped by Colab or VS Code, cells moved, duplicated,
re-typed or turned into markdown. nbgrader then misses answers. Here each answer cell of the release
is found first by its nbgrader `grade_id`, then by the names it defines (`def relu` finds the `relu`
answer), then by its likeness to the released stub. The notebook that is graded always takes its
structure, setup and (hidden) test cells from the *source* notebook; only the answers and any code
cells the student added come from the submission. Every repair is recorded for the feedback.
"""

import ast
import difflib
from dataclasses import dataclass, field

import nbformat
from nbformat import NotebookNode

from autograder.core.cells import Origin, is_answer, is_task, is_test, marked_cell, nbgrader_meta

STUB_LIKENESS = 0.6
"""How alike (0..1, difflib ratio) an unnamed cell must be to a released stub to count as that answer."""

COPY_LIKENESS = 0.8
"""How alike a student's cell must be to a released test or setup cell to count as a copy of it."""


def defined_names(source: str) -> frozenset[str]:
    """Top-level functions, classes and variables that a piece of code defines; empty if it won't parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return frozenset()
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return frozenset(names)


def _normal(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def likeness(a: str, b: str) -> float:
    """Similarity of two cell sources from 0 to 1, ignoring blank lines and trailing spaces."""
    return difflib.SequenceMatcher(None, _normal(a), _normal(b), autojunk=False).ratio()


def given_overlap(release: NotebookNode, handed_in: NotebookNode) -> float:
    """The share (0..1) of the release's given cells (text, setup, tests) found unchanged in a hand-in.

    Students change their answers, not the cells around them: a hand-in of this assignment keeps
    most of them, one of another assignment almost none.
    """
    given = {
        "\n".join(_normal(cell.source))
        for cell in release.cells
        if not is_answer(cell) and isinstance(cell.get("source"), str) and cell.source.strip()
    }
    if not given:
        return 1.0
    present = {
        "\n".join(_normal(cell.source)) for cell in handed_in.cells if isinstance(cell.get("source"), str)
    }
    return len(given & present) / len(given)


@dataclass
class MatchedAnswers:
    """What a student's notebook contributes to grading."""

    answers: dict[str, str] = field(default_factory=dict)
    """Answer grade_id -> the student's code (or, for a written answer, text) for it."""
    extra: dict[str, list[str]] = field(default_factory=dict)
    """Code cells the student added, keyed by the grade_id of the answer they followed ('' = none)."""
    task_work: dict[str, str] = field(default_factory=dict)
    """Task grade_id -> every cell the student wrote under a manually graded task, for a person to read."""
    repairs: list[str] = field(default_factory=list)


def match_answers(release: NotebookNode, submission: NotebookNode) -> MatchedAnswers:
    """Find each released answer cell in `submission`; see the module docstring for the order of rules."""
    release_answers = {nbgrader_meta(c)["grade_id"]: c for c in release.cells if is_answer(c)}
    release_other = {
        nbgrader_meta(c)["grade_id"]: c
        for c in release.cells
        if not is_answer(c) and nbgrader_meta(c).get("grade_id")
    }
    result = MatchedAnswers()
    # The answer grade_id each cell of the submission was matched to, if any.
    owner: list[str | None] = [None] * len(submission.cells)

    # 1. By nbgrader id. With duplicates the last copy wins, as it would when the notebook runs.
    for index, cell in enumerate(submission.cells):
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in release_answers and cell.cell_type in ("code", release_answers[grade_id].cell_type):
            owner[index] = grade_id
    for grade_id in release_answers:
        copies = [i for i, o in enumerate(owner) if o == grade_id]
        if len(copies) > 1:
            result.repairs.append(
                f"answer cell '{grade_id}' appears {len(copies)} times; the last copy was graded"
            )
            for i in copies[:-1]:
                owner[i] = None

    # 2. By the names the released stub defines, then 3. by likeness to the stub; a written (markdown)
    # answer defines nothing and is rewritten whole, so it is found by its place under its question.
    for grade_id, stub in release_answers.items():
        if grade_id in owner:
            continue
        if stub.cell_type == "markdown":
            found = _under_question(release, stub, submission, owner)
            if found is None:
                result.repairs.append(f"no answer found for '{grade_id}'; it was graded as left blank")
            else:
                owner[found] = grade_id
                result.repairs.append(
                    f"written answer '{grade_id}' had lost its nbgrader id; found it under its question"
                )
            continue
        wanted = defined_names(stub.source)
        found = _last_match(
            submission, owner, lambda c, wanted=wanted: bool(wanted) and wanted <= defined_names(c.source)
        )
        how = f"by the name{'s' if len(wanted) > 1 else ''} it defines ({', '.join(sorted(wanted))})"
        if found is None:
            found = _last_match(
                submission, owner, lambda c, stub=stub: likeness(c.source, stub.source) >= STUB_LIKENESS
            )
            how = "by its likeness to the released cell"
        if found is None:
            result.repairs.append(f"no answer found for '{grade_id}'; it was graded as left blank")
            continue
        owner[found] = grade_id
        cell = submission.cells[found]
        kind = " (it was a markdown cell; graded as code)" if cell.cell_type != "code" else ""
        result.repairs.append(f"answer cell '{grade_id}' had lost its nbgrader id; found it {how}{kind}")

    # The rest: copies of released cells are dropped (the source's version is graded), new code is kept.
    current, task = "", ""
    seen_tests = set()
    for index, cell in enumerate(submission.cells):
        if owner[index] is not None:
            current, task = owner[index], ""
            result.answers[current] = cell.source
            continue
        released = release_other.get(nbgrader_meta(cell).get("grade_id"))
        if released is not None and is_task(released):
            # The cells under a task are its work; code among them runs after the task's text.
            current = task = nbgrader_meta(released)["grade_id"]
            result.task_work.setdefault(task, "")
            continue
        if not cell.source.strip() or cell.cell_type not in ("code", "markdown"):
            continue
        original = released or (_released_original(cell, release_other) if cell.cell_type == "code" else None)
        if task and original is None:
            # Kept as markdown for the TA: code cells fenced, so they read as code.
            work = cell.source if cell.cell_type == "markdown" else f"```python\n{cell.source.strip()}\n```"
            result.task_work[task] = f"{result.task_work[task]}\n\n{work}".strip()
        elif original is not None:
            task = ""  # a given cell ends the task's work
        if cell.cell_type != "code":
            continue
        if original is None:
            result.extra.setdefault(current, []).append(cell.source)
        elif is_test(original):
            seen_tests.add(nbgrader_meta(original)["grade_id"])
            if cell.source.strip() != original.source.strip():
                result.repairs.append(
                    f"test cell '{nbgrader_meta(original)['grade_id']}' was edited; the original tests were used"
                )
    for grade_id, original in release_other.items():
        if is_test(original) and grade_id not in seen_tests:
            result.repairs.append(f"test cell '{grade_id}' was missing; the original tests were used")
    return result


def _under_question(
    release: NotebookNode, stub: NotebookNode, submission: NotebookNode, owner: list[str | None]
) -> int | None:
    """The unmatched markdown cell right under the student's copy of the text above `stub`, or None."""
    index = next(i for i, cell in enumerate(release.cells) if cell is stub)
    if index == 0:
        return None
    question = _normal(release.cells[index - 1].source)
    for position, cell in enumerate(submission.cells[:-1]):
        below = submission.cells[position + 1]
        if _normal(cell.source) == question and below.cell_type == "markdown" and owner[position + 1] is None:
            return position + 1
    return None


def _last_match(submission: NotebookNode, owner: list[str | None], accept) -> int | None:
    """Index of the last not-yet-matched cell that `accept` takes, or None."""
    for index in range(len(submission.cells) - 1, -1, -1):
        cell = submission.cells[index]
        if owner[index] is None and cell.cell_type in ("code", "markdown") and accept(cell):
            return index
    return None


def _released_original(cell: NotebookNode, release_other: dict[str, NotebookNode]) -> NotebookNode | None:
    """The released setup or test cell that `cell` is a copy of (by id, else by likeness), or None."""
    by_id = release_other.get(nbgrader_meta(cell).get("grade_id"))
    if by_id is not None:
        return by_id
    scored = [(likeness(cell.source, c.source), c) for c in release_other.values() if c.cell_type == "code"]
    score, best = max(scored, key=lambda pair: pair[0], default=(0.0, None))
    return best if score >= COPY_LIKENESS else None


def rebuild_for_grading(source: NotebookNode, release: NotebookNode, matched: MatchedAnswers) -> NotebookNode:
    """The source notebook with each answer cell replaced by the student's and their own cells added.

    Answers that were not found keep the released stub (which raises NotImplementedError), so the
    tests of that part fail with a clear message while every other part is still graded. Text cells
    are the release's: a written answer's model text and a task's mark scheme never reach the kernel
    or the feedback.
    """
    notebook = nbformat.from_dict(source)
    notebook.cells = []
    released = {
        nbgrader_meta(c)["grade_id"]: c.source for c in release.cells if nbgrader_meta(c).get("grade_id")
    }
    leading = [marked_cell(code, Origin.STUDENT) for code in matched.extra.get("", [])]
    for cell in source.cells:
        cell = nbformat.from_dict(cell)
        grade_id = nbgrader_meta(cell).get("grade_id", "")
        if is_answer(cell):
            notebook.cells.extend(leading)
            leading = []
            cell.source = matched.answers.get(grade_id, released[grade_id])
            notebook.cells.append(cell)
            notebook.cells.extend(
                marked_cell(code, Origin.STUDENT) for code in matched.extra.get(grade_id, [])
            )
        elif cell.cell_type != "code" and grade_id in released:
            cell.source = released[grade_id]
            notebook.cells.append(cell)
            notebook.cells.extend(
                marked_cell(code, Origin.STUDENT) for code in matched.extra.get(grade_id, [])
            )
        else:
            notebook.cells.append(cell)
    notebook.cells.extend(leading)
    return notebook
