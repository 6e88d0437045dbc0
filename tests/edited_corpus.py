"""A corpus of notebooks edited the way students' notebooks come back, built from one hand-in.

Used by tests/test_edited.py (every variant scores like the untouched hand-in) and by
bench/grading.py (the same corpus side by side with plain `nbgrader autograde`).
"""

import copy

import nbformat
from nbformat import NotebookNode


def _answer_index(notebook: NotebookNode, grade_id: str) -> int:
    return next(
        i
        for i, cell in enumerate(notebook.cells)
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id
    )


def edited_variants(hand_in: NotebookNode, answer: str) -> dict[str, NotebookNode]:
    """Edited copies of `hand_in`; `answer` is the grade_id of an answer cell to move around."""
    variants = {}

    stripped = copy.deepcopy(hand_in)
    for cell in stripped.cells:
        cell.metadata = {}
    variants["metadata-stripped"] = stripped

    moved = copy.deepcopy(hand_in)
    cell = moved.cells.pop(_answer_index(moved, answer))
    moved.cells.insert(0, cell)
    variants["answer-moved-to-top"] = moved

    duplicated = copy.deepcopy(hand_in)
    index = _answer_index(duplicated, answer)
    twin = copy.deepcopy(duplicated.cells[index])
    twin["id"] = twin["id"] + "-copy"
    duplicated.cells.insert(index + 1, twin)
    variants["answer-duplicated"] = duplicated

    markdown = copy.deepcopy(hand_in)
    index = _answer_index(markdown, answer)
    markdown.cells[index] = nbformat.v4.new_markdown_cell(markdown.cells[index].source)
    variants["answer-turned-markdown"] = markdown

    no_tests = copy.deepcopy(hand_in)
    no_tests.cells = [c for c in no_tests.cells if not c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    variants["test-cells-deleted"] = no_tests

    retyped = copy.deepcopy(hand_in)
    index = _answer_index(retyped, answer)
    fresh = nbformat.v4.new_code_cell(retyped.cells[index].source)
    retyped.cells[index] = fresh
    variants["answer-retyped-in-new-cell"] = retyped
    return variants
