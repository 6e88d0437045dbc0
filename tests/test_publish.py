"""Does `autograder publish` write a student tree that holds no solution, no hidden test and real links?

Most tests publish a tiny course built from factories (a source notebook, its release, a chapter, a fake
site), so they run in seconds; one publishes this course with the built site (`site` fixture, slow).
"""

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from conftest import REPO

from autograder.authoring.publish import TEMPLATE
from autograder.authoring.release import release
from autograder.cli import cli
from autograder.core.course import Course

REAL = ["--repository", "https://github.com/my-uni/dl-public", "--hub", "https://hub.my-uni.dk"]
SOLUTION = "return np.maximum(values, 0.0)  # the answer"
HIDDEN = "observe('relu_hidden', relu(np.linspace(-3.0, 3.0, 7)))"
TEMPLATE_PATH = f"{TEMPLATE.owner}/{TEMPLATE.name}"
CONFIG = f"""title: "Tiny course"
repository:
  url: {TEMPLATE.repository}
  branch: main
launch_buttons:
  jupyterhub_url: {TEMPLATE.hub}
"""


def _code(source: str, **nbgrader) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    if nbgrader:
        cell.metadata.nbgrader = {
            "schema_version": 3,
            "grade": False,
            "locked": False,
            "solution": False,
            **nbgrader,
        }
    return cell


def _tiny_course(root: Path) -> Course:
    """A course with one assignment (a solution and a hidden test), one chapter and a built site."""
    source = nbformat.v4.new_notebook()
    source.cells = [
        _code("import numpy as np", grade_id="given", locked=True),
        _code(
            f"def relu(values):\n    ### BEGIN SOLUTION\n    {SOLUTION}\n    ### END SOLUTION",
            grade_id="relu",
            solution=True,
        ),
        _code(
            "assert relu(np.array([-1.0]))[0] == 0.0\n### BEGIN HIDDEN TESTS\n"
            + HIDDEN
            + "\n### END HIDDEN TESTS",
            grade_id="test_relu",
            grade=True,
            locked=True,
            points=1,
        ),
    ]
    (root / "source_notebooks" / "toy").mkdir(parents=True)
    nbformat.write(source, root / "source_notebooks" / "toy" / "toy.ipynb")
    course = Course(root)
    release(course)
    chapter = nbformat.v4.new_notebook()
    bootstrap = _code(f'URL = "https://raw.githubusercontent.com/{TEMPLATE_PATH}/main/book/widgets.py"')
    bootstrap.outputs = [nbformat.v4.new_output("stream", text="an output the build left\n")]
    chapter.cells = [
        nbformat.v4.new_markdown_cell(
            f"[in Colab](https://colab.research.google.com/github/{TEMPLATE_PATH}/blob/main/assignments/toy/toy.ipynb)"
        ),
        bootstrap,
    ]
    (root / "book").mkdir()
    nbformat.write(chapter, root / "book" / "01_intro.ipynb")
    (root / "book" / "widgets.py").write_text('"""Helpers."""\nPALETTE = {"blue": "#0072B2"}\n')
    (root / "book" / "intro.md").write_text("# Intro\n")
    site = root / "_build" / "html"
    (site / "book").mkdir(parents=True)
    (site / "index.html").write_text('<meta http-equiv="refresh" content="0; url=book/01_intro.html">')
    (site / "book" / "01_intro.html").write_text(
        f'<a href="https://github.com/{TEMPLATE_PATH}">repository</a>'
        f' <a href="{TEMPLATE.hub}/hub/user-redirect/git-pull?repo=https%3A//github.com/{TEMPLATE_PATH}'
        f'&urlpath=lab/tree/{TEMPLATE.name}/book/01_intro.ipynb&branch=main">hub</a>'
    )
    (root / "_config.yml").write_text(CONFIG)
    (root / "LICENSE").write_text("MIT License\n")
    (root / "demo" / "toy" / "s1").mkdir(parents=True)
    shutil.copy(root / "source_notebooks" / "toy" / "toy.ipynb", root / "demo" / "toy" / "s1" / "toy.ipynb")
    (root / "nbgrader_config.py").write_text("c = get_config()\n")
    (root / "gradebook.sqlite").write_bytes(b"SQLite format 3\0")
    return course


def _publish(root: Path, out: Path, *options: str):
    return CliRunner().invoke(cli, ["publish", str(out), "--course", str(root), *options])


def _published(tree: Path) -> dict[str, str]:
    """Every file of the tree as relative path -> text a reader sees (tags removed from pages)."""
    files = {}
    for path in tree.rglob("*"):
        if path.is_file() and ".git" not in path.relative_to(tree).parts:
            text = path.read_bytes().decode("utf-8", errors="replace")
            if path.suffix == ".html":
                text += "\n" + html.unescape(re.sub(r"<[^>]*>", "", text))
            elif path.suffix == ".ipynb":
                text += "\n" + "\n".join(cell.source for cell in nbformat.reads(text, as_version=4).cells)
            files[path.relative_to(tree).as_posix()] = text
    return files


def test_publish_writes_the_student_tree_with_real_addresses(tmp_path):
    course = _tiny_course(tmp_path / "course")
    out = tmp_path / "public"
    result = _publish(course.root, out, *REAL)
    assert result.exit_code == 0, result.output
    files = _published(out)
    for expected in [
        "README.md",
        "docs/index.html",
        "docs/.nojekyll",
        "docs/book/01_intro.html",
        "assignments/toy/toy.ipynb",
        "book/01_intro.ipynb",
        "book/widgets.py",
        "LICENSE",
    ]:
        assert expected in files, expected
    assert not [p for p in files if p.split("/")[0] in {"source_notebooks", "demo", "tests", "autograder"}]
    assert not [p for p in files if p.endswith(("nbgrader_config.py", ".sqlite", "intro.md"))]
    everything = "\n".join(files.values())
    assert SOLUTION not in everything and HIDDEN not in everything
    assert "BEGIN SOLUTION" not in everything and "HIDDEN TESTS" not in everything
    assert "def relu(values):" in files["assignments/toy/toy.ipynb"], "the release's stub is there"

    assert TEMPLATE_PATH not in everything and "example.edu" not in everything
    chapter = json.loads((out / "book" / "01_intro.ipynb").read_text())
    assert chapter["cells"][1]["outputs"] == [], "chapters are published without outputs"
    assert "https://raw.githubusercontent.com/my-uni/dl-public/main/book/widgets.py" in "".join(
        chapter["cells"][1]["source"]
    )
    colab = "https://colab.research.google.com/github/my-uni/dl-public/blob/main/assignments/toy/toy.ipynb"
    assert colab in "".join(chapter["cells"][0]["source"]) and colab in files["README.md"]
    assert "https://my-uni.github.io/dl-public/" in files["README.md"]
    page = files["docs/book/01_intro.html"]
    assert 'href="https://github.com/my-uni/dl-public"' in page
    assert (
        "https://hub.my-uni.dk/hub/user-redirect/git-pull?repo=https%3A//github.com/my-uni/dl-public"
        "&urlpath=lab/tree/dl-public/book/01_intro.ipynb&branch=main" in page
    )


def test_publish_refuses_placeholders_and_the_options_or_config_lift_it(tmp_path):
    course = _tiny_course(tmp_path / "course")
    out = tmp_path / "public"
    shipped = _publish(course.root, out)
    assert shipped.exit_code == 1 and len(shipped.output.strip().splitlines()) == 1
    assert "placeholder" in shipped.output and TEMPLATE.repository in shipped.output
    example_hub = _publish(course.root, out, "--repository", "https://github.com/my-uni/dl-public")
    assert example_hub.exit_code == 1 and "jupyterhub.example.edu is a placeholder" in example_hub.output
    other = _publish(course.root, out, "--repository", "https://gitlab.com/my-uni/dl-public", "--hub", "")
    assert other.exit_code == 1 and "https://github.com/OWNER/REPO" in other.output
    assert not out.exists(), "nothing is written when publishing is refused"

    config = course.root / "_config.yml"
    config.write_text(
        CONFIG.replace(TEMPLATE.repository, "https://github.com/my-uni/dl-public").replace(
            TEMPLATE.hub, "https://jupyter.my-uni.dk"
        )
    )
    edited = _publish(course.root, out)
    assert edited.exit_code == 0, edited.output
    readme = (out / "README.md").read_text()
    assert "github/my-uni/dl-public/blob/main/assignments/toy/toy.ipynb" in readme
    assert "https://jupyter.my-uni.dk/hub/user-redirect/git-pull?repo=" in readme
    assert "https://jupyter.my-uni.dk/hub/" in (out / "docs" / "book" / "01_intro.html").read_text()

    no_hub = _publish(course.root, out, "--hub", "")
    assert no_hub.exit_code == 1, (
        "the site was built with the placeholder hub: its launch button would not work"
    )
    assert "placeholder address https://jupyterhub.example.edu" in no_hub.output
    assert "build the site again" in no_hub.output


def test_publish_says_in_one_line_that_the_site_must_be_built_first(tmp_path):
    course = _tiny_course(tmp_path / "course")
    shutil.rmtree(course.root / "_build")
    result = _publish(course.root, tmp_path / "public", *REAL)
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "site" in result.output and "build it first" in result.output


@pytest.mark.parametrize("where", ["helper module", "site page", "released notebook"])
def test_a_leaked_solution_or_hidden_test_makes_publish_refuse(tmp_path, where):
    course = _tiny_course(tmp_path / "course")
    root = course.root
    if where == "helper module":
        (root / "book" / "widgets.py").write_text(f"def relu(values):\n    {SOLUTION}\n")
    elif where == "site page":
        highlighted = "".join(
            f'<span class="n">{html.escape(token)}</span>' for token in re.split(r"(\W)", HIDDEN)
        )
        (root / "_build" / "html" / "book" / "leak.html").write_text(f"<pre>{highlighted}\n</pre>")
    else:  # a teacher's file in the assignment's folder, which the release copies as it is
        (root / "source_notebooks" / "toy" / "notes.txt").write_text(f"    {SOLUTION}\n")
        release(course)
    out = tmp_path / "public"
    result = _publish(root, out, *REAL)
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    kind = "hidden-test line" if where == "site page" else "solution line"
    assert f"holds a {kind} of source_notebooks/toy/toy.ipynb" in result.output
    assert "nothing written" in result.output and not out.exists()


def test_verify_finds_a_source_notebook_copied_into_a_publication(tmp_path):
    course = _tiny_course(tmp_path / "course")
    out = tmp_path / "public"
    assert _publish(course.root, out, *REAL).exit_code == 0
    clean = CliRunner().invoke(cli, ["publish", str(out), "--verify", "--course", str(course.root)])
    assert clean.exit_code == 0, clean.output
    shutil.copy(
        course.root / "source_notebooks" / "toy" / "toy.ipynb", out / "assignments" / "toy" / "key.ipynb"
    )
    leaked = CliRunner().invoke(cli, ["publish", str(out), "--verify", "--course", str(course.root)])
    assert leaked.exit_code == 1
    assert "assignments/toy/key.ipynb: holds a solution line" in leaked.output
    assert "assignments/toy/key.ipynb: holds a hidden-test line" in leaked.output


def test_publish_replaces_an_earlier_publication_but_not_a_foreign_folder(tmp_path):
    course = _tiny_course(tmp_path / "course")
    out = tmp_path / "public"
    (out / ".git").mkdir(parents=True)
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert _publish(course.root, out, *REAL).exit_code == 0, "a fresh clone holds only .git"
    (out / "stale.txt").write_text("from an older publication")
    assert _publish(course.root, out, *REAL).exit_code == 0
    assert not (out / "stale.txt").exists() and (out / ".git" / "HEAD").exists()

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("mine")
    refused = _publish(course.root, foreign, *REAL)
    assert refused.exit_code == 1 and "holds files publish did not write" in refused.output
    assert (foreign / "thesis.tex").read_text() == "mine"
    inside = _publish(course.root, course.root / "public", *REAL)
    assert inside.exit_code == 1 and "overlaps the course repository" in inside.output


def _secret_and_given_lines(source_root: Path) -> tuple[set[str], set[str]]:
    """Lines between the solution and hidden-test delimiters of every source notebook, and the other lines."""
    secrets, given = set(), set()
    for path in source_root.rglob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                if re.match(r"\s*### BEGIN (SOLUTION|HIDDEN TESTS)", line):
                    inside = True
                elif re.match(r"\s*### END (SOLUTION|HIDDEN TESTS)", line):
                    inside = False
                else:
                    (secrets if inside else given).add(line.strip())
    return secrets, given


@pytest.mark.slow
def test_publishing_this_course_leaks_no_solution_line(tmp_path, site):
    """The course itself, published through the console script with the built site."""
    root = tmp_path / "course"
    (root / "book").mkdir(parents=True)
    shutil.copy(REPO / "_config.yml", root)
    shutil.copy(REPO / "LICENSE", root)
    for path in [*REPO.glob("book/*.ipynb"), REPO / "book" / "widgets.py"]:
        shutil.copy(path, root / "book")
    shutil.copytree(REPO / "source_notebooks", root / "source_notebooks")
    release(Course(root))  # the release of the working tree's sources, whatever assignments/ holds now
    out = tmp_path / "public"
    command = [str(Path(sys.executable).with_name("autograder")), "publish", str(out), "--course", str(root)]
    result = subprocess.run(
        [*command, "--site", str(site), *REAL], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr

    files = _published(out)
    chapters = sorted(p.name for p in REPO.glob("book/*.ipynb"))
    assignments = sorted(p.name for p in (REPO / "source_notebooks").iterdir() if p.is_dir())
    for name in chapters:
        assert f"book/{name}" in files and f"docs/book/{Path(name).stem}.html" in files
    for name in assignments:
        assert f"assignments/{name}/{name}.ipynb" in files
    assert {"README.md", "LICENSE", "book/widgets.py", "docs/index.html", "docs/.nojekyll"} <= set(files)
    assert not [p for p in files if p.split("/")[0] in {"source_notebooks", "demo", "tests", "bench"}]

    secrets, given = _secret_and_given_lines(root / "source_notebooks")
    # The chapters print a few lines that a solution also has (publish notes them): not a leak of the sources.
    taught = {
        line.strip()
        for name in chapters
        for cell in nbformat.read(REPO / "book" / name, as_version=4).cells
        for line in cell.source.splitlines()
    }
    secrets = {line for line in secrets - given - taught if len(line) >= 12}
    assert len(secrets) > 100, "the course's solutions and hidden tests are read"
    leaked = {
        (path, line)
        for path, text in files.items()
        for line in {x.strip() for x in text.splitlines()} & secrets
    }
    assert not leaked, sorted(leaked)[:5]
    assert TEMPLATE_PATH not in "\n".join(files.values())

    verified = subprocess.run([*command, "--verify"], capture_output=True, text=True, timeout=300)
    assert verified.returncode == 0, verified.stdout + verified.stderr
