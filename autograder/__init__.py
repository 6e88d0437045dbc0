"""Release and grade the course's nbgrader assignments.

The package is a pipeline of small steps, one module each:

- `course`: where assignments live in the repository.
- `release`: source notebooks (with solutions and hidden tests) -> student notebooks.
- `submissions`: find and read what students handed in.
- `match`: find each answer in a student's notebook, even when its metadata was stripped.
- `execute`: run the rebuilt notebook in a fresh kernel.
- `score`: turn executed test cells into points.
- `gradebook`: keep every grade in SQLite (or any SQLAlchemy database).
- `feedback` and `export`: the pages and the CSV a teacher hands out.
- `grade`: the pipeline that strings those steps together; `cli` is a thin layer over it.
"""

__version__ = "0.1.0"
