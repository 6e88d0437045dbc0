"""Similarity report: the pairs of students whose answers are most alike, for a teacher to read side by side.

Each answer (grade_id) is compared with the same answer of every other student, with copydetect's
fingerprints: winnowed k-grams of the code after names, strings, spaces and comments are normalised
away, so renamed variables and reformatted code still match. The answers are found with `match_answers`,
so a notebook whose metadata was stripped or whose cells were moved still compares the right code.
Written (markdown) answers are prose, which copydetect's code tokens do not fit: they are not compared.

Why per answer and not per notebook: an answer is compared only with the same question's answers, so a
passage that two students happen to write in different questions does not count, and the page can show
the two cells that are alike next to each other instead of two whole notebooks. The pairs are then
ranked by the code they share over all answers, so one long shared answer outranks a one-line answer
that two students wrote alike by chance.

What says nothing about the students is left out before comparing: the lines the released notebook
gives (the answer stubs' signatures and docstrings, the given cells), line by line and as copydetect's
boilerplate, and passages that most of the class wrote the same way (a one-liner that the hint suggests).

The page shows pairs and where their code is alike, never a verdict: alike code has innocent causes (a
worked example, the same tutorial, a study group the course allows), and only a person who reads both can
tell what happened.
"""

import ast
import hashlib
import io
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from itertools import combinations
from pathlib import Path

import copydetect.utils
import nbformat
import numpy as np
from copydetect import CodeFingerprint, compare_files
from copydetect.utils import filter_code, highlight_overlap
from nbformat import NotebookNode

from autograder.authoring.release import release_notebook
from autograder.core.cells import is_answer, nbgrader_meta
from autograder.core.course import Course
from autograder.core.errors import CourseError
from autograder.grading.match import match_answers
from autograder.intake.lms import prepare_submissions
from autograder.intake.submissions import UnreadableNotebook, find_submissions, read_notebook
from autograder.outputs.pages import page

PAGE = "similarity.html"
"""The page's file name in the --out folder."""

NOISE = 16
"""The shortest run of normalised code (characters; each name counts as one) that counts as alike."""

GUARANTEE = 20
"""A run of alike code at least this long is always found (copydetect's guarantee threshold)."""

COMMON_SHARE = 0.5
"""A passage found in more than this share of the class's versions of an answer is common, not shared."""

COMMON_MIN = 10
"""Passages are called common only among at least this many versions (MOSS ignores those in more than ten):
in a small class, a few students who share an answer would otherwise be most of those who wrote it."""

SHOWN = 20
"""How many of the most similar pairs the page lists and shows side by side."""


@dataclass(frozen=True)
class AlikeAnswer:
    """One answer of a pair: how much of it the two students share, and both versions marked up."""

    answer: str
    shared: tuple[int, int]
    """Length of each student's code in this answer that the other's also has (normalised characters,
    as `NOISE`)."""
    similarity: tuple[float, float]
    """The share (0..1) of each student's own code in this answer that the other's also has."""
    marked: tuple[str, str]
    """Each student's own code as escaped HTML, the shared passages in <mark>."""


@dataclass(frozen=True)
class Pair:
    """Two students and the answers in which their code is alike."""

    students: tuple[str, str]
    answers: tuple[AlikeAnswer, ...]
    shared: int
    """Length of the code they share over all answers: the rank of the pair."""
    similarity: tuple[float, float]
    """The share (0..1) of each student's own code, over all answers, that the other's also has."""


@dataclass
class SimilarityReport:
    """Every pair of one assignment's hand-ins that shares code, most similar first."""

    assignment: str
    students: list[str]
    """The students whose hand-ins were compared."""
    pairs: list[Pair]
    not_compared: dict[str, str] = field(default_factory=dict)
    """Student id -> why (part of) their hand-in was not compared."""


def similarity_report(course: Course, assignment: str, submissions: Path, out_dir: Path) -> SimilarityReport:
    """Compare the answers of every pair of students in `submissions` (a folder or an LMS zip, see `lms`).

    Zips and nbgrader's submitted/ tree are unpacked into `out_dir` first, as `grade` does.
    """
    course.require(assignment)
    if submissions.is_dir() and out_dir.resolve().is_relative_to(submissions.resolve()):
        raise CourseError(
            f"--out {out_dir} is inside the submissions folder {submissions}, where `grade` would take it"
            " for a student: choose a folder outside it"
        )
    names = course.notebook_names(assignment)
    releases = {
        name: release_notebook(nbformat.read(course.source_root / assignment / name, as_version=4), name)
        for name in names
    }
    folder = prepare_submissions(submissions, out_dir, assignment, course.root).folder
    code_answers = {
        name: {nbgrader_meta(c)["grade_id"] for c in release.cells if is_answer(c) and c.cell_type == "code"}
        for name, release in releases.items()
    }
    versions: dict[str, dict[str, str]] = {}  # answer -> student -> their own code
    not_compared: dict[str, str] = {}
    students = set()
    for submission in find_submissions(folder, names):
        if submission.path is None:
            not_compared[submission.student_id] = submission.message
            continue
        try:
            handed_in = read_notebook(submission.path)
        except UnreadableNotebook as error:
            not_compared[submission.student_id] = f"{submission.notebook}: {error}"
            continue
        release = releases[submission.notebook]
        given = given_lines(release)
        students.add(submission.student_id)
        for grade_id, code in match_answers(release, handed_in).answers.items():
            if grade_id not in code_answers[submission.notebook]:
                continue  # a written (markdown) answer: prose, which copydetect's code tokens do not fit
            label = grade_id if len(names) == 1 else f"{submission.notebook}: {grade_id}"
            versions.setdefault(label, {})[submission.student_id] = own_code(code, given)
    if len(students) < 2:
        raise CourseError(
            f"{folder} holds {len(students)} readable hand-in{'s' if len(students) != 1 else ''} of"
            f" {assignment}: comparing needs at least two"
        )
    boilerplate = _hashes("\n".join(_given_code(r) for r in releases.values()))
    alike: dict[tuple[str, str], list[AlikeAnswer]] = {}
    own: Counter[str] = Counter()  # student -> length of their own code over all answers
    for answer, by_student in sorted(versions.items()):
        prints = _fingerprints(by_student, boilerplate)
        for student, fingerprint in prints.items():
            own[student] += int(fingerprint.token_coverage)
        for a, b in combinations(sorted(prints), 2):
            found = _compare(answer, prints[a], prints[b])
            if found is not None:
                alike.setdefault((a, b), []).append(found)
    pairs = [_pair(students_, answers, own) for students_, answers in alike.items()]
    pairs.sort(key=lambda p: (-p.shared, -max(p.similarity), p.students))
    return SimilarityReport(assignment, sorted(students), pairs, not_compared)


def given_lines(release: NotebookNode) -> frozenset[str]:
    """Every line of code the released notebook gives, normalised (`_normal`): given cells and answer
    stubs, and each stub's `def` line also as students shorten it, without type hints (`def relu(x):`)."""
    code = _given_code(release)
    lines = set(code.splitlines())
    for node in ast.walk(_parse(code)):
        if isinstance(node, ast.FunctionDef):
            lines.add(f"def {node.name}({', '.join(a.arg for a in node.args.args)}):")
    return frozenset(_normal(line) for line in lines) - {""}


def own_code(code: str, given: frozenset[str]) -> str:
    """A student's answer without blank lines and the lines the release gives, even with names changed."""
    return "\n".join(line for line in code.splitlines() if _normal(line) and _normal(line) not in given)


def _normal(line: str) -> str:
    """A line as copydetect compares code: names as V, F or O, strings as S, no spaces or comments."""
    return filter_code(line, "answer.py", "python")[0].strip()


def _parse(code: str) -> ast.Module:
    try:
        return ast.parse(code)
    except SyntaxError:  # a given cell with IPython magic: its signatures are then not known
        return ast.Module(body=[], type_ignores=[])


def _stable_kgram_hashes(text: str, k: int) -> np.ndarray:
    """The hash of every k-gram of `text`, the same in every process (64 bits of BLAKE2b)."""
    grams = (text[i : i + k].encode() for i in range(len(text) - k + 1))
    return np.array(
        [int.from_bytes(hashlib.blake2b(g, digest_size=8).digest(), "little", signed=True) for g in grams],
        dtype=np.int64,
    )


# copydetect hashes k-grams with Python's hash(), which is salted anew in every process: the same
# class would get other scores, and pairs another order, on every run.
copydetect.utils.hashed_kgrams = _stable_kgram_hashes


def _given_code(release: NotebookNode) -> str:
    return "\n\n".join(cell.source for cell in release.cells if cell.cell_type == "code")


def _fingerprint(code: str, boilerplate: np.ndarray, window: int) -> CodeFingerprint:
    return CodeFingerprint("answer.py", NOISE, window, boilerplate, fp=io.StringIO(code), language="python")


def _hashes(code: str, boilerplate: np.ndarray | None = None) -> np.ndarray:
    """Every k-gram hash of `code`, as copydetect takes boilerplate (a sorted array without repeats)."""
    empty = np.array([], dtype=np.int64)
    hashes = _fingerprint(code, empty if boilerplate is None else boilerplate, 1).hashes
    return np.unique(np.fromiter(hashes, dtype=np.int64, count=len(hashes)))


def _fingerprints(by_student: dict[str, str], boilerplate: np.ndarray) -> dict[str, CodeFingerprint]:
    """Each student's fingerprint of one answer, without the release's code and the class's common code."""
    seen = Counter(h for code in by_student.values() for h in _hashes(code, boilerplate))
    written = sum(1 for code in by_student.values() if code.strip())
    if written >= COMMON_MIN:
        common = [h for h, count in seen.items() if count > COMMON_SHARE * written]
        boilerplate = np.union1d(boilerplate, np.array(common, dtype=np.int64))
    window = GUARANTEE - NOISE + 1
    prints = {student: _fingerprint(code, boilerplate, window) for student, code in by_student.items()}
    return {student: p for student, p in prints.items() if p.token_coverage > 0}


def _compare(answer: str, a: CodeFingerprint, b: CodeFingerprint) -> AlikeAnswer | None:
    shared, (similar_a, similar_b), (slices_a, slices_b) = compare_files(a, b)
    if shared == 0:
        return None
    lengths = (round(similar_a * a.token_coverage), round(similar_b * b.token_coverage))
    marked = tuple(
        highlight_overlap(fp.raw_code, slices, "<mark>", "</mark>", escape_html=True)[0]
        for fp, slices in ((a, slices_a), (b, slices_b))
    )
    return AlikeAnswer(answer, lengths, (float(similar_a), float(similar_b)), marked)


def _pair(students: tuple[str, str], answers: list[AlikeAnswer], own: Counter[str]) -> Pair:
    lengths = [sum(answer.shared[side] for answer in answers) for side in (0, 1)]
    similarity = (lengths[0] / own[students[0]], lengths[1] / own[students[1]])
    return Pair(students, tuple(answers), min(lengths), similarity)


PAGE_STYLE = """
.side { display: grid; grid-template-columns: 1fr 1fr; gap: .8rem; } .side pre { margin: .2rem 0; }
mark { background: #ffe08a; } @media (max-width: 40rem) { .side { grid-template-columns: 1fr; } }
"""

ABOUT = (
    "Each answer was compared with the same answer of every other student; names, spacing and comments"
    " are ignored, and so are the lines the released notebook gives{common}. Pairs are ranked by the"
    " length of the code they share; the percentages say how much of each student's own code the other's"
    " also has. This page shows where code is alike, not why: a worked example, the same tutorial or a"
    " study group the course allows give alike code too. Read both versions before drawing any conclusion."
)


def write_similarity(path: Path, report: SimilarityReport) -> None:
    """Write the similarity page of `report` to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_similarity(report), encoding="utf-8")


def render_similarity(report: SimilarityReport) -> str:
    """The similarity page as an HTML string: the most similar pairs, ranked, their code side by side."""
    title = f"{escape(report.assignment)}: similar hand-ins"
    common = f" and passages that most of the class wrote alike (with {COMMON_MIN} or more versions)"
    body = [
        f"<h1>{title}</h1>",
        f"<p>{len(report.students)} students' hand-ins compared pairwise.</p>",
        f"<p>{escape(ABOUT.format(common=common))}</p>",
    ]
    for student, why in sorted(report.not_compared.items()):
        body.append(f"<p>Not compared: {escape(student)}: {escape(why)}</p>")
    shown = report.pairs[:SHOWN]
    if not shown:
        body.append("<p>No two hand-ins share code beyond what the release gives.</p>")
    else:
        body.append(
            f"<h2>The {len(shown)} most similar pairs (of {len(report.pairs)} that share any code)</h2>"
            "<table><tr><th>rank</th><th>students</th><th>shared length</th><th>share of each one's code</th>"
            "<th>answers</th></tr>"
        )
        for rank, pair in enumerate(shown, 1):
            a, b = (escape(s) for s in pair.students)
            body.append(
                f"<tr><td>{rank}</td><td><a href='#pair-{rank}'>{a} and {b}</a></td><td>{pair.shared}</td>"
                f"<td>{pair.similarity[0]:.0%} / {pair.similarity[1]:.0%}</td>"
                f"<td>{escape(', '.join(answer.answer for answer in pair.answers))}</td></tr>"
            )
        body.append("</table>")
    for rank, pair in enumerate(shown, 1):
        a, b = (escape(s) for s in pair.students)
        body.append(f"<h2 id='pair-{rank}'>{rank}. {a} and {b}</h2>")
        for answer in pair.answers:
            body.append(
                f"<h3>{escape(answer.answer)}: {answer.similarity[0]:.0%} of {a}'s code,"
                f" {answer.similarity[1]:.0%} of {b}'s</h3><div class='side'>"
            )
            for student, marked in zip((a, b), answer.marked, strict=True):
                body.append(f"<div><p class='label'>{student}</p><pre>{marked}</pre></div>")
            body.append("</div>")
    return page(f"{report.assignment}: similar hand-ins", body, PAGE_STYLE)
