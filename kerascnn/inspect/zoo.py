"""The registered models' costs beside their papers' figures: docs/models.md's table.

    rows = [zoo.model_row(name) for name in zoo.model_names()]
    print(zoo.markdown_table(rows))

Each model is built at its default input with the class count its paper's
figures are for (`kerascnn.models.papers.PAPERS`); its trainable parameters
and multiply-adds are `costs(model)`'s. `tools/costs.py --all` prints the
table and writes it into docs/models.md between `MARKERS`.
"""

import dataclasses
import difflib
import gc

from kerascnn import registry
from kerascnn.inspect.costs import costs, human
from kerascnn.models.papers import PAPERS, Paper  # importing kerascnn.models registers them

MARKERS = ("<!-- models-table:start -->", "<!-- models-table:end -->")
COLUMNS = ("Model", "Input", "Classes", "Trainable parameters", "Multiply-adds",
           "Paper parameters", "Paper multiply-adds", "Source", "Deviation")
_NUMERIC = {2, 3, 4}  # right-aligned
_NO_PAPER = Paper("-", "-", "-", "-")  # a model registered outside kerascnn


@dataclasses.dataclass(frozen=True)
class ModelRow:
    """One model's measured costs and its paper's figures."""

    name: str
    input_shape: tuple
    classes: int
    trainable_params: int
    macs: int
    paper: Paper

    def cells(self):
        """The row's cells as text, in `COLUMNS` order."""
        return (self.name, "x".join(str(d) for d in self.input_shape), str(self.classes),
                f"{self.trainable_params:,}", human(self.macs), self.paper.params,
                self.paper.macs, self.paper.source, self.paper.deviation)


def model_names(names=None):
    """`names` checked against the registry, or every registered model (`PAPERS`' order first).

    Raises:
        ValueError: a name that is not registered (listing the closest and all of them).
    """
    registered = registry.list_models()
    if names is None:
        return [n for n in PAPERS if n in registered] + [n for n in registered if n not in PAPERS]
    unknown = [n for n in names if n.lower() not in registered]
    if unknown:
        close = sorted({c for n in unknown
                        for c in difflib.get_close_matches(n.lower(), registered, n=3)})
        hint = f" (closest: {', '.join(close)})" if close else ""
        raise ValueError(f"unknown model(s) {', '.join(map(repr, unknown))}{hint}; "
                         f"the registered models are: {', '.join(registered)}.")
    return [n.lower() for n in names]


def model_row(name):
    """Builds `name` at its default input with its paper's classes; its `ModelRow`."""
    paper = PAPERS.get(name, _NO_PAPER)
    model = registry.create_model(name, classes=paper.classes)
    report = costs(model)
    row = ModelRow(name, tuple(report.input_shape), paper.classes, report.trainable_params,
                   report.macs, paper)
    del model, report
    gc.collect()  # the big ones (VGG, SENet-154) hold 0.5 GB of weights each
    return row


def markdown_table(rows):
    """A Markdown table: a header, then one line per row."""
    def line(cells):
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    rule = ["---:" if i in _NUMERIC else "---" for i in range(len(COLUMNS))]
    body = [line((f"`{r.name}`", *r.cells()[1:])) for r in rows]
    return "\n".join([line(COLUMNS), line(rule), *body])


def text_table(rows):
    """An aligned text table, the deviation last and unpadded."""
    table = [COLUMNS, *(r.cells() for r in rows)]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(COLUMNS))]

    def line(cells):
        return "  ".join(c.rjust(w) if i in _NUMERIC else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(COLUMNS), "  ".join("-" * w for w in widths), *map(line, table[1:])])


def replace_between_markers(document, table, markers=MARKERS):
    """`document` with the text between its two markers replaced by `table`.

    Raises:
        ValueError: the markers are missing, repeated or out of order.
    """
    start, end = markers
    if document.count(start) != 1 or document.count(end) != 1:
        raise ValueError(f"the document needs one {start} line and one {end} line.")
    head, rest = document.split(start)
    if end not in rest:
        raise ValueError(f"{end} comes before {start}.")
    tail = rest.split(end)[1]
    return f"{head}{start}\n{table}\n{end}{tail}"
