"""Parameters and multiply-adds of a Keras model, per layer and in total.

One multiply-add (MAC) counts 1, as the papers count them (MobileNet's
"mult-adds"; the "FLOPs" of ResNet and EfficientNet are multiply-adds too);
TensorFlow's profiler counts 2 FLOPs per multiply-add, so FLOPs ~= 2 x MACs.
Bias additions (an add without a multiply), normalization (a per-channel
scale and shift, foldable into the convolution before it), activations,
pooling and residual additions are not counted, as the papers leave them out.

Each layer class maps to a rule `fn(layer, input_shapes, output_shapes) ->
multiply-adds for one example`, registered with `register_cost`. A layer with
no rule is counted through the sub-layers it calls (a functional backbone used
as a layer, a subclassed block); a leaf with no rule and no weights costs 0;
a leaf with weights but no rule has its parameters counted and is listed in
`CostReport.unknown` (with a warning), never silently given 0 MACs.
"""

import dataclasses
import math
import warnings

import keras

from kerascnn import _compat
from kerascnn.inspect.cost_rules import cost_rule


@dataclasses.dataclass
class CostRow:
    """One layer call. Weights shared with an earlier row count in that row only."""

    name: str
    class_name: str
    output_shape: object
    trainable_params: int
    non_trainable_params: int
    macs: int


@dataclasses.dataclass
class CostReport:
    """Per-layer rows and totals; `table()` formats them.

    `trainable_params` is the number papers quote. Keras' `count_params()` is
    trainable + non-trainable (BatchNorm's moving mean and variance included).
    FLOPs as TensorFlow's profiler counts them are about 2 * `macs`.
    """

    model_name: str
    input_shape: object
    rows: list
    trainable_params: int
    non_trainable_params: int
    macs: int
    unknown: list = dataclasses.field(default_factory=list)

    @property
    def params(self):
        return self.trainable_params + self.non_trainable_params

    def table(self, top=None):
        """An aligned text table; `top=N` keeps the N rows with the most MACs."""
        rows = self.rows
        if top is not None:
            rows = sorted(rows, key=lambda r: r.macs, reverse=True)[:top]
        header = ("Layer", "Class", "Output shape", "Trainable", "Non-trainable",
                  "MACs", "")
        lines = [
            (r.name, r.class_name, _shape_str(r.output_shape),
             f"{r.trainable_params:,}", f"{r.non_trainable_params:,}",
             f"{r.macs:,}", human(r.macs))
            for r in rows
        ]
        total = ("Total", "", "", f"{self.trainable_params:,}",
                 f"{self.non_trainable_params:,}", f"{self.macs:,}", human(self.macs))
        widths = [max(len(row[i]) for row in [header, total, *lines])
                  for i in range(len(header))]
        right = {3, 4, 5, 6}

        def fmt(row):
            cells = [c.rjust(w) if i in right else c.ljust(w)
                     for i, (c, w) in enumerate(zip(row, widths))]
            return "  ".join(cells).rstrip()

        rule = "-" * len(fmt(header))
        out = [f"{self.model_name}, input {_shape_str(self.input_shape)}", rule,
               fmt(header), rule, *map(fmt, lines)]
        if top is not None and len(self.rows) > len(rows):
            out.append(f"... {len(self.rows) - len(rows)} more rows "
                       f"(the {len(rows)} with the most MACs are shown)")
        out += [rule, fmt(total), rule, self.summary()]
        if self.unknown:
            out.append("No multiply-add rule (parameters counted, MACs not): "
                       + ", ".join(self.unknown))
        return "\n".join(out)

    def summary(self):
        """The totals in one line: exact integers and human units."""
        return (
            f"Total multiply-adds: {self.macs:,} ({human(self.macs)} MACs, "
            f"~{human(2 * self.macs)} FLOPs); trainable parameters: "
            f"{self.trainable_params:,} ({human(self.trainable_params)}); "
            f"non-trainable: {self.non_trainable_params:,}"
        )


def human(n):
    """12_345_678 -> '12.35 M' (decimal units, as the papers use them)."""
    for scale, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)


def costs(model, input_shape=None):
    """Parameters and multiply-adds of `model`, per layer and in total.

    One multiply-add counts 1, as the papers count them (MobileNet Table 8:
    569 million mult-adds); TensorFlow's profiler counts 2 FLOPs per
    multiply-add. Bias additions are not counted, nor are BatchNorm,
    activations, pooling, padding, additions or reshapes (0 each).

    Convolutions of any rank, groups, stride, dilation and padding cost
    (output positions) x (kernel size) x (input channels / groups) x (output
    channels); depthwise, separable and transposed convolutions and Dense on
    inputs of any rank have their own rules (`register_cost` adds more). A
    functional model used as a layer, or any layer without a rule that calls
    sub-layers, is counted through those calls: once per call, its shared
    weights once.

    Args:
        model: a built `keras.Model` or layer.
        input_shape: one example's shape, e.g. (224, 224, 3), or a list of
            them for a model with several inputs. Required when the model's
            own input shape has unknown (None) dimensions; must agree with
            its known ones.

    Returns:
        A `CostReport`: `rows`, totals `trainable_params`,
        `non_trainable_params`, `macs`, and `unknown` (weighted layers with
        no rule, whose MACs are missing from the total).

    Raises:
        ValueError: the input shape is unknown or contradicts the model's.
    """
    specs = _input_specs(model, input_shape)
    tracer = _Tracer()
    root = tracer.run_root(model, specs)
    trainable = {id(v) for v in model.trainable_weights}
    rows, unknown, seen = [], [], set()
    _attribute(root, trainable, seen, rows, unknown)
    total_trainable = _size(model.trainable_weights)
    total_non_trainable = _size(model.non_trainable_weights)
    left = [v for v in model.weights if id(v) not in seen]
    if left:  # weights of layers the forward pass never called
        rows.append(_row("(not called)", "", None, left, trainable, seen, 0))
    if unknown:
        warnings.warn(
            f"costs({model.name}): no multiply-add rule for {len(unknown)} layer(s) "
            f"with weights ({', '.join(unknown[:5])}{', ...' if len(unknown) > 5 else ''}); "
            "their parameters are counted, their multiply-adds are not. Add one "
            "with kerascnn.inspect.register_cost.",
            stacklevel=2,
        )
    shapes = [tuple(s.shape[1:]) for s in specs]
    return CostReport(
        model_name=model.name,
        input_shape=shapes[0] if len(shapes) == 1 else shapes,
        rows=rows,
        trainable_params=total_trainable,
        non_trainable_params=total_non_trainable,
        macs=sum(r.macs for r in rows),
        unknown=unknown,
    )


# ----------------------------------------------------------------------------
# Walking the model: one _Call per layer call, with the shapes of that call.


@dataclasses.dataclass
class _Call:
    layer: object
    path: str
    input_shapes: list
    output_shapes: list = None
    children: list = dataclasses.field(default_factory=list)


class _Tracer:
    """Runs a model on symbolic inputs and records every layer call.

    Functional and Sequential models are walked node by node with each
    layer's `compute_output_spec` (no new nodes, no computation). A layer
    without a rule that has sub-layers is traced through its `call`, with its
    sub-layers' `call` wrapped (per instance, undone afterwards) to record
    what they receive.
    """

    def __init__(self):
        self._stack = []

    def run_root(self, model, specs):
        root = _Call(model, "", _shapes(specs))
        self._stack.append(root)
        try:
            inputs = specs[0] if len(specs) == 1 else specs
            out = self._run_inside(model, inputs, (inputs,), {})
        finally:
            self._stack.pop()
        root.output_shapes = _shapes(out)
        return root

    def apply(self, layer, args, kwargs):
        parent = self._stack[-1]
        prefix = f"{parent.path}/" if parent.path else ""
        call = _Call(layer, prefix + layer.name, _shapes((args, kwargs)))
        parent.children.append(call)
        self._stack.append(call)
        try:
            inputs = args[0] if args else kwargs.get("inputs")
            out = self._run_inside(layer, inputs, args, kwargs)
        finally:
            self._stack.pop()
        call.output_shapes = _shapes(out)
        return out

    def _run_inside(self, layer, inputs, args, kwargs):
        """The output spec of `layer`, recording the calls inside it (if any)."""
        if cost_rule(layer) is None:
            functional = _compat.functional_graph(layer)
            if functional is not None:
                return _compat.run_through_graph(
                    functional, inputs, lambda op: lambda *a, **k: self.apply(op, a, k)
                )
            if isinstance(layer, keras.Sequential):  # not built on an Input
                x = inputs
                for sub in layer.layers:
                    x = self.apply(sub, (x,), {})
                return x
            if _compat.sublayers(layer):
                return self._trace(layer, args, kwargs)
        return layer.compute_output_spec(*args, **kwargs)

    def _trace(self, layer, args, kwargs):
        subs = _compat.sublayers(layer, recursive=True)
        patched = []
        try:
            for sub in subs:
                if "call" in vars(sub):
                    continue  # its author set `call` on the instance; leave it be
                sub.call = self._recording(sub, sub.call)
                patched.append(sub)
            return _compat.trace_output_spec(layer.call, *args, **kwargs)
        finally:
            for sub in patched:
                del sub.call

    def _recording(self, layer, call_fn):
        def call(*args, **kwargs):
            parent = self._stack[-1]
            record = _Call(layer, f"{parent.path}/{layer.name}" if parent.path
                           else layer.name, _shapes((args, kwargs)))
            parent.children.append(record)
            self._stack.append(record)
            try:
                out = call_fn(*args, **kwargs)
            finally:
                self._stack.pop()
            record.output_shapes = _shapes(out)
            return out

        return call


def _attribute(call, trainable, seen, rows, unknown):
    """Appends the rows of one call: its rule, else its sub-calls, else a leaf."""
    layer = call.layer
    name = call.path or layer.name  # the root call has no path
    rule = cost_rule(layer)
    weights = list(getattr(layer, "weights", []))
    if rule is not None:
        macs = int(rule(layer, call.input_shapes, call.output_shapes))
        rows.append(_row(name, type(layer).__name__, call.output_shapes,
                         weights, trainable, seen, macs))
        return
    if call.children:
        inner = {id(v) for sub in _compat.sublayers(layer) for v in sub.weights}
        own = [v for v in weights if id(v) not in inner]
        if own:
            _note(unknown, name)
            rows.append(_row(name, type(layer).__name__, call.output_shapes,
                             own, trainable, seen, 0))
        for child in call.children:
            _attribute(child, trainable, seen, rows, unknown)
        return
    if weights:
        _note(unknown, name)
    rows.append(_row(name, type(layer).__name__, call.output_shapes,
                     weights, trainable, seen, 0))


def _note(unknown, name):
    if name not in unknown:  # a layer called several times is listed once
        unknown.append(name)


def _row(name, class_name, output_shapes, weights, trainable, seen, macs):
    counts = [0, 0]
    for v in weights:
        if id(v) in seen:
            continue
        seen.add(id(v))
        counts[id(v) not in trainable] += math.prod(v.shape)
    if isinstance(output_shapes, list) and len(output_shapes) == 1:
        output_shapes = output_shapes[0]
    return CostRow(name, class_name, output_shapes, counts[0], counts[1], macs)


def _size(weights):
    return sum(math.prod(v.shape) for v in weights)


def _shapes(structure):
    """The shapes of the tensors in `structure`, batch dimension shown as None."""
    return [(None, *tuple(x.shape)[1:]) if len(x.shape) else ()
            for x in keras.tree.flatten(structure) if hasattr(x, "shape")]


def _shape_str(shape):
    if shape is None:
        return ""
    if isinstance(shape, list):
        return ", ".join(_shape_str(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _input_specs(model, input_shape):
    """One symbolic example (batch 1) per model input, of the requested shape."""
    declared, dtypes, binding = _declared_inputs(model)
    if input_shape is None:
        if declared is None:
            raise ValueError(
                f"costs(): {model.name!r} has no known input shape (not built on an "
                "Input); pass input_shape=(H, W, C)."
            )
        if any(d is None for s in declared for d in s):
            raise ValueError(
                f"costs(): {model.name!r} takes inputs of shape "
                f"{', '.join(_shape_str((None, *s)) for s in declared)} with unknown "
                "dimensions, so its multiply-adds are unknown; pass "
                "input_shape=(H, W, C)."
            )
        shapes = declared
    else:
        single = all(isinstance(d, int) or d is None for d in input_shape)
        shapes = [tuple(input_shape)] if single else [tuple(s) for s in input_shape]
        for s in shapes:
            if not all(isinstance(d, int) and d > 0 for d in s):
                raise ValueError(
                    f"costs(): input_shape needs positive integers per example "
                    f"(no batch dimension), got {input_shape!r}."
                )
        if binding:
            if len(declared) != len(shapes):
                raise ValueError(
                    f"costs(): {model.name!r} has {len(declared)} input(s), "
                    f"input_shape gives {len(shapes)}."
                )
            for want, have in zip(shapes, declared):
                if len(want) != len(have) or any(
                    h is not None and h != w for w, h in zip(want, have)
                ):
                    raise ValueError(
                        f"costs(): input_shape {want} contradicts the model's input "
                        f"shape {_shape_str((None, *have))}; rebuild the model for "
                        "that size instead."
                    )
    dtypes = dtypes or ["float32"] * len(shapes)
    return [keras.KerasTensor((1, *s), dtype=t) for s, t in zip(shapes, dtypes)]


def _declared_inputs(model):
    """(shapes without batch, dtypes, binding) of the model's inputs.

    A model built on `Input`s is bound to their shapes; a subclassed model or
    layer only remembers the shape it was first built at, a default. Both
    unknown: (None, None, False).
    """
    try:
        inputs = keras.tree.flatten(model.inputs) if model.inputs else None
    except (AttributeError, ValueError):
        inputs = None
    if inputs:
        return [tuple(x.shape[1:]) for x in inputs], [x.dtype for x in inputs], True
    build = _compat.build_shapes(model)
    if len(build) == 1:
        shape = next(iter(build.values()))
        if isinstance(shape, (tuple, list)) and all(
            d is None or isinstance(d, int) for d in shape
        ):
            return [tuple(shape[1:])], None, False
    return None, None, False
