"""Verdict: whether a test cell's observations match the reference run's, decided in the grader's process.

A test cell earns its points only when the kernel says it ran to its end *and* every observation
the reference solution made in that cell was made again, with a value that passes the reference's
check. The check always comes from the reference run: a student who calls `observe` with a huge
tolerance changes nothing. Two kinds of check exist:

- **close** (the default): the student's value equals the reference's, numbers within `rtol` and
  `atol` (default 1e-5 and 1e-8), same shapes, same strings, same list lengths and dict keys;
  `dtype=True` also asks for the same array dtype.
- **bound** (`low` and/or `high` given): a statistic of the student's value alone lies within the
  bounds, for answers that may differ from the reference's yet be right (a random initialisation, a
  trained network). The statistic is computed here, from the observed numbers: `value`, `mean`,
  `std`, `min`, `max`, `max_abs`, `norm`, or `accuracy` and `mse` of the value `against` another
  observation of the same cell (which is itself checked close to the reference's: the labels).

A failed check reads "name: what differs", followed by the reference's `hint` when it gave one.
"""

from collections.abc import Callable
from enum import StrEnum
from typing import Any

import numpy as np

from autograder.grading.observation import Observation, Unrecordable

DEFAULT_RTOL = 1e-5
DEFAULT_ATOL = 1e-8


class CheckKind(StrEnum):
    """How an observation is judged."""

    CLOSE = "close"
    BOUND = "bound"


def _accuracy(value: np.ndarray, labels: np.ndarray) -> float:
    predicted = value.argmax(axis=-1) if value.ndim == labels.ndim + 1 else value
    if predicted.shape != labels.shape:
        raise ValueError(f"predictions of shape {predicted.shape} for labels of shape {labels.shape}")
    return float(np.mean(predicted == labels))


def _mse(value: np.ndarray, targets: np.ndarray) -> float:
    if value.shape != targets.shape:
        raise ValueError(f"predictions of shape {value.shape} for targets of shape {targets.shape}")
    return float(np.mean((value.astype(np.float64) - targets) ** 2))


STATISTICS: dict[str, Callable[..., float]] = {
    "value": lambda v: float(v.item()) if v.size == 1 else _not_scalar(v),
    "mean": lambda v: float(np.mean(v)),
    "std": lambda v: float(np.std(v)),
    "min": lambda v: float(np.min(v)),
    "max": lambda v: float(np.max(v)),
    "max_abs": lambda v: float(np.max(np.abs(v))),
    "norm": lambda v: float(np.linalg.norm(v.astype(np.float64).ravel())),
    "accuracy": _accuracy,
    "mse": _mse,
}
"""Statistics a bound check may take; `accuracy` and `mse` take a second value (`against`)."""

NEEDS_AGAINST = frozenset({"accuracy", "mse"})

SETTINGS = frozenset({"rtol", "atol", "dtype", "hint", "statistic", "against", "low", "high"})
"""The keywords `observe` takes after the name and the value."""


def _not_scalar(value: np.ndarray) -> float:
    raise ValueError(f"expected one number, got an array of shape {value.shape}")


def kind_of(check: dict) -> CheckKind:
    """Which kind of check an observation's settings ask for."""
    return CheckKind.BOUND if ("low" in check or "high" in check) else CheckKind.CLOSE


def check_problems(observed: list[Observation]) -> list[str]:
    """What is wrong with a test cell's observations as checks (for the reference run); [] if fine."""
    problems = []
    close_names = {o.name for o in observed if kind_of(o.check) is CheckKind.CLOSE}
    for observation in observed:
        check = observation.check
        unknown = set(check) - SETTINGS
        if unknown:
            problems.append(
                f"observe({observation.name!r}) has unknown settings: {', '.join(sorted(unknown))}"
            )
        if isinstance(observation.value, Unrecordable):
            problems.append(
                f"observe({observation.name!r}) got {observation.value!r}, which cannot be recorded"
            )
        if kind_of(check) is CheckKind.BOUND:
            statistic = check.get("statistic", "value")
            if statistic not in STATISTICS:
                problems.append(f"observe({observation.name!r}) has an unknown statistic {statistic!r}")
            elif (statistic in NEEDS_AGAINST) != ("against" in check):
                problems.append(f"observe({observation.name!r}): `against` goes with accuracy and mse only")
            elif "against" in check and check["against"] not in close_names:
                problems.append(
                    f"observe({observation.name!r}) is measured against {check['against']!r},"
                    " which the cell must observe (without bounds) first"
                )
    return problems


def judge(expected: list[Observation], got: list[Observation]) -> str:
    """'' when `got` (the student's run) passes every check of `expected` (the reference's), else why not.

    Observations pair up by name and, for a name observed several times, by order.
    """
    by_key: dict[tuple[str, int], Observation] = {}
    counts: dict[str, int] = {}
    for observation in got:
        n = counts.get(observation.name, 0)
        counts[observation.name] = n + 1
        by_key.setdefault((observation.name, n), observation)
    first = {name: by_key[name, 0] for name in counts}
    seen: dict[str, int] = {}
    for reference in expected:
        n = seen.get(reference.name, 0)
        seen[reference.name] = n + 1
        student = by_key.get((reference.name, n))
        if student is None:
            problem = "not observed: the test stopped before this check, or it was skipped"
        else:
            problem = _judge_one(reference, student, first)
        if problem:
            hint = reference.check.get("hint")
            return f"{reference.name}: {problem}" + (f" - {hint}" if isinstance(hint, str) and hint else "")
    return ""


def _judge_one(reference: Observation, student: Observation, first: dict[str, Observation]) -> str:
    check = reference.check
    if kind_of(check) is CheckKind.CLOSE:
        rtol = float(check.get("rtol", DEFAULT_RTOL))
        atol = float(check.get("atol", DEFAULT_ATOL))
        return difference(reference.value, student.value, rtol, atol, bool(check.get("dtype", False)))
    statistic = check.get("statistic", "value")
    value = student.value
    if not _is_numeric(value):
        return f"expected numbers, got {_describe(value)}"
    arguments = [np.asarray(value)]
    if statistic in NEEDS_AGAINST:
        other = first.get(check["against"])
        if other is None or not _is_numeric(other.value):
            return f"cannot measure the {statistic}: {check['against']!r} was not observed"
        arguments.append(np.asarray(other.value))
    try:
        measured = STATISTICS[statistic](*arguments)
    except (ValueError, TypeError) as error:
        return str(error)
    what = "" if statistic == "value" else f"{statistic.replace('_', ' ')} "
    low, high = check.get("low"), check.get("high")
    if not np.isfinite(measured):
        return f"{what or 'the value '}is {measured}, not a finite number"
    if low is not None and measured < float(low):
        return f"{what}{measured:.4g} is below the bound {float(low):.4g}".strip()
    if high is not None and measured > float(high):
        return f"{what}{measured:.4g} is above the bound {float(high):.4g}".strip()
    return ""


def difference(
    expected: Any, got: Any, rtol: float, atol: float, same_dtype: bool = False, at: str = ""
) -> str:
    """'' when `got` matches `expected`, else a short description of the first difference."""
    where = f" at {at}" if at else ""
    if _is_numeric(expected):
        if not _is_numeric(got):
            return f"expected {_describe(expected)}{where}, got {_describe(got)}"
        return _numeric_difference(np.asarray(expected), np.asarray(got), rtol, atol, same_dtype, where)
    if isinstance(expected, str) or expected is None:
        if type(got) is not type(expected) or got != expected:
            return f"expected {_describe(expected)}{where}, got {_describe(got)}"
        return ""
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            return f"expected {_describe(expected)}{where}, got {_describe(got)}"
        for index, (e, g) in enumerate(zip(expected, got, strict=True)):
            if problem := difference(e, g, rtol, atol, same_dtype, f"{at}[{index}]"):
                return problem
        return ""
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            keys = sorted(map(str, got)) if isinstance(got, dict) else None
            return f"expected keys {sorted(map(str, expected))}{where}, got " + (
                f"keys {keys}" if keys is not None else _describe(got)
            )
        for key in expected:
            if problem := difference(expected[key], got[key], rtol, atol, same_dtype, f"{at}[{key!r}]"):
                return problem
        return ""
    return f"the reference value{where} ({_describe(expected)}) cannot be compared"


def _numeric_difference(
    expected: np.ndarray, got: np.ndarray, rtol: float, atol: float, same_dtype: bool, where: str
) -> str:
    if expected.shape != got.shape:
        return f"expected shape {expected.shape}{where}, got shape {got.shape}"
    if same_dtype and expected.dtype != got.dtype:
        return f"expected dtype {expected.dtype}{where}, got {got.dtype}"
    wide = np.complex128 if "c" in (expected.dtype.kind, got.dtype.kind) else np.float64
    e, g = expected.astype(wide), got.astype(wide)
    close = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return ""
    if expected.ndim == 0:
        return f"expected {_number(e.item())}{where}, got {_number(g.item())}"
    gap = np.where(close, 0, np.nan_to_num(np.abs(g - e), nan=np.inf, posinf=np.inf))
    index = np.unravel_index(int(np.argmax(gap)), gap.shape)
    position = "[" + ", ".join(map(str, index)) + "]"
    return (
        f"{int((~close).sum())} of {close.size} values differ{where}; at {position}"
        f" expected {_number(e[index].item())}, got {_number(g[index].item())}"
    )


def _is_numeric(value: Any) -> bool:
    return isinstance(value, bool | int | float | np.ndarray) and not isinstance(value, Unrecordable)


def _number(value: complex | float) -> str:
    if isinstance(value, complex) and value.imag == 0:
        value = value.real
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}" if value.ndim else _number(value.item())
    if isinstance(value, bool | int | float):
        return _number(float(value)) if not isinstance(value, bool) else str(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))[:8]}"
    if value is None:
        return "None"
    return repr(value)
