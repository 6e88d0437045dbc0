"""Settings: the `c.Autograder` section of the course's nbgrader_config.py, read once, as traitlets.

Everything a course may want to change without editing code is set there, next to nbgrader's own
settings, with the help text `autograder settings` prints (as nbgrader documents its options):

    c.Autograder.deadlines = {"warmup": "2026-12-01 23:59 Europe/Copenhagen"}
    c.Autograder.memory_bytes = 8 * 1024**3     # a CNN course needs more than 4 GiB
    c.Autograder.cell_timeout = 120
    c.Autograder.excluded = ["s230099"]          # see `attendance`; extensions: see `late`

The command line's flags override the file (`grading_settings`). A setting that does not exist, or
one of the wrong type, is a CourseError naming the nearest valid one: silently ignored, a typo would
grade a class without the limits or the late penalties the teacher set.
"""

import difflib
import functools
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from traitlets import Bool, Dict, Float, Integer, List, TraitError, Unicode
from traitlets.config import Config, Configurable
from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

from autograder.core.config import RELEASE_DIR, SOURCE_DIR, GradingSettings, KernelLimits, UnzipLimits
from autograder.core.errors import CourseError

CONFIG_FILE = "nbgrader_config.py"

_KERNEL, _UNZIP = KernelLimits(), UnzipLimits()
_RUN = GradingSettings()


class Autograder(Configurable):
    """The course's settings for `autograder` (the `c.Autograder` section of nbgrader_config.py)."""

    deadlines = Dict(
        help="Deadline of each assignment: 'YYYY-MM-DD HH:MM Zone/Name' or ISO 8601 with an offset."
    ).tag(config=True)
    allow_late = Bool(True, help="Whether a late attempt may replace one handed in on time.").tag(config=True)
    late_penalty_per_day = Float(
        0.0, help="Fraction of the max score taken off per started day late (0 to 1)."
    ).tag(config=True)
    timezone = Unicode("", help="Zone of LMS times that carry none (default: the deadline's).").tag(
        config=True
    )
    extensions = Dict(
        help="Per-student deadline extensions of each assignment, e.g. {'warmup': {'s230002':"
        " '2026-12-08 23:59 Europe/Copenhagen'}}: a new deadline, or a duration added to the"
        " assignment's ('48h', '3d')."
    ).tag(config=True)
    excused = Dict(
        help="Students excused from an assignment, with the reason (for you; never shown to the student),"
        " e.g. {'warmup': {'s230005': 'medical certificate'}}: they keep a row, status 'excused', and no"
        " score counts against them."
    ).tag(config=True)
    excluded = List(
        help="Students left out of every output of every assignment (a student who dropped the course,"
        " your test account), e.g. ['s230099']; each run says whom it left out."
    ).tag(config=True)
    hidden_tests_in_feedback = Bool(
        True,
        help="Whether the feedback pages show the hidden tests' code (nbgrader's way); False: only the"
        " visible tests and each part's message.",
    ).tag(config=True)

    cell_timeout = Integer(_RUN.cell_timeout, help="Seconds one cell may run before it is stopped.").tag(
        config=True
    )
    notebook_timeout = Float(_RUN.notebook_timeout, help="Seconds a whole notebook may run.").tag(config=True)
    startup_timeout = Float(_RUN.startup_timeout, help="Seconds a kernel may take to start.").tag(config=True)
    workers = Integer(_RUN.workers, help="Notebooks graded at once, each by its own worker process.").tag(
        config=True
    )
    reference_cache = Unicode(
        "", help="Folder of the cached reference runs (default: the user's cache)."
    ).tag(config=True)

    memory_bytes = Integer(_KERNEL.memory_bytes, help="Address space of one kernel, in bytes.").tag(
        config=True
    )
    processes = Integer(_KERNEL.processes, help="Processes and threads one kernel may add.").tag(config=True)
    file_bytes = Integer(_KERNEL.file_bytes, help="Largest file a kernel may write, in bytes.").tag(
        config=True
    )
    tmp_bytes = Integer(_KERNEL.tmp_bytes, help="Size of a kernel's private /tmp, in bytes.").tag(config=True)
    shm_bytes = Integer(_KERNEL.shm_bytes, help="Size of a kernel's private /dev/shm, in bytes.").tag(
        config=True
    )
    scratch_bytes = Integer(
        _KERNEL.scratch_bytes, help="What a kernel's scratch folder may hold, in bytes."
    ).tag(config=True)
    scratch_files = Integer(
        _KERNEL.scratch_files, help="What a kernel's scratch folder may hold, in files and folders."
    ).tag(config=True)

    unzip_max_bytes = Integer(_UNZIP.max_bytes, help="Bytes one LMS download may unpack to.").tag(config=True)
    unzip_max_files = Integer(_UNZIP.max_files, help="Files one LMS download may unpack to.").tag(config=True)
    unzip_max_depth = Integer(_UNZIP.max_depth, help="Zips inside zips, the download itself counted.").tag(
        config=True
    )

    def kernel_limits(self) -> KernelLimits:
        return KernelLimits(**{f.name: getattr(self, f.name) for f in fields(KernelLimits)})

    def unzip_limits(self) -> UnzipLimits:
        return UnzipLimits(**{f.name: getattr(self, f"unzip_{f.name}") for f in fields(UnzipLimits)})


def load_config(course_root: Path) -> Config:
    """The course's whole nbgrader config (empty when it has none); a broken file is a CourseError."""
    try:
        return PyFileConfigLoader(CONFIG_FILE, path=str(course_root)).load_config()
    except ConfigFileNotFound:
        return Config()
    except Exception as error:  # the file is Python: anything can go wrong in it
        raise CourseError(f"cannot read {course_root / CONFIG_FILE}: {error}") from error


def course_settings(course_root: Path) -> Autograder:
    """The c.Autograder settings of the course at `course_root`, checked; read once per version of the file."""
    return _read(*_version(course_root))


def course_folders(course_root: Path) -> tuple[str, str]:
    """The source and release folders, as nbgrader's own `c.CourseDirectory` names them in the file."""
    directory = _config(*_version(course_root)).get("CourseDirectory", {})
    return directory.get("source_directory", SOURCE_DIR), directory.get("release_directory", RELEASE_DIR)


def feedback_folder(course_root: Path) -> Path:
    """nbgrader's feedback folder (`c.CourseDirectory.feedback_directory`), which `release_feedback` reads."""
    directory = _config(*_version(course_root)).get("CourseDirectory", {})
    return Path(course_root) / directory.get("feedback_directory", "feedback")


def _version(course_root: Path) -> tuple[Path, int]:
    path = Path(course_root).resolve() / CONFIG_FILE
    return path.parent, path.stat().st_mtime_ns if path.is_file() else 0


@functools.cache
def _config(course_root: Path, _version: int) -> Config:
    return load_config(course_root)


@functools.cache
def _read(course_root: Path, version: int) -> Autograder:
    config = _config(course_root, version)
    valid = Autograder.class_trait_names(config=True)
    for name in config.get("Autograder", {}):
        if name not in valid:
            raise CourseError(f"{CONFIG_FILE}: c.Autograder.{name} is not a setting{nearest(name, valid)}")
    try:
        return Autograder(config=config)
    except TraitError as error:
        first = str(error).strip().splitlines()[0]
        raise CourseError(f"{CONFIG_FILE}: a c.Autograder setting has the wrong type ({first})") from None


def grading_settings(course_root: Path, **overrides: Any) -> GradingSettings:
    """The run's settings: the course's file, with the command line's flags (those not None) on top."""
    course = course_settings(course_root)
    from_file = {name: getattr(course, name) for name in _FROM_FILE}
    settings = GradingSettings(**from_file, limits=course.kernel_limits(), unzip_limits=course.unzip_limits())
    return replace(settings, **{name: value for name, value in overrides.items() if value is not None})


_FROM_FILE = ("cell_timeout", "notebook_timeout", "startup_timeout", "workers", "reference_cache")


def nearest(name: str, valid: list[str] | tuple[str, ...]) -> str:
    """'; did you mean X?' for the valid name nearest to `name`, or the list of valid names."""
    near = difflib.get_close_matches(str(name), list(valid), n=1)
    return f"; did you mean {near[0]!r}?" if near else f" (valid: {', '.join(valid)})"
