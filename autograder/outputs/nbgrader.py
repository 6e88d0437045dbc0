"""Feedback through nbgrader's exchange: the feedback pages laid out as `nbgrader release_feedback` reads them.

On a JupyterHub, nbgrader hands feedback back through its exchange: `nbgrader release_feedback`
copies each `<feedback_directory>/<student_id>/<assignment>/<notebook>.html` into the exchange under
a name made from that submission's secret (`submission_secret.txt`, written by `nbgrader submit`
and kept by `nbgrader collect`), and the student's `nbgrader fetch_feedback` finds it there with
their own copy of the secret. The exchange's feedback folder cannot be listed, so no one else can
find the file. `write_nbgrader_feedback` puts the autograder's pages into that tree, with the
secret and the `timestamp.txt` that nbgrader's release reads beside each page.
"""

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from autograder.core.model import NotebookGrade
from autograder.outputs.feedback import feedback_path

SECRET_FILE = "submission_secret.txt"
TIMESTAMP_FILE = "timestamp.txt"


@dataclass
class NbgraderFeedback:
    """What `write_nbgrader_feedback` did: the pages it wrote and the students it had to leave out."""

    written: list[Path] = field(default_factory=list)
    without_secret: list[str] = field(default_factory=list)
    """Students whose hand-in has no submission_secret.txt: not handed in with `nbgrader submit`."""
    held_back: list[str] = field(default_factory=list)
    """Students whose written answers still wait for a TA: their page goes out once graded."""


def write_nbgrader_feedback(
    feedback_root: Path, assignment: str, out_dir: Path, submissions: Path, grades: list[NotebookGrade]
) -> NbgraderFeedback:
    """Copy each grade's page from `out_dir/feedback/` into nbgrader's `feedback_root`, with its secret.

    `submissions` holds the hand-ins as graded (`<student_id>/<files>`, the unpacked nbgrader tree),
    where each student's secret is. A student with no folder there handed nothing in and gets no page;
    one whose written answers wait for a TA gets theirs once they are graded.
    """
    result = NbgraderFeedback()
    for grade in sorted(grades, key=lambda g: (g.student_id, g.notebook)):
        if grade.pending_manual:
            result.held_back.append(grade.student_id)
            continue
        page = feedback_path(out_dir, grade)
        handed_in = submissions / grade.student_id
        if not page.is_file() or not handed_in.is_dir():
            continue
        secret = handed_in / SECRET_FILE
        if not secret.is_file():
            result.without_secret.append(grade.student_id)
            continue
        folder = feedback_root / grade.student_id / assignment
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / page.name
        shutil.copyfile(page, target)
        # release_feedback copies the file's mode into the exchange, where the student reads it as
        # themselves: a teacher's umask of 077 would leave them a page they cannot open.
        target.chmod(0o644)
        shutil.copyfile(secret, folder / SECRET_FILE)
        (folder / TIMESTAMP_FILE).write_text(grade.submitted_at, encoding="utf-8")
        result.written.append(target)
    return result
