"""Evaluation: predictions, metrics, probes on frozen features."""
