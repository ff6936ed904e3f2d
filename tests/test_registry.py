"""The registry: names, patterns, duplicates, unknown names and arguments."""

import inspect

import pytest

import kerascnn
from kerascnn import registry


def test_list_models_pattern():
    names = kerascnn.list_models()
    assert names == sorted(names)
    for expected in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                     "resnet20", "resnet32", "resnet44", "resnet56", "resnet110"]:
        assert expected in names
    assert kerascnn.list_models("resnet1??") == ["resnet101", "resnet110", "resnet152"]
    assert kerascnn.list_models("RESNET5?") == ["resnet50", "resnet56"]
    assert kerascnn.list_models("resnet1*") == [
        n for n in names if n.startswith("resnet1")]
    assert kerascnn.list_models("nothing*") == []


def test_duplicate_name_raises():
    def resnet50():
        return None

    with pytest.raises(ValueError, match="already registered"):
        registry.register_model(resnet50)


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match="Closest matches: .*resnet50") as err:
        kerascnn.create_model("resnet05")
    assert "list_models" in str(err.value)


def test_unknown_argument_names_allowed_ones():
    with pytest.raises(ValueError, match="unknown argument\\(s\\) \\['n_classes'\\]") as err:
        kerascnn.create_model("resnet20", n_classes=10)
    assert "'classes'" in str(err.value) and "'stride_in_1x1'" in str(err.value)


def test_create_model_uses_registered_builder():
    model = kerascnn.create_model("ResNet20", classes=3)
    assert model.name == "resnet20"
    assert model.output_shape == (None, 3)


def test_variant_accepts_its_builder_arguments_minus_the_fixed_ones():
    from kerascnn.models import resnet

    for name in kerascnn.list_models():
        variant = registry.get_builder(name)
        builder = variant.builder
        ours = inspect.signature(variant).parameters
        theirs = inspect.signature(builder).parameters
        assert set(ours) == set(theirs) - set(variant.fixed) - {"kwargs"}, name
        for arg, param in ours.items():
            expected = name if arg == "name" else theirs[arg].default
            assert param.default == expected, (name, arg)
    # ResNetCIFAR passes its **kwargs to ResNet, fixing the layout.
    cifar = set(inspect.signature(resnet.ResNetCIFAR).parameters)
    assert cifar == {"depth", "shortcut", "preprocessing", "name"} | (
        set(inspect.signature(resnet.ResNet).parameters)
        - {"block", "stage_blocks", "stage_filters", "stem"})


def test_name_is_an_argument_like_any_other():
    # It used to be a Python "got multiple values for argument 'name'" TypeError.
    model = kerascnn.create_model("resnet18", name="x", input_shape=(32, 32, 3))
    assert model.name == "x"
    assert kerascnn.create_model("resnet20", classes=3).name == "resnet20"


def test_num_classes_is_create_models_alias_only():
    from kerascnn.models import resnet

    assert "num_classes" not in inspect.signature(resnet.ResNet).parameters
    with pytest.raises(ValueError, match=r"unknown argument\(s\) \['num_classes'\]"):
        resnet.resnet20(num_classes=10)
    assert kerascnn.create_model("resnet20", num_classes=4).output_shape == (None, 4)
    assert kerascnn.create_model("resnet20", num_classes=4, classes=4).output_shape == (None, 4)
    with pytest.raises(ValueError, match="classes=5 and num_classes=4 disagree"):
        kerascnn.create_model("resnet20", num_classes=4, classes=5)


def test_argument_that_does_not_apply_is_an_error():
    # stride_in_1x1 places the stride in a bottleneck; basic blocks have none.
    for name in ("resnet18", "resnet20"):
        with pytest.raises(ValueError, match="applies to bottleneck blocks only"):
            kerascnn.create_model(name, stride_in_1x1=True)


def test_register_variant_and_builds_on(monkeypatch):
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))

    def family(width, depth=2, act="relu", name="family"):
        return (width, depth, act, name)

    @registry.builds_on(family, fixes=("width",))
    def narrow(depth=3, **kwargs):
        return family(1, depth=depth, **kwargs)

    tiny = registry.register_variant("tiny_net", narrow, "A tiny net.", depth=1)
    assert list(inspect.signature(tiny).parameters) == ["act", "name"]
    assert tiny() == (1, 1, "relu", "tiny_net")
    assert kerascnn.create_model("tiny_net", act="gelu", name="t") == (1, 1, "gelu", "t")
    assert tiny.__doc__.startswith("A tiny net.")
    with pytest.raises(ValueError, match=r"fixes depth=1; it cannot be passed"):
        tiny(depth=2)
    with pytest.raises(ValueError, match=r"fixes width \(set by narrow\)"):
        kerascnn.create_model("tiny_net", width=4)
    with pytest.raises(ValueError, match=r"unknown argument\(s\) \['colour'\].*\['act', 'name'\]"):
        tiny(colour=1)
    with pytest.raises(ValueError, match=r"narrow.*fixes width"):
        narrow(width=2)  # the builder itself refuses, called directly too
    with pytest.raises(ValueError, match="has no argument"):
        registry.register_variant("bad_net", family, height=2)
    with pytest.raises(ValueError, match="already registered"):
        registry.register_variant("tiny_net", narrow, depth=2)
