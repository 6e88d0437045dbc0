"""A semester on a university JupyterHub, end to end: nbgrader's exchange, real students, `autograder grade`.

A real JupyterHub runs on loopback (tests/hub.py) with two students who are real OS users, since
nbgrader takes the student id from the OS user. The teacher (this process, root) releases warmup to
a temporary exchange; each student logs in through the hub's REST API, starts their own server and,
in a kernel of it (as `!nbgrader ...` in a notebook cell), fetches the assignment, saves a filled-in
notebook through the server's contents API and submits. The teacher collects, grades the collected
submissions with `autograder grade` (and stores a TA's scores of any written answers with
`autograder review --import`), hands the feedback pages back with `autograder nbgrader-feedback`
and `nbgrader release_feedback`; each student fetches their own page and cannot reach the other's.
"""

import csv
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from hand_ins import answer_cells
from hub import Student, interpreter_paths, jupyterhub, local_users, requirements, traversable_for_everyone

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ASSIGNMENT = "warmup"
COURSE_ID = "dl101"


def _teacher(course: Path, *args: str) -> str:
    """Run a teacher's command in the course folder; its output, or the test fails with it."""
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"}  # nbgrader runs alembic
    result = subprocess.run(
        [str(BIN / args[0]), *args[1:]], cwd=course, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (
        f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout + result.stderr


def _student(student: Student, *args: str) -> str:
    result = student.shell(*args)
    assert result.returncode == 0, (
        f"{student.name}: {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout + result.stderr


def _nbgrader_config(path: Path, exchange: Path, extra: str = "") -> None:
    path.write_text(
        f"c = get_config()  # noqa: F821\nc.Exchange.root = {str(exchange)!r}\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n{extra}"
    )
    path.chmod(0o644)


def _filled_in(released: dict, source: Path, answers: int | None) -> dict:
    """The fetched notebook with the first `answers` answer cells (None: all) pasted from the solution."""
    notebook = nbformat.from_dict(released)
    solution = answer_cells(nbformat.read(source, as_version=4))
    for grade_id, cell in list(answer_cells(notebook).items())[:answers]:
        cell.source = solution[grade_id].source
    return notebook


def _written_questions(source: Path) -> dict[str, float]:
    """The notebook's answers graded by people (nbgrader's manually graded answer cells): grade_id -> points."""
    cells = [c.metadata.get("nbgrader", {}) for c in nbformat.read(source, as_version=4).cells]
    return {m["grade_id"]: float(m["points"]) for m in cells if m.get("grade") and m.get("solution")}


def _fetched_feedback(student: Student) -> str:
    """The one feedback page `nbgrader fetch_feedback` put into the student's home, as they read it."""
    [timestamp] = student.listing(f"{ASSIGNMENT}/feedback")
    assert student.listing(f"{ASSIGNMENT}/feedback/{timestamp}") == [f"{ASSIGNMENT}.html"]
    return student.read_text(f"{ASSIGNMENT}/feedback/{timestamp}/{ASSIGNMENT}.html")


def test_release_submit_grade_and_feedback_through_a_real_jupyterhub():
    missing = requirements()
    assert not missing, "the JupyterHub test needs: " + "; ".join(missing)
    root = Path(tempfile.mkdtemp(prefix="autograder-hub-"))
    try:
        root.chmod(0o755)  # the students reach the exchange and the hub's nbgrader settings through it
        exchange, settings, course = root / "exchange", root / "etc-jupyter", root / "course"
        for folder, mode in ((exchange, 0o755), (settings, 0o755), (course, 0o700)):
            folder.mkdir()
            folder.chmod(mode)
        # What a hub's admin puts in /etc/jupyter/nbgrader_config.py for every student.
        _nbgrader_config(settings / "nbgrader_config.py", exchange)
        _nbgrader_config(
            course / "nbgrader_config.py",
            exchange,
            'c.CourseDirectory.source_directory = "source_notebooks"\n'
            'c.CourseDirectory.release_directory = "assignments"\n',
        )
        shutil.copytree(REPO / "source_notebooks" / ASSIGNMENT, course / "source_notebooks" / ASSIGNMENT)
        source = course / "source_notebooks" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"

        with (
            traversable_for_everyone(*interpreter_paths()),
            local_users(2) as (alice, bob),
            jupyterhub(root / "hub", [alice, bob], {"JUPYTER_CONFIG_PATH": str(settings)}) as hub,
        ):
            # 1. The teacher builds the student version and releases it to the exchange.
            _teacher(course, "autograder", "release", ASSIGNMENT)
            _teacher(course, "nbgrader", "release_assignment", ASSIGNMENT)

            # 2. Each student fetches, fills in (alice: every answer; bob: the first only) and submits.
            students = {alice: hub.login(alice), bob: hub.login(bob)}
            for student in students.values():
                student.wait_for_server()
            for name, student in students.items():
                _student(student, "nbgrader", "fetch_assignment", ASSIGNMENT)
                path = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
                released = student.api("GET", f"contents/{path}").json()["content"]
                student.put_notebook(path, _filled_in(released, source, None if name == alice else 1))
                _student(student, "nbgrader", "submit", ASSIGNMENT)
            # The kernels run as the students themselves, which is where nbgrader's student id comes from.
            for name, student in students.items():
                assert student.execute("import getpass; print(getpass.getuser())").strip() == name

            # 3. The teacher collects and grades what nbgrader collected.
            _teacher(course, "nbgrader", "collect", ASSIGNMENT)
            for name in (alice, bob):
                assert (course / "submitted" / name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
            out = course / "grades" / ASSIGNMENT
            _teacher(course, "autograder", "grade", ASSIGNMENT, "submitted", "--out", str(out))
            written = _written_questions(source)
            if written:  # a TA grades the written answers (alice's right, bob's not) before feedback goes out
                scores_file = root / "ta_scores.csv"
                scores_file.write_text(
                    "student_id,question,points\n"
                    + "".join(f"{alice},{q},{points:g}\n{bob},{q},0\n" for q, points in written.items())
                )
                _teacher(
                    course,
                    "autograder",
                    "review",
                    ASSIGNMENT,
                    "--out",
                    str(out),
                    "--import",
                    str(scores_file),
                )
            with (out / "grades.csv").open(encoding="utf-8") as handle:
                rows = {row["student_id"]: row for row in csv.DictReader(handle)}
            assert set(rows) == {alice, bob}
            scores = {name: (float(row["score"]), float(row["max_score"])) for name, row in rows.items()}
            assert rows[alice]["status"] == rows[bob]["status"] == "graded"
            page = re.sub(r"<[^>]+>", " ", (out / "feedback" / alice / f"{ASSIGNMENT}.html").read_text())
            assert scores[alice][0] == scores[alice][1] > 0, f"{scores}\n{' '.join(page.split())[:3000]}"
            assert 0 < scores[bob][0] < scores[alice][0], scores

            # 4. The teacher hands the feedback back through the exchange.
            said = _teacher(course, "autograder", "nbgrader-feedback", ASSIGNMENT, "--out", str(out))
            assert "wrote 2 feedback pages" in said, said
            _teacher(course, "nbgrader", "release_feedback", ASSIGNMENT)

            # 5. Each student fetches their own page, with their own score, and nothing of the other's.
            pages = {}
            for name, student in students.items():
                _student(student, "nbgrader", "fetch_feedback", ASSIGNMENT)
                pages[name] = _fetched_feedback(student)
            for name, other in ((alice, bob), (bob, alice)):
                score, max_score = scores[name]
                assert f"feedback for {name}" in pages[name]
                assert f"Score: {score:g} / {max_score:g}" in pages[name]
                assert other not in pages[name]

            # Nor can a student find the other's page: the exchange's feedback and inbound folders
            # cannot be listed, and the secret naming alice's page stays in her private home.
            course_in_exchange = exchange / COURSE_ID
            probe = (
                "import json, os\nresults = {}\n"
                f"for path in {[str(course_in_exchange / 'feedback'), str(course_in_exchange / 'inbound'), f'/home/{alice}']!r}:\n"
                "    try:\n        os.listdir(path)\n        results[path] = 'listed'\n"
                "    except PermissionError:\n        results[path] = 'denied'\n"
                "print(json.dumps(results))\n"
            )
            seen = json.loads(students[bob].execute(probe).strip().splitlines()[-1])
            assert set(seen.values()) == {"denied"}, seen
            # And alice's login does not open bob's server.
            alice_at_bobs = Student(hub, bob, students[alice].token)
            assert alice_at_bobs.api("GET", f"contents/{ASSIGNMENT}").status_code == 403
        # Nothing is left behind: the users, their homes and their processes are gone.
        for name in (alice, bob):
            with pytest.raises(KeyError):
                pwd.getpwnam(name)
            assert not Path(f"/home/{name}").exists()
    finally:
        shutil.rmtree(root, ignore_errors=True)
