"""Where a simulated hybrid-parallel step spends its time (chapter 13, *Parallelism*).

:func:`step_breakdown` splits one rank's step of
:func:`dlkit.parallel.hybrid.simulate_step` into conv compute, fc compute and
communication; :mod:`dlkit.viz.parallel` draws it.
"""

from __future__ import annotations


def step_breakdown(result, rank: int = 0) -> dict[str, float]:
    """Seconds of one simulated hybrid step on `rank`: conv compute, fc compute, and
    communication (everything else up to the makespan, waiting included)."""
    conv = sum(
        e.end - e.start for e in result.events(rank, "compute") if e.label.startswith("conv")
    )
    fc = sum(e.end - e.start for e in result.events(rank, "compute") if e.label.startswith("fc"))
    return {
        "conv compute": conv,
        "fc compute": fc,
        "communication": max(0.0, result.time - conv - fc),
    }
