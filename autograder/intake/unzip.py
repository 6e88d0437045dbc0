"""Unzip, safely: the entries of a zip that may be read, and a budget across nested zips.

An entry that would leave the target folder (`../`, an absolute path, a drive letter), a symbolic
link, or more files or bytes than the limits allow (a zip bomb) is refused with one line saying
which. Nothing is ever extracted with `extractall`; the caller reads each entry it was given.
"""

import re
import stat
import zipfile
from pathlib import PurePosixPath

from autograder.core.config import UnzipLimits


class Refused(Exception):
    """A zip that may not be unpacked; the message says why, in one line."""


class Budget:
    """Files and bytes unpacked so far, across the download and every zip inside it."""

    def __init__(self, limits: UnzipLimits) -> None:
        self.limits, self.files, self.bytes = limits, 0, 0

    def take(self, info: zipfile.ZipInfo, where: str) -> None:
        self.files += 1
        self.bytes += info.file_size
        if self.files > self.limits.max_files:
            raise Refused(f"{where} holds more than {self.limits.max_files} files (a zip bomb?)")
        if self.bytes > self.limits.max_bytes:
            raise Refused(f"{where} unpacks to more than {self.limits.max_bytes:,} bytes (a zip bomb?)")


JUNK = re.compile(r"(^|/)(__MACOSX|\.DS_Store|Thumbs\.db|desktop\.ini)(/|$)")


def safe_entries(archive: zipfile.ZipFile, where: str, budget: Budget) -> list[zipfile.ZipInfo]:
    """The file entries of a zip, after refusing any that could escape the target or bomb it."""
    files = []
    for info in archive.infolist():
        name = info.filename.replace("\\", "/")
        path = PurePosixPath(name)
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or path.is_absolute():
            raise Refused(f"{where} has an entry with an absolute path: {info.filename!r}")
        if ".." in path.parts:
            raise Refused(f"{where} has an entry that points outside its folder: {info.filename!r}")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise Refused(f"{where} has a symbolic link: {info.filename!r}")
        if info.is_dir() or JUNK.search(name):
            continue
        budget.take(info, where)
        files.append(info)
    return files
