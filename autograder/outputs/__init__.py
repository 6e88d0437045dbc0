"""Outputs: what grading leaves behind.

`gradebook` keeps every grade, `feedback` writes each student's page, `report` the teacher's page,
and `export` the grade files and zips an LMS imports.
"""
