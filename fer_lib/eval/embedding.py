"""2-D embeddings of features for plots, and neighbour purity: how well features cluster by a label."""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from fer_lib.eval.metrics import ArrayLike, as_numpy
from fer_lib.eval.probes import cosine_neighbours


def umap_embedding(features: ArrayLike, seed: int, n_neighbors: int = 15, min_dist: float = 0.1) -> np.ndarray:
    """UMAP (cosine metric) of features (N, D) -> (N, 2); PCA when umap cannot be imported (a note is printed).

    umap is imported here, not at module load: its first import compiles for ~30 s.
    """
    features = as_numpy(features).astype(np.float32)
    try:
        import umap
    except Exception as error:  # numba/llvmlite failures surface as other errors than ImportError
        print(f"umap unavailable ({type(error).__name__}: {error}); showing PCA to 2 dimensions instead")
        return PCA(n_components=2, random_state=seed).fit_transform(features)
    reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=min_dist, metric="cosine", random_state=seed,
                        n_jobs=1)
    return reducer.fit_transform(features)


def neighbour_purity(features: ArrayLike, labels: ArrayLike, k: int = 10) -> float:
    """Mean fraction of each sample's k cosine-nearest neighbours (itself excluded) that share its label.

    features (N, D), labels (N,) (expression or identity: high identity purity = identity leakage).
    Chance level is sum_c p_c^2 for label frequencies p_c (1/C for balanced labels).
    """
    _, indices = cosine_neighbours(features, features, k, exclude_self=True)    # (N, k)
    labels = as_numpy(labels)
    return float((labels[indices.cpu().numpy()] == labels[:, None]).mean())
