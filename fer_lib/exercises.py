"""Notebook exercises: a student's function checked against fer_lib's on seeded random inputs.

    check(random_masking, reference.random_masking, lambda: (torch.randn(4, 36, 8), 0.75))
    # prints "✓ random_masking matches MaskedAutoencoderViT.random_masking on 5 random inputs", or what differs

Adding an exercise to a notebook (01-04 have examples; tests/test_student.py checks every one):
1. a markdown cell states the task, after the notebook's claims and before its closing markdown and `run.finish`;
2. a code cell tagged `solution` holds only imports and the function(s) to write, each with a docstring that says
   what to write. The teacher edition runs it; `make student` (fer_lib.student) keeps each signature and
   docstring and replaces the body by `raise NotImplementedError("write <name>")`;
3. the next code cell tagged `check` imports what it needs and calls `check(...)`, which names the docstring's
   first line while the stub is unwritten. The test runs a notebook's solution and check cells alone, in order,
   in one namespace: a check may use the functions of its solution cell and of earlier ones, nothing else the
   notebook defined. It expects "✓" from each solution and "not implemented yet" (no traceback) from each stub.
   Name helpers so they shadow nothing of the notebook's, and never change `metrics`.
"""
from __future__ import annotations

import copy
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

@dataclass(frozen=True)
class CheckResult:
    """The verdict of `check`, already printed; true when the student's function matched on every input."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        """Shown once, by `check`'s print: a notebook cell ending in `check(...)` does not echo the result."""


def check(student: Callable[..., Any], reference: Callable[..., Any], make_inputs: Callable[[], Any],
          trials: int = 5, seed: int = 0, atol: float = 1e-5, rtol: float = 1e-4, name: str | None = None,
          hint: str = "") -> CheckResult:
    """Run `student` and `reference` on `trials` inputs from `make_inputs` and print whether they agree.

    `make_inputs()` returns the arguments: a tuple (positional), a dict (keywords) or a single value.
    Before `make_inputs` and before each function call, torch, NumPy and `random` are seeded with seed + trial, so
    inputs are reproducible and functions that draw random numbers (noise for masking) draw the same ones. Each
    function gets its own copy of the inputs. Outputs compare as numbers (tensors, arrays, scalars, nested in
    tuples, lists or dicts) within atol + rtol * |expected|. A `NotImplementedError`, any other exception of the
    student's function, or a difference is reported in words (with `hint` on a mismatch), never raised.
    """
    reference_name = name or getattr(reference, "__qualname__", "the reference")
    student_name = getattr(student, "__name__", "your function")
    for trial in range(trials):
        _seed_everything(seed + trial)
        inputs = make_inputs()
        args, kwargs = _as_arguments(inputs)
        _seed_everything(seed + trial)
        expected = reference(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        _seed_everything(seed + trial)
        try:
            got = student(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        except NotImplementedError as error:
            task = (student.__doc__ or "").strip().split("\n")[0]
            return _verdict(False, f"✗ not implemented yet: {error or 'write ' + student_name}"
                                   + (f"\n  what to write: {task}" if task else ""))
        except Exception as error:  # the student's bug, reported in words
            return _verdict(False, f"✗ {student_name} raised {type(error).__name__}: {error}\n  on inputs "
                                   f"{describe(inputs)}\n  where {reference_name} returned {describe(expected)}")
        difference = compare(got, expected, atol, rtol)
        if difference is not None:
            return _verdict(False, f"✗ {student_name} differs from {reference_name} on inputs {describe(inputs)}:\n"
                                   f"  {difference}" + (f"\n  hint: {hint}" if hint else ""))
    return _verdict(True, f"✓ {student_name} matches {reference_name} on {trials} random inputs")


def compare(got: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-4, where: str = "the output") -> str | None:
    """None when `got` equals `expected` as numbers (recursively through tuples, lists and dicts), else what differs."""
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping) or set(got) != set(expected):
            return f"{where} should be a dict with keys {sorted(expected)}, got {describe(got)}"
        return next((d for key in expected if (d := compare(got[key], expected[key], atol, rtol,
                                                            f"{where}[{key!r}]")) is not None), None)
    if isinstance(expected, Sequence) and not isinstance(expected, str):
        if not isinstance(got, Sequence) or isinstance(got, str) or len(got) != len(expected):
            return f"{where} should be {len(expected)} values {describe(expected)}, got {describe(got)}"
        return next((d for index, (g, e) in enumerate(zip(got, expected))
                     if (d := compare(g, e, atol, rtol, f"{where}[{index}]")) is not None), None)
    if not _numeric(expected):
        return None if got == expected else f"{where} should be {expected!r}, got {got!r}"
    if not _numeric(got):
        return f"{where} should be {describe(expected)}, got {describe(got)}"
    got_array, expected_array = _as_float_array(got), _as_float_array(expected)
    if got_array.shape != expected_array.shape:
        return f"{where} has shape {tuple(got_array.shape)}, expected {tuple(expected_array.shape)}"
    close = np.isclose(got_array, expected_array, atol=atol, rtol=rtol, equal_nan=True)
    if close.all():
        return None
    first = tuple(int(i) for i in np.argwhere(~close)[0])
    at = f" at index {first}" if first else ""
    return (f"{where}: {int((~close).sum())} of {close.size} values differ, max abs difference "
            f"{np.nanmax(np.abs(got_array - expected_array)):.3g}; first{at}: got {got_array[first]:.6g}, "
            f"expected {expected_array[first]:.6g}")


def describe(value: Any) -> str:
    """A short description of a value: tensors and arrays by shape and dtype, containers by their items."""
    if isinstance(value, torch.Tensor):
        return f"tensor {tuple(value.shape)} {str(value.dtype).removeprefix('torch.')}"
    if isinstance(value, np.ndarray):
        return f"array {value.shape} {value.dtype}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}: {describe(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(describe(item) for item in value) + ")"
    if isinstance(value, float):
        return f"{value:.4g}"
    return repr(value)


def _verdict(passed: bool, message: str) -> CheckResult:
    print(message)
    return CheckResult(passed, message)


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def _as_arguments(inputs: Any) -> tuple[tuple, dict]:
    """make_inputs' value as call arguments: a tuple is positional, a dict keyword, anything else one argument."""
    if isinstance(inputs, tuple):
        return inputs, {}
    if isinstance(inputs, dict):
        return (), inputs
    return (inputs,), {}


def _numeric(value: Any) -> bool:
    return isinstance(value, (torch.Tensor, np.ndarray, np.number, int, float, bool, np.bool_))


def _as_float_array(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=np.float64)
