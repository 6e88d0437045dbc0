"""Small "download all submissions" zips in each LMS's real naming, built in a test's tmp_path.

Each builder takes `{student: [(time, {file name: bytes})]}`-like data and writes a zip laid out as
the LMS lays out its own download (see autograder/lms.py for the naming and where it comes from).
"""

import io
import stat
import zipfile
from datetime import datetime
from pathlib import Path

import nbformat
from synthetic import QUIZ, QUIZ_STUB


def _quiz_bytes(stub: bool) -> bytes:
    nb = nbformat.v4.new_notebook(cells=[nbformat.from_dict(cell) for cell in QUIZ])
    for cell in nb.cells:
        if stub and cell.metadata["nbgrader"]["solution"] and cell.cell_type == "code":
            cell.source = cell.source.split("\n")[0] + "\n" + QUIZ_STUB
    return nbformat.writes(nb).encode()


SOLUTION = _quiz_bytes(stub=False)
"""The made-up quiz of synthetic.py with its solutions: a hand-in worth 7 of its 9 points."""
BLANK = _quiz_bytes(stub=True)
"""The quiz with every code answer left as its stub."""


def write_zip(path: Path, entries: list[tuple[str, bytes, datetime]]) -> Path:
    """A zip of (name, content, entry time) entries."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content, when in entries:
            info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return path


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    """A student's own zip, in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def moodle_zip(path: Path, students: list[tuple[str, str, datetime, dict[str, bytes]]]) -> Path:
    """Moodle >= 3.1 with "download submissions in folders": `Full Name_<id>_assignsubmission_file_/file`.

    Students are (full name, participant id, upload time, files); an online-text folder is added as
    Moodle adds one when that plugin is on.
    """
    entries = []
    for name, participant, when, files in students:
        for file_name, content in files.items():
            entries.append((f"{name}_{participant}_assignsubmission_file_/{file_name}", content, when))
        entries.append(
            (f"{name}_{participant}_assignsubmission_onlinetext_/onlinetext.html", b"<p>hi</p>", when)
        )
    return write_zip(path, entries)


def canvas_zip(path: Path, students: list[tuple[str, str, bool, dict[str, bytes]]]) -> Path:
    """Canvas: flat `<sortablename>_[late_]<user id>_<attachment id>_<original name>`, one time for all.

    Students are (squashed sortable name, user id, late?, files). Canvas writes the zip's creation
    time on every entry.
    """
    created = datetime(2027, 1, 10, 9, 0)
    entries, attachment = [], 900100
    for name, user_id, late, files in students:
        for file_name, content in files.items():
            attachment += 1
            prefix = f"{name}_late_{user_id}" if late else f"{name}_{user_id}"
            entries.append((f"{prefix}_{attachment}_{file_name}", content, created))
    return write_zip(path, entries)


def brightspace_zip(path: Path, attempts: list[tuple[str, datetime, dict[str, bytes]]]) -> Path:
    """Brightspace: `<n>-<m> - Full Name - Mon D, YYYY HMM AM - file` per attempt, plus index.html."""
    downloaded = datetime(2027, 1, 10, 9, 0)
    entries, submission = [("index.html", b"<html>submissions</html>", downloaded)], 39780
    for name, when, files in attempts:
        submission += 1
        stamp = f"{when:%b} {when.day}, {when.year} {when.strftime('%I').lstrip('0')}{when:%M %p}"
        for n, (file_name, content) in enumerate(files.items()):
            entries.append(
                (f"{submission}-{640690 + n} - {name} - {stamp} - {file_name}", content, downloaded)
            )
    return write_zip(path, entries)


def symlink_zip(path: Path, name: str, target: str) -> Path:
    """A zip whose one entry is a symbolic link (as `zip --symlinks` writes it)."""
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo(name)
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, target)
    return path


def nbgrader_submitted(root: Path, students: dict[str, tuple[str, bytes]], assignment: str = "quiz") -> Path:
    """nbgrader's `submitted/<student>/<assignment>/` with `timestamp.txt` in its default format."""
    for student, (timestamp, notebook) in students.items():
        folder = root / "submitted" / student / assignment
        folder.mkdir(parents=True)
        (folder / f"{assignment}.ipynb").write_bytes(notebook)
        (folder / "timestamp.txt").write_text(timestamp)
    return root / "submitted"
