"""SynthFER benchmark: render speed and how separable the classes are.

    .venv/bin/python benchmarks/bench_synthfer.py [--cnn-epochs 20] [--speed-images 2048] [--speed-repeats 8]

Writes benchmarks/results/synthfer.json: images/s at 64x64 RGB in wild scenes (single process; wall and CPU
time, best of several runs), and, for each scene style, on the quick profile's splits (48 px) the test accuracies of the majority class, identity
leakage, pixel logistic regression, a small CNN trained for a fixed number of epochs, and the AU oracle.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import sklearn
import torch

from fer_lib.config import make_config
from fer_lib.data.synthfer import (GENERATOR_VERSION, SCENE_STYLES, SynthFERSpec, generate_stills,
                                   load_synthfer_splits)
from fer_lib.data.synthfer_quality import separability_report
from fer_lib.report import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "synthfer.json"


def render_speed(image_size: int, num_images: int, repeats: int) -> dict[str, float]:
    """Images per second rendering labeled stills in memory (no cache), best of `repeats` runs."""
    spec = SynthFERSpec(image_size=image_size, channels=3)
    wall, cpu = [], []
    for repeat in range(repeats):
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        generate_stills(spec, num_images, f"speed-{repeat}")
        wall.append(num_images / (time.perf_counter() - started_wall))
        cpu.append(num_images / (time.process_time() - started_cpu))
    return {"image_size": image_size, "channels": 3, "num_images": num_images, "repeats": repeats,
            "images_per_second_wall": max(wall), "images_per_second_cpu": max(cpu),
            "images_per_second_wall_all": wall}


def machine() -> dict[str, object]:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "sklearn": sklearn.__version__,
            "load_average_1min": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cnn-epochs", type=int, default=20)
    parser.add_argument("--speed-images", type=int, default=2048)
    parser.add_argument("--speed-repeats", type=int, default=8)
    args = parser.parse_args()

    speed = render_speed(64, args.speed_images, args.speed_repeats)
    print(f"render: {speed['images_per_second_wall']:.0f} images/s (wall), "
          f"{speed['images_per_second_cpu']:.0f} images/s (CPU) at 64x64 RGB")

    separability = {}
    for style in SCENE_STYLES:
        cfg = make_config("quick", synthfer_scenes=style)
        splits = load_synthfer_splits(cfg.data)
        started = time.perf_counter()
        quality = separability_report(splits.train, splits.test, cnn_epochs=args.cnn_epochs)
        for key, value in quality.items():
            print(f"{style:5s} {key:18s} {value:.3f}")
        separability[style] = {**quality, "cnn_epochs": args.cnn_epochs, "seconds": time.perf_counter() - started}

    write_json_atomic(RESULTS, {
        "generator_version": GENERATOR_VERSION, "machine": machine(), "render_wild_scenes": speed,
        "separability_per_scene_style": separability,
        "config": {"profile": cfg.profile, "image_size": cfg.data.image_size, "channels": cfg.data.channels,
                   "train": cfg.data.synthfer_train, "test": cfg.data.synthfer_test,
                   "identities": cfg.data.synthfer_identities, "label_noise": cfg.data.label_noise,
                   "data_seed": cfg.data.data_seed},
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")})
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
