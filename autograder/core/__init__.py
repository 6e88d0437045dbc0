"""The core: shared primitives every stage imports, and nothing else.

`errors` (the one-line CourseError), `config` (settings as plain data) and `settings` (the course's
`c.Autograder` section), `course` (where assignments live), `model` (grades, statuses, students),
`cells` (nbgrader's and the grader's cell metadata), `late` (deadlines and penalties) and
`interrupt` (a clean stop on Ctrl-C or SIGTERM).
"""
