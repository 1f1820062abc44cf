"""fer_lib: the training code behind the fer-ssl notebooks.

Layers (lower never import higher): data -> models -> methods -> engine -> eval / viz.
"""
__version__ = "0.1.0"
