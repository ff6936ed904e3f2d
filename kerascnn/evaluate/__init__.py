"""Evaluation: metrics from logits, and test-time-augmented evaluation."""

from kerascnn.evaluate.metrics import cross_entropy, evaluate, predict_logits, topk_accuracy
from kerascnn.evaluate.tta import evaluate_tta

__all__ = ["cross_entropy", "evaluate", "evaluate_tta", "predict_logits", "topk_accuracy"]
