"""What a new user meets first: --help, --show_config, one-line errors, a quiet start.

Every tool runs as a user runs it, in a subprocess, with the environment a
user has (no TF_CPP_MIN_LOG_LEVEL, no CUDA_VISIBLE_DEVICES).
"""

import ast
import os
import pathlib
import pty
import re
import subprocess
import sys

import pytest

from kerascnn.train import config as config_lib

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
DIGITS = "--config=configs/resnet20_digits.py"
# What TensorFlow prints on a CPU-only machine when nothing quiets it.
TF_NOISE = re.compile(r"cuda|cuInit|cudart|oneDNN custom operations|cpu_feature_guard"
                      r"|absl::InitializeLog", re.IGNORECASE)
# Each tool's own flags, as its --help must list them.
TOOL_FLAGS = {
    "train": ["--config", "--workdir", "--show_config", "--export", "--name"],
    "evaluate": ["--workdir", "--checkpoint", "--split", "--tta", "--output", "--confusion_png",
                 "--flip", "--ensemble", "--reliability_png", "--strategy", "--cpu_devices"],
    "export": ["--workdir", "--name", "--export_root", "--checkpoint", "--version",
               "--quantization", "--io_dtype"],
    "costs": ["--model", "--keras_application", "--input_shape", "--classes", "--top", "--all",
              "--models", "--format", "--update_docs"],
    "show_augment": ["--policy", "--magnitudes", "--output"],
    "benchmark": ["--shape", "--repeats", "--sizes", "--runs", "--threads", "--precision",
                  "--jit_compile", "--strategy"],
    "backend_parity": ["--dir", "--stage"],
    "overfit_batch": ["--config", "--num_examples", "--max_steps", "--target_loss",
                      "--learning_rate"],
    "lr_find": ["--config", "--output", "--min_lr", "--max_lr", "--steps"],
    "search": ["--config", "--workdir", "--space", "--method", "--trials", "--rounds", "--epochs",
               "--validation_split", "--seed"],
    "inspect_net": ["--output", "--width", "--layers", "--seed", "--workdir", "--model",
                    "--layer", "--index", "--max_channels"],
    "compare_runs": ["--workdirs", "--labels", "--metric", "--panels", "--output", "--title"],
    "retrieve": ["--workdir", "--output", "--k", "--queries", "--split", "--seed", "--checkpoint"],
}


def user_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "CUDA_VISIBLE_DEVICES", "KERASCNN_TRACEBACK")}
    return {**env, **extra}


def run(args, **extra_env):
    return subprocess.run(args, cwd=REPO, env=user_env(**extra_env), capture_output=True,
                          text=True, timeout=600)


def tool(name, *args, **extra_env):
    return run([sys.executable, f"tools/{name}.py", *args], **extra_env)


def lists_flag(help_text, flag):
    """Whether absl's help lists `flag` ("--name:" or, for a bool, "--[no]name:")."""
    name = flag.removeprefix("--")
    return re.search(rf"^\s+--(\[no\])?{re.escape(name)}:", help_text, re.MULTILINE) is not None


def docstring_first_line(name):
    tree = ast.parse((REPO / "tools" / f"{name}.py").read_text())
    return ast.get_docstring(tree).splitlines()[0]


def test_every_tool_is_covered():
    libraries = {"__init__", "benchmark_augment", "benchmark_train", "benchmark_tflite",
                 "benchmark_int8"}
    tools = {p.stem for p in (REPO / "tools").glob("*.py")} - libraries
    assert tools == set(TOOL_FLAGS)  # the benchmark_* modules are benchmark.py's libraries


@pytest.mark.parametrize("name", sorted(TOOL_FLAGS))
def test_tool_help_lists_its_flags(name):
    out = tool(name, "--help")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith(docstring_first_line(name))
    for flag in TOOL_FLAGS[name] + ["--traceback"]:
        assert lists_flag(out.stdout, flag), (flag, out.stdout)
    assert not TF_NOISE.search(out.stderr), out.stderr


@pytest.mark.parametrize("script", ["kerascnn-train", "kerascnn-evaluate", "kerascnn-export",
                                    "kerascnn-costs"])
def test_console_script_help_lists_its_flags(script):
    """absl lists only __main__'s flags, which for a console script is pip's
    wrapper: before, `kerascnn-train --help` printed just "USAGE: ... [flags]"."""
    path = BIN / script
    assert path.exists(), f"{script} is not installed next to {sys.executable}"
    out = run([str(path), "--help"])
    assert out.returncode == 0, out.stderr[-2000:]
    name = script.removeprefix("kerascnn-")
    assert out.stdout.startswith(docstring_first_line(name))
    for flag in TOOL_FLAGS[name]:
        assert lists_flag(out.stdout, flag), (flag, out.stdout)
    assert not TF_NOISE.search(out.stderr), out.stderr


def test_show_config_lists_every_key_with_value_default_and_meaning():
    out = tool("train", DIGITS, "--show_config", "--config.train.epochs=7")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {}
    for line in out.stdout.splitlines()[1:]:
        parts = re.split(r"\s{2,}", line[2:].strip())
        if len(parts) >= 3:
            rows[parts[0]] = (line.startswith("*"), parts[1], parts[2], parts[3:])
    for key, default, meaning in config_lib.KEYS:
        if key == "model.kwargs":
            continue  # its entries are listed one by one
        assert key in rows, key
        assert rows[key][3] == [meaning], key
    # From the command line, from the config file, and untouched:
    assert rows["train.epochs"] == (True, "7", "30", rows["train.epochs"][3])
    assert rows["data.image_size"][:3] == (True, "16", "32")
    assert rows["train.momentum"][:3] == (False, "0.9", "0.9")
    assert rows["model.kwargs.preprocessing"][:3] == (False, "'digits'", "-")


@pytest.mark.parametrize("args, expected", [
    (["--config.train.epoch=3"], "did you mean config.train.epochs?"),
    (["--config.train.epochs=0"], "config.train.epochs must be an integer >= 1, got 0"),
    (["--config.train.epochs=abc"], "abc"),
    (["--config.model.name=resnet21"], "resnet21"),
    (["--config.data.name=folder:/nonexistent/images"], "/nonexistent/images"),
    (["--config.augment.policy=trivial"], "trivial"),
    (["--no_such_flag=1"], "no_such_flag"),
])
def test_a_user_error_is_one_line_with_status_2(tmp_path, args, expected):
    workdir = tmp_path / "run"
    out = tool("train", DIGITS, f"--workdir={workdir}", *args)
    assert out.returncode == 2, (out.returncode, out.stderr[-3000:])
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2 and lines[0].startswith("train.py: error:"), out.stderr
    assert expected in lines[0]
    assert not workdir.exists()  # failed before anything was written


def test_traceback_on_request(tmp_path):
    out = tool("train", DIGITS, f"--workdir={tmp_path}", "--config.train.epochs=0",
               KERASCNN_TRACEBACK="1")
    assert out.returncode != 0 and "Traceback" in out.stderr
    assert "config.train.epochs must be an integer >= 1" in out.stderr
    out = tool("export", f"--workdir={tmp_path / 'none'}", "--traceback")
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_other_tools_report_user_errors_in_one_line(tmp_path):
    for out in (tool("export", f"--workdir={tmp_path / 'none'}"),
                tool("evaluate", f"--workdir={tmp_path / 'none'}"),
                tool("costs", "--model=resnet21")):
        assert out.returncode == 2, out.stderr[-2000:]
        assert "Traceback" not in out.stderr
        assert len([line for line in out.stderr.splitlines() if line.strip()]) <= 2, out.stderr


SMOKE = [DIGITS, "--config.train.epochs=1", "--config.augment.policy=none"]


def test_one_epoch_quiet_and_plain_when_logged_to_a_file(tmp_path):
    """--config.train.epochs=1 runs the shipped config as it is (its 1-epoch warmup
    is capped at half of training), stderr carries none of TensorFlow's CPU
    start-up lines, and stdout, not a terminal, has no ANSI codes."""
    out = tool("train", *SMOKE, f"--workdir={tmp_path / 'run'}")
    assert out.returncode == 0, out.stderr[-3000:]
    assert not TF_NOISE.search(out.stderr), out.stderr
    assert "\x1b" not in out.stdout + out.stderr
    assert re.search(r"^23/23 - \d+s - .*loss: ", out.stdout, re.MULTILINE), out.stdout
    assert "test top1:" in out.stdout


def test_progress_bar_on_a_terminal(tmp_path):
    parent, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "tools/train.py", *SMOKE,
                             f"--workdir={tmp_path / 'run'}"], cwd=REPO, env=user_env(),
                            stdout=child, stderr=subprocess.PIPE)
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # the terminal closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    _, err = proc.communicate(timeout=600)
    os.close(parent)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0, err.decode()[-3000:]
    assert "━" in text and "\x1b[" in text  # Keras's bar, redrawn in place
    assert not TF_NOISE.search(err.decode())


def test_an_export_never_becomes_the_next_version_of_another_model(tmp_path):
    """Finding 1: a 2-class folder run exported after a 3-class one used to be
    written as version 2 of the same name (the model's), which TF Serving would
    have switched to."""
    import numpy as np
    from PIL import Image

    from kerascnn.train import train_lib

    def folder_run(name, classes):
        root = tmp_path / name
        for c in classes:
            (root / c).mkdir(parents=True)
            for i in range(5):
                Image.fromarray(np.full((8, 8, 3), 50 * i, np.uint8)).save(root / c / f"{i}.png")
        cfg = train_lib.config_to_dict(config_lib.default_config())
        cfg["model"]["name"] = "mlp"  # any model: what is tested is the export's naming
        cfg["data"].update(name=f"folder:{root}", image_size=8)
        cfg["train"].update(epochs=1, batch_size=4, eval_every_epoch=False)
        cfg["export"].update(root=str(tmp_path / "saved"), num_parity_images=2, tflite=False)
        train_lib.train_and_evaluate(cfg, tmp_path / f"run_{name}", verbose=0)
        return tmp_path / f"run_{name}"

    animals = folder_run("animals", ["cat", "dog", "owl"])
    plants = folder_run("plants", ["fern", "moss"])
    first = tool("export", f"--workdir={animals}")
    assert first.returncode == 0, first.stderr[-3000:]
    assert (tmp_path / "saved" / "mlp_animals" / "1" / "saved_model.pb").exists()
    same_name = tool("export", f"--workdir={plants}", "--name=mlp_animals")
    assert same_name.returncode == 2, same_name.stderr[-3000:]
    error = same_name.stderr.splitlines()[0]
    assert "mlp_animals" in error and "cat" in error and "fern" in error, error
    assert not (tmp_path / "saved" / "mlp_animals" / "2").exists()
    own_name = tool("export", f"--workdir={plants}")
    assert own_name.returncode == 0, own_name.stderr[-3000:]
    assert (tmp_path / "saved" / "mlp_plants" / "1" / "saved_model.pb").exists()
