"""Mutate: small deliberate bugs in an assignment's reference solution, to see whether its tests notice.

Only the code between `### BEGIN SOLUTION` and `### END SOLUTION` of an answer cell is changed, one
change per mutant, with Python's `ast`: arithmetic and comparison operators swapped, numbers changed
(0 <-> 1, n -> n + 1), ranges and slices off by one, statements removed, calls such as
`optimizer.zero_grad()` dropped, signs flipped, `and`/`or` swapped, `not` dropped, return values
replaced by None. The change is spliced into the cell's text, so the rest of the cell (comments,
layout) stays as the teacher wrote it. Mutants that do not compile or that parse to the original code
are dropped, and so are duplicates.

Each mutant has an id that depends only on where it is (the function), the original line and the
change, so it survives unrelated edits of the notebook: teachers list the ids of mutants no test can
kill (equivalent mutants) in `source_notebooks/<assignment>/.equivalent_mutants`.
"""

import ast
import hashlib
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from autograder.core.cells import is_answer, nbgrader_meta
from autograder.core.errors import CourseError

BEGIN = re.compile(r"^\s*###\s*BEGIN SOLUTION")
END = re.compile(r"^\s*###\s*END SOLUTION")

EQUIVALENTS_FILE = ".equivalent_mutants"
"""File beside the source notebook listing equivalent mutants; hidden, so never released or graded."""

# Operator swaps. Each maps to the operators a mistake would plausibly put in its place.
_BINOPS: dict[type, tuple[type, ...]] = {
    ast.Add: (ast.Sub,),
    ast.Sub: (ast.Add,),
    ast.Mult: (ast.Div,),
    ast.Div: (ast.Mult,),
    ast.FloorDiv: (ast.Div,),
    ast.Mod: (ast.FloorDiv,),
    ast.Pow: (ast.Mult,),
    ast.MatMult: (ast.Mult,),
}
# A boundary slip (< for <=) and the negation (< for >=).
_COMPARES: dict[type, tuple[type, ...]] = {
    ast.Lt: (ast.LtE, ast.GtE),
    ast.LtE: (ast.Lt, ast.Gt),
    ast.Gt: (ast.GtE, ast.LtE),
    ast.GtE: (ast.Gt, ast.Lt),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
}
_CONTAINERS = (
    ast.Tuple,
    ast.List,
    ast.Dict,
    ast.Set,
    ast.ListComp,
    ast.DictComp,
    ast.SetComp,
    ast.GeneratorExp,
    ast.JoinedStr,
    ast.Compare,
    ast.BoolOp,
    ast.Lambda,
)
# Expressions that need parentheses when spliced into their parent's text.
_LOOSE = (ast.BinOp, ast.BoolOp, ast.Compare, ast.UnaryOp, ast.IfExp, ast.Lambda, ast.NamedExpr)

OPERATORS = (
    "arithmetic",
    "comparison",
    "constant",
    "off-by-one",
    "remove-statement",
    "drop-call",
    "sign",
    "boolean",
    "return",
)
"""The kinds of mutation, as they appear in reports."""


@dataclass(frozen=True)
class Mutant:
    """One changed copy of an answer cell."""

    id: str
    grade_id: str
    """The answer cell that was changed."""
    where: str
    """The function or method it is in (`Var.__add__`), or the cell's grade_id for top-level code."""
    line: int
    """Line in the cell (1-based) where the change starts."""
    operator: str
    before: str
    after: str
    """The changed line(s) before and after, whitespace collapsed, for people to read."""
    code: str
    """The whole changed cell."""

    def describe(self) -> str:
        """One line: where the mutant is and what it changed."""
        return f"{self.where}, line {self.line} [{self.operator}]: {self.before}  ->  {self.after}"


def solution_lines(source: str) -> list[tuple[int, int]]:
    """Line ranges (1-based, inclusive) strictly between `### BEGIN SOLUTION` and `### END SOLUTION`."""
    regions, start = [], None
    for number, line in enumerate(source.splitlines(), start=1):
        if BEGIN.match(line):
            start = number + 1
        elif END.match(line) and start is not None:
            if number > start:
                regions.append((start, number - 1))
            start = None
    return regions


def notebook_mutants(notebook: NotebookNode) -> list[Mutant]:
    """Every mutant of every answer cell of a source notebook, in cell and line order."""
    mutants: list[Mutant] = []
    for cell in notebook.cells:
        if is_answer(cell) and cell.cell_type == "code":
            mutants += cell_mutants(nbgrader_meta(cell)["grade_id"], cell.source)
    return mutants


def cell_mutants(grade_id: str, source: str) -> list[Mutant]:
    """The distinct, compilable mutants of one answer cell's solution regions."""
    regions = solution_lines(source)
    if not regions:
        return []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # IPython magics or a broken reference: nothing to mutate reliably
    original = ast.dump(tree)
    raw = source.encode()
    starts = _line_starts(raw)
    seen = {original}
    made: list[Mutant] = []
    counts: dict[str, int] = {}
    for node, where in _walk(tree, grade_id):
        if not _inside(node, regions):
            continue
        for operator, target, replacement in _changes(node):
            start = starts[target.lineno - 1] + target.col_offset
            end = starts[target.end_lineno - 1] + target.end_col_offset
            try:
                replacement, mutated, dump = _splice(raw, start, end, replacement)
            except (SyntaxError, ValueError):
                continue
            if dump in seen:
                continue
            seen.add(dump)
            first, last = target.lineno, target.end_lineno
            shift = replacement.count("\n") - raw[start:end].decode().count("\n")
            before = _shown(source.splitlines()[first - 1 : last])
            after = _shown(mutated.splitlines()[first - 1 : last + shift])
            key = "\n".join((where, before, operator, after))
            counts[key] = counts.get(key, 0) + 1
            if counts[key] > 1:  # the same line twice in one function: tell the copies apart
                key += f"\n#{counts[key]}"
            ident = hashlib.sha256(key.encode()).hexdigest()[:10]
            made.append(Mutant(ident, grade_id, where, first, operator, before, after, mutated))
    return made


def _splice(raw: bytes, start: int, end: int, replacement: str) -> tuple[str, str, str]:
    """(replacement, mutated cell, its ast dump), without the replacement's parentheses where not needed.

    Parentheses that `_text` put around an expression are dropped when the code means the same
    without them, so that people read `relu(X * W + b)`, not `relu((X * W) + b)`.
    """

    def attempt(text: str) -> tuple[str, str, str]:
        mutated = (raw[:start] + text.encode() + raw[end:]).decode()
        compile(mutated, "<mutant>", "exec")
        return text, mutated, ast.dump(ast.parse(mutated))

    chosen = attempt(replacement)
    if replacement.startswith("(") and replacement.endswith(")"):
        try:
            bare = attempt(replacement[1:-1])
        except (SyntaxError, ValueError):
            return chosen
        if bare[2] == chosen[2]:
            return bare
    return chosen


def sample_mutants(
    mutants: list[Mutant], seed: int = 0, sample: int | None = None, per_cell: int | None = None
) -> list[Mutant]:
    """A reproducible subset: at most `per_cell` per answer cell, then `sample` in all, spread over cells.

    Mutants keep their original order, so reports read top to bottom through the notebook.
    """
    rng = random.Random(seed)
    by_cell: dict[str, list[Mutant]] = {}
    for mutant in mutants:
        by_cell.setdefault(mutant.grade_id, []).append(mutant)
    pools = []
    for group in by_cell.values():
        group = list(group)
        rng.shuffle(group)
        pools.append(group[:per_cell] if per_cell is not None else group)
    chosen: list[Mutant] = []
    # Round-robin over the cells, so that a small sample still reaches every part of the notebook.
    while pools and (sample is None or len(chosen) < sample):
        pools = [pool for pool in pools if pool]
        for pool in pools:
            if sample is not None and len(chosen) >= sample:
                break
            chosen.append(pool.pop())
    order = {id(m): index for index, m in enumerate(mutants)}
    return sorted(chosen, key=lambda m: order[id(m)])


def read_equivalents(path: Path) -> dict[str, str]:
    """Mutant id -> the teacher's note, from an equivalents file; {} when there is none.

    One mutant per line: its id, then anything after `#` for people (what changed, why it is harmless).
    """
    if not path.is_file():
        return {}
    equivalents = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        ident, _, note = text.partition("#")
        ident = ident.strip()
        if not re.fullmatch(r"[0-9a-f]{10}", ident):
            raise CourseError(f"{path}:{number}: expected a mutant id (10 hex digits) first, got {ident!r}")
        equivalents[ident] = note.strip()
    return equivalents


def equivalent_line(mutant: Mutant, reason: str = "why: <reason>") -> str:
    """The line to add to the equivalents file for `mutant`."""
    return f"{mutant.id}  # {mutant.describe()}" + (f" | {reason}" if reason else "")


def _line_starts(raw: bytes) -> list[int]:
    # ast's col_offset counts UTF-8 bytes, so the splicing works on bytes too.
    starts, offset = [], 0
    for line in raw.splitlines(keepends=True):
        starts.append(offset)
        offset += len(line)
    starts.append(offset)
    return starts


def _shown(lines: list[str]) -> str:
    text = " ".join(line.strip() for line in lines if line.strip())
    if len(lines) > 1 and len(text) > 100:
        text = f"{lines[0].strip()} ... ({len(lines)} lines)"
    return text or "(nothing)"


def _inside(node: ast.AST, regions: list[tuple[int, int]]) -> bool:
    return any(start <= node.lineno and node.end_lineno <= end for start, end in regions)


def _walk(tree: ast.AST, top: str) -> Iterator[tuple[ast.AST, str]]:
    """Every statement and expression with the qualified name of the function or class around it.

    f-strings, annotations and docstrings are skipped: changing them changes no result, only text.
    """

    def visit(node: ast.AST, where: str) -> Iterator[tuple[ast.AST, str]]:
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns", "type_comment"):
                continue
            children = value if isinstance(value, list) else [value]
            for index, child in enumerate(children):
                if not isinstance(child, ast.AST) or isinstance(child, ast.JoinedStr):
                    continue
                if name == "body" and index == 0 and _is_docstring(child):
                    continue
                if isinstance(child, ast.expr | ast.stmt):
                    yield child, where
                inner = where
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    inner = child.name if where == top else f"{where}.{child.name}"
                yield from visit(child, inner)

    yield from visit(tree, top)


def _is_docstring(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _text(node: ast.AST) -> str:
    text = ast.unparse(node)
    return f"({text})" if isinstance(node, _LOOSE) else text


def _changes(node: ast.AST) -> Iterable[tuple[str, ast.AST, str]]:
    """(operator, node whose text is replaced, replacement text) for every mutation of `node` itself."""
    if isinstance(node, ast.BinOp):
        for new in _BINOPS.get(type(node.op), ()):
            yield "arithmetic", node, _text(ast.BinOp(node.left, new(), node.right))
    elif isinstance(node, ast.AugAssign):
        for new in _BINOPS.get(type(node.op), ()):
            yield "arithmetic", node, ast.unparse(ast.AugAssign(node.target, new(), node.value))
    elif isinstance(node, ast.Compare):
        for index, op in enumerate(node.ops):
            for new in _COMPARES.get(type(op), ()):
                ops = [*node.ops[:index], new(), *node.ops[index + 1 :]]
                yield "comparison", node, _text(ast.Compare(node.left, ops, node.comparators))
    elif isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield "boolean", node, _text(ast.BoolOp(other, node.values))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "boolean", node, _text(node.operand)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "sign", node, _text(node.operand)
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
        yield from _constant_changes(node)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        for argument in node.args:
            yield from _off_by_one(argument)
    elif isinstance(node, ast.Slice):
        for bound in (node.lower, node.upper):
            if bound is not None:
                yield from _off_by_one(bound)
    if isinstance(node, ast.Return) and node.value is not None:
        if not (isinstance(node.value, ast.Constant) and node.value.value is None):
            yield "return", node.value, "None"
    if isinstance(node, ast.Return | ast.Assign | ast.AugAssign) and _signed(node):
        yield "sign", node.value, f"-{_text(node.value)}"
    if isinstance(node, ast.stmt) and not isinstance(node, ast.Pass | ast.Return):
        kind = "drop-call" if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) else None
        yield kind or "remove-statement", node, "pass"


def _signed(statement: ast.Return | ast.Assign | ast.AugAssign) -> bool:
    """Whether `-value` is worth trying: a number-like value, not a container, a flag or an unpacking."""
    value = statement.value
    if value is None or isinstance(value, _CONTAINERS):
        return False
    if isinstance(statement, ast.Assign) and any(
        isinstance(t, ast.Tuple | ast.List) for t in statement.targets
    ):
        return False
    if isinstance(statement, ast.AugAssign) and isinstance(statement.op, ast.Add | ast.Sub):
        return False  # `x += -y` is `x -= y`, which the arithmetic mutation makes
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub | ast.Not):
        return False  # removing the minus is the sign mutation there
    if isinstance(value, ast.Constant):  # -0 == 0, and text has no sign
        return type(value.value) in (int, float) and value.value != 0
    return True


def _constant_changes(node: ast.Constant) -> Iterable[tuple[str, ast.AST, str]]:
    value = node.value
    if isinstance(value, bool):
        yield "constant", node, repr(not value)
        return
    if value == 0:
        yield "constant", node, repr(type(value)(1))
    elif value == 1:
        yield "constant", node, repr(type(value)(0))
    if value != 0:  # 0 + 1 is 1, made above
        yield "constant", node, repr(value + 1)


def _off_by_one(bound: ast.expr) -> Iterable[tuple[str, ast.AST, str]]:
    # A number bound is already changed by the constant mutations; these are for `len(xs)`, `k - 1`...
    if isinstance(bound, ast.Constant) or (
        isinstance(bound, ast.UnaryOp) and isinstance(bound.operand, ast.Constant)
    ):
        return
    yield "off-by-one", bound, f"{_text(bound)} + 1"
    yield "off-by-one", bound, f"{_text(bound)} - 1"
