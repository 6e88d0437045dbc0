"""Small courses made up in a test: notebooks built cell by cell, so a test of the tool does not lean on
the course's own assignments (whose content changes with the teaching).

    course = write_course(tmp_path, "essay", [given("import numpy as np"), answer("square", "def square(x):..."),
                                               check("test_square", "observe('s', square(3))", points=1)])

Two ready-made assignments: ESSAY (autograded, written and task parts, with grade_essay_class) and QUIZ
(9 points, 7 autograded, with write_quiz_course and write_quiz_class: six hand-ins of known scores, for
the tests of grading as a whole). A tool test should build its course from these, so replacing a
course assignment breaks no tool test.
"""

import hashlib
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
    # The id is the grade_id, not nbformat's random one: the same cells then make the same notebook
    # bytes in every run, and the grader's cache of the solution's run (keyed by those bytes) is reused.
    return new(source, metadata={"nbgrader": nbgrader}, id=grade_id)


def given(source: str, grade_id: str = "", kind: str = "code") -> NotebookNode:
    """A locked cell (code or markdown) the students get as it is."""
    stable = hashlib.sha256(source.encode()).hexdigest()[:8]  # not hash(): that changes from run to run
    return _cell(kind, source, grade_id or f"given_{stable}", locked=True)


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


# --- a quiz and a class that hands it in --------------------------------------------------------
# A course-shaped assignment for the tests of grading as a whole (the command line, zips, late
# penalties, regrades): three autograded functions worth 2, 2 and 3 points whose hidden tests use
# `observe`, and a written answer worth 2, so 9 points of which 7 autograded. Plain Python, no
# import beyond `math`, so its kernels start and finish quickly.

QUIZ = [
    given("# Quiz: three small functions and one question", "intro", kind="markdown"),
    given("import math", "imports"),
    given("## Part 1: double\n\nWrite `double(x)`, which returns `2 * x`.", "double_text", kind="markdown"),
    answer("double", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
    check(
        "test_double",
        'assert double(1) == 2, "double(1) should be 2"\n'
        "### BEGIN HIDDEN TESTS\n"
        'observe("double of 21", double(21), hint="double returns twice its argument")\n'
        'observe("double of -1.5", double(-1.5))\n'
        "### END HIDDEN TESTS",
        points=2,
    ),
    given("## Part 2: square\n\nWrite `square(x)`, which returns `x * x`.", "square_text", kind="markdown"),
    answer("square", "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"),
    check(
        "test_square",
        'assert square(3) == 9, "square(3) should be 9"\n'
        "### BEGIN HIDDEN TESTS\n"
        'observe("square of -4", square(-4), hint="a square is never negative")\n'
        'observe("square of 0.5", square(0.5))\n'
        "### END HIDDEN TESTS",
        points=2,
    ),
    given(
        "## Part 3: length\n\nWrite `length(v)`, the Euclidean length of a list of numbers.",
        "length_text",
        kind="markdown",
    ),
    answer(
        "length",
        "def length(v):\n    ### BEGIN SOLUTION\n    return math.sqrt(sum(x * x for x in v))\n    ### END SOLUTION",
    ),
    check(
        "test_length",
        'assert math.isclose(length([3, 4]), 5.0), "length([3, 4]) should be 5"\n'
        "### BEGIN HIDDEN TESTS\n"
        'observe("length of [1, 2, 2]", length([1, 2, 2]), hint="the square root of the sum of squares")\n'
        'observe("length of []", length([]))\n'
        "### END HIDDEN TESTS",
        points=3,
    ),
    given(
        "## Part 4: why (a written answer, graded by a TA)\n\nWhy is `square` never negative?",
        kind="markdown",
    ),
    written("why", f"A product of two numbers of the same sign is not negative.\n\n{SCHEME}", points=2),
    given("## Done\n\nHand in this notebook as it is.", "done", kind="markdown"),
]
"""A made-up assignment of 9 points, 7 of them autograded (2 + 2 + 3) and 2 written."""
QUIZ_STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"
"""What the release leaves in a code answer, under its first line."""

QUIZ_RIGHT = {
    "double": "def double(x):\n    return x + x",
    "square": "def square(x):\n    return x**2",
    "length": "def length(v):\n    return math.hypot(*v)",
    "why": "Both factors have the same sign, so their product is at least 0.",
}
"""A correct hand-in, written otherwise than the solution."""

QUIZ_CLASS = {
    "s230001": (QUIZ_RIGHT, 7),
    "s230002": (
        {
            "double": QUIZ_RIGHT["double"],
            "square": "def square(x):\n    return 2 * x",
            "length": "def length(v):\n    return sum(v)",
            "why": "Because it is squared.",
        },
        2,
    ),
    "s230003": (
        QUIZ_RIGHT | {"square": 'def square(x):\n    raise ValueError("I will do this one later")'},
        5,
    ),
    "s230004": (QUIZ_RIGHT, 7),  # handed in with its cell metadata stripped (see write_quiz_class)
    "s230005": ({}, 0),  # the blank release
    "s230006": ({"double": QUIZ_RIGHT["double"]}, 2),  # as `quiz (1).ipynb`, the name a browser gives a copy
}
"""student id -> (the cells filled in, the points they earn). Those who answer the written part wait for
a TA (needs_manual_grade 1); s230005 and s230006 do not."""


def quiz_source() -> NotebookNode:
    """The quiz's source notebook (solutions and hidden tests in it), fresh: a test may change it."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.from_dict(cell) for cell in QUIZ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def quiz_hand_in(course: Course, fill: dict[str, str], assignment: str = "quiz") -> NotebookNode:
    """The quiz as a student hands it in, with the cells of `fill` (grade_id -> source) filled in."""
    return hand_in(course, assignment, fill)


def write_quiz_course(root: Path, assignment: str = "quiz", others: dict | None = None) -> Course:
    """A course at `root` with the quiz released as `assignment`, and each of `others`
    (name -> cells) released beside it."""
    course = write_course(root, assignment, QUIZ)
    for name, cells in (others or {}).items():
        course = write_course(root, name, cells)
    return course


def write_quiz_class(course: Course, folder: Path, assignment: str = "quiz", count: int = 0) -> list[dict]:
    """The six students of QUIZ_CLASS (or `count` copies of them, `<id>-<n>`) as a submissions folder;
    returns the grades.csv rows that grading them gives, as csv.DictReader reads them."""
    students = sorted(QUIZ_CLASS)
    ids = [f"{students[n % 6]}-{n}" for n in range(count)] if count else students
    rows = []
    for student in ids:
        original = student.split("-")[0]
        fill, points = QUIZ_CLASS[original]
        nb = quiz_hand_in(course, fill, assignment)
        if original == "s230004":
            for cell in nb.cells:
                cell.metadata = {}
        name = f"{assignment} (1).ipynb" if original == "s230006" else f"{assignment}.ipynb"
        (folder / student).mkdir(parents=True)
        nbformat.write(nb, folder / student / name)
        rows.append(
            {
                "student_id": student,
                "assignment": assignment,
                "score": str(points),
                "max_score": "9",
                "status": "graded",
                "name": "",
                "lms_id": "",
                "raw_score": str(points),
                "late_hours": "0",
                "penalty": "0",
                "needs_manual_grade": "1" if "why" in fill else "0",
            }
        )
    return rows
