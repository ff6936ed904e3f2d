"""The registry: names, patterns, duplicates, unknown names and arguments."""

import pytest

import kerascnn
from kerascnn import registry


def test_list_models_pattern():
    names = kerascnn.list_models()
    assert names == sorted(names)
    for expected in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                     "resnet20", "resnet32", "resnet44", "resnet56", "resnet110"]:
        assert expected in names
    assert kerascnn.list_models("resnet1*") == ["resnet101", "resnet110", "resnet152", "resnet18"]
    assert kerascnn.list_models("RESNET5*") == ["resnet50", "resnet56"]
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
