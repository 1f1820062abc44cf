"""Lower layers never import higher ones: data -> models -> losses -> methods -> engine -> eval / viz -> recipes ->
notebooks and the command line. In particular nothing below the recipes sees the run config."""
import ast
from pathlib import Path

import fer_lib

PACKAGE = Path(fer_lib.__file__).parent
# Each layer may import itself, the layers before it and the shared helpers (paths, progress, report).
LAYERS = ["data", "models", "losses", "methods", "engine", "eval", "viz"]
HELPERS = {"fer_lib.paths", "fer_lib.progress", "fer_lib.report"}


def fer_lib_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    return {name for name in names if name.startswith("fer_lib")}


def allowed_prefixes(layer: str) -> set[str]:
    below = LAYERS[:LAYERS.index(layer) + 1]
    if layer == "viz":
        below = [name for name in below if name != "eval"] + ["eval"]
    return {f"fer_lib.{name}" for name in below} | HELPERS


def test_no_lower_layer_imports_a_higher_one_or_the_run_config() -> None:
    offences = []
    for layer in LAYERS:
        allowed = allowed_prefixes(layer)
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            for name in fer_lib_imports(path):
                if not any(name == prefix or name.startswith(prefix + ".") for prefix in allowed):
                    offences.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert not offences, "\n".join(offences)


def test_the_layering_check_catches_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "upward.py"
    module.write_text("from fer_lib.config import RunConfig\nimport fer_lib.recipes.finetune\n")
    assert fer_lib_imports(module) == {"fer_lib.config", "fer_lib.recipes.finetune"}
    assert not any(name.startswith(prefix) for name in fer_lib_imports(module) for prefix in allowed_prefixes("data"))
