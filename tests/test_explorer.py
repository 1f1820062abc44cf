"""A notebook explorer draws its picture once, then only when a control moves (nothing while headless)."""
from ipywidgets import IntSlider

from fer_lib.notebook import explorer


def test_the_explorer_draws_at_the_start_and_again_when_a_control_moves() -> None:
    drawn = []
    position, seed = IntSlider(1, 0, 5), IntSlider(0, 0, 3)
    explorer(lambda position, seed: drawn.append((position, seed)), position=position, seed=seed)
    assert drawn == [(1, 0)]
    position.value, seed.value = 4, 2
    assert drawn == [(1, 0), (4, 0), (4, 2)]
