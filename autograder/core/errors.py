"""Errors: the one exception a user is shown in one line, never as a traceback."""


class CourseError(Exception):
    """A problem with the course layout, its settings or the command's arguments, told to the user in one line."""
