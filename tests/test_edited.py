"""Does an edited notebook score exactly what the same answers score in an untouched one?"""

import nbformat
import pytest
from conftest import REPO
from edited_corpus import edited_variants

from autograder.grade import grade_assignment

HAND_IN = REPO / "demo" / "warmup" / "s230001" / "warmup.ipynb"


@pytest.mark.slow
def test_every_edited_variant_scores_like_the_untouched_notebook(course, make_class, tmp_path):
    untouched = nbformat.read(HAND_IN, as_version=4)
    variants = edited_variants(untouched, answer="relu")
    grades = grade_assignment(
        course, "warmup", make_class({"untouched": untouched, **variants}), tmp_path / "o"
    )
    scores = {g.student_id: g.score for g in grades}
    assert scores["untouched"] == 7.0
    assert scores == dict.fromkeys(scores, 7.0)
    repaired = {g.student_id for g in grades if g.repairs}
    assert repaired >= set(variants) - {"answer-moved-to-top", "answer-retyped-in-new-cell"}
