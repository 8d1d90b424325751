"""The second numeric configuration of `make test` (tools/numerics.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import numerics  # noqa: E402


@pytest.fixture
def x86(monkeypatch):
    monkeypatch.setattr(numerics.platform, "machine", lambda: "x86_64")


def test_another_kernel_than_the_current_one(x86):
    assert numerics.other_coretype("Haswell", {"avx", "avx2", "fma"}) == "Sandybridge"
    assert numerics.other_coretype("SkylakeX", {"avx", "avx512f"}) == "Sandybridge"
    assert numerics.other_coretype("Sandybridge", {"avx"}) == "Prescott"
    assert numerics.other_coretype("Haswell", {"sse3"}) == "Prescott"


def test_no_coretype_off_x86(monkeypatch):
    monkeypatch.setattr(numerics.platform, "machine", lambda: "aarch64")
    assert numerics.other_coretype("ARMV8", set()) is None


def test_a_pinned_coretype_is_left_alone(monkeypatch, x86):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Zen")
    env = numerics.configuration()
    assert "OPENBLAS_CORETYPE" not in env
    assert env["NUMBA_CPU_NAME"] == "generic" and env["OMP_NUM_THREADS"] == "1"


def test_configuration_differs_from_the_first_pass(monkeypatch, x86):
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    env = numerics.configuration()
    current = numerics.openblas_kernel()
    assert env["OPENBLAS_NUM_THREADS"] == env["NUMBA_NUM_THREADS"] == "1"
    assert env["OPENBLAS_CORETYPE"].lower() != (current or "").lower()


def test_the_other_kernel_really_runs():
    """numpy loaded under the printed configuration reports the chosen kernel."""
    pairs = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "numerics.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    env = dict(p.split("=", 1) for p in pairs)
    if "OPENBLAS_CORETYPE" not in env:  # pinned by the environment, or not x86-64
        assert "OPENBLAS_CORETYPE" in os.environ or numerics.other_coretype("", set()) is None
        return
    code = (
        "import numpy, threadpoolctl; print([i.get('architecture') for i in "
        "threadpoolctl.threadpool_info() if i.get('internal_api') == 'openblas'][0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    ).stdout.strip()
    assert out.lower() == env["OPENBLAS_CORETYPE"].lower()
