// Glue between the ipywidgets embed manager (html-manager 1.x) and this offline site.
// Loaded after require.js and before embed-amd.js (see nb_ipywidgets_js in _config.yml).

// 1. The manager looks for its icon fonts beside the URL that require.js gives its AMD
//    module, by default a folder next to the page. Point that module at the vendored copy
//    in _static/ (the fonts are copied there by book/vendor_js.py).
require.config({
  paths: {
    "@jupyter-widgets/html-manager/dist":
      document.documentElement.dataset.content_root + "_static/html-manager",
  },
});

// 2. The manager typesets widget labels with the MathJax 2 call MathJax.Hub.Queue; the
//    site loads MathJax 3 (deferred). Translate that one call once MathJax has loaded:
//    DOMContentLoaded fires after deferred scripts, and this listener is registered
//    before the manager's own, so it runs first.
document.addEventListener("DOMContentLoaded", () => {
  const mathjax = window.MathJax;
  if (mathjax && !mathjax.Hub) {
    mathjax.Hub = {
      Queue: (command) => {
        if (mathjax.typesetPromise) {
          mathjax.typesetPromise([command[2]]);
        }
      },
    };
  }
});
