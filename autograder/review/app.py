"""App: the TA view, a small web app on loopback where people grade written answers question by question.

`autograder review ASSIGNMENT --out DIR` serves it. A TA opens one question and reads every student's
answer to it in a row, with the question, its mark scheme and model answer beside, ticks rubric
items (reusable comments with points), adds an adjustment or a comment of their own, and saves; the
next waiting answer follows. Rubric items can be changed at any time: every answer that has one is
re-graded by it, since a grade's points are worked out from the rubric as it stands.

- Blind by default: answers are numbered in an order that says nothing about who wrote them.
- Several TAs at once: each save names the version of the grade it was based on; a grade someone
  else saved in the meantime is shown to the TA instead of being overwritten (`ManualConflict`). On
  the PostgreSQL gradebook each TA runs their own `autograder review` against the same database.
- Safe on a shared machine: it listens on 127.0.0.1 only and answers only a browser that opened the
  secret link it prints (then a same-site cookie). Its pages run no script.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from autograder.core.model import ManualScore, PartKind
from autograder.outputs.gradebook import Gradebook
from autograder.outputs.manual_scores import ManualConflict, answer_digest
from autograder.outputs.pages import markdown_html, page
from autograder.review.questions import Answer, Question, answers_to

COOKIE = "autograder_review"

_NOTHING_FOUND = {
    PartKind.ANSWER: "(no answer)",
    PartKind.TASK: "(no cells right under the task: its work may be elsewhere in the notebook, in"
    " `graded/<student_id>/` of the grading folder)",
}

STYLE = """
body { max-width: 80rem; }
.columns { display: grid; grid-template-columns: 3fr 2fr; gap: 2rem; }
.given, .scheme { background: #f3f6fa; padding: .2rem 1rem; border-radius: 4px; }
.written { border-left: 4px solid #0072b2; padding: .2rem 1rem; }
nav { display: flex; gap: 1.5rem; flex-wrap: wrap; } label { display: block; margin: .4rem 0; }
textarea { width: 100%; min-height: 5rem; } .notice { background: #fff3cd; padding: .5rem 1rem; }
"""


@dataclass
class ReviewApp:
    """The TA view of one assignment's written questions, over a gradebook."""

    assignment: str
    questions: list[Question]
    gradebook: Gradebook
    grader: str
    blind: bool = True
    names: dict[str, str] = field(default_factory=dict)
    excluded: frozenset[str] = frozenset()
    """Students left out of the course (c.Autograder.excluded): their answers are not shown."""
    token: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    def answers(self, question: Question) -> list[Answer]:
        grades = [g for g in self.gradebook.grades_of(self.assignment) if g.student_id not in self.excluded]
        return answers_to(question, grades, self.gradebook.manual_scores_of(self.assignment))

    def serve(self, port: int = 0) -> ThreadingHTTPServer:
        """A server for this app on 127.0.0.1 (`port` 0: any free one); run its `serve_forever`."""
        return ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))

    # Pages

    def index(self) -> str:
        rows = ["<table><tr><th>question</th><th>notebook</th><th>points</th><th>graded</th><th></th></tr>"]
        for number, question in enumerate(self.questions):
            answers = self.answers(question)
            done = sum(1 for a in answers if not a.part.pending)
            rows.append(
                f"<tr><td>{escape(question.grade_id)}</td><td>{escape(question.notebook)}</td>"
                f"<td>{question.max_points:g}</td><td>{done} of {len(answers)}</td>"
                f"<td><a href='/q/{number}'>grade</a> &middot; <a href='/rubric/{number}'>rubric</a></td></tr>"
            )
        rows.append("</table>")
        blind = "blind: students are not named" if self.blind else "students are named (--show-names)"
        body = [
            f"<h1>{escape(self.assignment)}: written answers</h1>",
            f"<p>Grading as <strong>{escape(self.grader)}</strong>; {blind}.</p>",
            *rows,
        ]
        if not self.questions:
            body.append("<p>This assignment has no manually graded answers or tasks.</p>")
        return page(f"{self.assignment}: written answers", body, STYLE)

    def answer_page(self, number: int, index: int, notice: str = "", shown: ManualScore | None = None) -> str:
        question = self.questions[number]
        answers = self.answers(question)
        answer = answers[index]
        rubric = self.gradebook.rubric(self.assignment, question.notebook, question.grade_id)
        score = (
            shown
            or answer.score
            or ManualScore(self.assignment, answer.student_id, question.notebook, question.grade_id)
        )
        done = sum(1 for a in answers if not a.part.pending)
        who = "" if self.blind else f": {answer.student_id} {self.names.get(answer.student_id, '')}".rstrip()
        state = "waiting" if answer.part.pending else f"graded by {escape(score.grader)}"
        items = "".join(
            f"<label><input type='checkbox' name='item' value='{escape(item.item_id)}'"
            f"{' checked' if item.item_id in score.items else ''}> {escape(item.text)} ({item.points:+g})</label>"
            for item in rubric
        )
        body = [
            "<nav><a href='/'>all questions</a>"
            f"<a href='/rubric/{number}'>rubric of this question</a>"
            f"<span>answer {index + 1} of {len(answers)}</span><span class='progress'>graded {done} of"
            f" {len(answers)}</span></nav>",
            f"<h1>{escape(question.grade_id)} <small>({question.max_points:g} points)</small></h1>",
            f"<p class='notice'>{escape(notice)}</p>" if notice else "",
            "<div class='columns'><section>",
            f"<h2>Question</h2><div class='given'>{markdown_html(question.prompt)}</div>",
            f"<h2>Answer {index + 1}{escape(who)} <small>({state})</small></h2>",
            f"<div class='written'>{_written(question, answer.part.answer or _NOTHING_FOUND[question.kind])}</div>",
            "</section><aside>",
            f"<h2>Mark scheme</h2><div class='scheme'>{markdown_html(question.mark_scheme or '(none)')}</div>",
            f"<h2>Model answer</h2><div class='scheme'>{_written(question, question.model_answer)}</div>"
            if question.model_answer
            else "",
            "</aside></div>",
            f"<form method='post' action='/q/{number}/{index + 1}'>",
            f"<fieldset><legend>Rubric</legend>{items or '<p>No items yet: add some on the rubric page.</p>'}",
            "</fieldset>",
            f"<label>Adjustment (points added to the items') <input type='number' step='any' name='adjustment'"
            f" value='{score.adjustment:g}'></label>",
            "<label>Comment for the student <textarea name='comment'>"
            f"{escape(score.comment)}</textarea></label>",
            f"<input type='hidden' name='version' value='{score.version}'>",
            f"<input type='hidden' name='digest' value='{answer_digest(answer.part.answer)}'>",
            "<button type='submit' id='save'>Save and next</button></form>",
            f"<p>Points: {score.points(rubric, question.max_points):g} / {question.max_points:g}</p>",
        ]
        return page(f"{question.grade_id}: answer {index + 1}", body, STYLE)

    def rubric_page(self, number: int) -> str:
        question = self.questions[number]
        rubric = self.gradebook.rubric(self.assignment, question.notebook, question.grade_id)
        used = {item.item_id: 0 for item in rubric}
        for answer in self.answers(question):
            for item_id in answer.score.items if answer.score else ():
                used[item_id] = used.get(item_id, 0) + 1
        rows = "".join(
            f"<form method='post'><input type='hidden' name='item_id' value='{escape(item.item_id)}'>"
            f"<input name='text' size='60' value='{escape(item.text)}'> "
            f"<input name='points' type='number' step='any' value='{item.points:g}'> "
            f"<button name='action' value='save'>save</button> <button name='action' value='delete'>delete</button>"
            f" <small>on {used.get(item.item_id, 0)} answers</small></form>"
            for item in rubric
        )
        body = [
            f"<nav><a href='/'>all questions</a><a href='/q/{number}'>grade this question</a></nav>",
            f"<h1>Rubric of {escape(question.grade_id)} <small>({question.max_points:g} points)</small></h1>",
            "<p>Each item is a comment the student reads and the points it adds (negative: takes off). A"
            " change applies at once to every answer that has the item.</p>",
            rows,
            "<h2>New item</h2><form method='post'><input name='text' size='60' placeholder='comment'>"
            " <input name='points' type='number' step='any' value='1'>"
            " <button name='action' value='add' id='add'>add</button></form>",
        ]
        return page(f"rubric of {question.grade_id}", body, STYLE)

    # Actions

    def save(self, number: int, index: int, form: dict[str, list[str]]) -> tuple[str, str]:
        """Store a TA's grade from the form; return where to go next, or ('', page) after a conflict."""
        question = self.questions[number]
        answers = self.answers(question)
        answer = answers[index]
        score = ManualScore(
            self.assignment,
            answer.student_id,
            question.notebook,
            question.grade_id,
            items=tuple(form.get("item", [])),
            adjustment=_number(form.get("adjustment", ["0"])[0]),
            comment=form.get("comment", [""])[0].replace("\r\n", "\n"),
            grader=self.grader,
            answer_digest=form.get("digest", [""])[0],
            version=int(_number(form.get("version", ["0"])[0])),
        )
        try:
            self.gradebook.save_manual_score(score)
        except ManualConflict as conflict:
            notice = (
                f"{conflict.current.grader or 'Someone'} saved a grade of this answer while you had it open;"
                " theirs is shown. Save again to replace it with yours."
            )
            return "", self.answer_page(number, index, notice, conflict.current)
        answers = self.answers(question)
        waiting = [i for i, a in enumerate(answers) if a.part.pending]
        after = [i for i in waiting if i > index] or waiting
        return (f"/q/{number}/{after[0] + 1}" if after else "/"), ""

    def edit_rubric(self, number: int, form: dict[str, list[str]]) -> None:
        question = self.questions[number]
        action = form.get("action", [""])[0]
        text = form.get("text", [""])[0].strip()
        where = (self.assignment, question.notebook, question.grade_id)
        if action == "delete":
            self.gradebook.delete_rubric_item(*where, form.get("item_id", [""])[0])
        elif text and action in ("add", "save"):
            item_id = form.get("item_id", [""])[0] if action == "save" else ""
            self.gradebook.save_rubric_item(*where, text, _number(form.get("points", ["0"])[0]), item_id)

    def first_waiting(self, number: int) -> int:
        answers = self.answers(self.questions[number])
        return next((i for i, a in enumerate(answers) if a.part.pending), 0)


def _written(question: Question, text: str) -> str:
    """A student's answer (or the model answer) as the TA reads it: code as typed, text rendered."""
    if question.is_code:
        return f"<pre>{escape(text)}</pre>"
    return markdown_html(text)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _handler_for(app: ReviewApp) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
            return None  # quiet: the terminal is the TA's

        def _allowed(self) -> bool:
            cookie = SimpleCookie(self.headers.get("Cookie", ""))
            held = cookie[COOKIE].value if COOKIE in cookie else ""
            return secrets.compare_digest(held, app.token)

        def _send(self, status: HTTPStatus, html: str = "", location: str = "", cookie: str = "") -> None:
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            if cookie:
                self.send_header("Set-Cookie", f"{COOKIE}={cookie}; HttpOnly; SameSite=Strict; Path=/")
            body = html.encode()
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _route(self) -> tuple[str, list[int]] | None:
            parts = urlsplit(self.path).path.strip("/").split("/")
            try:
                numbers = [int(p) for p in parts[1:]]
            except ValueError:
                return None
            if parts[0] in ("q", "rubric") and numbers and 0 <= numbers[0] < len(app.questions):
                return parts[0], numbers
            return ("index", []) if parts == [""] else None

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            query = parse_qs(urlsplit(self.path).query)
            if query.get("token") and secrets.compare_digest(query["token"][0], app.token):
                self._send(HTTPStatus.SEE_OTHER, location=urlsplit(self.path).path, cookie=app.token)
                return
            if not self._allowed():
                self._send(HTTPStatus.FORBIDDEN, "<p>Open the link `autograder review` printed.</p>")
                return
            route = self._route()
            if route is None:
                self._send(HTTPStatus.NOT_FOUND, "<p>No such page.</p>")
            elif route[0] == "index":
                self._send(HTTPStatus.OK, app.index())
            elif route[0] == "rubric":
                self._send(HTTPStatus.OK, app.rubric_page(route[1][0]))
            elif len(route[1]) == 1:
                self._send(
                    HTTPStatus.SEE_OTHER, location=f"/q/{route[1][0]}/{app.first_waiting(route[1][0]) + 1}"
                )
            else:
                self._answer(
                    route[1], lambda number, index: self._send(HTTPStatus.OK, app.answer_page(number, index))
                )

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            if not self._allowed():
                self._send(HTTPStatus.FORBIDDEN, "<p>Open the link `autograder review` printed.</p>")
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"), keep_blank_values=True)
            route = self._route()
            if route is None:
                self._send(HTTPStatus.NOT_FOUND, "<p>No such page.</p>")
            elif route[0] == "rubric":
                app.edit_rubric(route[1][0], form)
                self._send(HTTPStatus.SEE_OTHER, location=f"/rubric/{route[1][0]}")
            elif len(route[1]) == 2:
                self._answer(route[1], lambda number, index: self._after_save(*app.save(number, index, form)))
            else:
                self._send(HTTPStatus.NOT_FOUND, "<p>No such page.</p>")

        def _after_save(self, location: str, conflict_page: str) -> None:
            if location:
                self._send(HTTPStatus.SEE_OTHER, location=location)
            else:
                self._send(HTTPStatus.CONFLICT, conflict_page)

        def _answer(self, numbers: list[int], then: Callable[[int, int], None]) -> None:
            number, index = numbers[0], numbers[1] - 1
            if 0 <= index < len(app.answers(app.questions[number])):
                then(number, index)
            else:
                self._send(HTTPStatus.NOT_FOUND, "<p>No such answer.</p>")

    return Handler
