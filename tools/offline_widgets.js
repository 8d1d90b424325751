// Loaded on pages with saved widgets, after require.js and before embed-amd.js
// (tools/assets.py copies it to _offline/html-manager/setup.js). Two fixes:
//
// 1. embed-amd.js finds the fonts its CSS refers to from the require.js address of
//    its modules, which defaults to <page folder>/@jupyter-widgets/...: point those
//    module names at the folder embed-amd.js is served from.
// 2. ipywidgets typesets math in widget labels ("$\eta$") through the MathJax 2 call
//    MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); the book loads MathJax 3,
//    which has no Hub and, as configured for MyST pages, no $ delimiters. Give every
//    MathJax object a Hub.Queue that turns $...$ in the element into \(...\) (as
//    JupyterLab reads labels) and queues MathJax 3's typesetPromise.
(function () {
  "use strict";
  var here = new URL(".", document.currentScript.src).href;
  var paths = {};
  [
    "@jupyter-widgets/base",
    "@jupyter-widgets/base7",
    "@jupyter-widgets/controls",
    "@jupyter-widgets/controls7",
    "@jupyter-widgets/html-manager",
    "@jupyter-widgets/html-manager/dist/libembed-amd",
  ].forEach(function (name) {
    paths[name] = here + name.split("/").pop();
  });
  window.require.config({ paths: paths });

  function dollarsToDelimiters(element) {
    var walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      node.nodeValue = node.nodeValue
        .replace(/\$\$([^$]+)\$\$/g, "\\[$1\\]")
        .replace(/\$([^$]+)\$/g, "\\($1\\)");
    }
  }
  function queue(job) {
    var mj = window.MathJax;
    var element = job && job[2];
    if (!element || !mj || !mj.startup || !mj.startup.promise) return;
    dollarsToDelimiters(element);
    mj.startup.promise = mj.startup.promise.then(function () {
      return mj.typesetPromise([element]);
    });
  }
  function withHub(mj) {
    if (mj && typeof mj === "object" && !("Hub" in mj)) {
      Object.defineProperty(mj, "Hub", {
        configurable: true, enumerable: false, value: { Queue: queue },
      });
    }
    return mj;
  }
  // MathJax 3 replaces window.MathJax (its configuration) with itself while it
  // starts, so attach Hub to whatever object is assigned, now or later.
  var current = withHub(window.MathJax);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    enumerable: true,
    get: function () { return current; },
    set: function (value) { current = withHub(value); },
  });
})();
