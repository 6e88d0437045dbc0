"""Observations: the plain values a test cell hands out of the student's kernel, and nothing else.

A hidden test calls `observe(name, value, **check)` on what the student's code produced: outputs,
gradients, parameters after a few steps, predictions. The kernel turns the value into plain data
(numbers, strings, lists, dicts, arrays as raw bytes; tensors become arrays) and publishes it as a
display output of the MIME type `MIME`. The grader reads those outputs back here, with limits, and
never unpickles or calls anything of the student's: an object that lies about itself arrives as the
numbers it holds. What the observations must equal is decided in the grader's process (see
`verdict`), against the reference run of the solution; the expected values never enter the kernel.

`observe` is defined by a grader cell at the top of every notebook that is graded (`prelude_source`),
so assignments do not carry it and students never need it.
"""

import base64
import binascii
import functools
import inspect
import math
import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from nbformat import NotebookNode

MIME = "application/vnd.autograder.grading.observation+json"
"""The MIME type of an observation output."""

MAX_DEPTH = 32
"""How deeply lists and dicts may nest in an observed value."""

MAX_ELEMENTS = 10_000_000
"""How many numbers all arrays of one observed value may hold together."""

_ARRAY_KINDS = "biufc"  # bool, int, unsigned, float, complex: never object or structured dtypes


def _kernel_side():  # noqa: ANN202 (runs in the student's kernel, see prelude_source)
    import base64
    import math
    import sys

    from IPython.display import publish_display_data

    mime = "application/vnd.autograder.grading.observation+json"

    def plain(value, depth=0):  # noqa: ANN001, ANN202
        if depth > 32:
            return {"$type": "too deeply nested"}
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            number = int(value)
            return number if abs(number) < 2**53 else {"$int": str(number)}
        if isinstance(value, float):
            number = float(value)
            return number if math.isfinite(number) else {"$float": repr(number)}
        if isinstance(value, str):
            return str.__str__(value)
        if isinstance(value, list | tuple):
            return [plain(item, depth + 1) for item in list(value)]
        if isinstance(value, dict):
            return {"$dict": [[plain(k, depth + 1), plain(v, depth + 1)] for k, v in dict(value).items()]}
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(value, torch.Tensor):
            value = value.detach().to("cpu")
            if not (value.dtype.is_floating_point or value.dtype.is_complex) or value.dtype.itemsize >= 4:
                value = value.numpy()
            else:
                value = value.float().numpy()  # bfloat16 has no numpy dtype
        if torch is not None and isinstance(value, torch.dtype | torch.device):
            return str(value)
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(value, numpy.ndarray | numpy.generic):
            array = numpy.array(numpy.asarray(value).view(numpy.ndarray), order="C")
            if array.dtype.kind not in "biufc":
                return {"$type": f"array of dtype {array.dtype}"}
            data = base64.b64encode(array.tobytes()).decode("ascii")
            return {"$array": {"dtype": array.dtype.str, "shape": list(array.shape), "data": data}}
        return {"$type": type(value).__name__}

    def observe(name, value, **check):  # noqa: ANN001, ANN003, ANN202
        """Hand `value` to the grader, which compares it with what the reference solution gave."""
        payload = {"name": str(name), "value": plain(value), "check": plain(check)}
        publish_display_data({mime: payload}, metadata={})

    return observe


@functools.cache  # read once per process, not once per student
def prelude_source() -> str:
    """The code of the grader cell that defines `observe` in the kernel."""
    body = textwrap.dedent(inspect.getsource(_kernel_side))
    return f"{body}\n\nobserve = _kernel_side()\ndel _kernel_side"


class Unrecordable:
    """A value the kernel could not turn into plain data (it names the type it had)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __eq__(self, other: object) -> bool:
        return False  # never equal to anything, not even another of its kind

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"a {self.kind}"


@dataclass(frozen=True)
class Observation:
    """One value a test cell observed, decoded: None, bool, int, float, str, list, dict or ndarray."""

    name: str
    value: Any
    check: dict = field(default_factory=dict)
    """How the value is judged (tolerances, bounds); the grader uses the *reference* run's."""


class BadObservation(ValueError):
    """An observation output that is not what `observe` writes."""


def observations(cell: NotebookNode) -> list[Observation]:
    """The observations an executed cell published, in order; malformed ones are left out."""
    found = []
    for output in cell.get("outputs", []):
        payload = output.get("data", {}).get(MIME) if isinstance(output.get("data"), dict) else None
        if payload is None:
            continue
        try:
            found.append(decode(payload))
        except BadObservation:
            continue
    return found


def decode(payload: Any) -> Observation:
    """An observation from its published payload, refusing anything `observe` would not write."""
    if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
        raise BadObservation("an observation needs a name")
    budget = [MAX_ELEMENTS]
    check = _decode(payload.get("check", {}), 0, budget)
    if not isinstance(check, dict) or not all(isinstance(k, str) for k in check):
        raise BadObservation("an observation's check must be a dict of named settings")
    return Observation(payload["name"], _decode(payload.get("value"), 0, budget), check)


def _decode(data: Any, depth: int, budget: list[int]) -> Any:
    if depth > MAX_DEPTH:
        raise BadObservation("nested too deeply")
    if data is None or isinstance(data, bool | str):
        return data
    if isinstance(data, int | float):
        return data
    if isinstance(data, list):
        return [_decode(item, depth + 1, budget) for item in data]
    if not isinstance(data, dict) or len(data) != 1:
        raise BadObservation("not plain data")
    [(tag, content)] = data.items()
    if tag == "$int" and isinstance(content, str) and content.lstrip("-").isdigit() and len(content) < 400:
        return int(content)
    if tag == "$float" and content in ("nan", "inf", "-inf"):
        return float(content)
    if tag == "$type" and isinstance(content, str):
        return Unrecordable(content[:200])
    if tag == "$dict" and isinstance(content, list):
        pairs = [_decode(pair, depth + 1, budget) for pair in content]
        if not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str | int | float) for p in pairs
        ):
            raise BadObservation("a dict's keys must be strings or numbers")
        return {key: value for key, value in pairs}
    if tag == "$array" and isinstance(content, dict):
        return _decode_array(content, budget)
    raise BadObservation(f"unknown tag {tag!r}")


def _decode_array(content: dict, budget: list[int]) -> np.ndarray:
    try:
        dtype = np.dtype(str(content["dtype"]))
        shape = tuple(int(n) for n in content["shape"])
        raw = base64.b64decode(content["data"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error) as error:
        raise BadObservation(f"not an array: {error}") from error
    count = math.prod(shape)
    if dtype.kind not in _ARRAY_KINDS or min(shape, default=0) < 0 or len(shape) > 32:
        raise BadObservation("not an array of numbers")
    budget[0] -= count
    if budget[0] < 0 or len(raw) != count * dtype.itemsize:
        raise BadObservation("array too large, or its data does not fit its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def encode(value: Any) -> Any:
    """Plain data as `observe` writes it, from a decoded value (for storing a reference run)."""
    if isinstance(value, np.ndarray):
        array = np.array(value, order="C")
        data = base64.b64encode(array.tobytes()).decode("ascii")
        return {"$array": {"dtype": array.dtype.str, "shape": list(array.shape), "data": data}}
    if isinstance(value, Unrecordable):
        return {"$type": value.kind}
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": repr(value)}
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        return {"$int": str(value)}
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {"$dict": [[encode(k), encode(v)] for k, v in value.items()]}
    return value
