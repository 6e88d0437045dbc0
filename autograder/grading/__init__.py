"""Grading: one hand-in from its cells to its points.

`match` finds the answers and rebuilds the notebook from the source, `guard` adds the grader's cells,
`sandbox` and `kernels` give it a fresh jailed kernel, `messages` decodes the kernel's messages with
limits, `execute` runs it, `observation` carries the tests' values out, `reference` records the
solution's, `verdict` compares them, `score` turns that into points, `evidence` points a teacher at
suspicious lines, and `parallel` runs many hand-ins at once on Dask.
"""
