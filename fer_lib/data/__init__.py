"""Datasets (synthetic and real), transforms and on-disk caches."""
