"""LMS: turn what the teacher downloaded into the plain layout `<student_id>/<notebook>` we grade.

`prepare_submissions` accepts, besides a plain folder (graded as it is):

- the "download all submissions" zip of **Moodle**, **Canvas** or **Brightspace** (D2L, DTU Learn);
- the `submitted/` folder of nbgrader's exchange (`nbgrader collect`), or a course root holding it;
- zips inside those: a student's own zip with the notebook in it, a zip of per-student zips
  (`<student_id>.zip`), a zip of several downloads (LMSs split large ones), a zip of the plain layout.

What each LMS's names tell us (and what we rely on):

- Moodle: `Full Name_<participant id>_assignsubmission_file[_]/<file>` (folders, Moodle >= 3.1) or
  `Full Name_<participant id>_assignsubmission_file_<file>` (flat). The student id is the participant
  id. The time is the zip entry's: older Moodles write the file's upload time; newer ones may write
  the download time, so when every entry of a class carries (nearly) one time, times are unknown.
- Canvas: `<sortablename>_[late_]<user id>_<attachment id>_<original name>` (Canvas lowercases the
  whole prefix; a repeated original name gets a `-1` suffix). The student id is the Canvas user id.
  Canvas writes the zip creation time on every entry, so the time is unknown; its `LATE` mark is
  kept and counts as late (see `late.apply_late`).
- Brightspace: `<n>-<m> - Full Name - Mon D, YYYY HMM AM - <file>` (or a folder of that name without
  `- <file>`), plus `index.html`. The numbers identify the submission and its file, not the student,
  and change with every attempt, so a student's attempts are grouped by name and the student id is the
  name as a slug (`jane-smith`); `lms_user_id` keeps the numbers of the graded attempt. The time is in
  the name, in the zone of the downloading user, read in `LatePolicy.zone()`.
- nbgrader: `submitted/<student_id>/<assignment>/<files>` with `timestamp.txt` (nbgrader's format).

The newest attempt of each student counts; with late hand-ins not allowed, the newest one before the
deadline, unless all are late. Zips are read entry by entry, never with `extractall`: a path that
would leave the target (`../`, absolute), a symbolic link, too many files, too many bytes or zips
nested too deep stop the unpacking with one clear line (in a student's own zip: that zip is skipped
and the student told). The download itself is never changed; the files go to `<out>/submissions/`
with the roster (`roster.write_roster`).
"""

import io
import re
import shutil
import zipfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO

from nbgrader.utils import parse_utc

from autograder.core.config import UnzipLimits
from autograder.core.course import is_visible
from autograder.core.errors import CourseError
from autograder.core.late import LatePolicy
from autograder.core.model import Student
from autograder.core.settings import load_config
from autograder.intake.roster import ROSTER_FILE, read_roster, write_roster
from autograder.intake.unzip import Budget, Refused, safe_entries

UNPACKED_DIR = "submissions"
"""Folder under the grading output dir that an LMS download is unpacked into."""

LMS_NAMES = {"moodle": "Moodle", "canvas": "Canvas", "brightspace": "Brightspace", "nbgrader": "nbgrader"}


@dataclass(frozen=True)
class Prepared:
    """Submissions ready to grade: the folder in plain layout and what the LMS said about each student."""

    folder: Path
    lms: str
    """`moodle`, `canvas`, `brightspace`, `nbgrader`, `zip` (plain layout in a zip) or empty (a folder)."""
    students: dict[str, Student]
    notes: dict[str, list[str]] = field(default_factory=dict)
    """What each student should know about how their hand-in was unpacked."""
    marked_late: frozenset[str] = frozenset()
    """Students the LMS marked late without saying when (Canvas)."""

    def summary(self) -> str:
        """One line for the teacher: what was detected and how many students."""
        if not self.lms:
            return ""
        kind = LMS_NAMES.get(self.lms, "plain folders")
        return f"{kind} submissions detected: {len(self.students)} students, unpacked into {self.folder}"


@dataclass
class _File:
    name: str
    size: int
    open: Callable[[], IO[bytes]]


@dataclass
class _Attempt:
    student_id: str
    name: str
    lms_user_id: str
    submitted_at: datetime | None
    order: int
    marked_late: bool = False
    files: list[_File] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    entry_time: datetime | None = None
    """The zip entry time, kept for Moodle's download-time check."""


class _UnknownLayout(Refused):
    """A zip whose names follow no layout we know."""


_MOODLE_DIR = re.compile(r"^(?P<name>.*)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+?)_?$")
_MOODLE_FLAT = re.compile(
    r"^(?P<name>.*)_(?P<id>\d+)_assignsubmission_(?P<plugin>file|onlinetext)_(?P<file>.+)$"
)
_CANVAS = re.compile(
    r"^(?:(?P<name>\w*?)_)??(?:(?P<late>late)_)?(?P<id>\d+)_(?P<attachment>\d+)_(?P<file>.+)$", re.I
)
_CANVAS_TEXT = re.compile(r"^\w+_\d+_(text|link)\.html$", re.I)
_BRIGHTSPACE = re.compile(
    r"^(?P<ids>\d+(?:-\d+)?) - (?P<name>.+?) - "
    r"(?P<when>[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:?\d{2} [AP]M)(?: - (?P<file>.+))?$"
)


def prepare_submissions(
    source: Path,
    out_dir: Path,
    assignment: str,
    course_root: Path,
    policy: LatePolicy | None = None,
    limits: UnzipLimits = UnzipLimits(),
) -> Prepared:
    """Unpack an LMS zip or nbgrader tree into `<out_dir>/submissions/`; a plain folder is used as it is."""
    policy = policy or LatePolicy()
    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise CourseError(f"{source} is neither a folder of submissions nor a .zip download")
        with ExitStack() as stack:
            try:
                outer = stack.enter_context(zipfile.ZipFile(source))
                lms, attempts = _read_download(outer, source.name, limits, stack, Budget(limits))
            except Refused as error:
                raise CourseError(f"refused to unpack {source}: {error}") from None
            except (zipfile.BadZipFile, OSError, EOFError) as error:
                raise CourseError(f"cannot read {source} as a zip: {error}") from None
            if lms == "moodle":
                _forget_download_times(attempts)
            return _write(attempts, lms, source, out_dir / UNPACKED_DIR, policy)
    if not source.is_dir():
        raise CourseError(f"submissions folder {source} does not exist or is not a folder")
    submitted = _nbgrader_submitted(source, assignment, course_root)
    if submitted is None:
        return Prepared(source, "", read_roster(source))
    attempts = _read_nbgrader(submitted, assignment)
    return _write(attempts, "nbgrader", source, out_dir / UNPACKED_DIR, policy)


# --- zips ------------------------------------------------------------------------------------------


def _zip_file(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> _File:
    return _File(name, info.file_size, lambda: archive.open(info))


def _entry_time(info: zipfile.ZipInfo) -> datetime | None:
    try:
        return datetime(*info.date_time)
    except ValueError:
        return None


def _read_download(
    archive: zipfile.ZipFile,
    where: str,
    limits: UnzipLimits,
    stack: ExitStack,
    budget: Budget,
    depth: int = 1,
) -> tuple[str, list[_Attempt]]:
    """Detect the layout of a download and read its attempts (nothing is written yet).

    `budget` counts files and bytes across the download and every zip inside it.
    """
    entries = safe_entries(archive, where, budget)
    names = [info.filename.replace("\\", "/") for info in entries]
    for prefix in ("", _common_folder(names)):
        if prefix is None:
            continue
        inner = [(info, name[len(prefix) :]) for info, name in zip(entries, names, strict=True)]
        lms = _detect(inner)
        if lms:
            reader = {"moodle": _read_moodle, "canvas": _read_canvas, "brightspace": _read_brightspace}[lms]
            attempts = reader(archive, inner)
            for attempt in attempts:
                _open_student_zips(attempt, stack, limits, budget, depth)
            return lms, attempts
    if entries and all(name.lower().endswith(".zip") and "/" not in name for name in names):
        return _read_zip_of_zips(archive, entries, where, limits, stack, budget, depth)
    if entries and all("/" in name or name.lower().endswith(".zip") for name in names):
        prefix = _wrapper_of_student_folders(names)
        # Loose files beside the student folders in a wrapper (a README, a list) are nobody's hand-in.
        kept = [
            info
            for info, name in zip(entries, names, strict=True)
            if "/" in name[len(prefix) :] or name.lower().endswith(".zip")
        ]
        return "zip", _per_student_zips(archive, kept, stack, limits, budget, depth, prefix)
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "") if names else "nothing"
    raise _UnknownLayout(
        f"not in a layout we know (Moodle, Canvas, Brightspace, or one folder per student); it holds {shown}"
    )


def _common_folder(names: list[str]) -> str | None:
    """`Folder/` when every entry is inside one folder (a wrapper the LMS or the teacher added)."""
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1 and all("/" in name for name in names):
        return f"{tops.pop()}/"
    return None


def _wrapper_of_student_folders(names: list[str]) -> str:
    """`warmup/` for `warmup/<student>/<file>` entries (`zip -r class.zip warmup/`), nested ones too.

    Without it the wrapper would be read as one student with every notebook of the class. A folder
    counts as a wrapper when it holds two or more folders; `s230001/warmup.ipynb` is a student.
    """
    prefix = ""
    while (wrapper := _common_folder([name[len(prefix) :] for name in names])) is not None:
        inner = [name[len(prefix) + len(wrapper) :] for name in names]
        if len({name.split("/", 1)[0] for name in inner if "/" in name}) < 2:
            break
        prefix += wrapper
    return prefix


def _detect(entries: list[tuple[zipfile.ZipInfo, str]]) -> str:
    """The LMS whose naming every entry follows, or empty."""
    files = [name for _, name in entries if name.lower() not in ("index.html", "index.htm")]
    if not files:
        return ""
    if all(
        _MOODLE_DIR.match(name.split("/", 1)[0]) and "/" in name or _MOODLE_FLAT.match(name) for name in files
    ):
        return "moodle"
    if all("/" not in name and (_CANVAS.match(name) or _CANVAS_TEXT.match(name)) for name in files):
        return "canvas"
    if all(_BRIGHTSPACE.match(name.split("/", 1)[0]) for name in files):
        return "brightspace"
    return ""


def _read_moodle(archive: zipfile.ZipFile, entries: list[tuple[zipfile.ZipInfo, str]]) -> list[_Attempt]:
    by_student: dict[str, _Attempt] = {}
    for info, name in entries:
        top, _, rest = name.partition("/")
        match = _MOODLE_DIR.match(top) if rest else _MOODLE_FLAT.match(name)
        if match is None or match["plugin"] != "file":
            continue  # online text and feedback plugins hold no notebook
        student = match["id"]
        attempt = by_student.setdefault(
            student, _Attempt(student, match["name"].strip(), student, None, len(by_student))
        )
        attempt.files.append(_zip_file(archive, info, PurePosixPath(rest or match["file"]).name))
        entry_time = _entry_time(info)
        if entry_time and (attempt.entry_time is None or entry_time > attempt.entry_time):
            attempt.entry_time = entry_time
    return list(by_student.values())


def _read_canvas(archive: zipfile.ZipFile, entries: list[tuple[zipfile.ZipInfo, str]]) -> list[_Attempt]:
    by_student: dict[str, _Attempt] = {}
    for info, name in entries:
        match = _CANVAS.match(name)
        if match is None or _CANVAS_TEXT.match(name):
            continue
        student = match["id"]
        attempt = by_student.setdefault(
            student, _Attempt(student, match["name"] or "", student, None, len(by_student))
        )
        attempt.marked_late |= bool(match["late"])
        attempt.files.append(_zip_file(archive, info, match["file"]))
    return list(by_student.values())


def _read_brightspace(archive: zipfile.ZipFile, entries: list[tuple[zipfile.ZipInfo, str]]) -> list[_Attempt]:
    by_attempt: dict[tuple[str, str], _Attempt] = {}
    for info, name in entries:
        top, _, rest = name.partition("/")
        match = _BRIGHTSPACE.match(top)
        if match is None:
            continue
        when = datetime.strptime(match["when"].replace(":", ""), "%b %d, %Y %I%M %p")
        student = _slug(match["name"]) or f"student-{match['ids']}"
        key = (student, match["when"])  # in the flat layout each file of one attempt has its own numbers
        attempt = by_attempt.setdefault(
            key, _Attempt(student, match["name"], match["ids"], when, len(by_attempt))
        )
        attempt.files.append(_zip_file(archive, info, PurePosixPath(rest).name if rest else match["file"]))
    return list(by_attempt.values())


def _read_plain(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], prefix: str = "") -> list[_Attempt]:
    by_student: dict[str, _Attempt] = {}
    for info in entries:
        name = info.filename.replace("\\", "/")[len(prefix) :]
        top, _, rest = name.partition("/")
        student = top if rest else PurePosixPath(top).stem
        attempt = by_student.setdefault(student, _Attempt(student, "", "", None, len(by_student)))
        attempt.files.append(_zip_file(archive, info, PurePosixPath(rest or top).name))
    return list(by_student.values())


def _read_zip_of_zips(
    archive: zipfile.ZipFile,
    entries: list[zipfile.ZipInfo],
    where: str,
    limits: UnzipLimits,
    stack: ExitStack,
    budget: Budget,
    depth: int,
) -> tuple[str, list[_Attempt]]:
    """Several downloads in one zip (merged), or one zip per student (plain layout)."""
    if depth >= limits.max_depth:
        return "zip", _per_student_zips(archive, entries, stack, limits, budget, depth)
    found: list[tuple[str, list[_Attempt]]] = []
    for info in entries:
        try:
            inner = stack.enter_context(zipfile.ZipFile(io.BytesIO(archive.read(info))))
            lms, attempts = _read_download(
                inner, f"{where}/{info.filename}", limits, stack, budget, depth + 1
            )
            if lms == "zip":
                raise _UnknownLayout("a student's own zip, not an LMS download")
            found.append((lms, attempts))
        except (Refused, zipfile.BadZipFile):
            # Not a download of its own: one zip per student, whose problems are theirs alone.
            return "zip", _per_student_zips(archive, entries, stack, limits, budget, depth)
    kinds = {lms for lms, _ in found}
    if len(kinds) > 1:
        raise Refused(f"{where} mixes downloads of {', '.join(sorted(kinds))}")
    attempts = [attempt for _, part in found for attempt in part]
    for order, attempt in enumerate(attempts):
        attempt.order = order
    return kinds.pop(), attempts


def _per_student_zips(
    archive: zipfile.ZipFile,
    entries: list[zipfile.ZipInfo],
    stack: ExitStack,
    limits: UnzipLimits,
    budget: Budget,
    depth: int,
    prefix: str = "",
) -> list[_Attempt]:
    attempts = _read_plain(archive, entries, prefix)
    for attempt in attempts:
        _open_student_zips(attempt, stack, limits, budget, depth)
    return attempts


def _open_student_zips(
    attempt: _Attempt, stack: ExitStack, limits: UnzipLimits, budget: Budget, depth: int
) -> None:
    """Replace each zip a student handed in by the files inside it, down to `limits.max_depth`.

    `depth` is the nesting level of the zip the attempt's files came from (1: the download). A zip
    that cannot or may not be opened is kept as a file and the student is told why.
    """
    files: list[_File] = []
    pending = [(handed_in, depth + 1) for handed_in in attempt.files]
    while pending:
        handed_in, level = pending.pop(0)
        if not handed_in.name.lower().endswith(".zip"):
            files.append(handed_in)
            continue
        try:
            if level > limits.max_depth:
                raise Refused(f"zips are nested more than {limits.max_depth} deep")
            with handed_in.open() as raw:
                data = raw.read()
            inner = stack.enter_context(zipfile.ZipFile(io.BytesIO(data)))
            for info in safe_entries(inner, handed_in.name, budget):
                name = PurePosixPath(info.filename.replace("\\", "/")).name
                pending.append((_zip_file(inner, info, name), level + 1))
        except Refused as error:
            attempt.notes.append(f"your {handed_in.name} was not unpacked: {error}")
            files.append(handed_in)
        except (zipfile.BadZipFile, EOFError, OSError) as error:
            attempt.notes.append(f"your {handed_in.name} could not be read as a zip: {error}")
            files.append(handed_in)
    attempt.files = files


def _forget_download_times(attempts: list[_Attempt]) -> None:
    """Use Moodle's entry times as hand-in times unless they are the download time (all within 2 minutes)."""
    times = [a.entry_time for a in attempts if a.entry_time is not None]
    if len(times) >= 2 and (max(times) - min(times)).total_seconds() <= 120:
        return
    for attempt in attempts:
        attempt.submitted_at = attempt.entry_time


# --- nbgrader ----------------------------------------------------------------------------------------


def _nbgrader_submitted(source: Path, assignment: str, course_root: Path) -> Path | None:
    """The nbgrader `submitted/` folder that `source` is or holds, or None for a plain folder."""
    configured = load_config(course_root).get("CourseDirectory", {}).get("submitted_directory", "submitted")
    for candidate in (source, source / configured, source / "submitted"):
        if candidate.is_dir() and any(
            (student / assignment).is_dir() for student in candidate.iterdir() if student.is_dir()
        ):
            return candidate
    return None


def _read_nbgrader(submitted: Path, assignment: str) -> list[_Attempt]:
    attempts = []
    for order, student in enumerate(sorted(p for p in submitted.iterdir() if p.is_dir() and is_visible(p))):
        folder = student / assignment
        if not folder.is_dir():
            continue
        attempt = _Attempt(student.name, "", student.name, _nbgrader_time(folder), order)
        for path in sorted(p for p in folder.iterdir() if p.is_file() and is_visible(p)):
            if path.name != "timestamp.txt":
                attempt.files.append(_File(path.name, path.stat().st_size, lambda p=path: p.open("rb")))
        attempts.append(attempt)
    return attempts


def _nbgrader_time(folder: Path) -> datetime | None:
    """The time in nbgrader's `timestamp.txt`, read as nbgrader reads it (naive UTC), made aware."""
    path = folder / "timestamp.txt"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    try:
        return parse_utc(text).replace(tzinfo=UTC) if text else None
    except (ValueError, OverflowError) as error:
        raise CourseError(f"{path}: cannot read the time {text!r}: {error}") from None


# --- choosing and writing ----------------------------------------------------------------------------


def _choose(attempts: list[_Attempt], policy: LatePolicy) -> list[_Attempt]:
    """One attempt per student: the newest, or the newest on time when late ones may not replace it."""

    def aware(when: datetime | None) -> datetime | None:
        return when if when is None or when.tzinfo else when.replace(tzinfo=policy.zone())

    for attempt in attempts:
        attempt.submitted_at = aware(attempt.submitted_at)
    by_student: dict[str, list[_Attempt]] = {}
    for attempt in attempts:
        by_student.setdefault(attempt.student_id, []).append(attempt)
    chosen = []
    for group in by_student.values():
        oldest = datetime.min.replace(tzinfo=UTC)
        group.sort(key=lambda a: (a.submitted_at or oldest, a.order))
        on_time = [a for a in group if not _is_late(a, policy)]
        pick = group[-1] if policy.allow_late or not on_time else on_time[-1]
        others = len(group) - 1
        if others:
            pick.notes.append(
                f"graded your attempt of {_format(pick.submitted_at)}; {others} other attempt(s) not graded"
            )
        chosen.append(pick)
    return chosen


def _is_late(attempt: _Attempt, policy: LatePolicy) -> bool:
    if attempt.marked_late and attempt.student_id not in policy.extensions:
        return True
    due = policy.deadline_for(attempt.student_id)  # a student's extension moves their deadline
    return bool(due and attempt.submitted_at and attempt.submitted_at > due)


def _format(when: datetime | None) -> str:
    return when.isoformat(" ", "minutes") if when else "unknown time"


def _write(attempts: list[_Attempt], lms: str, source: Path, target: Path, policy: LatePolicy) -> Prepared:
    """Write the chosen attempts as `<target>/<student_id>/<file>` with the roster; return them."""
    if not attempts:
        raise CourseError(f"{source} holds no submissions")
    resolved = target.resolve()
    if resolved == source.resolve() or resolved in source.resolve().parents:
        raise CourseError(f"cannot unpack {source} into {target}: that would overwrite the download")
    chosen = _choose(attempts, policy)
    if target.exists():
        if any(target.iterdir()) and not (target / ROSTER_FILE).is_file():
            raise CourseError(f"{target} exists and was not unpacked by the autograder: choose another --out")
        shutil.rmtree(target)  # our own output of an earlier run: a student removed since must not linger
    target.mkdir(parents=True)
    students, notes, late = {}, {}, set()
    for attempt in chosen:
        student_id = _safe_name(attempt.student_id, source)
        folder = target / student_id
        folder.mkdir()
        for handed_in in attempt.files:
            destination = _free_name(folder, _safe_name(handed_in.name, source))
            with handed_in.open() as content, destination.open("xb") as out:
                shutil.copyfileobj(content, out)
        submitted_at = attempt.submitted_at.isoformat() if attempt.submitted_at else ""
        students[student_id] = Student(student_id, attempt.name, lms, attempt.lms_user_id, submitted_at)
        if attempt.notes:
            notes[student_id] = attempt.notes
        if attempt.marked_late:
            late.add(student_id)
    write_roster(target, students.values())
    return Prepared(target, lms, students, notes, frozenset(late))


def _safe_name(name: str, source: Path) -> str:
    """A file or folder name that stays inside its folder."""
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise CourseError(f"{source} names a student or file {name!r}, which is not a safe file name")
    return name


def _free_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `name (2)` and so on when a student handed in two files of one name."""
    path, n = folder / name, 1
    while path.exists():
        n += 1
        stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix
        path = folder / f"{stem} ({n}){suffix}"
    return path


def _slug(name: str) -> str:
    return re.sub(r"[^\w]+", "-", name.lower()).strip("-_")
