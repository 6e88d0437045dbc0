"""Publish: write the student-facing repository, which holds nothing students must not see.

The teacher's repository keeps the solutions, the hidden tests, the demo class and the grading tool, and
stays private. `publish` copies into another folder only what students need (an allow-list): the built
site in `docs/` (GitHub Pages serves a branch's `docs/` folder), the released assignments, the chapter
notebooks without outputs and `book/widgets.py`, which they import, the LICENSE, and a README with the
course's links.

The course's addresses are set once, in `_config.yml` (`repository.url`, `repository.branch`,
`launch_buttons.jupyterhub_url`; Jupyter Book builds the launch buttons from the same keys). The sources
write their links with the shipped example address; publishing rewrites those into the real ones, in the
notebooks, the README and the site, and refuses while an address is still a placeholder.

Before anything is written to the target, the tree is scanned: no line of a solution or of a hidden test
of any source notebook may appear in it, in a notebook, a page of the site or any other text file.
"""

import html
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

import yaml

from autograder.authoring.release import stale_releases
from autograder.core.course import Course, is_visible
from autograder.core.errors import CourseError

CONFIG_FILE = "_config.yml"
"""The Jupyter Book configuration, which holds the course's addresses."""

SITE_DIR = Path("_build") / "html"
"""Where `jupyter-book build .` writes the site, under the course root."""

PAGES_DIR = "docs"
"""Folder of the published tree that holds the site: GitHub Pages serves a branch's root or docs/."""

MARKER_FILE = ".autograder-publish"
"""File that marks a folder as written by `publish`, which may therefore replace its contents."""

CHAPTER_GLOB = "book/*.ipynb"
HELPER_MODULE = "book/widgets.py"
LICENSE_FILE = "LICENSE"
"""Copied as it is when the course has one: the public repository is published under the same terms."""

_RESERVED_HOST = re.compile(r"(^|\.)(example\.(com|org|net|edu)|example|invalid|test|localhost)$", re.I)
_GITHUB_REPOSITORY = re.compile(r"^https://github\.com/([A-Za-z0-9-]+)/([A-Za-z0-9._-]+?)(?:\.git)?/?$")
_TEXT_SUFFIXES = {".html", ".htm", ".js", ".json", ".ipynb", ".md", ".txt", ".py", ".xml", ".css", ".csv"}
_MIN_LINE = 12
"""Shorter lines (`x = 0`, `return x`, `else:`) are too common to tell a leak from a coincidence."""


class PublishError(CourseError):
    """Publishing was refused; the message says why in one line."""


class Secret(Enum):
    """What a line of a source notebook is that students must not see."""

    SOLUTION = "solution line"
    HIDDEN_TEST = "hidden-test line"


_DELIMITERS = {
    "### BEGIN SOLUTION": (Secret.SOLUTION, True),
    "### END SOLUTION": (Secret.SOLUTION, False),
    "### BEGIN HIDDEN TESTS": (Secret.HIDDEN_TEST, True),
    "### END HIDDEN TESTS": (Secret.HIDDEN_TEST, False),
}


@dataclass(frozen=True)
class Addresses:
    """The course's public addresses: a GitHub repository, its branch, and the JupyterHub ('' for none)."""

    repository: str
    branch: str = "main"
    hub: str = ""

    @property
    def owner(self) -> str:
        return self._parts()[0]

    @property
    def name(self) -> str:
        return self._parts()[1]

    def _parts(self) -> tuple[str, str]:
        match = _GITHUB_REPOSITORY.match(self.repository)
        if not match:
            raise PublishError(
                f"the repository address must be https://github.com/OWNER/REPO (Colab opens notebooks"
                f" from GitHub); got {self.repository!r}: set repository.url in {CONFIG_FILE} or --repository"
            )
        return match.group(1), match.group(2)

    @property
    def pages(self) -> str:
        """The address GitHub Pages serves the site at."""
        if self.name.lower() == f"{self.owner}.github.io".lower():
            return f"https://{self.owner}.github.io/"
        return f"https://{self.owner}.github.io/{self.name}/"

    def github(self, path: str) -> str:
        return f"https://github.com/{self.owner}/{self.name}/blob/{self.branch}/{path}"

    def colab(self, path: str) -> str:
        return f"https://colab.research.google.com/github/{self.owner}/{self.name}/blob/{self.branch}/{path}"

    def hub_link(self, path: str) -> str:
        """An nbgitpuller link that clones the repository on the hub and opens `path`, as the launch buttons do."""
        return (
            f"{self.hub.rstrip('/')}/hub/user-redirect/git-pull?repo=https%3A//github.com/{self.owner}/{self.name}"
            f"&urlpath=lab/tree/{self.name}/{path}&branch={self.branch}"
        )


TEMPLATE = Addresses(
    "https://github.com/dl-course/deep-learning-hands-on", "main", "https://jupyterhub.example.edu"
)
"""The example addresses the course ships with: its sources write every link with these."""


def placeholder_problem(addresses: Addresses) -> str | None:
    """Why `addresses` cannot be published, or None.

    A placeholder is the shipped example repository (dl-course/deep-learning-hands-on), any address on a
    host reserved for examples (example.com/.org/.net/.edu, .example, .invalid, .test, localhost), or an
    empty repository address. An empty hub address means the course has no JupyterHub, which is allowed.
    """
    if not addresses.repository:
        return f"no repository address: set repository.url in {CONFIG_FILE} or pass --repository"
    if addresses.repository.rstrip("/").lower() == TEMPLATE.repository.lower():
        return (
            f"the repository address is the shipped placeholder {TEMPLATE.repository}: set repository.url"
            f" in {CONFIG_FILE} or pass --repository https://github.com/OWNER/REPO"
        )
    if not _GITHUB_REPOSITORY.match(addresses.repository):
        return (
            f"the repository address must be https://github.com/OWNER/REPO (Colab opens notebooks from GitHub);"
            f" got {addresses.repository!r}"
        )
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", addresses.branch):
        return f"the branch {addresses.branch!r} is not a branch name"
    if addresses.hub:
        host = re.sub(r"^[a-z]+://", "", addresses.hub).split("/")[0].split(":")[0]
        if not addresses.hub.startswith("https://") or not host:
            return f"the hub address must start with https://; got {addresses.hub!r}"
        if _RESERVED_HOST.search(host):
            return (
                f"the hub address {addresses.hub} is a placeholder: set launch_buttons.jupyterhub_url in"
                f" {CONFIG_FILE} or pass --hub URL (an empty one if the course has no JupyterHub)"
            )
    return None


def configured_addresses(root: Path) -> Addresses:
    """The addresses `_config.yml` sets (repository.url, repository.branch, launch_buttons.jupyterhub_url)."""
    path = root / CONFIG_FILE
    if not path.is_file():
        raise PublishError(f"{path} is missing: publish runs in the course repository (see --course)")
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    repository = config.get("repository") or {}
    launch = config.get("launch_buttons") or {}
    return Addresses(
        repository=str(repository.get("url") or ""),
        branch=str(repository.get("branch") or "main"),
        hub=str(launch.get("jupyterhub_url") or ""),
    )


def book_title(root: Path) -> str:
    config = yaml.safe_load((root / CONFIG_FILE).read_text(encoding="utf-8")) or {}
    return str(config.get("title") or "The course")


# ----------------------------------------------------------------------------------------------------------
# Rewriting the example addresses into the real ones


def address_rewriter(old: Addresses, new: Addresses) -> Callable[[str], str]:
    """A function that rewrites every link to `old`'s repository, branch and hub into `new`'s."""
    if old == new:
        return lambda text: text
    o, n = (re.escape(old.owner), re.escape(old.name)), (new.owner, new.name)
    end = r"(?![\w.-])"
    rules: list[tuple[str, str]] = [
        # nbgitpuller: the repository's name is also the folder the hub clones it into; the branch comes last.
        (
            rf"(git-pull\?repo=https%3A//github\.com/){o[0]}/{o[1]}(&(?:amp;)?urlpath=[^&\"'\s]*?tree/){o[1]}"
            rf"(/[^&\"'\s]*&(?:amp;)?branch=){re.escape(old.branch)}{end}",
            rf"\g<1>{n[0]}/{n[1]}\g<2>{n[1]}\g<3>{new.branch}",
        ),
        (
            rf"raw\.githubusercontent\.com/{o[0]}/{o[1]}/{re.escape(old.branch)}/",
            f"raw.githubusercontent.com/{n[0]}/{n[1]}/{new.branch}/",
        ),
        (rf"/{o[0]}/{o[1]}/(blob|tree)/{re.escape(old.branch)}/", rf"/{n[0]}/{n[1]}/\g<1>/{new.branch}/"),
        (
            rf"mybinder\.org/v2/gh/{o[0]}/{o[1]}/{re.escape(old.branch)}{end}",
            f"mybinder.org/v2/gh/{n[0]}/{n[1]}/{new.branch}",
        ),
        (rf"{o[0]}\.github\.io/{o[1]}{end}", f"{n[0]}.github.io/{n[1]}"),
        (rf"github\.com/{o[0]}/{o[1]}{end}", f"github.com/{n[0]}/{n[1]}"),
    ]
    compiled: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
        (re.compile(pattern, re.I), lambda match, template=template: match.expand(template))
        for pattern, template in rules
    ]
    if old.hub and new.hub:
        hub = new.hub.rstrip("/")
        compiled.append((re.compile(re.escape(old.hub.rstrip("/")) + end, re.I), lambda match: hub))

    def rewrite(text: str) -> str:
        for pattern, replacement in compiled:
            text = pattern.sub(replacement, text)
        return text

    return rewrite


def _rewriter(sources: Iterable[Addresses], new: Addresses) -> Callable[[str], str]:
    steps = [address_rewriter(old, new) for old in dict.fromkeys(sources) if old.repository and old != new]

    def rewrite(text: str) -> str:
        for step in steps:
            text = step(text)
        return text

    return rewrite


# ----------------------------------------------------------------------------------------------------------
# What students must not see, and scanning a tree for it


def _trivial(line: str) -> bool:
    """Too short or too plain (`pass`, `)`, `return x`) to be told apart from a coincidence."""
    return len(line) < _MIN_LINE or not re.search(r"[A-Za-z0-9]", line)


@dataclass
class Secrets:
    """The non-trivial lines of the sources' solutions and hidden tests, with where each comes from."""

    lines: dict[str, tuple[Secret, str]] = field(default_factory=dict)
    taught: set[str] = field(default_factory=set)
    """Secret lines that the chapters also print: the book teaches them, so they are notes, not leaks."""


def _secret_regions(cell: dict) -> Iterator[tuple[str, Secret | None]]:
    """Each stripped line of a cell, with the kind of secret it is (None: students see it)."""
    lines = [line.strip() for line in "".join(cell.get("source", "")).splitlines()]
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    delimited = any(line.startswith("### BEGIN SOLUTION") for line in lines)
    whole = Secret.SOLUTION if nbgrader.get("solution") and not delimited else None
    inside: Secret | None = None
    for line in lines:
        delimiter = next((d for d in _DELIMITERS if line.startswith(d)), None)
        if delimiter:
            kind, opens = _DELIMITERS[delimiter]
            inside = kind if opens else None
            continue
        yield line, inside or whole


def collect_secrets(course: Course) -> Secrets:
    """Every solution and hidden-test line of the source notebooks that students never see."""
    secrets = Secrets()
    public: set[str] = set()
    for path in sorted(course.source_root.rglob("*.ipynb")) if course.source_root.is_dir() else []:
        if not all(is_visible(part) for part in path.relative_to(course.source_root).parts):
            continue
        shown = path.relative_to(course.root).as_posix()
        for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
            for line, kind in _secret_regions(cell):
                if kind is None:
                    public.add(line)
                elif not _trivial(line):
                    secrets.lines.setdefault(line, (kind, shown))
    for line in public:  # given code or a visible test: released anyway
        secrets.lines.pop(line, None)
    for chapter in sorted(course.root.glob(CHAPTER_GLOB)):
        for line in _text_lines(chapter):
            if line in secrets.lines:
                secrets.taught.add(line)
    return secrets


def _json_strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _json_strings(item)


def _text_lines(path: Path) -> set[str]:
    """The stripped lines a reader can see in a text file: notebook strings, page text, or the raw lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return set()
    texts = [text]
    if path.suffix in {".ipynb", ".json"}:
        try:
            texts.append("\n".join(_json_strings(json.loads(text))))
        except json.JSONDecodeError:
            pass
    if path.suffix in {".html", ".htm", ".js"}:
        # Highlighted code is one <span> per token: the line is whole again once the tags are gone.
        texts.append(html.unescape(re.sub(r"<[^>]*>", "", text)))
    return {line.strip() for chunk in texts for line in chunk.splitlines()}


_FORBIDDEN_PARTS = {"source_notebooks", "demo", "tests", "bench", "autograder", ".jupyter_cache"}
_FORBIDDEN_NAMES = {"nbgrader_config.py", "gradebook.db"}


def _placeholders_in(text: str) -> list[str]:
    found = []
    if f"{TEMPLATE.owner}/{TEMPLATE.name}".lower() in text.lower():
        found.append(f"{TEMPLATE.owner}/{TEMPLATE.name}")
    found += re.findall(r"https?://[\w.-]*\bexample\.(?:com|org|net|edu)\b[^\s\"'<>)]*", text)
    return found


@dataclass(frozen=True)
class Finding:
    """Something in a published tree that students must not see, or a link that cannot work."""

    path: str
    message: str
    taught: bool = False
    """A secret line that a chapter also prints: reported as a note, never a refusal."""

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def scan_tree(course: Course, tree: Path, secrets: Secrets | None = None) -> list[Finding]:
    """Every solution line, hidden-test line, teacher-only file and placeholder address in `tree`."""
    secrets = secrets or collect_secrets(course)
    findings = []
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        relative = path.relative_to(tree)
        shown = relative.as_posix()
        if relative.parts[0] == ".git":
            continue
        if (
            _FORBIDDEN_PARTS & set(relative.parts)
            or path.name in _FORBIDDEN_NAMES
            or path.suffix == ".sqlite"
        ):
            findings.append(
                Finding(shown, "is a teacher-only file (source notebooks, demo, gradebook, tool)")
            )
            continue
        lines = _text_lines(path)
        for line in sorted(lines):
            if any(line.startswith(d) for d in _DELIMITERS):
                findings.append(Finding(shown, f"holds the nbgrader delimiter {line!r}"))
            elif line in secrets.lines:
                kind, source = secrets.lines[line]
                taught = line in secrets.taught
                findings.append(Finding(shown, f"holds a {kind.value} of {source}: {line!r}", taught))
        if path.suffix in _TEXT_SUFFIXES:
            for address in sorted(set(_placeholders_in("\n".join(lines)))):
                findings.append(
                    Finding(
                        shown,
                        f"still holds the placeholder address {address} (set the addresses in {CONFIG_FILE},"
                        " then build the site again)",
                    )
                )
    return findings


# ----------------------------------------------------------------------------------------------------------
# Writing the tree


@dataclass(frozen=True)
class Publication:
    """What `publish` wrote: the files, and notes for the teacher (secret lines a chapter notebook prints)."""

    files: list[Path]
    notes: list[Finding]


def publish(
    course: Course,
    out: Path,
    repository: str | None = None,
    hub: str | None = None,
    branch: str | None = None,
    site: Path | None = None,
) -> Publication:
    """Write the student-facing tree to `out`, after checking that it leaks nothing; return what was written.

    `repository`, `hub` and `branch` override `_config.yml`; `site` is the built site (default _build/html).
    Refuses with a PublishError, writing nothing, when an address is a placeholder, the site or a release is
    missing or stale, `out` holds files of its own, or the tree would hold a solution or hidden-test line.
    """
    root = course.root.resolve()
    configured = configured_addresses(root)
    addresses = replace(
        configured,
        repository=configured.repository if repository is None else repository,
        hub=configured.hub if hub is None else hub,
        branch=configured.branch if branch is None else branch,
    )
    problem = placeholder_problem(addresses)
    if problem:
        raise PublishError(f"not published: {problem}")
    site = (site or root / SITE_DIR).resolve()
    if not (site / "index.html").is_file():
        raise PublishError(
            f"not published: the built site {site} is missing; build it first:"
            " make site (or jupyter-book build . --builder html)"
        )
    chapters = sorted(root.glob(CHAPTER_GLOB))
    for chapter in chapters:
        page = site / chapter.relative_to(root).with_suffix(".html")
        if not page.is_file():
            raise PublishError(f"not published: the site in {site} has no page {page.name}; build it again")
    stale = stale_releases(course)
    if stale:
        raise PublishError(f"not published: {stale[0]}; run `autograder release` first")
    out = _checked_target(out, root)

    rewrite = _rewriter([TEMPLATE, configured], addresses)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        _write_tree(course, staging, chapters, site, rewrite, addresses)
        findings = scan_tree(course, staging)
        refusals = [f for f in findings if not f.taught]
        if refusals:
            more = f" (and {len(refusals) - 1} more)" if len(refusals) > 1 else ""
            raise PublishError(f"not published, nothing written: {refusals[0]}{more}")
        _replace_contents(out, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    files = sorted(p for p in out.rglob("*") if p.is_file() and ".git" not in p.relative_to(out).parts)
    chapter_notes = [f for f in findings if f.taught and f.path.startswith(f"{Path(CHAPTER_GLOB).parent}/")]
    return Publication(files, chapter_notes)


def verify_publication(course: Course, tree: Path) -> list[Finding]:
    """The findings in an existing publication that would make `publish` refuse it (empty: it is clean)."""
    if not tree.is_dir():
        raise PublishError(f"{tree} is not a folder")
    return [f for f in scan_tree(course, tree) if not f.taught]


def _checked_target(out: Path, root: Path) -> Path:
    out = out.resolve()
    if out == root or root in out.parents or out in root.parents:
        raise PublishError(
            f"not published: {out} overlaps the course repository {root}; publish into a folder outside it,"
            " e.g. ../course-public"
        )
    if out.exists() and not out.is_dir():
        raise PublishError(f"not published: {out} is a file")
    if out.is_dir() and not (out / MARKER_FILE).exists():
        own = sorted(p.name for p in out.iterdir() if p.name != ".git")
        if own:
            raise PublishError(
                f"not published: {out} holds files publish did not write ({', '.join(own[:3])}); give an empty"
                " folder, a fresh clone, or an earlier publication"
            )
    return out


def _write_tree(
    course: Course,
    tree: Path,
    chapters: list[Path],
    site: Path,
    rewrite: Callable[[str], str],
    addresses: Addresses,
) -> None:
    root = course.root.resolve()
    pages = tree / PAGES_DIR
    shutil.copytree(site, pages, ignore=shutil.ignore_patterns(".buildinfo", ".doctrees"))
    for path in pages.rglob("*"):
        if path.is_file() and path.suffix in _TEXT_SUFFIXES:
            _rewrite_file(path, rewrite)
    (pages / ".nojekyll").write_text("")  # Jekyll would drop _static/ and the other folders named _*
    for assignment in course.assignments():
        folder = course.release_root / assignment
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_file() and all(is_visible(part) for part in relative.parts):
                target = tree / course.release_root.name / assignment / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
                if target.suffix in _TEXT_SUFFIXES:
                    _rewrite_file(target, rewrite)
    for chapter in chapters:
        target = tree / chapter.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        notebook = json.loads(chapter.read_text(encoding="utf-8"))
        for cell in notebook.get("cells", []):
            if cell.get("cell_type") == "code":
                cell["outputs"], cell["execution_count"] = [], None
        text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
        target.write_text(rewrite(text), encoding="utf-8")
    if (root / LICENSE_FILE).is_file():
        shutil.copy2(root / LICENSE_FILE, tree / LICENSE_FILE)
    helper = root / HELPER_MODULE
    (tree / HELPER_MODULE).write_text(rewrite(helper.read_text(encoding="utf-8")), encoding="utf-8")
    assignments = [
        f"{course.release_root.name}/{a}/{name}"
        for a in course.assignments()
        for name in course.notebook_names(a)
    ]
    readme = student_readme(
        book_title(root), addresses, [c.relative_to(root).as_posix() for c in chapters], assignments
    )
    (tree / "README.md").write_text(readme, encoding="utf-8")
    (tree / MARKER_FILE).write_text(
        "Written by `autograder publish` from the teacher's repository; the next publication replaces"
        " everything here except .git/.\n"
    )


def _rewrite_file(path: Path, rewrite: Callable[[str], str]) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return
    changed = rewrite(text)
    if changed != text:
        path.write_text(changed, encoding="utf-8")


def _replace_contents(out: Path, staging: Path) -> None:
    """Empty `out` but for .git/, then move the staged tree into it."""
    out.mkdir(parents=True, exist_ok=True)
    for path in out.iterdir():
        if path.name == ".git":
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    for path in staging.iterdir():
        shutil.move(str(path), out / path.name)


def student_readme(title: str, addresses: Addresses, chapters: list[str], assignments: list[str]) -> str:
    """The public repository's README: where the site is, and a Colab (and hub) link for every notebook."""

    def row(path: str) -> str:
        hub = f" · [JupyterHub]({addresses.hub_link(path)})" if addresses.hub else ""
        return f"| `{path}` | [Colab]({addresses.colab(path)}) · [GitHub]({addresses.github(path)}){hub} |"

    lines = [
        f"# {title}",
        "",
        f"The course site: **{addresses.pages}**",
        "",
        "This repository holds what students use: the site, the chapters as notebooks, and the assignments.",
        "Open a notebook in Google Colab (then *File → Save a copy in Drive*), or on your course's JupyterHub.",
        "",
        "## Chapters",
        "",
        "| notebook | open |",
        "|---|---|",
        *[row(path) for path in chapters],
        "",
        "## Assignments",
        "",
        "| notebook | open |",
        "|---|---|",
        *[row(path) for path in assignments],
        "",
        "Write your code where it says `raise NotImplementedError()`, keep the function names, and run the",
        "visible tests below each answer; the grader adds hidden tests. When done, download the notebook",
        "(*File → Download → Download .ipynb* in Colab) and hand in that file, without renaming it.",
        "",
        "## Layout",
        "",
        f"- `{PAGES_DIR}/`: the built course site. GitHub Pages serves it from this branch's `{PAGES_DIR}/` folder",
        f"  (*Settings → Pages → Deploy from a branch → {addresses.branch}, /{PAGES_DIR}*), so the site, the",
        "  notebooks its Colab buttons open and the assignments are one commit of one branch;",
        f"  `{PAGES_DIR}/.nojekyll` keeps Pages from dropping the site's `_static/` folder.",
        "- `book/`: the chapters, and `widgets.py`, the figure helpers they import (in Colab they fetch it",
        "  from this repository).",
        "- `assignments/`: the assignments.",
        f"- `{LICENSE_FILE}`: the terms under which you may reuse all of this.",
        "",
        "This repository is generated by `autograder publish` from the course team's own repository; changes",
        "made here are overwritten by the next publication.",
        "",
    ]
    return "\n".join(lines)
