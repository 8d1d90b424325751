"""The bench header (what the figures depend on), rounds, spreads and the gemm group's rows.

The header is built from a fake environment and fake /proc/cpuinfo text, so the tests
say the same on every machine. No timing is asserted: speed is shown by
``python -m dlkit.bench``.
"""

import json

import pytest

import dlkit.bench as bench
import dlkit.bench.gemm as bg
from dlkit.bench import Row

AVX2_CPUINFO = """processor\t: 0
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 bmi2
processor\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 bmi2
"""
AVX512_CPUINFO = """processor\t: 0
model name\t: AMD EPYC 9B45
flags\t\t: sse4_2 avx fma avx2 avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_bf16
"""
BLAS = [{"internal_api": "openblas", "version": "0.3.30", "architecture": "Zen",
         "num_threads": 2, "threading_layer": "pthreads"}]  # fmt: skip
NUMBA = {"version": "0.62.1", "cpu_name": "znver5", "threads": 2,
         "cpu_features": "+avx,+avx2,+fma,+avx512f,-avx512fp16,+avx512bw"}  # fmt: skip
TORCH = {"version": "2.13.0", "cpu_capability": "AVX512", "threads": 2}


def info(env=None, cpuinfo=AVX2_CPUINFO, **kw):
    kw = {"blas": BLAS, "numba": NUMBA, "torch": TORCH, "cpu_count": 2, **kw}
    return bench.machine_info(env={} if env is None else env, cpuinfo=cpuinfo, **kw)


def test_parse_cpuinfo_reads_the_first_cpu():
    model, flags = bench.parse_cpuinfo(AVX2_CPUINFO)
    assert model == "AMD EPYC 7B13" and "avx2" in flags and "avx512f" not in flags
    assert bench.parse_cpuinfo("") == (None, [])


def test_header_names_cpu_vectors_blas_numba_torch_threads():
    i = info(env={"DLKIT_BENCH_THREADS": "2"})
    assert i["cpu"]["vector_extensions"] == ["sse4_2", "avx", "avx2", "fma"]
    assert i["cpu"]["avx512"] is False
    assert i["numba"]["vector_features"] == ["avx", "avx2", "fma", "avx512f", "avx512bw"]
    assert i["warnings"] == [] and i["threads"] == 2
    text = bench.format_header(i)
    for part in ("AMD EPYC 7B13", "avx2", "AVX-512: no", "kernel Zen", "openblas 0.3.30",
                 "target CPU znver5", "CPU capability AVX512", "2 threads"):  # fmt: skip
        assert part in text, part
    json.dumps(i)  # the "machine" object of --json


def test_header_on_an_avx512_cpu():
    i = info(cpuinfo=AVX512_CPUINFO)
    assert i["cpu"]["avx512"] is True
    assert {"avx512f", "avx512bw", "avx512_vnni"} <= set(i["cpu"]["vector_extensions"])
    assert "AVX-512: yes" in bench.format_header(i)


@pytest.mark.parametrize("var", ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"])
def test_warns_when_openblas_is_pinned(var):
    i = info(env={var: "Haswell" if var == "OPENBLAS_CORETYPE" else "262144"})
    assert len(i["warnings"]) == 1
    line = i["warnings"][0]
    assert line.startswith("WARNING: " + var) and f"env -u {var}" in line
    assert i["env"][var]
    text = bench.format_header(i)
    assert line in text and var in text


def test_no_warning_for_an_empty_variable_and_both_when_both_set():
    assert info(env={"OPENBLAS_CORETYPE": ""})["warnings"] == []
    both = info(env={"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "1"})
    assert len(both["warnings"]) == 2


def test_header_without_numba_torch_or_threadpoolctl():
    i = info(blas=[], numba=None, torch=None)
    text = bench.format_header(i)
    assert "Numba    not installed" in text and "PyTorch  not installed" in text
    assert "threadpoolctl" in text


def test_header_of_this_machine_runs():
    i = bench.machine_info()
    assert i["cpu"]["cores"] >= 1 and isinstance(i["warnings"], list)
    assert bench.format_header(i).startswith("CPU")


# ---------------------------------------------------------------- rounds and spread


def test_row_from_rounds_is_the_median_of_per_round_ratios():
    r = Row.from_rounds("g", "x", [1.0, 2.0, 9.0], "peer", [1.0, 1.0, 3.0])
    assert r.ratios == [1.0, 2.0, 3.0] and r.ratio == 2.0
    assert r.spread == (1.0, 3.0) and r.rounds == 3
    assert r.dlkit_s == 2.0 and r.peer_s == 1.0  # the medians of each side
    d = r.as_dict()
    assert (d["ratio"], d["ratio_min"], d["ratio_max"], d["rounds"]) == (2.0, 1.0, 3.0, 3)
    assert Row.from_dict(json.loads(json.dumps(d))) == r
    assert bench.format_spread(r) == "1.00-3.00"


def test_row_without_rounds_keeps_the_plain_ratio():
    r = Row("g", "x", 2.0, "p", 4.0)
    assert r.ratio == 0.5 and r.spread is None and r.rounds is None
    assert bench.format_spread(r) == ""
    assert Row.from_dict(r.as_dict()) == r
    assert Row.from_rounds("g", "y", [1.0, 3.0]).ratio is None  # no peer


def test_row_from_rounds_refuses_mismatched_rounds():
    with pytest.raises(ValueError, match="3 dlkit rounds but 2 peer rounds"):
        Row.from_rounds("g", "x", [1, 2, 3], "p", [1, 2])
    with pytest.raises(ValueError, match="empty"):
        Row.from_rounds("g", "x", [], "p", [])


def test_table_shows_ratio_spread_and_rounds():
    r = Row.from_rounds("g", "bench", [1.0, 1.2], "peer", [1.0, 1.0])
    text = bench.format_table([r, Row("g", "plain", 1e-3)])
    head, _, line, plain = text.splitlines()
    assert "spread" in head and "rounds" in head
    assert "1.00-1.20" in line and line.split()[-1] == "2"
    assert "plain" in plain


def test_rounds_default_env_and_bad_values(monkeypatch):
    monkeypatch.delenv("DLKIT_BENCH_ROUNDS", raising=False)
    assert bench.rounds() == bench.DEFAULT_ROUNDS
    monkeypatch.setenv("DLKIT_BENCH_ROUNDS", "7")
    assert bench.rounds() == 7
    for bad in ("0", "three"):
        monkeypatch.setenv("DLKIT_BENCH_ROUNDS", bad)
        with pytest.raises(ValueError, match="DLKIT_BENCH_ROUNDS"):
            bench.rounds()


def test_alternate_runs_the_sides_in_turn(monkeypatch):
    order = []

    pythons = []

    def fake(module, call, python=None):
        order.append(call)
        pythons.append((call, python))
        return len(order)

    monkeypatch.setattr(bench, "in_fresh_process", fake)
    ours, theirs = bench.alternate("m", "d()", "p()", 4, peer_python="/opt/torch/python")
    assert order == ["d()", "p()", "p()", "d()", "d()", "p()", "p()", "d()"]
    assert len(ours) == len(theirs) == 4
    assert {py for call, py in pythons if call == "p()"} == {"/opt/torch/python"}
    assert {py for call, py in pythons if call == "d()"} == {None}  # dlkit: this interpreter
    order.clear()
    ours, theirs = bench.alternate("m", "d()", None, 2)
    assert order == ["d()", "d()"] and theirs == []
    with pytest.raises(ValueError, match="at least 1 round"):
        bench.alternate("m", "d()", "p()", 0)


def test_cli_rounds_option(monkeypatch, capsys):
    from dlkit.bench import __main__ as cli

    monkeypatch.setattr(cli, "run", lambda only, isolate: [Row("g", "x", 1.0, "p", 2.0)])
    monkeypatch.setattr(cli, "machine_info", lambda: info())
    monkeypatch.delenv("DLKIT_BENCH_ROUNDS", raising=False)
    assert cli.main(["--json", "--rounds", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"machine", "rows"} and out["rows"][0]["ratio"] == 0.5
    assert out["machine"]["cpu"]["model"] == "AMD EPYC 7B13"
    assert bench.rounds() == 3  # passed on to the group processes
    assert cli.main([]) == 0
    text = capsys.readouterr().out
    assert text.index("CPU") < text.index("benchmark")  # the header above the table
    with pytest.raises(SystemExit):
        cli.main(["--rounds", "0"])


# ---------------------------------------------------------------- the gemm group


def test_gemm_rows_from_fake_workers(monkeypatch):
    """Each step's row: the median ratio over rounds, GFLOP/s and % of BLAS in the note."""
    blas_s = [0.010, 0.012, 0.011]
    rnd = iter(range(100))

    def fake_alternate(module, dlkit_call, peer_call, n_rounds=None):
        assert module == "dlkit.bench.gemm" and "dlkit" in dlkit_call and "numpy" in peer_call
        labels = [bg.step_label(label) for label, *_ in bg.STEPS]
        ours = [{label: 0.02 * (1 + next(rnd) % 2) for label in labels} for _ in blas_s]
        return ours, [{"blas": t} for t in blas_s]

    monkeypatch.setattr(bg, "alternate", fake_alternate)
    rows = bg.bench_gemm()
    assert [r.name.split(" 1024x1024")[0] for r in rows] == [bg.step_label(s[0]) for s in bg.STEPS]
    for r in rows:
        assert r.group == "gemm" and r.peer == "numpy (BLAS)" and r.rounds == 3
        assert "GFLOP/s" in r.note and "% of BLAS" in r.note
        lo, hi = r.spread
        assert lo <= r.ratio <= hi


def test_gemm_worker_on_small_matrices(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setattr(bg, "NAIVE_ROWS", 8)
    monkeypatch.setenv("DLKIT_BENCH_THREADS", "1000")  # more than Numba's pool: clamped
    out = bg.gemm_worker("dlkit", n=32, repeat=1)
    assert set(out) == {bg.step_label(s[0]) for s in bg.STEPS}
    assert all(t > 0 for t in out.values())
    assert set(bg.gemm_worker("numpy", n=32, repeat=1)) == {"blas"}


def test_bench_page_renders_header_spread_and_rounds():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    import bench_page

    rows = [
        Row.from_rounds("gemm", "step", [1.0, 2.0, 3.0], "numpy (BLAS)", [1.0] * 3).as_dict(),
        Row("cluster", "ping", 1e-4, note="per op").as_dict(),
    ]
    page = bench_page.render({"machine": info(), "rows": rows}, "2026-01-01", "numpy 2")
    assert "| ratio | spread | rounds |" in page
    assert "| 2.00 | 1.00–3.00 | 3 |" in page
    assert "AMD EPYC 7B13" in page and "used 3." in page


def test_torch_python_follows_the_variable(monkeypatch, tmp_path):
    """DLKIT_BENCH_TORCH_PYTHON names the peer's interpreter; one that cannot import
    torch (here: one that does not exist) means no PyTorch column."""
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 0\n")  # 'imports torch': exits 0
    fake.chmod(0o755)
    monkeypatch.setenv("DLKIT_BENCH_TORCH_PYTHON", str(fake))
    assert bench.torch_python() == str(fake)
    monkeypatch.setenv("DLKIT_BENCH_TORCH_PYTHON", str(tmp_path / "missing"))
    assert bench.torch_python() is None


def test_in_fresh_process_puts_dlkit_on_the_peer_path(tmp_path):
    """A peer interpreter gets this checkout of dlkit on its path."""
    import sys

    out = bench.in_fresh_process("dlkit.bench", "rounds()", sys.executable)
    assert out == bench.rounds()


def test_micro_kernel_row_names_its_register_block():
    from dlkit.kernels import cpu

    assert bg.step_label("5 micro-kernel") == f"5 micro-kernel {cpu.MICRO_MR}x{cpu.MICRO_NR}"
    assert bg.step_label("6 threads") == "6 threads"
