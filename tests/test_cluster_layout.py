"""The layout of dlkit.cluster: no import circles, one home per collective algorithm,
an engine in layers with public methods, and the old import paths kept as aliases."""

import ast
import re
from pathlib import Path

import numpy as np
import pytest

import dlkit.cluster as cluster
from dlkit.cluster import MPI, SimCluster, collectives, networks

CLUSTER = Path(cluster.__file__).parent
PKG = "dlkit.cluster"


def _module_name(path: Path) -> str:
    return PKG if path.name == "__init__.py" else f"{PKG}.{path.stem}"


def _top_level_imports(tree: ast.Module):
    """Import nodes that run when the module is imported: the module body and class
    bodies, not function bodies."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        else:
            todo.extend(ast.iter_child_nodes(node))


def _imported(name: str, node, modules: set[str]) -> set[str]:
    """The modules of dlkit.cluster that import `node` in module `name` loads."""
    if isinstance(node, ast.Import):
        targets = [a.name for a in node.names]
        return {t for t in targets if t in modules}
    package = name if name == PKG else name.rsplit(".", 1)[0]
    if node.level:
        parts = package.split(".")
        base = ".".join(parts[: len(parts) - node.level + 1])
        base = f"{base}.{node.module}" if node.module else base
    else:
        base = node.module or ""
    out = set()
    for alias in node.names:  # `from package import submodule` loads the submodule
        sub = f"{base}.{alias.name}"
        out.add(sub if sub in modules else base)
    return out & modules


def import_graph() -> dict[str, set[str]]:
    """Module-level imports among dlkit.cluster's modules, read from the source."""
    files = sorted(CLUSTER.glob("*.py"))
    modules = {_module_name(f) for f in files}
    graph = {}
    for f in files:
        name = _module_name(f)
        tree = ast.parse(f.read_text())
        graph[name] = set().union(
            *(_imported(name, n, modules) for n in _top_level_imports(tree))
        ) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `graph` as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return stack[stack.index(n) :] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


# ---------------------------------------------------------------- import circles --
def test_no_module_level_import_cycle_inside_the_cluster():
    graph = import_graph()
    assert find_cycle(graph) is None, find_cycle(graph)
    # the package re-exports, nothing imports the package back
    assert not [m for m, deps in graph.items() if PKG in deps]


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_constants_import_nothing_from_the_cluster():
    graph = import_graph()
    assert graph[f"{PKG}.constants"] == set()
    for low in (
        "constants",
        "records",
        "current",
        "errors",
        "scheduler",
        "requests",
        "matching",
        "engine",
        "collectives",
        "window",
        "comm",
    ):
        assert f"{PKG}.mpi" not in graph[f"{PKG}.{low}"], low


def test_the_engine_is_built_in_layers():
    from dlkit.cluster import engine, matching, requests, scheduler

    assert engine.Engine.__mro__[1:4] == (
        matching.Matcher,
        requests.Completion,
        scheduler.Scheduler,
    )
    graph = import_graph()
    assert f"{PKG}.matching" not in graph[f"{PKG}.scheduler"]
    assert f"{PKG}.requests" not in graph[f"{PKG}.scheduler"]
    assert f"{PKG}.matching" not in graph[f"{PKG}.requests"]


_PRIVATE = re.compile(r"\b(?:eng|engine|self\._engine|comm\._engine)\._[a-z]\w*")


@pytest.mark.parametrize("module", ["hooks", "sim", "window", "fastring", "comm"])
def test_modules_use_the_engines_public_methods(module):
    src = (CLUSTER / f"{module}.py").read_text()
    assert not _PRIVATE.findall(src)
    assert "__dict__" not in src


# ---------------------------------------------------------------------- aliases --
def test_old_engine_names_are_the_new_objects():
    from dlkit.cluster import engine, matching, records, requests

    assert engine.Event is records.Event is cluster.Event
    assert engine.Transfer is records.Transfer is cluster.Transfer
    assert engine.Unreceived is records.Unreceived
    assert engine.Request is requests.Request is cluster.Request
    assert engine.Status is requests.Status
    assert engine.Message is matching.Message


def test_old_mpi_names_are_the_constants():
    from dlkit.cluster import comm, constants, current, mpi, requests, window

    for name in constants.__all__:
        assert getattr(mpi, name) is getattr(constants, name), name
        assert getattr(MPI, name) is getattr(constants, name), name
    assert mpi.Status is requests.Status is MPI.Status
    assert mpi._current_comm is current.current_comm
    assert mpi._local is current._local
    assert MPI.Win is window.Win and MPI.Request is requests.Request
    assert MPI.Comm is comm.SimComm


def test_hybrid_reduce_scatter_is_the_collectives_one():
    from dlkit.parallel import hybrid

    assert hybrid.reduce_scatter_ring is collectives.reduce_scatter_ring


# ------------------------------------------------------- one home per algorithm --
def test_comm_has_no_collective_algorithm_of_its_own():
    tree = ast.parse((CLUSTER / "comm.py").read_text())
    helpers = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert not {h for h in helpers if h.endswith("_obj")}
    src = (CLUSTER / "comm.py").read_text()
    assert "mask" not in src  # no tree walked here


def _spy(monkeypatch, name):
    calls = []
    real = getattr(collectives, name)
    monkeypatch.setattr(collectives, name, lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


@pytest.mark.parametrize(
    "call, algorithm",
    [
        (lambda c: c.bcast(c.rank, root=1), "bcast_obj_binomial"),
        (lambda c: c.reduce(c.rank, root=2), "reduce_obj_binomial"),
        (lambda c: c.allreduce(c.rank), "allreduce_obj"),
        (lambda c: c.gather(c.rank), "gather_obj_linear"),
        (lambda c: c.allgather(c.rank), "allgather_obj"),
        (lambda c: c.scatter(list(range(c.size)) if c.rank == 0 else None), "scatter_obj_linear"),
        (lambda c: c.alltoall(list(range(c.size))), "alltoall_obj"),
    ],
)
def test_lower_case_collectives_run_the_collectives_module(monkeypatch, call, algorithm):
    calls = _spy(monkeypatch, algorithm)
    SimCluster(3).run(call)
    assert len(calls) == 3


def test_object_collectives_give_mpi_results():
    def body(comm):
        r = comm.rank
        return (
            comm.bcast(r * 10, root=2),
            comm.reduce(r + 1, root=1),
            comm.allreduce(r),
            comm.gather(r, root=0),
            comm.allgather(-r),
            comm.scatter([i * i for i in range(5)] if r == 3 else None, root=3),
            comm.alltoall([(r, d) for d in range(5)]),
        )

    res = SimCluster(5).run(body)
    for r, (b, red, ar, g, ag, sc, a2a) in enumerate(res.values):
        assert b == 20 and ar == 10 and ag == [0, -1, -2, -3, -4] and sc == r * r
        assert red == (15 if r == 1 else None)
        assert g == (list(range(5)) if r == 0 else None)
        assert a2a == [(s, r) for s in range(5)]


def test_binomial_tree_parents_and_children_agree():
    for p in range(1, 20):
        links = set()
        for v in range(p):
            parent, children = collectives.binomial_tree(v, p)
            assert (parent is None) == (v == 0)
            assert children == sorted(children) and all(v < c < p for c in children)
            links |= {(v, c) for c in children}
            if parent is not None:
                assert v in collectives.binomial_tree(parent, p)[1]
        assert len(links) == p - 1  # a spanning tree


def test_hybrid_step_reduce_scatters_with_the_ring_of_collectives(monkeypatch):
    from dlkit.parallel import hybrid

    calls = _spy(monkeypatch, "ring_reduce_scatter")
    res = hybrid.simulate_step(2)
    assert calls  # the reduce-scatter and the conv-gradient allreduce
    tags = {m.tag for m in res.messages}
    assert collectives.TAG_REDUCE_SCATTER in tags and 31001 not in tags
    src = Path(hybrid.__file__).read_text()
    assert "Isend" not in src and "Recv(" not in src


@pytest.mark.parametrize("p", [2, 3, 4])
def test_ring_halves_compose_to_the_allreduce(p):
    def body(comm):
        r = comm.Get_rank()
        x = np.arange(11.0) * (r + 1) + 0.5
        acc = x.copy()
        off = collectives.chunk_bounds(acc.size, p)
        chunks = [acc[off[i] : off[i + 1]] for i in range(p)]
        owned = collectives.ring_reduce_scatter(comm, chunks)
        part = chunks[owned].copy()
        collectives.ring_allgather(comm, chunks, owned)
        return owned, part, acc, collectives.allreduce_ring(comm, x)

    res = SimCluster(p, network=networks.preset("10gbe")).run(body)
    total = sum(np.arange(11.0) * (r + 1) + 0.5 for r in range(p))
    off = collectives.chunk_bounds(11, p)
    for r, (owned, part, acc, ring) in enumerate(res.values):
        assert owned == (r + 1) % p
        np.testing.assert_array_equal(part, total[off[owned] : off[owned + 1]])
        np.testing.assert_array_equal(acc, ring)
        np.testing.assert_allclose(acc, total, rtol=1e-15)


def test_reduce_scatter_ring_checks_its_blocks():
    with pytest.raises(Exception, match=r"needs x of shape \(3, \.\.\.\)"):
        SimCluster(3).run(lambda comm: collectives.reduce_scatter_ring(comm, np.ones((2, 4))))


# ----------------------------------------------------------- engine registries --
def test_split_contexts_and_windows_live_in_engine_registries():
    from dlkit.cluster import engine

    seen = {}
    real = engine.Engine.window_state

    def spy(self, ctx, me, make):
        state = real(self, ctx, me, make)
        seen.setdefault((ctx, self.window_count[(ctx, me)]), set()).add(id(state))
        seen["contexts"] = dict(self.contexts)
        return state

    def body(comm):
        sub = comm.Split(comm.rank % 2, comm.rank)
        win = MPI.Win.Create(np.zeros(2), comm=sub)
        win2 = MPI.Win.Create(np.zeros(2), comm=sub)
        win.Free()
        win2.Free()
        return sub.Get_size()

    orig = engine.Engine.window_state
    engine.Engine.window_state = spy
    try:
        assert SimCluster(4).run(body).values == [2, 2, 2, 2]
    finally:
        engine.Engine.window_state = orig
    contexts = seen.pop("contexts")
    assert sorted(contexts.values()) == [2, 4]  # even, one per color
    assert all(len(ids) == 1 for ids in seen.values())  # one shared state per window
    assert len(seen) == 4  # 2 communicators x 2 windows


# --------------------------------------------------------------- under real MPI --
_REAL_SCRIPT = """
import numpy as np
from mpi4py import MPI
from dlkit.cluster import collectives as C

comm = MPI.COMM_WORLD
p, r = comm.Get_size(), comm.Get_rank()
x = np.arange(p * 6, dtype=np.float64).reshape(p, 6) * (r + 1) + 0.25
total = sum(np.arange(p * 6, dtype=np.float64).reshape(p, 6) * (q + 1) + 0.25
            for q in range(p))
assert np.array_equal(C.reduce_scatter_ring(comm, x), total[r])
v = np.arange(13.0) * (r + 2)
assert np.allclose(C.allreduce_ring(comm, v), sum(np.arange(13.0) * (q + 2) for q in range(p)))
assert np.array_equal(C.allgather_ring(comm, np.full(2, r)), np.repeat(np.arange(p), 2).reshape(p, 2))
assert C.bcast_obj_binomial(comm, {"r": r}, root=p - 1) == {"r": p - 1}
assert C.reduce_obj_binomial(comm, r + 1, root=1) == (p * (p + 1) // 2 if r == 1 else None)
assert C.allreduce_obj(comm, [r]) == list(range(p))
assert C.allgather_obj(comm, -r) == [-q for q in range(p)]
assert C.gather_obj_linear(comm, r, root=0) == (list(range(p)) if r == 0 else None)
assert C.scatter_obj_linear(comm, [q * q for q in range(p)] if r == 2 else None, root=2) == r * r
assert C.alltoall_obj(comm, [(r, d) for d in range(p)]) == [(q, r) for q in range(p)]
if comm.gather(True, root=0) == [True] * p and r == 0:
    print(f"OK {p} ranks", flush=True)
"""


def test_ring_pieces_and_object_collectives_under_real_mpi(tmp_path):
    import os
    import subprocess
    import sys

    mpiexec = Path(sys.executable).parent / "mpiexec"
    if not mpiexec.exists():
        pytest.fail(f"mpiexec not found next to {sys.executable}: install the MPICH wheel")
    script = tmp_path / "real.py"
    script.write_text(_REAL_SCRIPT)
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        [str(mpiexec), "-n", "3", sys.executable, "-m", "mpi4py", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=root,
    )
    assert proc.returncode == 0, f"mpiexec failed:\n{proc.stdout}\n{proc.stderr}"
    assert "OK 3 ranks" in proc.stdout
