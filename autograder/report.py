"""Report: one offline HTML page for the teacher about a whole grading run.

It answers three questions: how did the class do, which parts did most students fail (the ones to
teach again), and which hand-ins need a human look (errors, time-outs, repaired notebooks).
"""

from html import escape
from pathlib import Path

from autograder.feedback import STYLE
from autograder.model import NotebookGrade

UNSANDBOXED = "Graded without the sandbox: the students' code ran with the teacher's rights."


def write_report(path: Path, assignment: str, grades: list[NotebookGrade], sandboxed: bool = True) -> None:
    """Write the report page of one assignment's grading run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(assignment, grades, sandboxed), encoding="utf-8")


def render_report(assignment: str, grades: list[NotebookGrade], sandboxed: bool = True) -> str:
    """The report page as an HTML string."""
    grades = sorted(grades, key=lambda g: (g.student_id, g.notebook))
    body = [f"<h1>{escape(assignment)}: grading report</h1>"]
    if not sandboxed:
        body.append(f"<p class='error'>{escape(UNSANDBOXED)}</p>")
    if grades:
        mean = sum(g.score for g in grades) / len(grades)
        body.append(
            f"<p>{len({g.student_id for g in grades})} students, {len(grades)} notebooks; "
            f"mean score {mean:.2f} / {grades[0].max_score:g}.</p>"
        )
    body.append("<h2>Parts, hardest first</h2><table><tr><th>part</th><th>passed by</th></tr>")
    for part, passed, total in _pass_rates(grades):
        body.append(f"<tr><td>{escape(part)}</td><td>{passed} of {total} ({passed / total:.0%})</td></tr>")
    body.append("</table>")
    look = [g for g in grades if g.status != "graded" or g.repairs]
    body.append(f"<h2>Needs a human look ({len(look)})</h2>")
    body.append(_table(look) if look else "<p>Nothing: every notebook ran cleanly and needed no repair.</p>")
    body.append("<h2>Every notebook</h2>")
    body.append(_table(grades))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(assignment)}: grading report</title><style>{STYLE}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def _pass_rates(grades: list[NotebookGrade]) -> list[tuple[str, int, int]]:
    """(part, students who passed it, students graded) for every part, the least passed first."""
    counts: dict[str, list[int]] = {}
    for grade in grades:
        for part in grade.parts:
            passed_total = counts.setdefault(part.grade_id, [0, 0])
            passed_total[0] += part.points == part.max_points
            passed_total[1] += 1
    return sorted(((p, n, t) for p, (n, t) in counts.items()), key=lambda row: (row[1] / row[2], row[0]))


def _table(grades: list[NotebookGrade]) -> str:
    rows = [
        "<table><tr><th>student</th><th>notebook</th><th>score</th><th>status</th>"
        "<th>seconds</th><th>message and repairs</th></tr>"
    ]
    for g in grades:
        notes = "<br>".join(escape(line) for line in [g.message, *g.repairs] if line)
        css = "pass" if g.status == "graded" else "fail"
        rows.append(
            f"<tr><td>{escape(g.student_id)}</td><td>{escape(g.notebook)}</td>"
            f"<td>{g.score:g} / {g.max_score:g}</td><td class='{css}'>{escape(g.status)}</td>"
            f"<td>{g.seconds:.1f}</td><td>{notes}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)
