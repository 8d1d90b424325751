"""An unavailable GPU backend raises BackendUnavailable saying what is missing."""

import os
import subprocess
import sys

import pytest

from dlkit import backend


def _run(code: str, **env_changes) -> subprocess.CompletedProcess:
    env = {
        k: v for k, v in os.environ.items() if k not in ("NUMBA_ENABLE_CUDASIM", "DLKIT_BACKEND")
    }
    env.update(env_changes)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )


CHOOSE = "from dlkit import backend\ntry:\n    backend.set_backend({name!r})\n    print('ok')\nexcept backend.BackendUnavailable as e:\n    print(e)\n"


def test_cuda_without_a_gpu_says_so():
    proc = _run(CHOOSE.format(name="cuda"))
    out = proc.stdout.strip()
    if out == "ok":
        pytest.skip("this machine has a CUDA GPU")
    assert "backend 'cuda' is not available: no CUDA GPU is visible" in out
    assert "or use 'cudasim' (NUMBA_ENABLE_CUDASIM=1)" in out


def test_cudasim_without_the_variable_says_how_to_switch_it_on():
    out = _run(CHOOSE.format(name="cudasim")).stdout.strip()
    assert "the CUDA simulator is off: set NUMBA_ENABLE_CUDASIM=1" in out
    assert "before Python starts" in out


def test_cudasim_switched_on_too_late_is_refused():
    code = "import os, numba.cuda\nos.environ['NUMBA_ENABLE_CUDASIM'] = '1'\n" + CHOOSE.format(
        name="cudasim"
    )
    out = _run(code).stdout.strip()
    assert "NUMBA_ENABLE_CUDASIM=1 was set after numba was imported" in out


def test_cuda_under_the_simulator_is_refused():
    out = _run(CHOOSE.format(name="cuda"), NUMBA_ENABLE_CUDASIM="1").stdout.strip()
    assert "NUMBA_ENABLE_CUDASIM=1 is set, so numba.cuda is the simulator: unset it" in out


def test_cupy_missing_is_named(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "cupy" else real(name, *a)
    )
    monkeypatch.setattr(backend, "_current", None)
    with pytest.raises(backend.BackendUnavailable) as err:
        backend.set_backend("cupy")
    assert "backend 'cupy' is not available: cupy is not installed" in str(err.value)
    assert "pip install 'dlkit[gpu]'" in str(err.value)


def test_cupy_without_a_gpu_is_named(monkeypatch):
    import importlib.util
    import types

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(is_available=lambda: False)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == "cupy" else real(name, *a)
    )
    with pytest.raises(backend.BackendUnavailable, match=r"cupy finds no CUDA GPU"):
        backend.set_backend("cupy")


def test_the_environment_variable_reaches_the_same_errors():
    code = "from dlkit import backend\ntry:\n    backend.get_backend()\nexcept backend.BackendUnavailable as e:\n    print(e)\n"
    out = _run(code, DLKIT_BACKEND="cudasim").stdout.strip()
    assert "backend 'cudasim' is not available: the CUDA simulator is off" in out


def test_the_gpu_benchmark_says_there_is_no_gpu():
    from dlkit.bench import gpu

    why = gpu.why_no_gpu()
    if why is None:
        pytest.skip("this machine has a CUDA GPU")
    (row,) = gpu.bench_gpu()
    assert row.name == "no GPU: group skipped" and row.note == why and row.dlkit_s is None
    assert gpu.figures([row])["rows"][0]["note"] == why
