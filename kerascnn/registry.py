"""The model registry: lowercase name -> builder function."""

import difflib
import fnmatch
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


def create_model(name, **kwargs):
    """Builds the registered model `name` with the builder's keyword arguments.

    An argument the builder does not take is an error naming the allowed ones.
    """
    builder = get_builder(name)
    allowed = _accepted_arguments(builder)
    if allowed is not None:
        unknown = sorted(set(kwargs) - allowed)
        if unknown:
            raise ValueError(
                f"Model {name!r} got unknown argument(s) {unknown}; "
                f"allowed: {sorted(allowed)}."
            )
    return builder(**kwargs)


def _accepted_arguments(fn, _seen=None):
    """Names `fn` accepts, following `**kwargs` into the family builder it calls.

    A variant's `**kwargs` are passed to the builder named in its `__wrapped_builder__`
    attribute (set by `variant_of`); with none, any keyword is accepted (None).
    """
    params = inspect.signature(fn).parameters
    names = {
        n for n, p in params.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        inner = getattr(fn, "__wrapped_builder__", None)
        if inner is None:
            return None
        inner_names = _accepted_arguments(inner)
        if inner_names is None:
            return None
        names |= inner_names
    return names


def variant_of(builder):
    """Marks a registered variant as passing its **kwargs to `builder`."""
    def mark(fn):
        fn.__wrapped_builder__ = builder
        return fn
    return mark
