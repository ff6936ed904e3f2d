"""`tools/benchmark.py train --precision --jit_compile --strategy`: one row per configuration
of their cross product, each with images/s, peak memory and the ratios to the first row."""

import importlib.util
import math
import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
ROW = re.compile(r"^mlp\s+(\S+)\s+(false|true)\s+(\S+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)"
                 r"\s+([0-9.]+)\s*$", re.M)


def _suite():
    spec = importlib.util.spec_from_file_location("benchmark_train",
                                                  REPO / "tools" / "benchmark_train.py")
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    return suite


def test_each_configuration_gets_a_row_and_its_ratios():
    """Any registered model (mlp has no keras.applications counterpart); mirrored splits
    the global batch of 4 over 2 logical CPU devices."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "benchmark.py"), "train", "--model=mlp",
         "--size=8", "--batch=4", "--repeats=2", "--precision=mixed_bfloat16",
         "--strategy=default,mirrored"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "global batch 4 at 8x8, 2 steps per configuration" in result.stdout, result.stdout
    assert "(2 logical devices)" in result.stdout
    rows = [m.groups() for m in ROW.finditer(result.stdout)]
    assert [r[:3] for r in rows] == [("mixed_bfloat16", "false", "default"),
                                     ("mixed_bfloat16", "false", "mirrored")], result.stdout
    rate, mem = float(rows[0][3]), float(rows[0][5])
    for *_, r, ratio, m, mem_ratio in rows:
        r, ratio, m, mem_ratio = map(float, (r, ratio, m, mem_ratio))
        assert r > 0 and m > 0
        # Printed rounded: rates to 0.005, MB to 0.5, ratios to 0.005.
        assert abs(ratio - r / rate) <= 0.005 + 0.005 * (1 + r / rate) / rate + 1e-9
        assert abs(mem_ratio - m / mem) <= 0.005 + 0.5 * (1 + m / mem) / mem + 1e-9


def test_configurations_are_the_cross_product_and_bad_values_are_named():
    suite = _suite()
    configs = suite.configurations(["float32", "mixed_float16"], ["false", "true"], ["default"])
    assert [tuple(c) for c in configs] == [("float32", False, "default"),
                                           ("float32", True, "default"),
                                           ("mixed_float16", False, "default"),
                                           ("mixed_float16", True, "default")]
    with pytest.raises(ValueError, match=r"--precision=float32,fp16: each value must be one of "
                                         r"float32, mixed_bfloat16, mixed_float16; got \['fp16'\]"):
        suite.configurations(["float32", "fp16"], ["false"], ["default"])
    with pytest.raises(ValueError, match=r"--jit_compile=yes: .* false, true"):
        suite.configurations(["float32"], ["yes"], ["default"])
    with pytest.raises(ValueError, match=r"--strategy=tpu: .* default, mirrored"):
        suite.configurations(["float32"], ["false"], ["tpu"])
