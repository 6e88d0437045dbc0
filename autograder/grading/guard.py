"""Guard: keep the hidden tests' tools out of the student's reach while the notebook runs.

The student's code runs in the same kernel as the tests, before them, and could rebind what the
tests rely on: `np.allclose = lambda *a, **k: True`, a fake `numpy` in `sys.modules`, a redefined
assertion helper from the given cells, a patched builtin. Two kinds of cell are added to the
notebook that is graded:

- a *snapshot* cell just before the first cell the student wrote: it records every loaded module's
  namespace, `sys.modules`, and the names the given cells defined (np, helpers, ...). Libraries the
  tests rely on must therefore be imported by the given cells, before the student's first answer;
- a *restore* cell before each test cell: it puts all of that back as it was.

Beyond module namespaces the restore puts back IPython's input and AST transformers, its event
hooks, its display and exception machinery, and any method patched onto the shell, the kernel or
their classes, and the guard itself.

Two more kinds of grader cell:

- a *prelude* first of all, which defines `observe` (see `observation`);
- two *canaries*: copies of a test cell that end in a check no notebook can pass. An honest
  notebook fails them; one that passes has changed how its cells run or report (`score` marks it
  "tampering suspected"). They look like tests to the student's code.

This is the first layer only. The guard runs in the student's interpreter and so is in their reach;
the verdict is not: points come from observations compared outside the kernel (see `verdict`).
"""

import hashlib

import nbformat
from nbformat import NotebookNode

from autograder.core.cells import Origin, is_answer, is_student_cell, is_test, marked_cell
from autograder.grading.observation import prelude_source

_SNAPSHOT = """\
def _autograder_snapshot():
    import sys, types
    user = get_ipython().user_ns
    modules = dict(sys.modules)
    namespaces = {
        name: (m, dict(vars(m)))
        for name, m in modules.items()
        if isinstance(m, types.ModuleType) and vars(m) is not user
    }
    given = {k: v for k, v in user.items() if not k.startswith("_") and k not in ("In", "Out", "exit", "quit", "get_ipython")}
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    objects = [o for o in (shell, kernel, shell.display_pub, shell.displayhook, shell.events, getattr(shell, "input_transformer_manager", None)) if o is not None]
    # Only what steers execution goes back: methods, hooks, transformers, display and exception
    # handling. Counters and the current message's header must keep moving.
    steering = ("custom_exceptions", "CustomTB", "display_pub", "displayhook", "display_trap", "InteractiveTB", "SyntaxTB")

    def steers(key, value):
        return key in steering or "transform" in key or (callable(value) and not isinstance(value, type))

    def stores(o):
        return [vars(o)] + ([o._trait_values] if isinstance(getattr(o, "_trait_values", None), dict) else [])

    attributes = [(o, store, {k: v for k, v in store.items() if steers(k, v)}) for o in objects for store in stores(o)]
    lists = {id(v): (v, list(v)) for _, _, saved in attributes for v in saved.values() if type(v) is list}
    hooks = {event: list(callbacks) for event, callbacks in shell.events.callbacks.items()}
    def method(value):
        return callable(value) or isinstance(value, (property, classmethod, staticmethod))

    classes = {cls: {k: v for k, v in vars(cls).items() if method(v)} for o in objects for cls in type(o).__mro__ if cls is not object}

    def installed(module):
        origin = getattr(getattr(module, "__spec__", None), "origin", None) or ""
        return origin in ("built-in", "frozen") or origin.startswith(trusted)

    trusted = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})

    def restore():
        # Modules loaded before the student's code go back; later ones stay (a C extension cannot
        # be imported twice), unless they are fakes or files from the working folder.
        for name in [n for n, m in sys.modules.items() if n not in modules and not installed(m)]:
            del sys.modules[name]
        sys.modules.update(modules)
        for name, (module, namespace) in namespaces.items():
            current = vars(module)
            if current == namespace:
                continue
            for key in [k for k in current if k not in namespace]:
                # A submodule imported since (numpy.random) stays: its parent's lazy loader needs it.
                value = current[key]
                if not (sys.modules.get(f"{name}.{key}") is value and installed(value)):
                    del current[key]
            current.update(namespace)
        user.update(given)
        # IPython and the kernel: transformers, hooks, display and exception handling, methods.
        for cls, saved in classes.items():
            for key in [k for k, v in vars(cls).items() if k not in saved and method(v)]:
                delattr(cls, key)
            for key, value in saved.items():
                if vars(cls).get(key) is not value:
                    try:
                        setattr(cls, key, value)
                    except (AttributeError, TypeError):
                        pass  # read-only slots of built-in types
        for obj, store, saved in attributes:
            if store is vars(obj):  # a method patched onto the instance shadows its class's
                for key in [k for k, v in store.items() if k not in saved and callable(v) and hasattr(type(obj), k)]:
                    del store[key]
            store.update(saved)
        for value, items in lists.values():
            value[:] = items
        shell.events.callbacks.clear()
        shell.events.callbacks.update({event: list(callbacks) for event, callbacks in hooks.items()})
        sys.modules["_autograder_guard"] = guard
        guard.restore = restore

    guard = types.ModuleType("_autograder_guard")
    guard.restore = restore
    modules["_autograder_guard"] = sys.modules["_autograder_guard"] = guard

_autograder_snapshot()
del _autograder_snapshot"""

_RESTORE = '__import__("sys").modules["_autograder_guard"].restore()'


def add_guards(notebook: NotebookNode) -> NotebookNode:
    """Insert the prelude first, the snapshot cell before the student's first cell, a restore cell
    before each test, and the canaries after the first and the last test."""
    tests = [cell for cell in notebook.cells if is_test(cell)]
    canary = _canary(tests)
    cells = [marked_cell(prelude_source(), Origin.GRADER)]
    snapshot_placed = False
    for cell in notebook.cells:
        written_by_student = is_answer(cell) or is_student_cell(cell)
        if written_by_student and not snapshot_placed:
            cells.append(marked_cell(_SNAPSHOT, Origin.GRADER))
            snapshot_placed = True
        if is_test(cell) and snapshot_placed:
            cells.append(marked_cell(_RESTORE, Origin.GRADER))
        cells.append(cell)
        if canary is not None and snapshot_placed and (cell is tests[0] or cell is tests[-1]):
            cells += [marked_cell(_RESTORE, Origin.GRADER), nbformat.from_dict(canary)]
    notebook.cells = cells
    return notebook


def _canary(tests: list[NotebookNode]) -> NotebookNode | None:
    """The canary cell: the shortest test's code, then a check that compares two different numbers.

    The numbers come from the test's code, so they differ between assignments but not between runs.
    """
    if not tests:
        return None
    model = min(tests, key=lambda cell: len(cell.source))
    seed = hashlib.sha256(model.source.encode()).digest()
    a, b = int.from_bytes(seed[:3]), int.from_bytes(seed[3:6]) | 1
    if a == b:
        a += 1
    check = f"assert {a} % {b} == {a % b + 1}, 'the result does not match the expected value'"
    return marked_cell(f"{model.source}\n{check}", Origin.CANARY)
