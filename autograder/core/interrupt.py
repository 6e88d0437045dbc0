"""Interrupt: a teacher's Ctrl-C or a batch system's SIGTERM stops a grading run cleanly.

While `stop_on_signals()` is in force, SIGINT and SIGTERM raise `Interrupted` in the main thread,
wherever it is. The grading loop lets it end the notebook in flight (its kernel is killed and
nothing of it is recorded, since the grader cut it short, not the student), keeps every grade
already stored, rewrites the outputs from the gradebook and lets it go on to the CLI, which says so
in one line and exits with 128 + the signal's number, as a shell reports a command it stopped.

A terminal sends Ctrl-C to its whole process group, and a batch system its SIGTERM to every process
of the job, Dask's worker processes included; they would each print a traceback and die under the
job they were running. `deaf_children()` ignores both while worker processes are started, so they
inherit that and the grader alone decides when they stop. (Kernels need nothing: jupyter_client starts each in a session of its own.)
"""

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run was told to stop. A KeyboardInterrupt, so that no `except Exception` swallows it."""

    def __init__(self, signum: int, graded: int = 0, total: int = 0) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.graded = graded
        """Notebooks whose grade is stored (reused or new) when the run stopped..."""
        self.total = total
        """...of the notebooks the run was to grade."""

    def after(self, graded: int, total: int) -> "Interrupted":
        """The same stop, telling how far the run got."""
        return Interrupted(self.signum, graded, total)

    def __str__(self) -> str:
        return f"interrupted ({signal.Signals(self.signum).name}): {self.graded} of {self.total} notebooks graded; run again to finish"

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn the first SIGINT or SIGTERM into `Interrupted`; ignore more while the run winds down."""

    def stop(signum: int, frame: FrameType | None) -> None:
        for each in STOP_SIGNALS:  # a second Ctrl-C must not break the clean-up of the first
            signal.signal(each, signal.SIG_IGN)
        raise Interrupted(signum)

    previous = {each: signal.signal(each, stop) for each in STOP_SIGNALS}
    try:
        yield
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


@contextmanager
def deaf_children() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM while child processes start: a Python started so ignores them for life.

    A terminal's Ctrl-C and a batch system's SIGTERM reach every process of the job; workers that
    died under it would leave the grader waiting on a cluster in pieces. Deaf, they are closed by the
    grader when it stops. (Blocking the signals instead would not do: Dask starts its processes from
    threads of its own.) A signal in these seconds is lost; the next one stops the run.
    """
    previous = {each: signal.signal(each, signal.SIG_IGN) for each in STOP_SIGNALS}
    try:
        yield
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)
