"""Sphinx extension for the API reference (``api/``).

Loaded by ``_config.yml`` (``sphinx: local_extensions``). Four jobs:

A page per subpackage
    ``.. dlkit-api:: dlkit.nn`` writes a page's content: the package's own docstring
    and objects, a table of its modules, and a section for each module (autodoc's
    ``automodule``), listed from the package's folder when the book is built, so a new
    module appears without editing the page.

One entry per object
    A page documents a subpackage's own ``__init__`` and then each of its modules; an
    object is documented in the module that defines it (``dlkit.nn.linear.Linear``),
    which is where :attr:`dlkit.Source.reference` links. A name a module imports from a
    neighbour is left out of that module's entry.

Every import path resolves
    Readers (and docstrings) name objects by the path they import them from:
    ``dlkit.nn.Linear``, ``cd_gradient`` inside ``dlkit.unsupervised.steps``. A
    reference that Sphinx cannot find is looked up by importing it, and linked to the
    entry of the object it names. A name that exists but has no entry (a private
    helper such as ``_shfl_down``, a constant without a doc comment) is shown as code
    without a link; a reference to a name that does not exist still fails the build.

dlkit's docstring sections
    dlkit's docstrings use numpy's section headings (``Parameters`` over a dashed
    line) with entries either as ``name : type`` over an indented description or as
    ``name : description`` on one line. Each heading becomes a rubric and each entry a
    field (name, then its text), for both forms.
"""

from __future__ import annotations

import sys
import importlib
import pkgutil
import re
from typing import Any


from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.application import Sphinx


def public_modules(name: str) -> list[str]:
    """The public modules under package ``name`` (none for a plain module), sorted."""
    module = importlib.import_module(name)
    if not hasattr(module, "__path__"):
        return []
    found = pkgutil.walk_packages(module.__path__, name + ".")
    return sorted(m.name for m in found if not any(p.startswith("_") for p in m.name.split(".")))


AUTOMODULE = """.. automodule:: {name}
   :members:
   :undoc-members:
   :show-inheritance:
"""


class ApiDirective(Directive):
    """``.. dlkit-api:: dlkit.nn``: the reference of one subpackage or module."""

    required_arguments = 1
    has_content = False

    def run(self) -> list:
        name = self.arguments[0]
        subs = public_modules(name) if name != "dlkit" else []
        text = AUTOMODULE.format(name=name)
        if subs or name == "dlkit":
            # A package: only what its __init__ defines; the rest is in its modules.
            text += "   :ignore-module-all:\n"
        if subs:
            text += "\n.. rubric:: Modules\n\n.. autosummary::\n\n"
            text += "".join(f"   {m[len(name) + 1 :]}\n" for m in subs)
            for m in subs:
                title = f"``{m}``"
                text += f"\n{title}\n{'-' * len(title)}\n\n" + AUTOMODULE.format(name=m)
        source = f"<dlkit-api {name}>"
        self.state_machine.insert_input(text.splitlines(), source)
        return []


def package_of(module: str) -> str:
    """The page a module is documented on: ``dlkit.nn.linear`` -> ``dlkit.nn``."""
    return ".".join(module.split(".")[:2])


def exported_by_package(module: str, name: str, obj: Any) -> bool:
    """True if ``obj`` is ``name`` in the ``__all__`` of the subpackage above ``module``."""
    package = package_of(module)
    if package == module:
        return False
    pkg = sys.modules.get(package)
    return bool(
        pkg is not None and name in getattr(pkg, "__all__", ()) and getattr(pkg, name, None) is obj
    )


def skip_member(app: Sphinx, what: str, name: str, obj: Any, skip: bool, options: Any):
    module = app.env.temp_data.get("autodoc:module")
    if what != "module" or not module or package_of(module) == module:
        return None
    defined_in = getattr(obj, "__module__", None)
    if (
        hasattr(obj, "__qualname__")  # a function or class, not a value (whose
        and isinstance(defined_in, str)  # __module__ is its type's)
        and defined_in != module
    ):
        return True  # imported from another module: documented there
    return None


# ------------------------------------------------------------------ references


def lookup(path: str) -> Any:
    """The object at a dotted import path (``dlkit.nn.Linear``), or raise LookupError."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            break
        return obj
    raise LookupError(path)


def canonical_name(obj: Any) -> str | None:
    """``module.qualname`` of the object's definition (the name of its entry)."""
    if isinstance(obj, type(sys)):
        return obj.__name__
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return f"{module}.{qualname}"
    return None


def resolve_by_import(app: Sphinx, env: Any, node: Any, contnode: Any):
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    module, cls = node.get("py:module"), node.get("py:class")
    candidates = [target]
    if module:
        candidates += [f"{module}.{cls}.{target}"] if cls else []
        candidates += [f"{module}.{target}"]
    domain = env.get_domain("py")
    for path in reversed(candidates):
        try:
            obj = lookup(path)
        except LookupError:
            continue
        name = canonical_name(obj)
        # A value (a constant) has no qualname: its entry is the name it was found by.
        for full in [name] if name else [path]:
            if full in domain.objects:
                return domain.resolve_xref(
                    env, node["refdoc"], app.builder, node["reftype"], full, node, contnode
                )
        # It exists but has no entry: a private helper, a name a module leaves out of its
        # __all__, a constant without a doc comment, a compiled CUDA kernel, or a name
        # outside dlkit. Shown as code, without a link (``~a.b.C`` shown as ``C``).
        if contnode.astext().startswith("~"):
            short = nodes.Text(contnode.astext().split(".")[-1])
            if isinstance(contnode, nodes.Text):
                return short
            contnode = contnode.deepcopy()
            contnode[:] = [short]
        return contnode
    return None


# --------------------------------------------------------------------- sections

ENTRY_SECTIONS = {
    "Parameters",
    "Other Parameters",
    "Returns",
    "Yields",
    "Raises",
    "Warns",
    "Attributes",
}
SECTIONS = ENTRY_SECTIONS | {"Notes", "Examples", "Example", "References", "See Also", "Warnings"}
ENTRY = re.compile(r"^(\S.*?)\s+:\s+(.*)$")
# A lone ``*`` before a word (``*args``, ``(out, in, *receptive field)``) is not emphasis.
LONE_STAR = re.compile(r"(?<![\\*\w])\*(?=\w)")
SINGLE_STAR = re.compile(r"(?<![\\*])\*(?!\*)")
# ``literals`` and `interpreted text` (a role's content: :math:`|x|`) are left as they are.
MARKUP = re.compile(r"(``.+?``|`[^`]+`)")
# ``|x|`` is an absolute value or a norm, not a substitution (dlkit defines none); a
# ``|`` that starts a line (a table's or a line block's) is markup.
BAR = re.compile(r"(?<!\\)\|")
# Interpreted text followed by a letter or digit (```gemm`³``) needs an escaped space.
GLUED_END = re.compile(r"(`[^`\s](?:[^`]*[^`\s])?`)(?=[^\W_])")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _entry(head: str, body: list[str]) -> list[str]:
    match = ENTRY.match(head)
    names, rest = (match.group(1), match.group(2)) if match else (head.strip(), "")
    body = [b for b in body]
    while body and not body[-1].strip():
        body.pop()
    depth = min((_indent(b) for b in body if b.strip()), default=0)
    body = ["   " + b[depth:] if b.strip() else "" for b in body]
    if rest and body and len(rest.split()) <= 5 and not rest.endswith("."):
        rest = f"({rest})"  # numpy's ``name : type`` over a description
    return [f":``{names}``: {rest}".rstrip(), *body]


def convert_sections(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        title = line.strip()
        underline = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if title in SECTIONS and len(underline) >= 3 and set(underline) == {"-"}:
            ind = " " * _indent(line)
            if out and out[-1].strip():
                out.append("")
            out += [f"{ind}.. rubric:: {title}", ""]
            i += 2
            if title not in ENTRY_SECTIONS:
                continue
            base = _indent(line)
            while i < len(lines):
                head = lines[i]
                if not head.strip():
                    i += 1
                    continue
                if _indent(head) != base:
                    break
                nxt = lines[i + 1] if i + 1 < len(lines) else ""
                if not (ENTRY.match(head.strip()) or (nxt.strip() and _indent(nxt) > base)):
                    break  # a paragraph after the entries
                body = []
                i += 1
                while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
                    if not lines[i].strip() and (
                        i + 1 >= len(lines) or _indent(lines[i + 1]) <= base
                    ):
                        break
                    body.append(lines[i])
                    i += 1
                out += [ind + e if e else "" for e in _entry(head.strip(), body)]
            out.append("")
            continue
        out.append(line)
        i += 1
    return out


def escape_prose(line: str) -> str:
    """Escape what reST would misread in a line of dlkit's prose (``*args``, ``|x|``)."""
    parts = MARKUP.split(line)  # prose at even indices, markup at odd ones
    prose = parts[::2]
    if sum(len(SINGLE_STAR.findall(t)) for t in prose) % 2:  # an unmatched *
        prose = [LONE_STAR.sub(r"\\*", t) for t in prose]
    start = len(line) - len(line.lstrip())
    if not line.lstrip().startswith("| "):
        prose = [BAR.sub(r"\\|", t) for t in prose]
    elif prose:
        prose = [prose[0][: start + 1] + BAR.sub(r"\\|", prose[0][start + 1 :])] + [
            BAR.sub(r"\\|", t) for t in prose[1:]
        ]
    parts[::2] = prose
    return GLUED_END.sub(r"\1\\ ", "".join(parts))


TABLE_BORDER = re.compile(r"^\s*=+( +=+)+\s*$")


def literal_displays(lines: list[str]) -> list[str]:
    """Show dlkit's aligned displays verbatim: an indented block of formulas whose lines
    are indented by different amounts, and a simple table with a cell's text continued
    further right, become literal blocks (reST would read them as unexpected indents)."""
    out = list(lines)
    i = 0
    while i < len(out):
        line = out[i]
        if TABLE_BORDER.match(line):
            starts = {m.start() for m in re.finditer(r"=+", line)}
            end, j = None, i + 1
            while j < len(out) and out[j].strip():  # the table's last border
                end = j if out[j] == line else end
                j += 1
            rows = out[i : (end or i) + 1]
            if end is not None and any(
                r.strip() and not TABLE_BORDER.match(r) and _indent(r) not in starts for r in rows
            ):
                out[i : end + 1] = ["::", "", *("    " + r if r.strip() else "" for r in rows)]
                i = end + 3
                continue
        if i > 0 and not out[i - 1].strip() and line.strip() and i >= 2:
            prev = next((k for k in range(i - 2, -1, -1) if out[k].strip()), None)
            if prev is not None and _indent(line) > _indent(out[prev]):
                base = _indent(out[prev])
                j = i
                while j < len(out) and (not out[j].strip() or _indent(out[j]) > base):
                    j += 1
                block = [b for b in out[i:j] if b.strip()]
                if len({_indent(b) for b in block}) > 1 and not out[prev].rstrip().endswith("::"):
                    if out[prev].rstrip().endswith(":"):
                        out[prev] = out[prev].rstrip() + ":"
                    else:
                        out[i - 1 : i] = ["", " " * base + "::", ""]
                        j += 2
                i = j
                continue
        i += 1
    return out


def process_docstring(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines):
    converted = literal_displays(convert_sections(lines))
    literal, literal_indent = False, 0  # in a literal block (after ``::``): no escapes
    out = []
    for line in converted:
        if literal and line.strip() and _indent(line) <= literal_indent:
            literal = False
        out.append(line if literal else escape_prose(line))
        if not literal and line.rstrip().endswith("::"):
            literal, literal_indent = True, _indent(line)
    lines[:] = out


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("dlkit-api", ApiDirective)
    app.connect("autodoc-skip-member", skip_member)
    app.connect("autodoc-process-docstring", process_docstring)
    app.connect("missing-reference", resolve_by_import)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
