"""Gradebook: every notebook grade with its parts, in SQLite by default or any SQLAlchemy database.

Each grade is written in one transaction (its row and its parts together), so a run that is killed
leaves the gradebook with whole grades only, and a finished grade is never lost. A gradebook written
before grades had late fields (`submitted_at`, `late_seconds`, `penalty`), `evidence` or `sandboxed`
gets those columns added when it is opened (and its late notes moved out of the repairs).

People's grades of written parts live in tables of their own, which autograding never writes (see
`manual_scores`): a re-run replaces a notebook's parts and keeps every TA's score, and a grade read
back carries them in its parts.
"""

import json
import os
import re
import weakref
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)

from autograder.core.errors import CourseError
from autograder.core.model import ManualScore, NotebookGrade, PartKind, PartResult, RubricItem
from autograder.outputs import manual_scores

_metadata = MetaData()

_key = ("assignment", "student_id", "notebook")

grades_table = Table(
    "grades",
    _metadata,
    *(Column(name, String(255), primary_key=True) for name in _key),
    Column("status", String(64), nullable=False),
    Column("score", Float, nullable=False),
    Column("max_score", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("repairs", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("seconds", Float, nullable=False),
    Column("graded_at", DateTime, nullable=False),
    Column("submitted_at", String(64), nullable=False, server_default=""),
    Column("late_seconds", Float, nullable=False, server_default="0"),
    Column("penalty", Float, nullable=False, server_default="0"),
    Column("evidence", Text, nullable=False, server_default="[]"),
    Column("sandboxed", Integer, nullable=False, server_default="1"),
    Column("notices", Text, nullable=False, server_default="[]"),
    Column("late_note", Text, nullable=False, server_default=""),
)

_added_columns = ("submitted_at", "late_seconds", "penalty", "evidence", "sandboxed", "notices", "late_note")

_OLD_LATE_NOTE = "late: "
"""Gradebooks written before `late_note` kept it among the repairs, behind this prefix."""

parts_table = Table(
    "parts",
    _metadata,
    *(Column(name, String(255), primary_key=True) for name in _key),
    Column("grade_id", String(255), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("points", Float, nullable=False),
    Column("max_points", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("kind", String(32), nullable=False, server_default=str(PartKind.TEST)),
    Column("answer", Text, nullable=False, server_default=""),
    Column("pending", Integer, nullable=False, server_default="0"),
)

_added_part_columns = ("kind", "answer", "pending")

SUPPORTED = (
    "supported: SQLite (sqlite:///path, the default) and PostgreSQL (postgresql+psycopg://user@host/db);"
    " other SQLAlchemy databases need their driver installed"
)


def _masked(url: str) -> str:
    """The URL as it may be shown: with its password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of an SQLite file."""
    return f"sqlite:///{path.resolve()}"


def _forget_in_forked_children(engine: Engine) -> None:
    """A forked child (a local Dask worker) drops the pool it inherited without closing its connections:
    closing a PostgreSQL connection there would end the parent's session on the same socket."""
    engine_ref = weakref.ref(engine)

    def forget() -> None:
        inherited = engine_ref()
        if inherited is not None:
            inherited.dispose(close=False)

    os.register_at_fork(after_in_child=forget)


class Gradebook:
    """Read and write grades; open it with a database URL such as `sqlite:///grades.sqlite`."""

    def __init__(self, url: str) -> None:
        shown = _masked(url)
        if url.split(":", 1)[0] in ("postgres", "postgresql"):
            better = _masked(url.replace(url.split(":", 1)[0], "postgresql+psycopg", 1))
            raise CourseError(
                f"cannot open the gradebook {shown}: write it as {better} (psycopg 3 is the driver installed)"
            )
        try:
            self.engine = create_engine(url)
            _forget_in_forked_children(self.engine)
            _metadata.create_all(self.engine)
            manual_scores.metadata.create_all(self.engine)
            _add_missing_columns(self.engine)
        except ImportError as error:  # the URL names a driver that is not installed
            raise CourseError(
                f"cannot open the gradebook {shown}: its database driver is not installed ({error.name});"
                f" {SUPPORTED}"
            ) from error
        except (ArgumentError, OperationalError, ProgrammingError, NoSuchModuleError) as error:
            reason = str(error.args[0]).strip().splitlines()[0] if error.args else type(error).__name__
            raise CourseError(f"cannot open the gradebook {shown}: {reason.replace(url, shown)}") from error

    def close(self) -> None:
        self.engine.dispose()

    def get(self, assignment: str, student_id: str, notebook: str) -> NotebookGrade | None:
        """The stored grade of one notebook, or None."""
        found = self._select(assignment=assignment, student_id=student_id, notebook=notebook)
        return found[0] if found else None

    def grades_of(self, assignment: str) -> list[NotebookGrade]:
        """Every stored grade of one assignment, by student and notebook: what the outputs show."""
        return self._select(assignment=assignment)

    def _select(self, **key: str) -> list[NotebookGrade]:
        with self.engine.connect() as db:
            rows = db.execute(
                select(grades_table).filter_by(**key).order_by(*(grades_table.c[name] for name in _key))
            ).mappings()
            parts: dict[tuple, list[PartResult]] = {}
            for p in db.execute(
                select(parts_table).filter_by(**key).order_by(parts_table.c.position)
            ).mappings():
                parts.setdefault(tuple(p[name] for name in _key), []).append(
                    PartResult(
                        p["grade_id"],
                        p["points"],
                        p["max_points"],
                        p["message"],
                        kind=PartKind(p["kind"]),
                        answer=p["answer"],
                        pending=bool(p["pending"]),
                    )
                )
            manual = {
                (m.assignment, m.student_id, m.notebook, m.grade_id): m
                for m in manual_scores.read_scores(db, **key)
            }
            rubrics = manual_scores.read_rubrics(db, key.get("assignment"))
            grades = [
                NotebookGrade(
                    student_id=row["student_id"],
                    assignment=row["assignment"],
                    notebook=row["notebook"],
                    status=row["status"],
                    max_score=row["max_score"],
                    parts=manual_scores.with_manual_scores(
                        parts.get(tuple(row[name] for name in _key), []),
                        row,
                        manual,
                        rubrics,
                    ),
                    message=row["message"],
                    repairs=json.loads(row["repairs"]),
                    notices=json.loads(row["notices"]),
                    late_note=row["late_note"],
                    digest=row["digest"],
                    seconds=row["seconds"],
                    submitted_at=row["submitted_at"],
                    late_seconds=row["late_seconds"],
                    penalty=row["penalty"],
                    evidence=json.loads(row["evidence"]),
                    sandboxed=bool(row["sandboxed"]),
                )
                for row in rows
            ]
        for grade in grades:
            old = [note for note in grade.repairs if note.startswith(_OLD_LATE_NOTE)]
            if old and not grade.late_note:
                grade.late_note = old[0].removeprefix(_OLD_LATE_NOTE)
                grade.repairs = [note for note in grade.repairs if note not in old]
        return grades

    # People's grades of written parts (see `manual_scores`): read and saved by the TA view (`review`).

    def rubric(self, assignment: str, notebook: str, grade_id: str) -> list[RubricItem]:
        """The rubric of one written question, in order."""
        with self.engine.connect() as db:
            return manual_scores.read_rubrics(db, assignment).get((assignment, notebook, grade_id), [])

    def save_rubric_item(
        self, assignment: str, notebook: str, grade_id: str, text: str, points: float, item_id: str = ""
    ) -> RubricItem:
        """Add a rubric item (no `item_id`) or change one (see `manual_scores.save_rubric_item`)."""
        return manual_scores.save_rubric_item(
            self.engine, assignment, notebook, grade_id, text, points, item_id
        )

    def delete_rubric_item(self, assignment: str, notebook: str, grade_id: str, item_id: str) -> None:
        """Remove a rubric item; the answers that had it lose its points."""
        manual_scores.delete_rubric_item(self.engine, assignment, notebook, grade_id, item_id)

    def manual_score(
        self, assignment: str, student_id: str, notebook: str, grade_id: str
    ) -> ManualScore | None:
        """A person's stored grade of one written part, or None."""
        with self.engine.connect() as db:
            found = manual_scores.read_scores(
                db, assignment=assignment, student_id=student_id, notebook=notebook, grade_id=grade_id
            )
        return found[0] if found else None

    def save_manual_score(self, score: ManualScore) -> ManualScore:
        """Store a person's grade of a written part; ManualConflict if someone saved one in the meantime."""
        return manual_scores.save_score(self.engine, score)

    def manual_scores_of(self, assignment: str) -> list[ManualScore]:
        """Every person's grade of a written part of one assignment."""
        with self.engine.connect() as db:
            return manual_scores.read_scores(db, assignment=assignment)

    def put(self, grade: NotebookGrade) -> None:
        """Store a grade, replacing any earlier one of the same notebook, in one transaction."""
        key = {"assignment": grade.assignment, "student_id": grade.student_id, "notebook": grade.notebook}
        with self.engine.begin() as db:
            db.execute(delete(parts_table).filter_by(**key))
            db.execute(delete(grades_table).filter_by(**key))
            db.execute(
                grades_table.insert().values(
                    **key,
                    status=grade.status,
                    score=grade.score,
                    max_score=grade.max_score,
                    message=grade.message,
                    repairs=json.dumps(grade.repairs),
                    digest=grade.digest,
                    seconds=grade.seconds,
                    submitted_at=grade.submitted_at,
                    late_seconds=grade.late_seconds,
                    penalty=grade.penalty,
                    evidence=json.dumps(grade.evidence),
                    sandboxed=int(grade.sandboxed),
                    notices=json.dumps(grade.notices),
                    late_note=grade.late_note,
                    graded_at=datetime.now(UTC).replace(tzinfo=None),
                )
            )
            if grade.parts:
                db.execute(
                    parts_table.insert(),
                    [
                        {
                            **key,
                            "grade_id": p.grade_id,
                            "position": position,
                            "points": p.points,
                            "max_points": p.max_points,
                            "message": p.message,
                            "kind": str(p.kind),
                            "answer": p.answer,
                            "pending": int(p.pending),
                        }
                        for position, p in enumerate(grade.parts)
                    ],
                )


def _add_missing_columns(engine: Engine) -> None:
    """Add the columns a gradebook created before they existed lacks, keeping every grade in it."""
    for table, added in ((grades_table, _added_columns), (parts_table, _added_part_columns)):
        present = {column["name"] for column in inspect(engine).get_columns(table.name)}
        missing = [table.c[name] for name in added if name not in present]
        if not missing:
            continue
        with engine.begin() as db:
            for column in missing:
                kind = column.type.compile(dialect=engine.dialect)
                default = column.server_default.arg  # type: ignore[union-attr]
                db.execute(
                    text(
                        f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind} NOT NULL DEFAULT '{default}'"
                    )
                )
