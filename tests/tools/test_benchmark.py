"""tools/benchmark.py augment runs end to end on a tiny setting and reports ratios."""

import importlib.util
import math
import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_augment_suite_reports_rates_and_ratios():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "benchmark.py"), "augment", "--sizes=16",
         "--repeats=1", "--images=256",
         "--cases=kerascnn RandAugment N=1,kerascnn TrivialAugmentWide,keras MixUp,kerascnn Mixup"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    rows = {}
    for name in ("kerascnn RandAugment N=1 m=0.3", "kerascnn TrivialAugmentWide",
                 "kerascnn TrivialAugmentWide (per image)", "keras MixUp (batch)",
                 "kerascnn Mixup (batch)"):
        match = re.search(re.escape(name) + r"\s+([0-9.]+)\s*$", out, re.M)
        assert match, (name, out)
        rows[name] = float(match.group(1))
        assert rows[name] > 0
    assert "keras-cv RandAugment" not in out  # filtered out by --cases
    # Each requested pair gets its ratio, the quotient of the two rates.
    match = re.search(r"kerascnn TrivialAugmentWide\s+/ kerascnn RandAugment N=1 m=0.3\s+([0-9.]+)x",
                      out)
    assert match, out
    ratio = rows["kerascnn TrivialAugmentWide"] / rows["kerascnn RandAugment N=1 m=0.3"]
    assert math.isclose(float(match.group(1)), ratio, rel_tol=0.02, abs_tol=0.01)
    assert re.search(r"kerascnn Mixup \(batch\)\s+/ keras MixUp \(batch\)\s+[0-9.]+x", out), out


def test_train_suite_compares_with_keras_applications():
    """`benchmark.py train`: images/s and peak memory of ours and keras.applications'
    VGG16, and their ratios (tiny setting; the README quotes the real one). The
    processes that measure memory start as quietly as the tool (no TensorFlow
    start-up lines), as a user runs it: TF_CPP_MIN_LOG_LEVEL unset."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERASCNN_QUIETED_TF")}
    env["CUDA_VISIBLE_DEVICES"] = ""
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "benchmark.py"), "train", "--model=vgg16",
         "--size=32", "--batch=2", "--repeats=1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert not [line for line in result.stderr.splitlines()
                if "InitializeLog" in line or "I0000" in line], result.stderr[-3000:]
    match = re.search(r"^vgg16\s+VGG16\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)"
                      r"\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s*$", result.stdout, re.M)
    assert match, result.stdout
    ours, theirs, ratio, mem_ours, mem_theirs, mem_ratio = map(float, match.groups())
    assert ours > 0 and theirs > 0 and mem_ours > 0 and mem_theirs > 0
    assert math.isclose(ratio, ours / theirs, rel_tol=0.02, abs_tol=0.01)
    assert math.isclose(mem_ratio, mem_ours / mem_theirs, rel_tol=0.02, abs_tol=0.01)


def test_train_suite_refuses_a_model_without_a_counterpart():
    """Checked before anything is built; benchmark.py runs through kerascnn_cli.run,
    which shows a ValueError as a one-line user error (tests/tools/test_front_door.py)."""
    spec = importlib.util.spec_from_file_location("benchmark_train", REPO / "tools" / "benchmark_train.py")
    benchmark_train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark_train)
    with pytest.raises(ValueError, match=r"--model \['resnet20'\]: no keras.applications "
                                         r"counterpart; choose from \[.*'resnet50'"):
        benchmark_train.check_models(["resnet50", "resnet20"])
    benchmark_train.check_models(["vgg16", "densenet121"])  # both sides exist


def test_tflite_suite_times_every_path_and_gives_ratios(capsys):
    """`benchmark.py tflite`: Keras three ways and LiteRT float32 / float16 / dynamic / int8,
    median ms, the ratio to LiteRT float32 and the file sizes (tiny setting)."""
    spec = importlib.util.spec_from_file_location("benchmark_tflite", REPO / "tools" / "benchmark_tflite.py")
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    suite.tflite(["mlp"], size=8, runs=50, threads=1)
    out = capsys.readouterr().out
    assert "median of 50 runs after 5 warm-up, 1 LiteRT / " in out
    rows = {m.group(1): (float(m.group(2)), float(m.group(3)), m.group(4))
            for m in re.finditer(r"^mlp\s+(.+?)\s+([0-9.]+)\s+([0-9.]+)\s+(\S+)\s*$", out, re.M)}
    assert list(rows) == list(suite.PATHS)
    base = rows["litert float32"][0]
    for path, (ms, ratio, size) in rows.items():
        # Printed rounded: ms to 0.0005, the ratio to 0.005 (an MLP's times are hundredths of ms).
        rounding = 0.005 + 0.0005 * (1 + ms / base) / base
        assert ms > 0 and abs(ratio - ms / base) <= 1.01 * rounding
        assert (size == "-") == path.startswith(("keras", "tf."))
    sizes = {p: float(rows[p][2]) for p in rows if p.startswith("litert")}
    assert sizes["litert int8"] < sizes["litert float32"] and sizes["litert float16"] < sizes["litert float32"]
    with pytest.raises(ValueError, match=r"--model \['resnet21'\]: not registered"):
        suite.tflite(["resnet21"], size=8, runs=50)
