"""Small courses made up in a test: notebooks built cell by cell, so a test of the tool does not lean on
the course's own assignments (whose content changes with the teaching).

    course = write_course(tmp_path, "essay", [given("import numpy as np"), answer("square", "def square(x):..."),
                                               check("test_square", "observe('s', square(3))", points=1)])
"""

from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.authoring.release import release
from autograder.core.config import GradingSettings
from autograder.core.course import Course
from autograder.grade import grade_assignment


def _cell(kind: str, source: str, grade_id: str, **meta) -> NotebookNode:
    nbgrader = {
        "grade": False,
        "solution": False,
        "locked": False,
        "task": False,
        "grade_id": grade_id,
        "schema_version": 3,
    } | meta
    new = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    return new(source, metadata={"nbgrader": nbgrader})


def given(source: str, grade_id: str = "", kind: str = "code") -> NotebookNode:
    """A locked cell (code or markdown) the students get as it is."""
    return _cell(kind, source, grade_id or f"given_{abs(hash(source)) % 10**8}", locked=True)


def answer(grade_id: str, solution: str) -> NotebookNode:
    """An autograded answer: `solution` should hold `### BEGIN SOLUTION` / `### END SOLUTION`."""
    return _cell("code", solution, grade_id, solution=True)


def check(grade_id: str, source: str, points: float) -> NotebookNode:
    """An autograded test cell worth `points`."""
    return _cell("code", source, grade_id, grade=True, locked=True, points=points)


def written(grade_id: str, model_answer: str, points: float, kind: str = "markdown") -> NotebookNode:
    """nbgrader's "manually graded answer" (markdown or code); its source may hold a mark scheme."""
    return _cell(kind, model_answer, grade_id, grade=True, solution=True, points=points)


def task(grade_id: str, text: str, points: float) -> NotebookNode:
    """nbgrader's "manually graded task": a locked text whose work the student writes below it."""
    return _cell("markdown", text, grade_id, task=True, locked=True, points=points)


def write_course(root: Path, assignment: str, cells: list[NotebookNode], notebook: str = "") -> Course:
    """A course at `root` with one assignment of one notebook made of `cells`, released."""
    notebook = notebook or f"{assignment}.ipynb"
    path = root / "source_notebooks" / assignment / notebook
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    course = Course(root)
    release(course, [assignment])
    return course


def hand_in(
    course: Course,
    assignment: str,
    fill: dict[str, str],
    below: dict[str, list[NotebookNode]] | None = None,
    notebook: str = "",
) -> NotebookNode:
    """The released notebook as a student hands it in: the cells named in `fill` (grade_id -> source)
    filled in, and the new cells of `below` (grade_id -> cells) added under the cell of that id."""
    notebook = notebook or f"{assignment}.ipynb"
    nb = nbformat.read(course.release_root / assignment / notebook, as_version=4)
    cells = []
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in fill:
            cell.source = fill[grade_id]
        cells.append(cell)
        cells.extend((below or {}).get(grade_id, []))
    nb.cells = cells
    return nb


SCHEME = "=== BEGIN MARK SCHEME ===\nFull marks: names the zero gradient for x < 0.\n=== END MARK SCHEME ==="
ESSAY = [
    given("import numpy as np"),
    given("## Part 1: ReLU", kind="markdown"),
    answer("relu", "def relu(x):\n    ### BEGIN SOLUTION\n    return np.maximum(x, 0)\n    ### END SOLUTION"),
    check("test_relu", "observe('relu', relu(np.array([-1.0, 2.0])))", points=2),
    given("## Part 2: why ReLU\n\nWhy does $\\max(0, x)$ train deep networks well?", kind="markdown"),
    written("why", f"ReLU's gradient is 0 for negative inputs.\n\n{SCHEME}", points=3),
    task("plot", f"## Part 3: plot relu on [-2, 2] and say what you see\n\n{SCHEME}", points=2),
    given("## The end", kind="markdown"),
]
"""A made-up assignment with one autograded part (2 points), one written answer (3) and one task (2)."""
RELU = "def relu(x):\n    return np.maximum(x, 0)"


PLOT_WORK = [nbformat.v4.new_markdown_cell("It is flat, then a straight line: $y = x$ for $x > 0$.")]
ESSAY_CLASS = {
    "ada": ({"relu": RELU, "why": "Negative inputs give *zero* gradient."}, {"plot": PLOT_WORK}),
    "bo": ({"relu": RELU}, {}),
    "cy": ({}, {}),
}
"""ada answers everything, bo only the code, cy nothing: student id -> (filled cells, cells added below)."""


def grade_essay_class(
    root: Path, students: dict[str, tuple[dict, dict]] = ESSAY_CLASS, db_url: str | None = None
) -> tuple[Course, Path, Path, GradingSettings]:
    """The essay assignment graded for `students` (see ESSAY_CLASS), on one worker, into `db_url`.

    Returns the course, the submissions folder, the output folder and the settings it was graded with.
    """
    course = write_course(root, "essay", ESSAY)
    hand_ins = {student: hand_in(course, "essay", fill, below) for student, (fill, below) in students.items()}
    submissions = root / "submissions"
    for student, notebook in hand_ins.items():
        (submissions / student).mkdir(parents=True)
        nbformat.write(notebook, submissions / student / "essay.ipynb")
    out = root / "out"
    settings = GradingSettings(workers=1, reference_cache=str(root / "references"))
    grade_assignment(course, "essay", submissions, out, db_url, settings=settings)
    return course, submissions, out, settings


def write_nbgrader_course(
    root: Path, assignment: str, notebooks: dict[str, list[NotebookNode]], config: str = ""
) -> Course:
    """A course at `root` in nbgrader's own layout, not released: nbgrader's default folder names
    (`source/`, `release/`) in its nbgrader_config.py, with the lines of `config` after them, and
    `source/<assignment>/<name>` made of the cells of each entry of `notebooks`."""
    (root / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        'c.CourseDirectory.source_directory = "source"\n'
        'c.CourseDirectory.release_directory = "release"\n' + config
    )
    for name, cells in notebooks.items():
        path = root / "source" / assignment / name
        path.parent.mkdir(parents=True, exist_ok=True)
        nb = nbformat.v4.new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, path)
    return Course(root)
