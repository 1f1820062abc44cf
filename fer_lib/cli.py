"""Command line: `python -m fer_lib <command> [--profile P] [--<config-field> VALUE ...]`.

Every setting of RunConfig is a flag named after its flat name (underscores become dashes:
--finetune-epochs, --mae-mask-ratio, --image-size), so a CLI run and a papermill run with the same
parameters train the same thing, in the same run folder. Every run is seeded from --seed where it starts.
Under `torchrun --nproc_per_node N -m fer_lib ...` training commands run DDP.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fer_lib.config import FLAT_NAMES, PROFILES, RunConfig, field_type, make_config

SETTINGS = sorted(set(FLAT_NAMES) - {"profile"})


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    quick = PROFILES["quick"].flat()
    for name in SETTINGS:
        kind = field_type(name)
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None,
                            metavar="JSON" if kind.startswith("dict") else kind.upper(),
                            help=f"(profile default: quick={quick[name]!r})")


def _config(args: argparse.Namespace) -> RunConfig:
    return make_config(args.profile, **{name: getattr(args, name) for name in SETTINGS})


def _init(cfg: RunConfig, init: str) -> Path | None:
    """'scratch' -> None; 'mae:face' / 'mae:general' -> this config's finished MAE run; else a checkpoint path."""
    if init == "scratch":
        return None
    if init.startswith("mae:"):
        from fer_lib.recipes.pretrain import mae_checkpoint
        return mae_checkpoint(cfg, init.removeprefix("mae:"))
    return Path(init)


def _parse_parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--param expects KEY=VALUE, got {pair!r}")
        parameters[key] = value
    return parameters


# Commands of notebooks 04-07's recipes: name -> help (each takes --init and every config flag).
METHOD_COMMANDS = {
    "contrastive-pretrain": "contrastive pre-training of one variant (--contrastive-loss, --contrastive-time-aug, "
                            "...), then its frozen evaluation",
    "probe": "frozen-encoder evaluation: linear probe, k-NN, label efficiency, identity leakage, transfer",
    "semi": "semi-supervised fine-tuning (SSFER's stage 3 or FixMatch) at --semi-label-fraction from --init, a "
            "stage-2 model's best.pt",
    "noisy": "fine-tuning through noisy labels (DR-FER, our reconstruction; --noise-kind, --noise-rate, --noisy-* parts)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fer_lib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run-notebooks", help="execute every notebook headless and write the report")
    run.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    run.add_argument("--only", nargs="*", default=None, help="notebook name prefixes, e.g. 01 03")
    run.add_argument("--param", action="append", default=[], help="notebook parameter KEY=VALUE")

    prepare = commands.add_parser("prepare-notebooks", help="inject a profile into copies of the notebooks (nbval)")
    prepare.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    prepare.add_argument("--out", type=Path, required=True)

    pretrain = commands.add_parser("pretrain-mae", help="MAE pre-training on the face or general corpus")
    pretrain.add_argument("--domain", choices=("face", "general"), default="face")
    _add_config_flags(pretrain)

    finetune = commands.add_parser("finetune", help="fine-tune a classifier and evaluate it")
    finetune.add_argument("--init", default="scratch",
                          help="scratch, mae:face or mae:general (the MAE that `pretrain-mae` made with the same "
                               "settings), or a checkpoint path")
    finetune.add_argument("--method", choices=sorted(FINETUNE_METHODS), default="ce",
                          help="ce: cross-entropy (with --mixup-alpha / --cutmix-alpha: Mixup / CutMix); facemix: "
                               "SSFER's FaceMix; supcon: SupCon + CE; mix-supcon: MIMIC's mix-supervised contrast")
    _add_config_flags(finetune)

    for command, what in METHOD_COMMANDS.items():                   # one recipe each, from --init
        method = commands.add_parser(command, help=what)
        method.add_argument("--init", default="scratch", help="as for finetune")
        _add_config_flags(method)

    crossval = commands.add_parser("crossval", help="k-fold cross-validation over subjects (CK+, JAFFE, image "
                                                    "folders with subjects): each fold, then mean and std")
    crossval.add_argument("--recipe", choices=("finetune", "probe"), default="finetune",
                          help="fine-tune on each fold, or probe the frozen encoder (linear probe and k-NN)")
    crossval.add_argument("--folds", type=int, default=None,
                          help="number of folds (default: data_options' folds, else 10)")
    crossval.add_argument("--init", default="scratch", help="as for finetune: scratch, mae:face, mae:general or a "
                                                            "checkpoint path")
    _add_config_flags(crossval)

    zoo = commands.add_parser("zoo", help="build or list the checkpoint zoo (zoo/, pre-trained MAEs)")
    zoo.add_argument("action", choices=("build", "list"), help="build: run each entry's command and store its MAE; "
                                                               "list: each entry and whether its file verifies")
    zoo.add_argument("names", nargs="*", help="entries (default: all)")

    student = commands.add_parser("student", help="write the student edition of the notebooks (solutions as stubs, "
                                                  "no outputs)")
    student.add_argument("--out", type=Path, default=None, help="folder (default: build/student)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run-notebooks":
        from fer_lib.notebook_runner import run_notebooks
        runs, report = run_notebooks(args.profile, _parse_parameters(args.param), args.only)
        print(f"report: {report}")
        return 0 if all(r.status == "ok" for r in runs) else 1
    if args.command == "prepare-notebooks":
        from fer_lib.notebook_runner import prepare_notebooks
        for path in prepare_notebooks(args.profile, args.out):
            print(path)
        return 0
    if args.command == "zoo":
        from fer_lib.zoo import zoo_command
        return zoo_command(args.action, args.names)
    if args.command == "student":
        from fer_lib.student import STUDENT_DIR, write_student_edition
        for path in write_student_edition(args.out or STUDENT_DIR):
            print(path)
        return 0
    cfg = _config(args)
    from fer_lib.engine.devices import apply_threads
    apply_threads(cfg.engine.threads)
    if args.command == "pretrain-mae":
        from fer_lib.recipes.pretrain import pretrain_mae
        result = pretrain_mae(cfg, args.domain)
        print(f"MAE saved as {result.checkpoint}")
        return 0
    if args.command == "crossval":
        from fer_lib.recipes.crossval import cross_validate
        print(cross_validate(cfg, _init(cfg, args.init), args.folds, args.recipe).summary())
        return 0
    if args.command in ("contrastive-pretrain", "probe"):
        return _frozen(cfg, args.command, _init(cfg, args.init))
    if args.command == "semi":
        from fer_lib.recipes.semi import semi_supervised_finetune
        result = semi_supervised_finetune(cfg, _init(cfg, args.init))
    elif args.command == "noisy":
        from fer_lib.recipes.noisy import noisy_label_finetune
        result = noisy_label_finetune(cfg, _init(cfg, args.init)).finetune
    else:
        from fer_lib.recipes.finetune import finetune_and_evaluate
        result = finetune_and_evaluate(cfg, _init(cfg, args.init), method=FINETUNE_METHODS[args.method](cfg),
                                       label=None if args.method == "ce" else args.method)
    print(f"{result.summary()}\nrun folder: {result.run_dir}")
    return 0


def _frozen(cfg: RunConfig, command: str, init: Path | None) -> int:
    """contrastive-pretrain (then evaluate the result) or probe `init`: print every frozen-encoder measure."""
    from fer_lib.data.registry import load_splits
    from fer_lib.engine.devices import resolve_device
    from fer_lib.recipes.frozen_eval import evaluate_frozen, transfer_sets
    if command == "contrastive-pretrain":
        from fer_lib.recipes.contrastive import contrastive_pretrain
        trained = contrastive_pretrain(cfg, init)
        print(f"{trained.variant}: {trained.seconds / 60:.1f} min, encoder saved as {trained.checkpoint}")
        init = trained.checkpoint
    evaluation = evaluate_frozen(cfg, init, load_splits(cfg.data), transfer_sets(cfg), resolve_device(cfg.engine.device),
                                 "scratch" if init is None else init.stem)
    print("\n".join(f"{name}: {value:.4f}" for name, value in evaluation.scalars().items()))
    return 0


def _facemix(cfg: RunConfig):
    from fer_lib.methods.facemix import FaceMix
    return FaceMix(cfg.facemix, cfg.supervised.label_smoothing)


def _mix_supcon(cfg: RunConfig, mixing: bool = True):
    from fer_lib.methods.mix_supcon import MixSupCon
    from fer_lib.recipes.build import classifier_model
    settings = cfg.mixsupcon if mixing else cfg.replace(mixsupcon_alpha=0.0).mixsupcon
    return MixSupCon(settings, classifier_model(cfg, 1).num_features, cfg.supervised.label_smoothing)


# finetune --method: name -> the method for a run config (None: the recipe's cross-entropy).
FINETUNE_METHODS = {"ce": lambda cfg: None, "facemix": _facemix, "supcon": lambda cfg: _mix_supcon(cfg, mixing=False),
                    "mix-supcon": _mix_supcon}


if __name__ == "__main__":
    sys.exit(main())
