"""A Sphinx extension that keeps the course's pages free of JavaScript console errors.

Two of Jupyter Book's own extensions, as pinned, each leave an error in every reader's console:

- sphinx-thebe adds its `const THEBE_JS_URL = ...` script once per reading pass, and Jupyter Book
  reads the documents twice, so the second `const` is a SyntaxError. We drop repeated scripts.
- pydata-sphinx-theme's colour-mode switch rejects the empty default mode Jupyter Book leaves in
  the page ("Got invalid theme mode"). We set the default it falls back to anyway, `auto` (the
  reader's system setting), through `html_context`, where that theme reads it.
"""

from sphinx.application import Sphinx
from sphinx.config import Config


def _default_mode(app: Sphinx, config: Config) -> None:
    config.html_context.setdefault("default_mode", "auto")


def _drop_repeated_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:  # noqa: ANN001 (Sphinx's signature)
    seen, kept = set(), []
    for script in context.get("script_files", []):
        # The repeat registers an inline script with filename '' where the first has None.
        filename = getattr(script, "filename", script) or ""
        key = (str(filename), repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _default_mode)
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)  # after the others add theirs
    return {"parallel_read_safe": True, "parallel_write_safe": True}
