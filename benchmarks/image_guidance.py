"""Guidance on images: the CFG family, classifier guidance and value-based guiders on scikit-learn's 8x8 digits.

One run trains (or loads from the cache under ``runs/benchmarks/image_guidance/``) a class-conditional
:class:`~seqguide.models.GaussianDiffusion` (v prediction, cosine schedule, DDIM) and a
:class:`~seqguide.models.FlowMatching` (Euler) on the digits' training split, plus two classifiers trained
separately on the same split:

- the **judge** (a small CNN; its accuracy on the held-out test split is reported) scores the samples: class
  accuracy (judge argmax == requested class), FID, precision and recall (Kynkaanniemi et al. 2019, k = 3) in the
  judge's penultimate feature space against the test images, and per-class diversity (mean pairwise feature
  distance within a class, relative to the test images');
- the **guidance classifier** (an MLP, never the judge) is the off-the-shelf classifier of ClassifierGuidance,
  DynamicCFG's evaluator (log-probability of the requested class on the x0 estimates) and, through its
  argmax-class indicator, the non-differentiable oracle of SVDD, SMC and best-of-N.

Every guider runs over a sweep of its scale; ``nfe`` is network evaluations per sample (all branches), so the
savings of interval guidance, adaptive guidance and LinearAG show. Outputs: ``benchmarks/results/image_guidance
.{csv,md}`` and one PNG grid (10 samples per class) per model and method at its best setting (lowest FID) in
``benchmarks/results/image_guidance/``.

    python -m benchmarks.image_guidance            # full run: ~26 min sampling + ~2 x 13 min training (2 loaded cores)
    python -m benchmarks.image_guidance --quick    # smoke run, a few minutes (writes under runs/benchmarks/)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmarks.common import environment, markdown_table, write_table
from oracles import from_function
from seqguide import sample
from seqguide.data import ImageDataModule
from seqguide.guidance import (
    APG,
    CFG,
    FDG,
    RAAG,
    SMC,
    SVDD,
    AdaptiveGuidance,
    BestOfN,
    CFGCtrl,
    CFGPlusPlus,
    CFGZeroStar,
    ClassifierGuidance,
    DynamicCFG,
    GuidanceInterval,
    LinearAG,
)
from seqguide.models import FlowMatching, GaussianDiffusion, ImageUNet
from seqguide.training.images import train_image_model

RESULTS = Path(__file__).parent / "results"
CACHE = Path("runs/benchmarks/image_guidance")
SEED = 0
K_NN = 3  # precision/recall neighbourhood (Kynkaanniemi et al. 2019)


@dataclass
class Settings:
    train_steps: int
    samples: int  # per method setting, balanced over the 10 classes
    steps: int
    classifier_epochs: int
    ema_decay: float
    quick: bool


FULL = Settings(train_steps=1000, samples=200, steps=15, classifier_epochs=60, ema_decay=0.995, quick=False)
QUICK = Settings(train_steps=100, samples=100, steps=6, classifier_epochs=10, ema_decay=0.0, quick=True)


# ------------------------------------------------------------------------------------ classifiers
class JudgeCNN(nn.Module):
    """The judge: two conv layers and a 64-d feature layer."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 16, 64), nn.ReLU())
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class GuideMLP(nn.Module):
    """The guidance classifier: an MLP on clean model-space images (ReLUs, for EluCD's softplus swap)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                                 nn.Linear(128, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _fit_classifier(net: nn.Module, data: ImageDataModule, epochs: int, seed: int, noise: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    train = data.split("train")
    opt = torch.optim.Adam(net.parameters(), lr=2e-3, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(train), generator=g)
        for i in range(0, len(perm), 64):
            idx = perm[i : i + 64]
            x = train.images[idx]
            x = (x + noise * torch.randn(x.shape, generator=g)).clamp(-1, 1) if noise else x
            loss = nn.functional.cross_entropy(net(x), train.labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


def _accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((net(images).argmax(1) == labels).double().mean())


def _classifiers(data: ImageDataModule, s: Settings, root: Path) -> tuple[JudgeCNN, GuideMLP, dict[str, float]]:
    out = {}
    nets: dict[str, nn.Module] = {}
    for name, make, seed, noise in (("judge", JudgeCNN, 101, 0.0), ("guide", GuideMLP, 202, 0.1)):
        path = root / f"{name}_{s.classifier_epochs}.safetensors"
        net = make()
        if path.is_file():
            from safetensors.torch import load_file

            net.load_state_dict(load_file(path))
            net.eval()
        else:
            net = _fit_classifier(net, data, s.classifier_epochs, seed, noise)
            from safetensors.torch import save_file

            path.parent.mkdir(parents=True, exist_ok=True)
            save_file(net.state_dict(), path)
        test = data.split("test")
        out[f"{name}_test_accuracy"] = _accuracy(net, test.images, test.labels)
        nets[name] = net
    return nets["judge"], nets["guide"], out  # type: ignore[return-value]


# ------------------------------------------------------------------------------------ generative models
def _models(data: ImageDataModule, s: Settings, root: Path) -> dict[str, Any]:
    models = {}
    for name, cls, kwargs in (("diffusion", GaussianDiffusion, {"prediction": "v", "schedule": "cosine"}),
                              ("flow", FlowMatching, {})):
        key = hashlib.sha1(json.dumps({"name": name, "steps": s.train_steps, "kw": kwargs, "seed": SEED,
                                       "ema": s.ema_decay},
                                      sort_keys=True).encode()).hexdigest()[:10]
        ckpt = root / f"{name}_{key}" / "checkpoints" / "best.ckpt"
        if ckpt.is_file():
            models[name] = cls.load(ckpt)
            continue
        model = cls(ImageUNet(base_channels=32, channel_mult=(1, 2)), image_shape=data.image_shape,
                    num_classes=data.num_classes, lr=2e-3, **kwargs)
        t0 = time.perf_counter()
        result = train_image_model(model, data, out_dir=root / f"{name}_{key}", max_steps=s.train_steps,
                                   val_check_interval=max(1, s.train_steps // 4), seed=SEED, progress=False,
                                   accelerator="cpu", ema_decay=s.ema_decay)
        print(f"trained {name} in {time.perf_counter() - t0:.0f}s: {result.metrics}", flush=True)
        models[name] = result.model
    return models


# ------------------------------------------------------------------------------------ metrics
def _features(judge: JudgeCNN, images01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        x = images01 * 2 - 1
        f = judge.features(x)
        return f.double(), judge.head(f).argmax(1)


def _psd_sqrt(c: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(c)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _fid(a: torch.Tensor, b: torch.Tensor) -> float:
    """Frechet distance of Gaussian fits; ``tr sqrt(C_a C_b)`` from the eigenvalues of ``C_a^1/2 C_b C_a^1/2``."""
    mu_a, mu_b = a.mean(0).numpy(), b.mean(0).numpy()
    ca, cb = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    sa = _psd_sqrt(ca)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(sa @ cb @ sa), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * cross)


def _precision_recall(real: torch.Tensor, fake: torch.Tensor) -> tuple[float, float]:
    def radii(x: torch.Tensor) -> torch.Tensor:
        d = torch.cdist(x, x)
        return d.kthvalue(K_NN + 1, dim=1).values  # the 0 self-distance is the first

    r_real, r_fake = radii(real), radii(fake)
    d = torch.cdist(fake, real)  # (F, R)
    precision = (d <= r_real[None]).any(dim=1).double().mean()
    recall = (d.T <= r_fake[None]).any(dim=1).double().mean()
    return float(precision), float(recall)


def _diversity(feats: torch.Tensor, labels: torch.Tensor) -> float:
    vals = []
    for c in labels.unique():
        f = feats[labels == c]
        if len(f) > 1:
            d = torch.cdist(f, f)
            vals.append(float(d.sum() / (len(f) * (len(f) - 1))))
    return float(np.mean(vals))


# ------------------------------------------------------------------------------------ methods
def _methods(model_name: str, guide: GuideMLP) -> dict[str, list[tuple[str, Callable[[], list]]]]:
    def log_prob_evaluator(x0: torch.Tensor, labels: torch.Tensor | None, t: float) -> torch.Tensor:
        return guide(x0).log_softmax(1).gather(1, labels[:, None])[:, 0]

    flow = model_name == "flow"
    zero_init = 1 if flow else 0
    m: dict[str, list[tuple[str, Callable[[], list]]]] = {
        "conditional (w=1)": [("-", lambda: [])],
        "CFG": [(f"w={w}", lambda w=w: [CFG(scale=w)]) for w in (1.5, 2.0, 3.0, 5.0)],
        "CFG + rescale 0.7": [("w=3.0", lambda: [CFG(scale=3.0, rescale=0.7)])],
        "GuidanceInterval": [(f"w={w}", lambda w=w: [GuidanceInterval(scale=w, sigma_lo=0.28, sigma_hi=5.42)])
                             for w in (2.0, 3.0)],
        "CFG++": [(f"lam={lam}", lambda lam=lam: [CFGPlusPlus(scale=lam)]) for lam in (0.4, 0.6, 0.8)],
        "APG": [(f"w={w}", lambda w=w: [APG(scale=w, eta=0.0, momentum=-0.5)]) for w in (3.0, 5.0)],
        "FDG": [(f"high={h},low={lo}", lambda h=h, lo=lo: [FDG(scales=(h, lo))]) for h, lo in ((3.0, 1.5), (5.0, 2.0))],
        "CFG-Zero*": [(f"w={w}", lambda w=w: [CFGZeroStar(scale=w, zero_init_steps=zero_init)]) for w in (2.0, 3.0)],
        "AdaptiveGuidance": [(f"w={w},threshold={g}", lambda w=w, g=g: [AdaptiveGuidance(scale=w, threshold=g,
                                                                                          space="x0")])
                             for w, g in ((2.0, 0.98), (3.0, 0.95))],
        "LinearAG": [(f"w={w}", lambda w=w: [LinearAG(scale=w)]) for w in (2.0, 3.0)],
        "RAAG": [(f"w={w},alpha={a}", lambda w=w, a=a: [RAAG(scale=w, alpha=a)]) for w, a in ((5.0, 4.0), (8.0, 4.0))],
        "CFG-Ctrl (SMC)": [(f"w={w},k={k}", lambda w=w, k=k: [CFGCtrl(scale=w, control="smc", k=k)])
                           for w, k in ((3.0, 0.05), (3.0, 0.01))],
        "CFG-Ctrl (PID)": [("w=3.0,kd=0.5", lambda: [CFGCtrl(scale=3.0, control="pid", kd=0.5)])],
        "DynamicCFG": [("scales=(1.0, 2.0, 3.0)", lambda: [DynamicCFG(log_prob_evaluator, scales=(1.0, 2.0, 3.0))])],
        "ClassifierGuidance": [(f"s={sc}", lambda sc=sc: [ClassifierGuidance(guide, scale=sc)])
                               for sc in (0.5, 1.0, 2.0)],
    }
    return m


def _value_methods(guide: GuideMLP) -> dict[str, list[tuple[str, Callable[[int], list]]]]:
    """SVDD / SMC / best-of-N with a black-box oracle per requested class c: 1 if the guidance classifier's
    argmax on the decoded image is c (non-differentiable), else 0."""

    def oracle(c: int) -> Any:
        def indicator(xs: list[torch.Tensor]) -> list[float]:
            with torch.no_grad():
                pred = guide(torch.stack(list(xs)) * 2 - 1).argmax(1)
            return [float(v) for v in (pred == c).double()]

        return from_function(indicator, name=f"guide_argmax_is_{c}")

    return {
        "SVDD": [("particles=4", lambda c: [SVDD(oracle(c), particles=4)])],
        "SMC": [("particles=4", lambda c: [SMC(oracle(c), particles=4, lam=5.0)])],
        "BestOfN": [("n=4", lambda c: [BestOfN(oracle(c), n=4)])],
    }


# ------------------------------------------------------------------------------------ run
def _grid(images01: torch.Tensor, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_class = images01.shape[0] // 10
    k = min(10, per_class)
    fig, axes = plt.subplots(k, 10, figsize=(5, 0.5 * k + 0.4))
    for col in range(10):
        for row in range(k):
            ax = axes[row, col]
            ax.imshow(images01[row * 10 + col, 0].numpy(), cmap="gray_r", vmin=0, vmax=1)
            ax.axis("off")
    fig.suptitle(title, fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=60, bbox_inches="tight")
    plt.close(fig)


def _sample_per_class(model: Any, make: Callable[[int], list], s: Settings) -> tuple[torch.Tensor, Any]:
    """Samples of each class separately (each class has its own oracle), interleaved as class 0..9, 0..9, ..."""
    per = s.samples // 10
    blocks, nfe, calls = [], 0.0, 0
    for c in range(10):
        out = sample(model, per, steps=s.steps, cond=c, seed=SEED + c, progress=False, guidance=make(c))
        blocks.append(out.sequences)
        nfe += out.trace["nfe"] / 10
        calls += out.trace["oracle_calls"]
    images = torch.stack(blocks, dim=1).flatten(0, 1)  # (per, 10, ...) -> row i*10 + c
    return images, {"nfe": nfe, "oracle_calls": calls}


def run(s: Settings, out_dir: Path) -> tuple[list[dict[str, Any]], dict[str, float]]:
    torch.manual_seed(SEED)
    root = CACHE / ("quick" if s.quick else "full")
    data = ImageDataModule("digits", batch_size=128, val_fraction=0.1, test_fraction=0.2, seed=SEED)
    judge, guide, cls_metrics = _classifiers(data, s, root)
    print(f"classifiers: {cls_metrics}", flush=True)
    test = data.split("test")
    real_feats, _ = _features(judge, (test.images + 1) / 2)
    test_div = _diversity(real_feats, test.labels)
    models = _models(data, s, root)
    labels = torch.arange(10).repeat(s.samples // 10)
    rows: list[dict[str, Any]] = []
    grids: dict[tuple[str, str], tuple[float, torch.Tensor, str]] = {}
    for model_name, model in models.items():
        methods: dict[str, list[tuple[str, Callable]]] = dict(_methods(model_name, guide))
        value_methods = _value_methods(guide) if model_name == "diffusion" else {}
        for method, settings in [*methods.items(), *value_methods.items()]:
            for setting, make in settings:
                t0 = time.perf_counter()
                if method in value_methods:
                    model.sampler = "ddpm"  # value-based selection needs stochastic steps
                    try:
                        images, trace = _sample_per_class(model, make, s)
                    finally:
                        model.sampler = "ddim"
                else:
                    out = sample(model, s.samples, steps=s.steps, cond=labels, seed=SEED, progress=False,
                                 guidance=make())
                    images, trace = out.sequences, out.trace
                seconds = time.perf_counter() - t0
                bad = int((~torch.isfinite(images.flatten(1))).any(dim=1).sum())
                images = torch.nan_to_num(images, nan=0.5)
                feats, pred = _features(judge, images)
                precision, recall = _precision_recall(real_feats, feats)
                row = {
                    "model": model_name, "method": method, "setting": setting,
                    "accuracy": float((pred == labels).double().mean()),
                    "fid": _fid(real_feats, feats), "precision": precision, "recall": recall,
                    "diversity": _diversity(feats, labels) / test_div,
                    "nfe": float(trace["nfe"]), "oracle_calls_per_sample": trace["oracle_calls"] / s.samples,
                    "nonfinite_samples": bad, "seconds": seconds,
                }
                rows.append(row)
                print(f"{model_name:9s} {method:20s} {setting:22s} acc={row['accuracy']:.3f} fid={row['fid']:.2f} "
                      f"P={precision:.2f} R={recall:.2f} div={row['diversity']:.2f} nfe={row['nfe']:.1f} "
                      f"{seconds:.1f}s", flush=True)
                key = (model_name, method)
                if key not in grids or row["fid"] < grids[key][0]:
                    grids[key] = (row["fid"], images, setting)
    for (model_name, method), (_, images, setting) in grids.items():
        readable = method.replace("++", " plus plus").replace("*", " star").replace("+", "plus")
        safe = "_".join("".join(ch if ch.isalnum() else " " for ch in readable).split())
        _grid(images, out_dir / "image_guidance" / f"{model_name}_{safe}.png", f"{model_name}: {method} ({setting})")
    for row in rows:
        row["best"] = row["setting"] == grids[(row["model"], row["method"])][2]
    return rows, cls_metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (a few minutes), written under runs/")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on a shared 2-core machine more threads oversubscribe it)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    s = QUICK if args.quick else FULL
    out_dir = Path("runs/benchmarks/image_guidance_quick") if args.quick else RESULTS
    env = environment("cpu", seed=SEED, samples_per_setting=s.samples, sampling_steps=s.steps,
                      train_steps=s.train_steps, torch_threads_used=args.threads)  # the code as it starts
    t0 = time.perf_counter()
    rows, cls_metrics = run(s, out_dir)
    total = time.perf_counter() - t0
    env.update(total_minutes=round(total / 60, 1), **cls_metrics)
    best = [r for r in rows if r["best"]]
    notes = (
        "Digits (scikit-learn, 8x8): 1,259 train / 179 val / 359 test images. Samples are balanced over the 10 "
        "requested classes. accuracy: the judge's argmax equals the requested class; fid / precision / recall: "
        "in the judge's 64-d feature space against the 359 test images (small-sample FID: compare within this "
        "table only); diversity: mean pairwise feature distance within a class, relative to the test images' "
        "(1.0 = as diverse as real data); nfe: network evaluations per sample, all branches counted; "
        "SVDD / SMC / best-of-N use the guidance classifier's argmax-class indicator as a black-box oracle "
        "(DDPM steps), never the judge. 'best' marks each method's lowest-FID setting.")
    columns = ["model", "method", "setting", "best", "accuracy", "fid", "precision", "recall", "diversity", "nfe",
               "oracle_calls_per_sample", "nonfinite_samples", "seconds"]
    sections = [("Best setting of each method (lowest FID)", markdown_table(best, columns))]
    write_table(rows, out_dir / "image_guidance", title="Image guidance on digits: CFG family, classifier and "
                "value guidance", env=env, notes=notes, columns=columns, sections=sections)
    print(f"done in {total / 60:.1f} min; results in {out_dir}")


if __name__ == "__main__":
    main()
