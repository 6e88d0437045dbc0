"""Evidence: the lines of a student's code that reach into the grading machinery, for a human to read.

The verdict does not depend on this (it is decided outside the kernel, see `verdict`), and nothing
found here costs a point: honest notebooks use threads, hooks, magics and subclasses too. But a
teacher who sees a notebook reach for IPython's shell, the kernel, `sys.modules`, the garbage
collector, `ctypes`, stack frames or the builtins, or rebind the tests' libraries, may want to read
it. The report lists these lines under "needs a human look".
"""

import ast
import re

MAX_LINES = 20
"""At most this many lines are listed per notebook."""

_MODULES = {
    "IPython": "imports IPython, the shell that runs the tests",
    "ipykernel": "imports the kernel that runs the tests",
    "jupyter_client": "imports Jupyter's messaging",
    "zmq": "imports the kernel's message sockets",
    "gc": "imports the garbage collector, which reaches every object",
    "ctypes": "imports ctypes, which writes the interpreter's memory",
    "inspect": "imports inspect, which reaches the tests' frames",
    "threading": "starts or controls threads",
    "_thread": "starts or controls threads",
    "builtins": "imports the builtins",
    "signal": "changes signal handling",
    "atexit": "registers exit handlers",
    "importlib": "imports or reloads modules by hand",
    "sys": None,  # too common to list by itself; its risky attributes are listed below
}

# Names general enough to be a student's own (`self.kernel`, `env.events`) are left out: the shell
# itself is only reached through get_ipython, IPython or sys.modules, which are listed.
_ATTRIBUTES = {
    "modules": "touches sys.modules",
    "_getframe": "reaches stack frames",
    "settrace": "traces execution",
    "setprofile": "traces execution",
    "displayhook": "replaces how results are shown",
    "excepthook": "replaces how errors are shown",
    "f_back": "reaches the caller's frame",
    "f_globals": "reaches a frame's globals",
    "f_locals": "reaches a frame's locals",
    "tb_frame": "reaches frames through a traceback",
    "__subclasses__": "walks the class hierarchy",
    "__globals__": "reaches a function's globals",
    "__code__": "rewrites a function's code",
    "__closure__": "reaches a function's closure",
    "__builtins__": "touches the builtins",
    "input_transformers_post": "rewrites the cells that run next",
    "input_transformers_cleanup": "rewrites the cells that run next",
    "input_transformer_manager": "rewrites the cells that run next",
    "ast_transformers": "rewrites the cells that run next",
    "set_custom_exc": "swallows errors",
    "_exit": "ends the process",
}

_NAMES = {
    "get_ipython": "reaches the IPython shell",
    "__builtins__": "touches the builtins",
    "exec": "runs code built at run time",
    "eval": "runs code built at run time",
    "compile": "compiles code at run time",
    "__import__": "imports by hand",
    "publish_display_data": "publishes outputs by hand",
}

_LIBRARIES = {"np", "numpy", "torch", "nn", "F", "math", "random", "os", "sys"}
"""Names of the tests' libraries: assigning to one of their attributes rebinds what the tests use."""

_MAGIC = re.compile(r"^\s*[%!]")


def suspicious_lines(cells: list[tuple[str, str]]) -> list[str]:
    """For (label, code) pairs of what the student wrote, each line that reaches into the machinery.

    Lines read "label, line N: code (why)"; the same line is listed once, at most `MAX_LINES` in all.
    """
    found: list[str] = []
    for label, code in cells:
        lines = code.splitlines()
        for number, reason in _findings(code):
            text = lines[number - 1].strip() if 0 < number <= len(lines) else ""
            entry = f"{label}, line {number}: {text[:120]} ({reason})"
            if entry not in found:
                found.append(entry)
    return found[:MAX_LINES]


def _findings(code: str) -> list[tuple[int, str]]:
    # Magics and shell escapes are not Python; blank them so that the rest still parses.
    cleaned = "\n".join("" if _MAGIC.match(line) else line for line in code.splitlines())
    try:
        tree = ast.parse(cleaned)
    except (SyntaxError, ValueError):
        return [
            (number, "code that does not parse, checked by name only")
            for number, line in enumerate(code.splitlines(), 1)
            if any(word in line for word in (*_NAMES, *_ATTRIBUTES, "_autograder"))
        ]
    findings = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            )
            for name in names:
                reason = _MODULES.get(name.split(".")[0])
                if reason:
                    findings.append((line, reason))
        elif isinstance(node, ast.Name) and node.id in _NAMES:
            findings.append((line, _NAMES[node.id]))
        elif isinstance(node, ast.Attribute) and node.attr in _ATTRIBUTES:
            findings.append((line, _ATTRIBUTES[node.attr]))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "autograder" in node.value:
            findings.append((line, "names the grader"))
        elif isinstance(node, ast.Name | ast.Attribute) and "_autograder" in getattr(
            node, "id", getattr(node, "attr", "")
        ):
            findings.append((line, "names the grader's own objects"))
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and _root(target) in _LIBRARIES:
                    findings.append((line, f"rebinds {ast.unparse(target)}, which the tests may use"))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("setattr", "delattr"):
            if node.args and _root(node.args[0]) in _LIBRARIES:
                findings.append(
                    (line, f"changes an attribute of {_root(node.args[0])}, which the tests may use")
                )
    return sorted(set(findings))


def _root(node: ast.AST) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""
