"""Feedback: one self-contained HTML page per student notebook, readable offline.

The page opens with the score, a table of the parts (named by the notebook's own headings) with
the reason for every lost point and what the grader repaired in the notebook, then shows the graded
notebook with its outputs. Errors are shown as one line each, never as a raw traceback. Math in the
notebook's text is turned into MathML here, which browsers draw without any script: the page stays
self-contained, offline, and under a policy that lets no script run.

The hidden tests appear as they ran, nbgrader's way, unless the course sets
`c.Autograder.hidden_tests_in_feedback = False`: then each test cell shows its code as released (the
lines between `### BEGIN HIDDEN TESTS` and `### END HIDDEN TESTS` cut out), a cell with hidden tests
shows its part's message instead of its outputs, and any other output or message that quotes a line
of a hidden test is left out (`conceal_hidden_tests`): a student's cell that prints the kernel's
input history shows nothing of them.
"""

import base64
import json
import re
from dataclasses import replace
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
    split_hidden_tests,
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


MIN_HIDDEN_LINE = 12
"""Shorter hidden lines (`x = 0`, `else:`) are too common to tell a leak from a coincidence in free text
(a failed check that quotes a line is caught whatever its length)."""
CONCEALED = "a hidden test failed (its code is not shown)"
LEFT_OUT = "[output left out: it showed the code of a hidden test]"


def write_feedback(
    path: Path, grade: NotebookGrade, executed: NotebookNode | None, show_hidden_tests: bool = True
) -> None:
    """Write the feedback page of one graded notebook; `executed` is None when nothing ran."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_feedback(grade, executed, show_hidden_tests), encoding="utf-8")


def hidden_test_lines(executed: NotebookNode | None) -> frozenset[str]:
    """The lines (stripped, none empty) of the hidden tests of the notebook as it was graded."""
    if executed is None:
        return frozenset()
    lines = (
        line.strip()
        for cell in executed.cells
        if is_test(cell) and not is_grader_cell(cell)
        for line in split_hidden_tests(cell.source)[1]
    )
    return frozenset(line for line in lines if line)


def reveals(text: str, hidden: frozenset[str]) -> bool:
    """Whether `text` quotes a line of the hidden tests: a long one anywhere, any one as a failed check's."""
    text = str(text)
    for line in hidden:
        if len(line) >= MIN_HIDDEN_LINE and line in text:
            return True
        if text.rstrip().endswith(f": {line}"):
            return True
    return False


def conceal_hidden_tests(grade: NotebookGrade, executed: NotebookNode | None) -> NotebookGrade:
    """`grade` with every message that quotes a hidden test's line replaced by `CONCEALED`.

    For courses that keep the hidden tests hidden: the messages reach the feedback page and the LMS's
    comment. A message from `observe` (its name, expected against got, the hint) stays as it is.
    """
    hidden = hidden_test_lines(executed)
    if not hidden:
        return grade
    parts = [replace(p, message=CONCEALED) if reveals(p.message, hidden) else p for p in grade.parts]
    message = CONCEALED if reveals(grade.message, hidden) else grade.message
    return replace(grade, parts=parts, message=message)


def keep_graded_notebook(out_dir: Path, grade: NotebookGrade, executed: NotebookNode | None) -> None:
    """Keep the executed notebook of a grade with written parts, for `rewrite_feedback`."""
    path = graded_notebook_path(out_dir, grade)
    if executed is None or not any(part.is_manual for part in grade.parts):
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Plain JSON, not nbformat.writes: the guard's cells share ids with the tests they copy, which
    # nbformat would warn about on the teacher's terminal; nothing but this module reads the file.
    path.write_text(json.dumps(executed), encoding="utf-8")


def rewrite_feedback(out_dir: Path, grade: NotebookGrade, show_hidden_tests: bool = True) -> None:
    """Write a page again with what the TAs gave its written parts, from the notebook kept at grading."""
    kept = graded_notebook_path(out_dir, grade)
    executed = nbformat.v4.reads(kept.read_text(encoding="utf-8")) if kept.exists() else None
    write_feedback(feedback_path(out_dir, grade), grade, executed, show_hidden_tests)


def render_feedback(
    grade: NotebookGrade, executed: NotebookNode | None, show_hidden_tests: bool = True
) -> str:
    """The feedback page as an HTML string; `show_hidden_tests` False keeps the hidden tests' code out."""
    hidden = frozenset() if show_hidden_tests else hidden_test_lines(executed)
    if hidden:
        grade = conceal_hidden_tests(grade, executed)
    messages = {part.grade_id: part.message for part in grade.parts}
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
        body.extend(
            _render_cell(cell, hidden, messages) for cell in executed.cells if not is_grader_cell(cell)
        )
    return page(title, body)


def _part_note(part: PartResult) -> str:
    """The table's last column: why points were lost, or what the TA wrote."""
    if part.is_manual and not part.pending:
        said = "<br>".join(escape(line) for line in part.comment.splitlines()) or "graded by a TA"
        return f"<span class='comment'>{said}</span>"
    if part.pending:
        return escape(part.message or "waiting for a TA")
    return escape(part.message) or "passed"


def _render_cell(cell: NotebookNode, hidden: frozenset[str], messages: dict[str, str]) -> str:
    """One cell of the page; with `hidden` (the hidden tests' lines) none of them shows."""
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
    source = cell.source
    outputs = "".join(_render_output(out, hidden) for out in cell.get("outputs", []))
    if hidden and is_test(cell):
        source, its_hidden = split_hidden_tests(cell.source)
        if its_hidden:
            # Its outputs come from the hidden lines as much as the visible ones: the message alone.
            said = messages.get(nbgrader_meta(cell)["grade_id"], "") or "passed"
            outputs = f"<p class='note'>hidden tests ran here: {escape(said)}</p>"
    return (
        f"<div class='cell {kind}'><div class='label'>{escape(label)}</div>"
        f"<pre class='source'>{escape(source)}</pre>{outputs}</div>"
    )


def _output_text(output: NotebookNode) -> str:
    """Every text an output holds (stream, error, each of its data's text forms), one per line."""
    texts = [output.get("text", ""), output.get("ename", ""), output.get("evalue", "")]
    texts += output.get("traceback", []) or []
    texts += [value for value in (output.get("data", {}) or {}).values() if isinstance(value, str)]
    texts += [
        line for value in (output.get("data", {}) or {}).values() if isinstance(value, list) for line in value
    ]
    return "\n".join(str(text) for text in texts)


def _render_output(output: NotebookNode, hidden: frozenset[str] = frozenset()) -> str:
    if hidden and reveals(_output_text(output), hidden):
        return f"<p class='note'>{escape(LEFT_OUT)}</p>"
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
