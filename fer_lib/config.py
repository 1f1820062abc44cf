"""One config object per run: a named profile (`smoke`, `quick`, `full`) plus overrides.

`RunConfig` composes the parts each layer owns: the data (`DataSpec`), the engine (`EngineSettings`), each
method's settings (`MAESettings`, `SupervisedSettings`, `MixingSettings`) and each recipe's schedule. Lower
layers never see it: recipes hand every part to the code that owns it.

Papermill parameters and CLI flags reach every setting one to one through *flat names*: a part's prefix plus
the field name (`finetune_epochs`, `mae_mask_ratio`); the data, engine and mixing parts have no prefix
(`image_size`, `device`, `mixup_alpha`). A value of None means "keep the profile's value".
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from fer_lib.data.spec import DataSpec
from fer_lib.engine.train import EngineSettings
from fer_lib.methods.contrastive import ContrastiveSettings
from fer_lib.methods.facemix import FaceMixSettings
from fer_lib.methods.mae import MAESettings
from fer_lib.methods.mix_supcon import MixSupConSettings
from fer_lib.methods.mixing import MixingSettings
from fer_lib.methods.noisy import NoisySettings
from fer_lib.methods.semi import SemiSettings
from fer_lib.methods.supervised import SupervisedSettings
from fer_lib.recipes.settings import ContrastivePretrainSettings, FinetuneSettings, PretrainSettings, ProbeSettings

# Part name -> the prefix of its flat parameter names.
PART_PREFIXES = {"data": "", "engine": "", "mixing": "", "mae": "mae_", "supervised": "supervised_",
                 "pretrain": "pretrain_", "finetune": "finetune_", "probe": "probe_",
                 "contrastive": "contrastive_", "contrastive_pretrain": "contrastive_pretrain_", "semi": "semi_",
                 "noisy": "noisy_", "facemix": "facemix_", "mixsupcon": "mixsupcon_"}


@dataclass(frozen=True)
class RunConfig:
    """Every knob a notebook or CLI run may turn. `seed` drives training (initialisation, order, augmentation);
    `data.data_seed` drives the data. `arch` names the encoder (fer_lib.models.archs). Batch sizes are global."""

    profile: str = "quick"
    seed: int = 0
    arch: str = "vit_classroom"
    data: DataSpec = field(default_factory=DataSpec)
    engine: EngineSettings = field(default_factory=EngineSettings)
    mae: MAESettings = field(default_factory=MAESettings)
    supervised: SupervisedSettings = field(default_factory=SupervisedSettings)
    mixing: MixingSettings = field(default_factory=MixingSettings)
    pretrain: PretrainSettings = field(default_factory=PretrainSettings)
    finetune: FinetuneSettings = field(default_factory=FinetuneSettings)
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    contrastive: ContrastiveSettings = field(default_factory=ContrastiveSettings)
    contrastive_pretrain: ContrastivePretrainSettings = field(default_factory=ContrastivePretrainSettings)
    semi: SemiSettings = field(default_factory=SemiSettings)
    noisy: NoisySettings = field(default_factory=NoisySettings)
    facemix: FaceMixSettings = field(default_factory=FaceMixSettings)
    mixsupcon: MixSupConSettings = field(default_factory=MixSupConSettings)

    def replace(self, **overrides: Any) -> "RunConfig":
        """A copy with flat-named `overrides` applied (None values ignored, unknown names rejected)."""
        by_part: dict[str, dict[str, Any]] = {}
        for name, value in _checked(overrides).items():
            part, field_name = FLAT_NAMES[name]
            by_part.setdefault(part, {})[field_name] = value
        top = by_part.pop("", {})
        parts = {part: dataclasses.replace(getattr(self, part), **values) for part, values in by_part.items()}
        return dataclasses.replace(self, **top, **parts)

    def flat(self) -> dict[str, Any]:
        """{flat name: value} of every setting."""
        return {name: getattr(getattr(self, part), field_name) if part else getattr(self, field_name)
                for name, (part, field_name) in FLAT_NAMES.items()}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _flat_names() -> dict[str, tuple[str, str]]:
    """flat name -> (part, field) for every setting; part "" for RunConfig's own scalar fields."""
    names: dict[str, tuple[str, str]] = {}
    for top in dataclasses.fields(RunConfig):
        entries = ([(PART_PREFIXES[top.name] + f.name, (top.name, f.name)) for f in dataclasses.fields(top.default_factory)]
                   if top.name in PART_PREFIXES else [(top.name, ("", top.name))])
        for flat_name, target in entries:
            if flat_name in names:
                raise TypeError(f"two settings share the flat name {flat_name!r}: {names[flat_name]} and {target}")
            names[flat_name] = target
    return names


FLAT_NAMES = _flat_names()


def field_type(name: str) -> str:
    """The annotated type of flat setting `name`, as written ('int', 'dict[str, Any]', ...)."""
    part, field_name = FLAT_NAMES[name]
    owner = dataclasses.fields(RunConfig) if not part else dataclasses.fields(
        next(f for f in dataclasses.fields(RunConfig) if f.name == part).default_factory)
    kind = next(f.type for f in owner if f.name == field_name)
    return kind if isinstance(kind, str) else kind.__name__


def _checked(overrides: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(overrides) - set(FLAT_NAMES))
    if unknown:
        raise ValueError(f"unknown config setting(s) {unknown}; known settings: {sorted(FLAT_NAMES)}")
    return {k: _coerce(k, v) for k, v in overrides.items() if v is not None}


def _coerce(name: str, value: Any) -> Any:
    """Accept strings for typed settings (papermill -p / CLI): '0.5' for a float, 'false' for a bool, JSON for a dict."""
    kind = field_type(name)
    if not isinstance(value, str) or kind == "str":
        return value
    if kind == "bool":
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"config setting {name!r} expects true/false, got {value!r}")
    if kind.startswith("dict"):
        parsed = json.loads(value or "{}")
        if not isinstance(parsed, dict):
            raise ValueError(f"config setting {name!r} expects a JSON object, got {value!r}")
        return parsed
    return {"int": int, "float": float}[kind](value)


def _profile(name: str, **flat: Any) -> RunConfig:
    return RunConfig(profile=name).replace(**flat)


PROFILES: dict[str, RunConfig] = {
    # CI: every notebook in well under a minute of training.
    "smoke": _profile(
        "smoke", arch="vit_smoke", image_size=32, synthfer_train=384, synthfer_val=96, synthfer_test=128,
        synthfer_identities=32, synthfer_unlabeled=384, synthfer_general=384,
        pretrain_epochs=1, pretrain_batch_size=64, pretrain_warmup_epochs=0,
        finetune_epochs=1, finetune_batch_size=64, finetune_warmup_epochs=0, probe_knn_k=5, num_workers=0,
        contrastive_pretrain_epochs=1, contrastive_pretrain_batch_size=64, contrastive_pretrain_warmup_epochs=0,
        contrastive_pretrain_sequences=24,
        semi_epochs=2, semi_batch_size=16, noisy_warmup_epochs=0,
        facemix_sweep_fractions="0.5"),
    # Classroom default: each notebook in about 5 minutes on a 2-core laptop CPU.
    # Notebook 05 fine-tunes six times, 2 epochs' worth of steps each, and notebook 07 five times, 3 epochs each
    # (notebook 03's single runs take 5). FixMatch takes 2 unlabeled faces per labeled one (its paper: 7), and stage 3
    # keeps the whole face in its weak view, as the quick fine-tuning does (SSFER crops down to 20%).
    "quick": _profile("quick", facemix_epochs=2, noisy_epochs=3, semi_fixmatch_unlabeled_ratio=2, semi_crop_min=1.0),
    # GPU, real data, paper scale: ViT-B/16 at 224 px with the MAE pre-training / fine-tuning recipes.
    "full": _profile(
        "full", arch="vit_base_patch16", dataset="rafdb", synthfer_scenes="wild", image_size=224,
        mae_decoder="dec512d8b", mae_norm_pix_loss=True,
        synthfer_train=20000, synthfer_val=2000, synthfer_test=4000, synthfer_identities=2000,
        synthfer_unlabeled=100000, synthfer_general=100000,
        pretrain_epochs=800, pretrain_batch_size=4096, pretrain_base_lr=1.5e-4, pretrain_warmup_epochs=40,
        finetune_epochs=100, finetune_batch_size=1024, finetune_base_lr=5e-4, finetune_warmup_epochs=5,
        finetune_crop_min=0.5, finetune_layer_decay=0.65, finetune_drop_path=0.1, device="cuda",
        micro_batch_size=256, num_workers=8, checkpoint_every_steps=500,
        semi_epochs=50, semi_batch_size=64, semi_base_lr=6e-4, semi_sweep_fractions="0.05,0.25,1",
        facemix_sweep_fractions="0.1,0.25,1",
        # SSL-FER's contrastive schedule (300 epochs, Adam 3e-4 at 128 tuples, temperature 0.07, its augmentation);
        # CRS-CONT's differs: see the README's commands.
        contrastive_pretrain_epochs=300, contrastive_pretrain_warmup_epochs=10, contrastive_temperature=0.07,
        contrastive_base_temperature=0.07, contrastive_crop_min=0.2, contrastive_blur_prob=0.5),
}


def make_config(profile: str = "quick", **overrides: Any) -> RunConfig:
    """The named profile with flat-named `overrides` applied; None values keep the profile's value."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    return PROFILES[profile].replace(**overrides)


def result_identity(cfg: RunConfig) -> dict[str, Any]:
    """Every setting that decides what a run computes: all of `cfg` except how the engine executes it (device,
    threads, loader workers, micro-batches, checkpoint interval)."""
    identity = cfg.to_dict()
    identity["engine"] = {"amp": cfg.engine.amp, "clip_grad_norm": cfg.engine.clip_grad_norm}
    return identity
