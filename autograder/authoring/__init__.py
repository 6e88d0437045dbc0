"""Authoring: the teacher's side of an assignment before any student sees it.

`release` writes the student versions, `publish` the public repository (checked for solution lines),
and `mutate` the small bugs that `autograder check` uses to measure the tests' strength.
"""
