"""Feedback: one self-contained HTML page per student notebook, readable offline.

The page opens with the score, a table of the parts (named by the notebook's own headings) with
the reason for every lost point and what the grader repaired in the notebook, then shows the graded
notebook with its outputs. Errors are shown as one line each, never as a raw traceback. Math in the
notebook's text is turned into MathML here, which browsers draw without any script: the page stays
self-contained, offline, and under a policy that lets no script run.
"""

import base64
import re
from html import escape
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.core.cells import (
    is_answer,
    is_graded,
    is_grader_cell,
    is_manual_answer,
    is_student_cell,
    is_test,
    nbgrader_meta,
)
from autograder.core.model import NotebookGrade, PartResult
from autograder.outputs.pages import markdown_html, markdown_inline, page


def part_names(notebook: NotebookNode) -> dict[str, str]:
    """Each test's name as the notebook puts it: the heading above it ("Part 2: relu'(x)").

    Where one heading holds several tests, the test's id follows in brackets.
    """
    heading, under = "", {}
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            titles = re.findall(r"^#{1,4}\s+(.+?)\s*#*\s*$", cell.source, flags=re.M)
            heading = titles[-1] if titles else heading
        elif is_graded(cell) and heading:
            under.setdefault(heading, []).append(nbgrader_meta(cell)["grade_id"])
    return {
        grade_id: heading if len(ids) == 1 else f"{heading} ({grade_id})"
        for heading, ids in under.items()
        for grade_id in ids
    }


def feedback_path(out_dir: Path, grade: NotebookGrade) -> Path:
    """Where the page of a student's notebook goes: `<out>/feedback/<student_id>/<notebook>.html`."""
    return out_dir / "feedback" / grade.student_id / Path(grade.notebook).with_suffix(".html").name


def graded_notebook_path(out_dir: Path, grade: NotebookGrade) -> Path:
    """Where the notebook as it was graded is kept, to write its page again when a TA grades it.

    Under `<out>/graded/`, which holds the hidden tests: for the teacher, never handed out.
    """
    return out_dir / "graded" / grade.student_id / Path(grade.notebook).name


def write_feedback(path: Path, grade: NotebookGrade, executed: NotebookNode | None) -> None:
    """Write the feedback page of one graded notebook; `executed` is None when nothing ran."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_feedback(grade, executed), encoding="utf-8")


def keep_graded_notebook(out_dir: Path, grade: NotebookGrade, executed: NotebookNode | None) -> None:
    """Keep the executed notebook of a grade with written parts, for `rewrite_feedback`."""
    path = graded_notebook_path(out_dir, grade)
    if executed is None or not any(part.is_manual for part in grade.parts):
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(executed), encoding="utf-8")


def rewrite_feedback(out_dir: Path, grade: NotebookGrade) -> None:
    """Write a page again with what the TAs gave its written parts, from the notebook kept at grading."""
    kept = graded_notebook_path(out_dir, grade)
    executed = nbformat.reads(kept.read_text(encoding="utf-8"), as_version=4) if kept.exists() else None
    write_feedback(feedback_path(out_dir, grade), grade, executed)


def render_feedback(grade: NotebookGrade, executed: NotebookNode | None) -> str:
    """The feedback page as an HTML string."""
    title = f"{grade.assignment}: feedback for {grade.student_id}"
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p><strong>Score: {grade.score:g} / {grade.max_score:g}</strong> &middot; "
        f"notebook <code>{escape(grade.notebook)}</code> &middot; status <code>{escape(grade.status)}</code></p>",
    ]
    if grade.message:
        body.append(f"<p class='error'>{escape(grade.message)}</p>")
    body.append("<table><tr><th>part</th><th>points</th><th>what to fix</th></tr>")
    names = part_names(executed) if executed is not None else {}
    for part in grade.parts:
        css = "pass" if part.points == part.max_points else "fail"
        if part.pending:
            css, points = "pending", f"? / {part.max_points:g}"
        else:
            points = f"{part.points:g} / {part.max_points:g}"
        body.append(
            f"<tr class='{css}'><td>{markdown_inline(names.get(part.grade_id, part.grade_id))}</td>"
            f"<td>{points}</td><td>{_part_note(part)}</td></tr>"
        )
    body.append("</table>")
    if grade.pending_manual:
        body.append(
            f"<p>{len(grade.pending_manual)} written part(s) wait for a TA; the score above does not count"
            " them yet.</p>"
        )
    if grade.late_note:
        body.append(f"<h2>Late</h2><p>{escape(grade.late_note)}</p>")
    for heading, lines in (
        ("How your files were read", grade.notices),
        ("What the grader repaired in your notebook", grade.repairs),
    ):
        if lines:
            items = "".join(f"<li>{escape(line)}</li>" for line in lines)
            body.append(f"<h2>{heading}</h2><ul>{items}</ul>")
    if executed is not None:
        body.append("<h2>Your notebook as it was graded</h2>")
        body.extend(_render_cell(cell) for cell in executed.cells if not is_grader_cell(cell))
    return page(title, body)


def _part_note(part: PartResult) -> str:
    """The table's last column: why points were lost, or what the TA wrote."""
    if part.is_manual and not part.pending:
        said = "<br>".join(escape(line) for line in part.comment.splitlines()) or "graded by a TA"
        return f"<span class='comment'>{said}</span>"
    if part.pending:
        return escape(part.message or "waiting for a TA")
    return escape(part.message) or "passed"


def _render_cell(cell: NotebookNode) -> str:
    if cell.cell_type == "markdown" and is_manual_answer(cell):
        label = f"your written answer ({nbgrader_meta(cell)['grade_id']})"
        return (
            f"<div class='cell answer'><div class='label'>{escape(label)}</div>"
            f"<div class='written'>{markdown_html(cell.source)}</div></div>"
        )
    if cell.cell_type == "markdown":
        return f"<div class='cell'>{markdown_html(cell.source)}</div>"
    if cell.cell_type != "code":
        return ""
    if is_answer(cell):
        kind, label = "answer", f"your answer ({nbgrader_meta(cell)['grade_id']})"
    elif is_test(cell):
        kind, label = "test", f"tests ({nbgrader_meta(cell)['grade_id']})"
    elif is_student_cell(cell):
        kind, label = "answer", "a cell you added"
    else:
        kind, label = "given", "given code"
    outputs = "".join(_render_output(out) for out in cell.get("outputs", []))
    return (
        f"<div class='cell {kind}'><div class='label'>{escape(label)}</div>"
        f"<pre class='source'>{escape(cell.source)}</pre>{outputs}</div>"
    )


def _render_output(output: NotebookNode) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return f"<pre>{escape(output.get('text', ''))}</pre>"
    if kind == "error":
        return (
            f"<p class='error'>{escape(output.get('ename', ''))}: {escape(str(output.get('evalue', '')))}</p>"
        )
    data = output.get("data", {})
    if "image/png" in data:
        # Re-encoded from the decoded bytes: text that is not base64 can never reach the page.
        try:
            png = base64.b64decode("".join(str(data["image/png"]).split()), validate=True)
        except ValueError:
            return "<p class='error'>[an image that was not valid PNG data was left out]</p>"
        encoded = base64.b64encode(png).decode("ascii")
        return f"<img alt='a figure your code drew' src='data:image/png;base64,{encoded}'>"
    if "text/plain" in data:
        return f"<pre>{escape(str(data['text/plain']))}</pre>"
    return ""
