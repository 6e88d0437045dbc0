"""nbgrader settings, so that plain `nbgrader` commands work in this repository too.

`autograder` reads the same layout: sources in source_notebooks/<assignment>/, student versions in
assignments/<assignment>/.
"""

c = get_config()  # noqa: F821 (nbgrader provides get_config when it loads this file)

c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "source_notebooks"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.db_url = "sqlite:///_build/nbgrader/gradebook.db"
c.CourseDirectory.submitted_directory = "_build/nbgrader/submitted"
c.CourseDirectory.autograded_directory = "_build/nbgrader/autograded"
c.CourseDirectory.feedback_directory = "_build/nbgrader/feedback"
# The teacher's list of mutants marked equivalent (`autograder check`) stays out of every release.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".equivalent_mutants"]
