"""dlkit: the library behind *Deep Learning Internals*.

Every chapter of the book imports dlkit. The package is written to be read: each
module is small, follows the notation of the chapter that teaches it, and is
tested against a numpy reference or a closed form.

This top-level module is deliberately small: the version, :func:`show_source` (which
renders the highlighted source of any dlkit object in a notebook or book page) and
the seed helper :func:`rng`. Subpackages are imported on demand::

    import dlkit
    from dlkit import nn, data
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import numpy as np

__version__ = "0.1.0"

__all__ = ["__version__", "show_source", "Source", "rng"]

#: The public modules and subpackages of dlkit (the files in its folder, without those
#: whose name starts with an underscore), listed from the folder when dlkit is imported.
_SUBMODULES = frozenset(
    m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")
)


def __getattr__(name: str) -> Any:
    # Lazy subpackages: `dlkit.nn` works after `import dlkit` without importing
    # matplotlib or numba up front.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'dlkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES)


def rng(seed: int | np.random.Generator | None = 0) -> np.random.Generator:
    """Return a numpy Generator: the only source of randomness in dlkit.

    Parameters
    ----------
    seed : int, Generator or None
        An int seeds a new ``numpy.random.default_rng``; a Generator is returned
        as is (so functions can accept either). ``None`` is refused, because an
        unseeded generator makes a chapter's outputs change from run to run.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise ValueError(
            "dlkit needs a seed: pass an int such as seed=0 (None would make results "
            "differ between runs)"
        )
    if isinstance(seed, (bool, float)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or numpy Generator, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be an int >= 0 (numpy's seeds are unsigned), got seed={seed}")
    return np.random.default_rng(int(seed))


class Source:
    """Highlighted source code of a Python object.

    Displays as colourised HTML in notebooks and in the built book (inline styles,
    so no stylesheet is needed) and as plain text elsewhere, e.g. in nbval's
    comparisons.
    """

    def __init__(self, obj: Any):
        try:
            self.code = inspect.getsource(obj)
        except (TypeError, OSError) as exc:
            raise TypeError(
                f"show_source cannot find the source of {obj!r}: pass a function, class "
                "or module defined in a .py file"
            ) from exc
        self.code = inspect.cleandoc("\n" + self.code) if self.code[:1].isspace() else self.code
        module = inspect.getmodule(obj)
        self.module = module.__name__ if module else "?"
        self.is_package = bool(
            module and module.__file__ and module.__file__.endswith("__init__.py")
        )
        self.name = getattr(obj, "__qualname__", getattr(obj, "__name__", self.module))
        self.anchor = _reference_anchor(obj, module)

    @classmethod
    def from_code(
        cls, code: str, module: str, name: str, *, anchor: str, is_package: bool = False
    ) -> "Source":
        """A :class:`Source` for `code` read from `module`'s file rather than from a live
        object (e.g. a CUDA kernel whose module must not be imported here).

        `name` is the object's name in the module and `anchor` its id in the API
        reference (``module-dlkit.kernels`` for a module's entry)."""
        if not isinstance(code, str) or not code.strip():
            raise ValueError("Source.from_code: code must be a non-empty string of Python source")
        if not anchor:
            raise ValueError(
                "Source.from_code: anchor must name the API-reference entry, e.g. "
                "'module-dlkit.kernels'"
            )
        src = cls.__new__(cls)
        src.code = code if code.endswith("\n") else code + "\n"
        src.module, src.is_package, src.name, src.anchor = module, is_package, name, anchor
        return src

    @property
    def location(self) -> str:
        """The file the code is in, e.g. ``dlkit/nn/linear.py`` (no line number, so a
        page changes only when the code it shows changes)."""
        path = self.module.replace(".", "/")
        return f"{path}/__init__.py" if self.is_package else f"{path}.py"

    @property
    def reference(self) -> str:
        """The URL of the code's entry in the book's API reference, relative to a chapter
        page, e.g. ``../api/dlkit.nn.html#dlkit.nn.linear.Linear.backward``: one page per
        subpackage or top-level module, one anchor per documented object."""
        parts = self.module.split(".")
        page = ".".join(parts[:2]) if parts[0] == "dlkit" else self.module
        return f"../api/{page}.html#{self.anchor}"

    def __repr__(self) -> str:
        return f"# {self.location}\n{self.code.rstrip()}"

    def _repr_html_(self) -> str:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer

        body = highlight(
            self.code,
            PythonLexer(),
            HtmlFormatter(noclasses=True, style="friendly", linenos=False, nobackground=True),
        )
        return (
            '<div class="dlkit-source" style="border:1px solid #ddd;border-radius:4px;'
            'padding:0 0.6em;margin:0.4em 0;background:#f8f8f8;overflow-x:auto">'
            f'<div style="font:0.8em sans-serif;color:#666;padding-top:0.4em">'
            f'<a class="dlkit-source-ref" href="{self.reference}" style="color:inherit" '
            f'title="{self.anchor.removeprefix("module-")} in the API reference">'
            f"{self.location}</a></div>{body}</div>"
        )


def _reference_anchor(obj: Any, module: Any) -> str:
    """The anchor of ``obj``'s entry in the API reference (Sphinx autodoc's ids).

    autodoc documents a function, class (and its public methods) or Numba CPU kernel in
    the module that defines it, under ``module.qualname``; a private name (``_grad``,
    ``__mul__``), a name a module leaves out of its ``__all__`` or an object autodoc
    cannot document (a compiled CUDA kernel) has no entry, so the link goes to the
    nearest one above it: its class, or its module (``module-dlkit.conv.fft``).
    """
    if module is None:
        return "module-dlkit"
    top = f"module-{module.__name__}"
    if inspect.ismodule(obj):
        return f"module-{obj.__name__}"
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(qualname, str):
        return top
    kept = []
    for part in qualname.split("."):
        if part.startswith("_") or part.startswith("<"):
            break
        kept.append(part)
    if not kept:
        return top
    is_package = (module.__file__ or "").endswith("__init__.py")
    exported = getattr(module, "__all__", None)
    if not is_package and exported is not None and kept[0] not in exported:
        return top
    head = getattr(module, kept[0], None)
    documentable = (
        inspect.isclass(head)
        or inspect.isfunction(head)
        or (hasattr(head, "py_func") and "cuda" not in type(head).__module__)
    )
    return f"{module.__name__}.{'.'.join(kept)}" if documentable else top


def show_source(obj: Any) -> Source:
    """Return the highlighted source of a dlkit function, class or module.

    Chapters call ``dlkit.show_source(dlkit.nn.Linear)`` so the page shows the code
    that actually runs, never a copy that can drift from it.
    """
    return Source(obj)
