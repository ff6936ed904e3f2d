"""Evaluation: metrics from logits, ensembles and Monte Carlo dropout, calibration,
and test-time-augmented evaluation.

The metrics and ensembles take NumPy arrays (and Keras models); `evaluate_tta`
(tf.data views) needs TensorFlow and loads on first use.
"""

from kerascnn.evaluate.ensemble import (average_softmax, expected_calibration_error,
                                        mc_dropout_model, mc_dropout_predict, member_logits,
                                        predictive_entropy)
from kerascnn.evaluate.distributed import predict
from kerascnn.evaluate.metrics import cross_entropy, evaluate, predict_logits, topk_accuracy


def __getattr__(name):
    if name == "evaluate_tta":
        from kerascnn import _compat

        _compat.require_tensorflow("kerascnn.evaluate.evaluate_tta")
        from kerascnn.evaluate.tta import evaluate_tta

        return evaluate_tta
    raise AttributeError(f"module 'kerascnn.evaluate' has no attribute {name!r}")


__all__ = ["average_softmax", "cross_entropy", "evaluate", "evaluate_tta",
           "expected_calibration_error", "mc_dropout_model", "mc_dropout_predict", "member_logits",
           "predict", "predict_logits", "predictive_entropy", "topk_accuracy"]
