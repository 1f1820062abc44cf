"""`check` compares a student's function with the library's on seeded random inputs and reports in words."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_lib.exercises import check, compare


def reference_masking(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    noise = torch.rand(tokens.shape[:2])
    return noise.argsort(dim=1), tokens.sum()


def random_tokens() -> torch.Tensor:
    return torch.randn(int(torch.randint(1, 4, ())), 6, 2)


def test_a_function_that_draws_the_same_noise_matches_on_every_trial(capsys: pytest.CaptureFixture) -> None:
    def student(tokens: torch.Tensor) -> tuple[torch.Tensor, float]:
        return torch.argsort(torch.rand(tokens.shape[0], tokens.shape[1]), dim=1), float(tokens.sum())

    result = check(student, reference_masking, random_tokens, trials=3)
    assert result and result.passed
    assert capsys.readouterr().out == "✓ student matches reference_masking on 3 random inputs\n"


def test_a_stub_is_reported_as_not_implemented_with_its_docstring(capsys: pytest.CaptureFixture) -> None:
    def masking(tokens: torch.Tensor) -> torch.Tensor:
        """Sort the noise."""
        raise NotImplementedError("write masking")

    assert not check(masking, reference_masking, random_tokens)
    assert capsys.readouterr().out == "✗ not implemented yet: write masking\n  what to write: Sort the noise.\n"


def test_an_exception_names_the_inputs_and_what_the_reference_returned(capsys: pytest.CaptureFixture) -> None:
    def student(tokens: torch.Tensor) -> torch.Tensor:
        return tokens.reshape(5, 5)

    assert not check(student, reference_masking, random_tokens)
    out = capsys.readouterr().out
    assert out.startswith("✗ student raised RuntimeError: shape '[5, 5]' is invalid")
    assert "on inputs tensor (3, 6, 2) float32" in out and "returned (tensor (3, 6) int64, tensor () float32)" in out


def test_a_difference_names_the_output_the_largest_gap_and_the_hint(capsys: pytest.CaptureFixture) -> None:
    def student(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ranks, total = reference_masking(tokens)
        return ranks, total + 0.5

    assert not check(student, reference_masking, random_tokens, hint="sum every token")
    out = capsys.readouterr().out
    assert "the output[1]: 1 of 1 values differ, max abs difference 0.5" in out
    assert out.endswith("hint: sum every token\n")


def test_compare_reports_shapes_containers_and_accepts_any_numeric_type() -> None:
    assert compare(torch.ones(3, dtype=torch.bool), np.ones(3)) is None
    assert compare([1.0, {"a": 2}], (1.0, {"a": 2.000001})) is None
    assert compare(torch.ones(2, 3), torch.ones(3, 2)) == "the output has shape (2, 3), expected (3, 2)"
    assert compare((1.0,), (1.0, 2.0)) == "the output should be 2 values (1, 2), got (1)"
    assert compare(None, torch.zeros(2)) == "the output should be tensor (2,) float32, got None"
    assert "first at index (1,): got 3, expected 2" in compare(np.array([1, 3]), np.array([1, 2]))
