"""Training objectives: each method is a small callable that turns a batch into a loss."""
