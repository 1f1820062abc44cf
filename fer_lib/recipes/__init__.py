"""Recipes: the training functions notebooks and the CLI call (config in, trained model and metrics out)."""
