"""Where the course's assignments live: source notebooks and their released student versions.

The folders are nbgrader's own settings (`c.CourseDirectory.source_directory` and
`release_directory` in nbgrader_config.py), so plain `nbgrader` and `autograder` agree on them.
"""

from dataclasses import dataclass
from pathlib import Path

from autograder.core.errors import CourseError
from autograder.core.settings import course_folders


@dataclass(frozen=True)
class Course:
    """A course repository: `source_notebooks/<assignment>/` and `assignments/<assignment>/`."""

    root: Path

    @property
    def source_root(self) -> Path:
        """The source notebooks' folder: nbgrader's `c.CourseDirectory.source_directory`, else source_notebooks."""
        return self.root / course_folders(self.root)[0]

    @property
    def release_root(self) -> Path:
        """The student versions' folder: nbgrader's `c.CourseDirectory.release_directory`, else assignments."""
        return self.root / course_folders(self.root)[1]

    def assignments(self) -> list[str]:
        """Names of all assignments that have a source folder, sorted."""
        if not self.source_root.is_dir():
            return []
        return sorted(p.name for p in self.source_root.iterdir() if p.is_dir() and is_visible(p))

    def require(self, assignment: str) -> str:
        """Return `assignment` if the course has it; raise CourseError naming the known ones if not."""
        known = self.assignments()
        if assignment not in known:
            raise CourseError(
                f"unknown assignment {assignment!r}; the course has: {', '.join(known) or 'none'}"
                f" (looked in {self.source_root})"
            )
        return assignment

    def source_files(self, assignment: str) -> list[Path]:
        """Every file of an assignment's source folder, relative to that folder, sorted."""
        folder = self.source_root / assignment
        return sorted(
            p.relative_to(folder)
            for p in folder.rglob("*")
            if p.is_file() and all(is_visible(part) for part in p.relative_to(folder).parts)
        )

    def notebook_names(self, assignment: str) -> list[str]:
        """File names of the assignment's notebooks, e.g. ['warmup.ipynb']."""
        return [str(p) for p in self.source_files(assignment) if p.suffix == ".ipynb"]


def is_visible(path: Path | str) -> bool:
    """False for checkpoints, caches and hidden files, which are never released or graded."""
    name = Path(path).name
    return not (name.startswith(".") or name == "__pycache__")
