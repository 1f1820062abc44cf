"""Training methods: each an nn.Module that turns a batch into a loss and owns its settings and state."""
