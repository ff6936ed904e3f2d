"""The model registry: lowercase name -> builder function.

A registered model accepts exactly the arguments of its signature. A variant
is a family builder with some arguments fixed (`register_variant`); its
signature is derived from the builder's, minus what it fixes, so the allowed
arguments are never written twice. Anything else is a ValueError naming the
argument and the allowed ones, raised before any layer is built.
"""

import difflib
import fnmatch
import functools
import inspect

_MODELS = {}


def register_model(fn):
    """Registers `fn` under its lowercase function name; a duplicate raises."""
    name = fn.__name__.lower()
    if name in _MODELS:
        raise ValueError(
            f"A model named {name!r} is already registered "
            f"(by {_MODELS[name].__module__}.{_MODELS[name].__name__})."
        )
    _MODELS[name] = fn
    return fn


def register_variant(name, builder, doc=None, **fixed):
    """Registers `builder` with the arguments `fixed` as the model `name`.

        resnet18 = register_variant("resnet18", ResNet, block="basic", stage_blocks=(2, 2, 2, 2))

    The variant accepts the builder's other arguments, with the builder's
    defaults, except that `name` (the model's name) defaults to the
    variant's. Passing a fixed argument is an error that names it.

    Returns:
        The variant function (its signature lists what it accepts).
    """
    params = _parameters(builder)
    unknown = sorted(set(fixed) - set(params))
    if unknown:
        raise ValueError(f"{name}: {builder.__name__} has no argument(s) {unknown}.")
    kept = [p for n, p in params.items() if n not in fixed]
    kept = [p.replace(default=name) if p.name == "name" else p for p in kept]

    @functools.wraps(builder, assigned=("__module__",), updated=())
    def variant(**kwargs):
        check_arguments(name, kwargs, variant)
        if "name" in params:
            kwargs.setdefault("name", name)
        return builder(**fixed, **kwargs)

    variant.__name__ = variant.__qualname__ = name
    variant.__signature__ = inspect.Signature(
        [p.replace(kind=p.KEYWORD_ONLY) for p in kept])
    # What the builder itself fixes of its base (`builds_on`) is fixed here too.
    variant.fixed = {**getattr(builder, "fixed", {}),
                     **{k: f"{k}={v!r}" for k, v in fixed.items()}}
    variant.builder = builder
    variant.fixed_values = dict(fixed)  # the values this variant sets (not its base's)
    fixed_text = ", ".join(f"{k}={v!r}" for k, v in fixed.items())
    variant.__doc__ = (doc or f"{name}.") + (
        f"\n\n`{builder.__module__}.{builder.__name__}({fixed_text}, ...)`: "
        f"see its docstring for the other arguments.")
    return register_model(variant)


def builds_on(base, fixes):
    """Marks a builder that passes its `**kwargs` to `base`, fixing `fixes`.

        @builds_on(ResNet, fixes=("block", "stage_blocks", "stage_filters", "stem"))
        def ResNetCIFAR(depth, shortcut="zero_pad", **kwargs): ...

    The decorated builder's signature becomes its own named arguments plus
    `base`'s other ones (the rest of its **kwargs), and a call with an
    argument outside that set raises a ValueError naming it, as a variant does.
    """
    base_params = _parameters(base)

    def decorate(fn):
        own = {n: p for n, p in inspect.signature(fn).parameters.items()
               if p.kind != p.VAR_KEYWORD}
        rest = [p.replace(kind=p.KEYWORD_ONLY) for n, p in base_params.items()
                if n not in own and n not in fixes]

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            check_arguments(fn.__name__, kwargs, wrapper)
            return fn(*args, **kwargs)

        wrapper.__signature__ = inspect.Signature(list(own.values()) + rest)
        wrapper.fixed = {n: f"{n} (set by {fn.__name__})" for n in fixes}
        return wrapper

    return decorate


def check_arguments(name, kwargs, fn):
    """Raises a ValueError unless `fn` (registered as `name`) takes every keyword in `kwargs`."""
    params = _parameters(fn)
    fixed = getattr(fn, "fixed", {})
    taken = sorted(set(kwargs) & set(fixed))
    if taken:
        raise ValueError(
            f"Model {name!r} fixes {', '.join(fixed[k] for k in taken)}; "
            f"it cannot be passed. Allowed arguments: {sorted(params)}."
        )
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise ValueError(
            f"Model {name!r} got unknown argument(s) {unknown}; allowed: {sorted(params)}."
        )


def list_models(pattern="*"):
    """Sorted names of the registered models matching a shell-style pattern."""
    return sorted(n for n in _MODELS if fnmatch.fnmatchcase(n, pattern.lower()))


def get_builder(name):
    """The builder registered as `name`; an unknown name names the closest."""
    if not isinstance(name, str):
        raise ValueError(f"A model name must be a string, got {name!r}.")
    key = name.lower()
    if key not in _MODELS:
        close = difflib.get_close_matches(key, list(_MODELS), n=5, cutoff=0.5)
        hint = f" Closest matches: {', '.join(close)}." if close else ""
        raise ValueError(
            f"Unknown model {name!r}.{hint} "
            f"`kerascnn.list_models()` lists all {len(_MODELS)} models."
        )
    return _MODELS[key]


def create_model(name, /, num_classes=None, **kwargs):
    """Builds the registered model `name` with the builder's keyword arguments.

    `num_classes` (timm's name) is accepted here, as `classes` (the builders'
    and keras.applications' name); passing both with different values is an
    error. An argument the model does not take, or one its variant fixes, is
    a ValueError naming the allowed ones, before any layer is built.
    """
    builder = get_builder(name)
    if num_classes is not None:
        if "classes" in kwargs and kwargs["classes"] != num_classes:
            raise ValueError(
                f"classes={kwargs['classes']!r} and num_classes={num_classes!r} disagree; "
                "pass one (num_classes is timm's name for classes)."
            )
        kwargs["classes"] = num_classes
    check_arguments(name.lower(), kwargs, builder)
    return builder(**kwargs)


def _parameters(fn):
    """The keyword-passable parameters of `fn` (and **kwargs, if it has one), by name."""
    return {n: p for n, p in inspect.signature(fn).parameters.items()
            if p.kind != p.VAR_POSITIONAL}
