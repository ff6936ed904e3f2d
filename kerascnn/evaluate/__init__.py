"""Evaluation: metrics from logits, and test-time-augmented evaluation.

The metrics take NumPy arrays; `evaluate_tta` (tf.data views) needs TensorFlow
and loads on first use.
"""

from kerascnn.evaluate.metrics import cross_entropy, evaluate, predict_logits, topk_accuracy


def __getattr__(name):
    if name == "evaluate_tta":
        from kerascnn import _compat

        _compat.require_tensorflow("kerascnn.evaluate.evaluate_tta")
        from kerascnn.evaluate.tta import evaluate_tta

        return evaluate_tta
    raise AttributeError(f"module 'kerascnn.evaluate' has no attribute {name!r}")


__all__ = ["cross_entropy", "evaluate", "evaluate_tta", "predict_logits", "topk_accuracy"]
