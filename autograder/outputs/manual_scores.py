"""Manual scores: the TAs' grades of written parts and the rubrics they grade with, in the gradebook's database.

They live in tables of their own (`manual_scores`, `rubric_items`), which autograding never writes:
a re-run replaces a notebook's parts and keeps every TA's score, and a grade read back from the
gradebook carries them in its parts (`with_manual_scores`). A grade's points are worked out from the
rubric as it stands, so changing an item re-grades every answer that has it. Saving a score names
the version it was based on, so two TAs grading at once never overwrite each other unseen
(`ManualConflict`). The `Gradebook` opens the database and hands its engine to these functions.
"""

import hashlib
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, Text, delete, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from autograder.core.model import ManualScore, PartResult, RubricItem

metadata = MetaData()

_key = ("assignment", "student_id", "notebook")

manual_table = Table(
    "manual_scores",
    metadata,
    *(Column(name, String(255), primary_key=True) for name in _key),
    Column("grade_id", String(255), primary_key=True),
    Column("items", Text, nullable=False),
    Column("adjustment", Float, nullable=False),
    Column("comment", Text, nullable=False),
    Column("grader", String(255), nullable=False),
    Column("answer_digest", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

rubric_table = Table(
    "rubric_items",
    metadata,
    Column("assignment", String(255), primary_key=True),
    Column("notebook", String(255), primary_key=True),
    Column("grade_id", String(255), primary_key=True),
    Column("item_id", String(64), primary_key=True),
    Column("text", Text, nullable=False),
    Column("points", Float, nullable=False),
    Column("position", Integer, nullable=False),
)

CHANGED_SINCE_GRADED = "the answer changed after it was graded: a TA should look at it again"


class ManualConflict(Exception):
    """Someone else saved this part's grade after it was read; `current` is theirs."""

    def __init__(self, current: ManualScore) -> None:
        super().__init__(f"{current.grader or 'someone'} graded this answer in the meantime")
        self.current = current


def answer_digest(answer: str) -> str:
    """A short fingerprint of a written answer, to tell when it changed after a TA graded it."""
    return hashlib.sha256(answer.encode()).hexdigest()[:32]


Rubrics = dict[tuple[str, str, str], list[RubricItem]]
"""(assignment, notebook, grade_id) -> that question's rubric, in order."""


def read_scores(db: Connection, **key: str) -> list[ManualScore]:
    """The stored grades of written parts that match `key` (any of assignment, student_id, notebook, grade_id)."""
    rows = db.execute(select(manual_table).filter_by(**key)).mappings()
    return [
        ManualScore(
            assignment=row["assignment"],
            student_id=row["student_id"],
            notebook=row["notebook"],
            grade_id=row["grade_id"],
            items=tuple(json.loads(row["items"])),
            adjustment=row["adjustment"],
            comment=row["comment"],
            grader=row["grader"],
            answer_digest=row["answer_digest"],
            version=row["version"],
        )
        for row in rows
    ]


def read_rubrics(db: Connection, assignment: str | None = None) -> Rubrics:
    """Every question's rubric (of one assignment, or of all)."""
    query = select(rubric_table).order_by(rubric_table.c.position)
    if assignment is not None:
        query = query.filter_by(assignment=assignment)
    rubrics: Rubrics = {}
    for row in db.execute(query).mappings():
        rubrics.setdefault((row["assignment"], row["notebook"], row["grade_id"]), []).append(
            RubricItem(row["item_id"], row["text"], row["points"], row["position"])
        )
    return rubrics


def save_rubric_item(
    engine: Engine, assignment: str, notebook: str, grade_id: str, text: str, points: float, item_id: str = ""
) -> RubricItem:
    """Add a rubric item (no `item_id`) or change one; every answer that has it is re-graded by it."""
    key = {"assignment": assignment, "notebook": notebook, "grade_id": grade_id}
    with engine.begin() as db:
        position = None
        if item_id:
            position = db.execute(select(rubric_table.c.position).filter_by(**key, item_id=item_id)).scalar()
            db.execute(delete(rubric_table).filter_by(**key, item_id=item_id))
        else:
            item_id = uuid.uuid4().hex[:12]
        if position is None:
            position = len(db.execute(select(rubric_table.c.item_id).filter_by(**key)).all())
        db.execute(
            rubric_table.insert().values(**key, item_id=item_id, text=text, points=points, position=position)
        )
    return RubricItem(item_id, text, points, position)


def delete_rubric_item(engine: Engine, assignment: str, notebook: str, grade_id: str, item_id: str) -> None:
    """Remove a rubric item; the answers that had it lose its points."""
    with engine.begin() as db:
        db.execute(
            delete(rubric_table).filter_by(
                assignment=assignment, notebook=notebook, grade_id=grade_id, item_id=item_id
            )
        )


def save_score(engine: Engine, score: ManualScore) -> ManualScore:
    """Store a person's grade of a written part, based on the version `score.version` they read.

    Raises ManualConflict, with the stored grade, when someone saved another in the meantime.
    Returns the stored grade with its new version.
    """
    key = {
        "assignment": score.assignment,
        "student_id": score.student_id,
        "notebook": score.notebook,
        "grade_id": score.grade_id,
    }
    saved = replace(score, version=score.version + 1)
    values = {
        "items": json.dumps(list(saved.items)),
        "adjustment": saved.adjustment,
        "comment": saved.comment,
        "grader": saved.grader,
        "answer_digest": saved.answer_digest,
        "version": saved.version,
        "updated_at": datetime.now(UTC).replace(tzinfo=None),
    }
    try:
        with engine.begin() as db:
            if score.version == 0:
                db.execute(manual_table.insert().values(**key, **values))
            else:
                updated = db.execute(
                    manual_table.update().filter_by(**key, version=score.version).values(**values)
                )
                if updated.rowcount != 1:
                    raise IntegrityError("a newer version is stored", None, Exception())
    except IntegrityError:
        with engine.connect() as db:
            current = read_scores(db, **key)
        raise ManualConflict(current[0] if current else score) from None
    return saved


def with_manual_scores(
    parts: list[PartResult],
    row,
    manual: dict[tuple, ManualScore],
    rubrics: Rubrics,
) -> list[PartResult]:
    """The parts of one grade with each written part's score, comment and state from the TAs' tables."""
    merged = []
    for part in parts:
        score = manual.get((row["assignment"], row["student_id"], row["notebook"], part.grade_id))
        if not part.is_manual or score is None:
            merged.append(part)
            continue
        rubric = rubrics.get((row["assignment"], row["notebook"], part.grade_id), [])
        changed = part.pending and score.answer_digest != answer_digest(part.answer)
        merged.append(
            replace(
                part,
                points=score.points(rubric, part.max_points),
                message=CHANGED_SINCE_GRADED if changed else "",
                comment=score.feedback(rubric),
                pending=changed,
            )
        )
    return merged
