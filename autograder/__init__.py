"""Release and grade the course's nbgrader assignments.

The folders are the architecture, and `lint-imports` (in `make lint`) keeps it so:

- `core`: shared primitives (errors, settings, the course, the data model, cell metadata, late policy).
- `intake`: from an LMS download or a folder to one notebook per student.
- `grading`: one hand-in from its cells to its points, in a sandboxed kernel, judged outside it.
- `outputs`: the gradebook, feedback pages, the teacher's report, LMS grade files, nbgrader's feedback tree.
- `authoring`: release, publish, and the mutants that measure the tests.
- On top: `grade` (the pipeline from hand-ins to outputs), `check` (the tests' strength),
  `similarity` (alike answers), and `cli`, a thin layer over them.

The stages import the core and never each other; only the top modules string them together.
"""

import sys

__version__ = "0.1.0"

# jsonschema (under nbformat) imports rfc3987_syntax for its `iri` format check, which builds some
# 35 Earley parsers at import time: 2-3 s of CPU in every process (the CLI, each Dask worker).
# Notebook schemas check no formats; without the module jsonschema just skips that checker.
# python-jsonschema/jsonschema#1428.
sys.modules.setdefault("rfc3987_syntax", None)
