"""Release and grade the course's nbgrader assignments.

The package is a pipeline of small steps, one module each:

- `config`, `settings`, `course`, `model`, `interrupt`: the shared primitives: the settings as plain
  data and as the `c.Autograder` section of nbgrader_config.py, where assignments live, the grades'
  data, and a clean stop on Ctrl-C or SIGTERM.
- `release`: source notebooks (with solutions and hidden tests) -> student notebooks; `publish`:
  the student-facing repository, checked for any solution line.
- `lms` and `roster`: unpack an LMS's download (Moodle, Canvas, Brightspace, nbgrader's exchange)
  and remember who each student is there.
- `submissions`: find and read what students handed in.
- `match`: find each answer in a student's notebook, even when its metadata was stripped.
- `guard`: keep the tests' libraries and helpers out of the student code's reach.
- `sandbox`: the bubblewrap jail and resource limits a student's kernel runs in.
- `kernels`: a fresh sandboxed kernel for every notebook, started one notebook ahead; `messages`:
  the kernel's messages decoded with limits.
- `execute`: run the rebuilt notebook in a fresh kernel.
- `observation`: the plain values hidden tests hand out of the kernel with `observe`.
- `reference`: what the solution observed, recorded once per version of an assignment.
- `verdict`: whether a student's observations pass the reference's checks, decided outside the kernel.
- `score`: turn executed test cells into points.
- `evidence`: the lines of a student's code that reach into the grading machinery, for the teacher.
- `late`: deadlines and late penalties from nbgrader_config.py.
- `gradebook`: keep every grade in SQLite (or any SQLAlchemy database).
- `feedback`, `export` and `report`: the pages, grade files and zips a teacher hands out or uploads
  to the LMS, and the teacher's report; `similarity`: the pairs of hand-ins whose answers are alike.
- `parallel`: run the grading on Dask workers: local, an existing cluster, or HPC batch jobs.
- `grade`: the pipeline that strings those steps together; `cli` is a thin layer over it.
- `mutate` and `check`: how strong an assignment's tests are, by grading mutants of its solution.
"""

import sys

__version__ = "0.1.0"

# jsonschema (under nbformat) imports rfc3987_syntax for its `iri` format check, which builds some
# 35 Earley parsers at import time: 2-3 s of CPU in every process (the CLI, each Dask worker).
# Notebook schemas check no formats; without the module jsonschema just skips that checker.
# python-jsonschema/jsonschema#1428.
sys.modules.setdefault("rfc3987_syntax", None)
