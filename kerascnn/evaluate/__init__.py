"""Evaluation: metrics from logits."""

from kerascnn.evaluate.metrics import cross_entropy, evaluate, predict_logits, topk_accuracy

__all__ = ["cross_entropy", "evaluate", "predict_logits", "topk_accuracy"]
