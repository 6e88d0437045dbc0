"""The TA view: people grade one written question across a class, in a real browser, blind, with a rubric.

The class is the made-up essay assignment (tests/synthetic.py) with three students who all wrote an
answer to its question `why`. A TA grades all three in headless Chromium; the grades reach grades.csv
and the feedback pages. Two TAs saving the same answer on one PostgreSQL gradebook never overwrite each
other unseen, and scores graded elsewhere come in from a CSV file.
"""

import csv
import threading
from contextlib import closing, contextmanager

import pytest
from browser import chromium
from synthetic import RELU, grade_essay_class

from autograder.core.errors import CourseError
from autograder.core.model import ManualScore
from autograder.grade import write_outputs
from autograder.outputs.gradebook import Gradebook, sqlite_url
from autograder.outputs.manual_scores import ManualConflict, answer_digest
from autograder.review.app import ReviewApp
from autograder.review.questions import import_scores, questions

ANSWERS = {
    "s2301": "Its gradient is *one* for $x > 0$, so it does not vanish.",
    "s2302": "It is fast to compute.",
    "s2303": "Because the slope is 1 on the positive side.",
}


@pytest.fixture
def essay_class(tmp_path):
    students = {student: ({"relu": RELU, "why": text}, {}) for student, text in ANSWERS.items()}
    return grade_essay_class(tmp_path, students)


@contextmanager
def serving(app: ReviewApp):
    server = app.serve()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def read_csv(path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
@pytest.mark.browser
def test_a_ta_grades_one_question_for_three_students_in_the_browser(essay_class, tmp_path):
    course, _, out, _ = essay_class
    gradebook = Gradebook(sqlite_url(out / "gradebook.sqlite"))
    app = ReviewApp("essay", questions(course, "essay"), gradebook, "ta-maria")
    with serving(app) as base, chromium(tmp_path / "profile") as browser:
        browser.open(f"{base}/rubric/0", settle=1)
        assert "Open the link" in browser.evaluate("document.body.innerText"), (
            "no page without the secret link"
        )

        browser.open(f"{base}/?token={app.token}", settle=1)
        assert "0 of 3" in browser.evaluate("document.body.innerText")
        # The rubric: one reusable comment worth 2 points.
        browser.open(f"{base}/rubric/0", settle=1)
        browser.evaluate(
            "document.querySelector('input[name=text]:not([value])').value = 'Says the gradient does not vanish';"
            "document.querySelector('#add').closest('form').querySelector('input[name=points]').value = '2';"
            "document.querySelector('#add').click(); true"
        )
        browser.wait(1)
        assert "Says the gradient does not vanish" in browser.evaluate("document.body.innerHTML")

        browser.open(f"{base}/q/0", settle=1)
        seen = []
        for _ in ANSWERS:
            text = browser.evaluate("document.body.innerText")
            assert "Full marks: names the zero gradient" in text  # the mark scheme beside the answer
            assert not any(student in text for student in ANSWERS), "blind: no student is named"
            assert browser.evaluate("document.querySelectorAll('math').length") >= 1  # LaTeX drawn as MathML
            answer = browser.evaluate("document.querySelector('.written').innerText").strip()
            seen.append(answer)
            tick = "true" if "vanish" in answer or "slope" in answer else "false"
            browser.evaluate(
                f"document.querySelector('input[name=item]').checked = {tick};"
                "document.querySelector('textarea[name=comment]').value = 'Read by Maria.';"
                "document.querySelector('#save').click(); true"
            )
            browser.wait(1)
        assert len(set(seen)) == 3, "each student's answer once"
        assert browser.evaluate("location.pathname") == "/"  # none left: back to the questions
        assert "3 of 3" in browser.evaluate("document.body.innerText")
        assert not browser.console_errors()

    scores = {s.student_id: s for s in gradebook.manual_scores_of("essay")}
    assert {s: (v.grader, v.comment) for s, v in scores.items()} == {
        s: ("ta-maria", "Read by Maria.") for s in ANSWERS
    }
    write_outputs(out, "essay", gradebook)
    rows = {
        row["student_id"]: (row["score"], row["needs_manual_grade"]) for row in read_csv(out / "grades.csv")
    }
    assert rows == {"s2301": ("4", "1"), "s2302": ("2", "1"), "s2303": ("4", "1")}  # the task waits still
    assert "Read by Maria." in (out / "feedback" / "s2302" / "essay.html").read_text()


def test_two_tas_saving_one_answer_on_postgresql_never_overwrite_each_other(postgres_url, tmp_path):
    course, _, _, _ = grade_essay_class(tmp_path, {"ada": ({"why": "Short."}, {})}, db_url=postgres_url)
    first, second = Gradebook(postgres_url), Gradebook(postgres_url)
    with closing(first), closing(second):
        apps = [
            ReviewApp("essay", questions(course, "essay"), book, ta)
            for book, ta in ((first, "ta1"), (second, "ta2"))
        ]
        form = {"adjustment": ["1"], "comment": ["ok"], "version": ["0"], "digest": [answer_digest("Short.")]}
        # Both opened the answer while it was ungraded (version 0); the first save wins.
        assert apps[0].save(0, 0, form)[0] == "/"
        location, page = apps[1].save(0, 0, {**form, "adjustment": ["3"]})
        assert location == "" and "ta1 saved a grade of this answer while you had it open" in page
        assert first.manual_score("essay", "ada", "essay.ipynb", "why").adjustment == 1
        # Saving again on top of what ta1 saved (the version the conflict page carries) is deliberate.
        assert apps[1].save(0, 0, {**form, "adjustment": ["3"], "version": ["1"]})[0] == "/"
        assert second.get("essay", "ada", "essay.ipynb").raw_score == 3
        with pytest.raises(ManualConflict):
            first.save_manual_score(ManualScore("essay", "ada", "essay.ipynb", "why", version=1))


def test_scores_graded_elsewhere_come_in_from_a_csv_file(essay_class, tmp_path):
    course, _, out, _ = essay_class
    gradebook = Gradebook(sqlite_url(out / "gradebook.sqlite"))
    scores = tmp_path / "scores.csv"
    scores.write_text("student_id,question,points,comment\ns2301,why,3,Clear.\ns2302,why,1,\ndee,why,0,\n")
    with pytest.raises(CourseError, match="line 4: no grade of student 'dee'"):
        import_scores(gradebook, course, "essay", scores)
    assert gradebook.manual_scores_of("essay") == [], "a file with a bad row stores nothing"
    scores.write_text("student_id,question,points,comment\ns2301,why,3,Clear.\ns2302,why,1,\n")
    assert import_scores(gradebook, course, "essay", scores) == 2
    grade = gradebook.get("essay", "s2301", "essay.ipynb")
    why = next(p for p in grade.parts if p.grade_id == "why")
    assert (why.points, why.comment, why.pending) == (3, "Clear.", False)
    scores.write_text("student_id,question,points\ns2301,why,4\n")
    with pytest.raises(CourseError, match="outside 0..3"):
        import_scores(gradebook, course, "essay", scores)
    scores.write_text("student_id,question,points\nada,wy,1\n")
    with pytest.raises(CourseError, match="no written question 'wy'"):
        import_scores(gradebook, course, "essay", scores)


def test_an_excluded_students_answers_are_not_shown(essay_class):
    course, _, out, _ = essay_class
    gradebook = Gradebook(sqlite_url(out / "gradebook.sqlite"))
    app = ReviewApp("essay", questions(course, "essay"), gradebook, "ta", excluded=frozenset({"s2302"}))
    assert {answer.student_id for answer in app.answers(app.questions[0])} == {"s2301", "s2303"}
    assert "0 of 2" in app.index()
