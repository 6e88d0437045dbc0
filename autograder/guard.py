"""Guard: keep the hidden tests' tools out of the student's reach while the notebook runs.

The student's code runs in the same kernel as the tests, before them, and could rebind what the
tests rely on: `np.allclose = lambda *a, **k: True`, a fake `numpy` in `sys.modules`, a redefined
assertion helper from the given cells, a patched builtin. Two kinds of cell are added to the
notebook that is graded:

- a *snapshot* cell just before the first cell the student wrote: it records every loaded module's
  namespace, `sys.modules`, and the names the given cells defined (np, helpers, ...). Libraries the
  tests rely on must therefore be imported by the given cells, before the student's first answer;
- a *restore* cell before each test cell: it puts all of that back as it was.

Together with scoring from the kernel's own execute replies (not from printed text) and the
sandbox, this stops the usual ways of earning points one did not. It is not a wall: code that digs
through the interpreter's internals could still reach the snapshot, which is why hidden tests
should also check values that only a working answer produces.
"""

import nbformat
from nbformat import NotebookNode

from autograder.match import is_answer, is_test

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

    guard = types.ModuleType("_autograder_guard")
    guard.restore = restore
    modules["_autograder_guard"] = sys.modules["_autograder_guard"] = guard

_autograder_snapshot()
del _autograder_snapshot"""

_RESTORE = '__import__("sys").modules["_autograder_guard"].restore()'


def add_guards(notebook: NotebookNode) -> NotebookNode:
    """Insert the snapshot cell before the student's first cell and a restore cell before each test."""
    cells = []
    snapshot_placed = False
    for cell in notebook.cells:
        written_by_student = is_answer(cell) or _origin(cell) == "student"
        if written_by_student and not snapshot_placed:
            cells.append(_grader_cell(_SNAPSHOT))
            snapshot_placed = True
        if is_test(cell) and snapshot_placed:
            cells.append(_grader_cell(_RESTORE))
        cells.append(cell)
    notebook.cells = cells
    return notebook


def is_grader_cell(cell: NotebookNode) -> bool:
    """True for a cell the guard added (the feedback page leaves them out)."""
    return _origin(cell) == "grader"


def _origin(cell: NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("autograder", {}).get("origin")


def _grader_cell(source: str) -> NotebookNode:
    return nbformat.v4.new_code_cell(source, metadata={"autograder": {"origin": "grader"}})
