"""Losses as functions of tensors: no model call, no data loading inside (SupContrast's `losses.py` style)."""
