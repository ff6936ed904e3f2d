"""tools/compare_runs.py end to end on two run folders written here."""

import ast
import json
import pathlib
import subprocess
import sys

import numpy as np
from PIL import Image

from kerascnn.train import curves

REPO = pathlib.Path(__file__).resolve().parents[2]


def run_folder(root, name, model, top1, val_top1, seconds):
    folder = root / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model": {"name": model, "kwargs": {}}}))
    (folder / "metrics.json").write_text(json.dumps({"train_seconds_this_run": seconds}))
    rows = [f"{i},{2.0 - i / 10},{a},{b}" for i, (a, b) in enumerate(zip(top1, val_top1))]
    (folder / "history.csv").write_text("epoch,loss,top1,val_top1\n" + "\n".join(rows) + "\n")
    return folder


def test_the_flag_choices_are_the_librarys():
    tree = ast.parse((REPO / "tools" / "compare_runs.py").read_text())
    values = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
              if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
              and node.targets[0].id in ("METRICS", "PANELS")}
    assert values == {"METRICS": curves.METRICS, "PANELS": curves.PANELS}


def test_two_runs_side_by_side(tmp_path):
    plain = run_folder(tmp_path, "p56", "plain56", [0.2, 0.4, 0.5], [0.25, 0.35, 0.45], 12.3)
    resnet = run_folder(tmp_path, "r56", "resnet56", [0.5, 0.9, 0.99], [0.5, 0.8, 0.95], 20.0)
    png = tmp_path / "cmp.png"
    out = subprocess.run(
        [sys.executable, "tools/compare_runs.py", f"--workdirs={plain},{resnet}",
         f"--output={png}"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    pixels = np.asarray(Image.open(png).convert("RGB"))
    assert pixels.shape[1] > 2 * pixels.shape[0] * 0.9  # two panels: plain | resnet
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()}
    # last training error, last test error, best test error (%), seconds
    assert rows["p56"][1:] == ["plain56", "3", "50", "55", "55", "12"]
    assert rows["r56"][1:] == ["resnet56", "3", "1", "5", "5", "20"]
