"""Checks for the exercises of the chapter *Asynchronous SGD*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint) and
returns True or False; it never raises, whatever it is given, and a "Not yet" never
shows the expected value.
"""

from __future__ import annotations

import numpy as np

from dlkit.exercises import never_raises, number, verdict, whole

#: exercise 1's examples: the coordinates each one is non-zero on (the hypergraph's edges)
EDGES = ((0, 1), (1, 2), (3,), (0, 3, 4))
#: the number of coordinates P of exercise 1
P_EDGES = 5


def edges_problem():
    """Exercise 1's examples as a :class:`dlkit.parallel.hogwild.Problem` (values 1,
    labels +1), so that ``hypergraph(edges_problem())`` computes the answer."""
    from dlkit.parallel.hogwild import Examples, Problem

    sizes = [len(e) for e in EDGES]
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    indices = np.array([j for e in EDGES for j in e], dtype=np.int64)
    ex = Examples(indptr, indices, np.ones(len(indices)), np.ones(len(EDGES)))
    return Problem(ex, ex, P_EDGES, "exercise 1")


@never_raises
def check_hypergraph(Omega, Delta, chi) -> bool:
    """Exercise 1: Ω, Δ and χ of the four examples of :data:`EDGES` over P = 5."""
    from dlkit.parallel.hogwild import hypergraph

    vals = [number(v) for v in (Omega, Delta, chi)]
    if any(v is None for v in vals):
        return verdict(False, "answer with three numbers: Ω, Δ and χ")
    h = hypergraph(edges_problem())
    want = (h.Omega, h.Delta, h.rho)
    ok = [abs(v - w) < 1e-9 for v, w in zip(vals, want)]
    if all(ok):
        return verdict(True, "Ω counts coordinates, Δ and χ are fractions of the |E| = 4 steps")
    if not ok[0]:
        return verdict(
            False, "Ω is the size of the largest edge: the most coordinates one step writes"
        )
    if not ok[1]:
        if vals[1] >= 1.5:
            return verdict(
                False, "Δ is a fraction: divide the largest degree by the number of edges |E|"
            )
        return verdict(
            False, "Δ: count, for every coordinate, the edges that contain it; take the largest"
        )
    if vals[2] >= 1.5:
        return verdict(False, "χ is a fraction: divide the count by the number of edges |E|")
    return verdict(
        False,
        "χ: for each edge, count the edges (itself included) that share a coordinate with it; "
        "take the largest",
    )


@never_raises
def check_staleness_bound(tau, p: int = 6, k: int = 3) -> bool:
    """Exercise 2: the largest staleness τ that a push can have with p = 6 replicas of
    equal speed and n_fetch = n_push = k = 3."""
    v = whole(tau)
    if v is None:
        return verdict(False, "answer with a whole number of gradients")
    want = (p - 1) * k
    if v == want:
        return verdict(
            True, "each of the p − 1 other replicas pushes at most once, k gradients, per window"
        )
    if v == p - 1:
        return verdict(False, "a push carries n_push gradients, and τ counts gradients, not pushes")
    if v == p * k:
        return verdict(False, "the replica's own gradients are not among those it missed")
    return verdict(
        False,
        "between one replica's fetch and its push, how many pushes can each other replica make, "
        "and how many gradients does each carry?",
    )


@never_raises
def check_push_floats(n, sizes=(784, 1024, 1024, 10), B: int = 32) -> bool:
    """Exercise 3: the numbers in one Project Adam push of a 784-1024-1024-10 network
    for a mini-batch of B = 32 (the factors A and δ of every layer)."""
    from dlkit.parallel.project_adam import n_params, push_floats

    v = whole(n)
    if v is None:
        return verdict(False, "answer with a whole number of floats")
    want = push_floats(sizes, B, "adam")
    if v == want:
        ratio = n_params(sizes) / want
        return verdict(True, f"about {ratio:.1f} times fewer numbers than the P of a full gradient")
    if v == n_params(sizes):
        return verdict(
            False, "that is P, the size of ∇θ that Downpour pushes; Adam pushes the factors"
        )
    if v == sum(B * b for b in sizes[1:]):
        return verdict(False, "δ alone is not enough: the server also needs each layer's input A")
    return verdict(
        False,
        "for each of the three weight layers, count B rows of its input A⁽ʲ⁻¹⁾ and B rows of δ⁽ʲ⁾",
    )


@never_raises
def check_balanced_time(
    seconds, p: int = 4, n_units: int = 32, C: float = 2e-3, slow: float = 4.0
) -> bool:
    """Exercise 4: the shortest possible gradient phase of Sandblaster with p = 4
    workers of which one is 4 times slower, 32 units of C = 2 ms each (communication
    left out)."""
    v = number(seconds)
    if v is None:
        return verdict(False, "answer with a number of seconds")
    capacity = p - 1 + 1 / slow  # units per C seconds
    want = n_units * C / capacity
    if abs(v - want) <= 1e-3 * want:
        return verdict(True, f"the work divided by the capacity of {capacity:g} workers")
    if abs(v - n_units / p * slow * C) <= 1e-3 * want:
        return verdict(False, "that is the static split, where the slow worker's share decides")
    if abs(v - n_units * C / p) <= 1e-3 * want:
        return verdict(False, "the slow worker does not count as a whole worker")
    if abs(v * 1e-3 - want) <= 1e-3 * want:
        return verdict(False, "the number is right but not its unit: answer in seconds")
    return verdict(
        False, "add up the workers' speeds (units per C seconds), then divide the work by it"
    )
