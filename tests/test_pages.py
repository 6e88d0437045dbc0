"""Pages made from students' notebooks run nothing of the student's: escaped values, no script allowed."""

import nbformat
import pytest

from autograder.core.model import NotebookGrade, PartResult
from autograder.outputs.feedback import render_feedback
from autograder.outputs.report import render_report

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


@pytest.mark.slow
@pytest.mark.browser
def test_in_a_browser_nothing_of_a_hostile_notebook_runs_on_its_pages(tmp_path):
    """Chromium opens the feedback page and the report made from a hostile notebook: no script, no markup."""
    from browser import browse

    notebook = hostile_notebook()
    notebook.cells[
        0
    ].source = "x = '</pre><script>window.pwned = 1</script><img src=x onerror=\"window.pwned=2\">'"
    notebook.cells[0].outputs.append(
        nbformat.v4.new_output("display_data", data={"text/html": "<script>window.pwned = 3</script>"})
    )
    notebook.cells[0].outputs.append(
        nbformat.v4.new_output(
            "error", ename="<script>window.pwned=4</script>", evalue="<b>x</b>", traceback=[]
        )
    )
    grade = NotebookGrade("<img src=x onerror=window.pwned=5>", "warmup", "warmup.ipynb", "graded", 7)
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "feedback.html").write_text(render_feedback(grade, notebook), encoding="utf-8")
    (pages / "report.html").write_text(render_report("warmup", [grade]), encoding="utf-8")
    with browse(pages, tmp_path / "profile") as (browser, base):
        for page in ("feedback.html", "report.html"):
            browser.open(f"{base}/{page}", settle=2)
            assert browser.evaluate("document.readyState") == "complete"
            assert browser.evaluate("typeof window.pwned") == "undefined", page
            assert browser.evaluate("document.scripts.length") == 0, page
            assert browser.evaluate("document.querySelectorAll('img[src=\"x\"], b').length") == 0, page
            assert "window.pwned" in browser.evaluate("document.body.innerText"), "shown as text"
        assert browser.failed_requests() == [], "the pages load nothing"
