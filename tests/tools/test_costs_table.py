"""docs/models.md's table of every model: written by `tools/costs.py --all`, tied to it here.

The whole table takes the tool about 75 s (56 models), so the tool runs here
on three of them, whose rows must equal the documented ones; the paper
columns of every row are checked against `PAPERS` without building anything.
"""

import math
import os
import pathlib
import re
import subprocess
import sys

import pytest

import kerascnn
from kerascnn.inspect import zoo
from kerascnn.models.papers import PAPERS, Paper

REPO = pathlib.Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "models.md"
SAMPLE = ("lenet5", "resnet20", "resnet18")  # a flattening net, a CIFAR and an ImageNet one


def costs_tool(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    return subprocess.run([sys.executable, str(REPO / "tools" / "costs.py"), *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


def documented_lines():
    """The lines of docs/models.md between the table's markers: header, rule, rows."""
    start, end = zoo.MARKERS
    text = DOCS.read_text()
    assert text.count(start) == text.count(end) == 1, "docs/models.md lost its table markers"
    return text.split(start)[1].split(end)[0].strip().splitlines()


def cells(line):
    """A Markdown row's cells (a `\\|` inside a cell is not a separator)."""
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def model_of(line):
    return cells(line)[0].strip("`")


def test_every_registered_model_has_a_papers_entry_and_no_other():
    registered = set(kerascnn.list_models())
    assert sorted(registered - set(PAPERS)) == [], "add them to kerascnn/models/papers.py"
    assert sorted(set(PAPERS) - registered) == [], "not registered models in PAPERS"
    for name, paper in PAPERS.items():
        assert paper.params and paper.macs and paper.source, name
        # One short sentence.
        assert paper.deviation.endswith(".") and len(paper.deviation) <= 130, name
        assert isinstance(paper.classes, int) and paper.classes >= 2, name


def test_the_documented_table_has_every_model_with_its_papers_figures():
    lines = documented_lines()
    assert lines[:2] == zoo.markdown_table([]).splitlines()
    assert [model_of(line) for line in lines[2:]] == list(PAPERS)
    for line in lines[2:]:
        row = cells(line)
        paper = PAPERS[model_of(line)]
        assert len(row) == len(zoo.COLUMNS), line
        assert row[2] == str(paper.classes), line
        assert row[5:] == [paper.params, paper.macs, paper.source, paper.deviation], line


def test_the_tool_prints_the_documented_rows_and_the_trainable_count():
    out = costs_tool("--all", "--format=markdown", f"--models={','.join(SAMPLE)}")
    assert out.returncode == 0, out.stderr[-3000:]
    lines = documented_lines()
    expected = lines[:2] + [line for name in SAMPLE for line in lines[2:]
                            if model_of(line) == name]
    assert out.stdout.strip().splitlines() == expected, (
        "docs/models.md's table is out of date: python tools/costs.py --all "
        "--update_docs=docs/models.md")
    for line in expected[2:]:
        name = model_of(line)
        model = kerascnn.create_model(name, classes=PAPERS[name].classes)
        trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
        assert cells(line)[3] == f"{trainable:,}", line


def test_an_unknown_model_is_an_error_that_names_it_and_the_closest():
    """tools/costs.py --models passes through `zoo.model_names`; its ValueError is
    the tool's one-line user error (exit 2, tests/tools/test_front_door.py)."""
    with pytest.raises(ValueError) as err:
        zoo.model_names(["resnet18", "resnet21"])
    message = str(err.value)
    assert "'resnet21'" in message and "'resnet18'" not in message
    assert "closest: " in message and "resnet20" in message and "xor_mlp" in message


def test_tables_from_rows():
    paper = Paper("1 M", "-", "Someone 2020, Table 1", "A | B.", classes=10)
    rows = [zoo.ModelRow("tiny", (32, 32, 3), 10, 1_234_567, 89_000_000, paper),
            zoo.ModelRow("flat", (2,), 2, 12, 8, paper)]
    markdown = zoo.markdown_table(rows).splitlines()
    assert markdown[2] == ("| `tiny` | 32x32x3 | 10 | 1,234,567 | 89.00 M | 1 M | - | "
                           "Someone 2020, Table 1 | A \\| B. |")
    assert cells(markdown[3])[:5] == ["`flat`", "2", "2", "12", "8"]
    assert cells(markdown[3])[-1] == "A | B."
    text = zoo.text_table(rows).splitlines()
    assert len(text) == 4 and text[0].startswith("Model ")
    # Numbers are right-aligned: their columns end at the same place.
    assert text[2].index("1,234,567") + 9 == text[3].index(" 12 ") + 3


def test_replace_between_markers():
    start, end = zoo.MARKERS
    doc = f"# Title\n\n{start}\nold\n{end}\n\nafter\n"
    assert zoo.replace_between_markers(doc, "new") == f"# Title\n\n{start}\nnew\n{end}\n\nafter\n"
    for broken in ("no markers", f"{end}\n{start}\n", f"{start}\n{start}\n{end}\n"):
        with pytest.raises(ValueError, match="models-table"):
            zoo.replace_between_markers(broken, "new")
