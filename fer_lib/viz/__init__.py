"""Matplotlib figures for the notebooks: images, attention, charts, embeddings; each returns its Figure."""
