"""Overfitting one small batch (the notes' first check before tuning)."""

import numpy as np
import pytest

from kerascnn.train import default_config, recipe


def tiny_config():
    config = default_config()
    config.model.name = "resnet20"
    config.model.kwargs.preprocessing = "dataset"
    config.data.image_size = 16
    config.augment.flip = False
    config.train.learning_rate = 0.05
    return config


def test_resnet20_fits_one_batch_and_reports_the_steps():
    result = recipe.overfit_batch(tiny_config(), num_examples=32, max_steps=200,
                                  target_loss=0.01, progress=False)
    assert result.final_loss < 0.01 and result.steps == len(result.losses) <= 200
    assert result.losses[0] > 1.0  # it started untrained (about ln 10 or more)
    assert result.accuracy == 1.0


def test_a_model_that_cannot_learn_fails_loudly():
    """A learning rate of 1e-9 cannot move the loss in 20 steps."""
    with pytest.raises(recipe.CannotOverfit, match=r"did not fit one batch of 8 digits images "
                                                   r"in 20 steps at learning rate 1e-09"):
        recipe.overfit_batch(tiny_config(), num_examples=8, max_steps=20, learning_rate=1e-9,
                             progress=False)


@pytest.mark.parametrize("kwargs, match", [
    ({"num_examples": 0}, "num_examples must be an integer >= 1, got 0"),
    ({"max_steps": 2.5}, "max_steps must be an integer >= 1, got 2.5"),
    ({"target_loss": 0}, "target_loss must be > 0, got 0"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        recipe.overfit_batch(tiny_config(), progress=False, **kwargs)


def test_batch_targets_repeat_for_each_head():
    class TwoHeads:
        outputs = [0, 1, 2]

    labels = np.eye(3)
    assert recipe.batch_targets(TwoHeads(), labels) == (labels,) * 3
