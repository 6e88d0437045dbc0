"""Outputs: what grading leaves behind.

`gradebook` keeps every grade (and `manual_scores` the TAs' grades of written parts), `feedback` writes each student's page, `report` the teacher's page,
`export` the grade files and zips an LMS imports, and `nbgrader` lays the pages out for
nbgrader's `release_feedback` on a JupyterHub.
"""
