"""Pages made from students' notebooks run nothing of the student's: escaped values, no script allowed."""

import nbformat

from autograder.feedback import render_feedback
from autograder.model import NotebookGrade, PartResult
from autograder.report import render_report

HOSTILE_PNG = "AAAA'><script>alert(1)</script><p>Score: 7 / 7</p><img src='x"


def hostile_notebook() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("print('<script>alert(2)</script>')")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": HOSTILE_PNG}),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="}),
        nbformat.v4.new_output("stream", name="stdout", text="<script>alert(3)</script>"),
    ]
    return nbformat.v4.new_notebook(cells=[cell])


def test_a_hostile_notebooks_feedback_page_shows_no_markup_of_the_students():
    grade = NotebookGrade(
        "s1", "warmup", "warmup.ipynb", "graded", 7, [PartResult("test_relu", 0, 7, "<b>x</b>")]
    )
    page = render_feedback(grade, hostile_notebook())
    assert "<script>" not in page and "Score: 7 / 7" not in page
    assert "Score: 0 / 7" in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "an image that was not valid PNG data was left out" in page
    assert "data:image/png;base64,iVBORw0KGgo=" in page  # a real image still shows
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_the_report_escapes_what_came_from_notebooks_and_allows_no_script():
    grade = NotebookGrade(
        "<script>s</script>", "warmup", "warmup.ipynb", "graded", 7, evidence=["<img onerror=x>"]
    )
    page = render_report("warmup", [grade])
    assert "<script>s" not in page and "<img onerror" not in page
    assert "Content-Security-Policy" in page


def test_a_feedback_page_names_parts_as_the_notebook_does_draws_its_math_and_fits_a_phone():
    from conftest import REPO

    source = nbformat.read(REPO / "source_notebooks" / "mlp" / "mlp.ipynb", as_version=4)
    source.cells.insert(
        0, nbformat.v4.new_markdown_cell("Softmax: $\\sigma(z)_i = e^{z_i} / \\sum_j e^{z_j}$")
    )
    parts = [PartResult("test_make_mlp", 2, 2), PartResult("test_softmax", 0, 2, "wrong sum")]
    page = render_feedback(NotebookGrade("s1", "mlp", "mlp.ipynb", "graded", 4, parts), source)
    table = page.split("<table>")[1].split("</table>")[0]
    assert "<td>Part 3: the same network in PyTorch</td>" in table, "one test under its heading: the heading"
    assert "Part 1: softmax and cross-entropy, stable (test_softmax)" in table, "several: heading and id"
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in page
    assert "$\\sigma" not in page, "no raw TeX left on the page"
    assert "<meta name='viewport' content='width=device-width, initial-scale=1'>" in page
    assert "<script" not in page, "the math needs no script"
