"""Report: one offline HTML page for the teacher about a whole grading run.

It answers four questions: how did the class do (a histogram of the scores, the runtimes), which
parts did most students fail (the ones to teach again), how many written answers still wait for a
TA, per question, and which hand-ins need a human look
(errors, time-outs, repaired notebooks, late hand-ins, suspected tampering and code that
reaches into the grading machinery, with its lines). Excused students are listed with the
teacher's reason and left out of the class's figures; excluded ones are named once, as left out;
deadline extensions are shown with each student's notebooks. The page loads nothing: the histogram
is an inline PNG, so it opens offline and can be mailed as it is.
"""

import base64
import importlib
import io
import statistics
import threading
from collections import defaultdict
from html import escape
from pathlib import Path

from autograder.core.attendance import Attendance
from autograder.core.model import NotebookGrade, Status
from autograder.outputs.pages import page

UNSANDBOXED = "Graded without the sandbox: the students' code ran with the teacher's rights."
BAR_COLOUR = "#0072b2"
"""Okabe-Ito blue: tells apart from the page's text and background in every kind of colour blindness."""


_PLOTTING = ("matplotlib.figure", "matplotlib.backends.backend_agg")
"""What the histogram imports: most of a second, so imported here only when the page is drawn."""


def load_plotting_in_background() -> None:
    """Start importing what the histogram needs, for a caller that waits on something else meanwhile.

    Not before the caller forks processes: a child forked while this import holds its locks would
    find them held for ever.
    """
    threading.Thread(
        target=lambda: [importlib.import_module(name) for name in _PLOTTING], daemon=True
    ).start()


def write_report(
    path: Path,
    assignment: str,
    grades: list[NotebookGrade],
    names: dict[str, str] | None = None,
    attendance: Attendance | None = None,
    left_out: list[str] | tuple[str, ...] = (),
) -> None:
    """Write the report page of one assignment's grades; `names` maps student ids to LMS names.

    `grades` are as the outputs show them (`Attendance.apply`); `left_out` names the excluded students.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(assignment, grades, names, attendance, left_out), encoding="utf-8")


def render_report(
    assignment: str,
    grades: list[NotebookGrade],
    names: dict[str, str] | None = None,
    attendance: Attendance | None = None,
    left_out: list[str] | tuple[str, ...] = (),
) -> str:
    """The report page as an HTML string."""
    names = names or {}
    extensions = attendance.extensions if attendance else {}
    shown = sorted(grades, key=lambda g: (g.student_id, g.notebook))
    # Excused students count in none of the class's figures: their rows are listed on their own.
    excused = [g for g in shown if g.status == Status.EXCUSED]
    grades = [g for g in shown if g.status != Status.EXCUSED]
    body = [f"<h1>{escape(assignment)}: grading report</h1>"]
    if not all(g.sandboxed for g in grades):
        body.append(f"<p class='error'>{escape(UNSANDBOXED)}</p>")
    if grades:
        mean = sum(g.score for g in grades) / len(grades)
        body.append(
            f"<p>{len({g.student_id for g in grades})} students, {len(grades)} notebooks; "
            f"mean score {mean:.2f} / {grades[0].max_score:g}.</p>"
        )
        body.append(_histogram(assignment, grades))
        body.append(_runtimes(grades))
    body.append("<h2>Parts, hardest first</h2><table><tr><th>part</th><th>passed by</th><th>points</th></tr>")
    for part, passed, total, points in _pass_rates(grades):
        body.append(
            f"<tr><td>{escape(part)}</td><td>{passed} of {total} ({passed / total:.0%})</td>"
            f"<td>{points:g}</td></tr>"
        )
    body.append("</table>")
    body.append(_waiting(grades))
    look = [
        g for g in grades if g.status != Status.GRADED or g.repairs or g.notices or g.evidence or g.is_late
    ]
    body.append(f"<h2>Needs a human look ({len(look)})</h2>")
    body.append(
        _table(look, names, extensions)
        if look
        else "<p>Nothing: every notebook ran cleanly, on time and needed no repair.</p>"
    )
    if excused:
        body.append(f"<h2>Excused ({len({g.student_id for g in excused})}), counted in no figure</h2>")
        body.append(_table(excused, names, extensions))
    if left_out:
        body.append(
            f"<h2>Left out ({len(left_out)})</h2><p>Excluded in c.Autograder.excluded, so in no output:"
            f" {escape(', '.join(left_out))}.</p>"
        )
    body.append("<h2>Every notebook</h2>")
    body.append(_table(shown, names, extensions))
    return page(f"{assignment}: grading report", body)


def _pass_rates(grades: list[NotebookGrade]) -> list[tuple[str, int, int, float]]:
    """(part, students who passed it, students graded, its points) for every test cell, least passed first.

    Every grade lists every test cell of its notebook (a notebook that never ran scores them 0), so
    no part goes missing from the table.
    """
    counts: dict[str, list[float]] = {}
    for grade in grades:
        for part in grade.parts:
            if part.pending:
                continue
            row = counts.setdefault(part.grade_id, [0, 0, part.max_points])
            row[0] += part.points == part.max_points
            row[1] += 1
    return sorted(
        ((p, int(n), int(t), points) for p, (n, t, points) in counts.items()),
        key=lambda row: (row[1] / row[2], row[0]),
    )


def _waiting(grades: list[NotebookGrade]) -> str:
    """How many of each written question's answers a TA has still to grade; '' without written parts."""
    questions: dict[tuple[str, str], list[int]] = {}
    for grade in grades:
        for part in grade.parts:
            if part.is_manual:
                row = questions.setdefault((grade.notebook, part.grade_id), [0, 0])
                row[0] += part.pending
                row[1] += 1
    if not questions:
        return ""
    waiting = sum(n for n, _ in questions.values())
    rows = [
        f"<h2>Written answers waiting for a TA ({waiting})</h2>",
        "<table><tr><th>question</th><th>notebook</th><th>waiting</th></tr>",
        *(
            f"<tr><td>{escape(grade_id)}</td><td>{escape(notebook)}</td>"
            f"<td class='{'pending' if n else 'pass'}'>{n} of {total}</td></tr>"
            for (notebook, grade_id), (n, total) in sorted(questions.items())
        ),
        "</table>",
    ]
    return "".join(rows)


def _histogram(assignment: str, grades: list[NotebookGrade]) -> str:
    """The students' scores (their notebooks summed, after late penalties) as an inline PNG with alt text."""
    # Imported here: matplotlib takes most of a second to load, and only this page needs it (see
    # `load_plotting_in_background`).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    scores: dict[str, float] = defaultdict(float)
    maxima: dict[str, float] = defaultdict(float)
    for grade in grades:
        scores[grade.student_id] += grade.score
        maxima[grade.student_id] += grade.max_score
    top = max(maxima.values())
    if top <= 0:
        return ""
    whole = top == int(top) and top <= 50 and all(s == int(s) for s in scores.values())
    # One bar per possible point when scores are whole numbers, else ten equal bins.
    edges = [x - 0.5 for x in range(int(top) + 2)] if whole else [top * i / 10 for i in range(11)]
    counts = [0] * (len(edges) - 1)
    for score in scores.values():
        index = next((i for i in range(len(counts)) if score < edges[i + 1]), len(counts) - 1)
        counts[index] += 1

    figure = Figure(figsize=(6, 2.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.hist(list(scores.values()), bins=edges, color=BAR_COLOUR, edgecolor="white")
    axes.set_xlabel(f"score (out of {top:g})")
    axes.set_ylabel("students")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    png = io.BytesIO()
    # No metadata: the PNG would otherwise carry matplotlib's web address.
    figure.savefig(png, format="png", metadata={"Software": None})
    encoded = base64.b64encode(png.getvalue()).decode()

    if whole:
        bins = [f"{n} scored {i}" for i, n in enumerate(counts) if n]
    else:
        bins = [f"{n} scored {edges[i]:.3g} to {edges[i + 1]:.3g}" for i, n in enumerate(counts) if n]
    alt = f"Histogram of the {len(scores)} students' scores out of {top:g}: {', '.join(bins)}."
    return (
        f"<h2>Scores</h2><figure><img alt='{escape(alt)}' src='data:image/png;base64,{encoded}'>"
        f"<figcaption>{escape(assignment)}: students per score, after late penalties.</figcaption></figure>"
    )


def _runtimes(grades: list[NotebookGrade]) -> str:
    """Median and longest time a notebook ran, counting only notebooks that ran."""
    ran = [g for g in grades if g.seconds > 0]
    if not ran:
        return "<p>Runtime: no notebook ran.</p>"
    slowest = max(ran, key=lambda g: g.seconds)
    return (
        f"<p>Runtime per notebook: median {statistics.median(g.seconds for g in ran):.1f} s, "
        f"longest {slowest.seconds:.1f} s ({escape(slowest.student_id)}), "
        f"{sum(g.seconds for g in ran):.0f} s in all.</p>"
    )


def _table(grades: list[NotebookGrade], names: dict[str, str], extensions: dict[str, str]) -> str:
    rows = [
        "<table><tr><th>student</th><th>notebook</th><th>score</th><th>status</th>"
        "<th>seconds</th><th>messages, lateness, notices and repairs</th></tr>"
    ]
    for g in grades:
        reaching = [f"reaches into the grader: {line}" for line in g.evidence]
        lines = [g.message, extensions.get(g.student_id, ""), g.late_note, *g.notices, *g.repairs, *reaching]
        notes = "<br>".join(escape(line) for line in lines if line)
        css = "pass" if g.status == Status.GRADED else "fail"
        # The late module's note says by how much; the status and score say that it counted.
        status = f"{g.status}, late" if g.is_late else g.status
        penalty = f" ({g.raw_score:g} before the late penalty)" if g.penalty else ""
        rows.append(
            f"<tr><td>{escape(g.student_id)}{_name(names.get(g.student_id))}</td><td>{escape(g.notebook)}</td>"
            f"<td>{g.score:g} / {g.max_score:g}{penalty}</td><td class='{css}'>{escape(status)}</td>"
            f"<td>{g.seconds:.1f}</td><td>{notes}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _name(name: str | None) -> str:
    return f"<br><small>{escape(name)}</small>" if name else ""
