"""Intake: from what the teacher downloaded to one notebook per student, never changing a file.

`lms` unpacks an LMS's zip or nbgrader's exchange (reading zips through `unzip`, which refuses what
could escape or bomb), `roster` keeps who each student is there,
`submissions` finds and reads each student's notebooks.
"""
