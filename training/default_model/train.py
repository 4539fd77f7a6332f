"""Train trustgen's default model: a small latent diffusion model that fits in the wheel.

Three stages, each re-runnable on its own and fixed-seeded:

    python training/default_model/train.py vae     # AutoencoderKL, f=8, on 64 px crops
    python training/default_model/train.py unet    # UNet2DModel on 32x32 latents (= 256 px)
    python training/default_model/train.py export  # LDMPipeline folder -> trustgen/models/default

Budgeted for a shared 2-core CPU: every stage stops at --steps or --max-minutes, whichever
comes first, writes a JSONL log and checkpoints often, so a usable model exists early.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from data import load_images  # noqa: E402

HERE = Path(__file__).parent
RUNS = HERE / "runs"
SHIPPED = HERE.parents[1] / "trustgen" / "models" / "default"
SHORT_SIDES = (256, 352, 448)  # augmentation scales: short side of the resized photo


def vae_config() -> dict:
    # No mid-block attention: fully convolutional, so 64 px training crops transfer to 256 px.
    # 8 latent channels (24x compression) keep more texture than SD's 4 at this tiny width.
    return dict(in_channels=3, out_channels=3, latent_channels=8, layers_per_block=1,
                block_out_channels=(32, 32, 64, 128), norm_num_groups=16,
                down_block_types=("DownEncoderBlock2D",) * 4,
                up_block_types=("UpDecoderBlock2D",) * 4,
                mid_block_add_attention=False, sample_size=256)


def unet_config(latent_channels: int) -> dict:
    return dict(sample_size=32, in_channels=latent_channels, out_channels=latent_channels,
                block_out_channels=(32, 64, 128), layers_per_block=2, attention_head_dim=32,
                down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
                up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"))


def scheduler_config(prediction: str) -> dict:
    # clip_sample=False: latents are not bounded to [-1, 1]. "trailing" starts sampling at
    # t=999, the step closest to the pure noise the sampler begins from.
    return dict(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085,
                beta_end=0.012, prediction_type=prediction, clip_sample=False,
                timestep_spacing="trailing", set_alpha_to_one=False)


def seed_all(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def pyramid(flips: bool) -> list[torch.Tensor]:
    """Each photo resized to every short side in SHORT_SIDES it can reach without upscaling
    (256 always), optionally also mirrored: the scale and flip augmentation, computed once."""
    out = []
    for img in load_images():
        t = torch.from_numpy(img)[None]
        short = min(t.shape[-2:])
        for side in SHORT_SIDES:
            if side > short and side != SHORT_SIDES[0]:
                continue
            s = side / short
            size = (max(side, round(t.shape[-2] * s)), max(side, round(t.shape[-1] * s)))
            r = F.interpolate(t, size=size, mode="bilinear", antialias=True, align_corners=False)
            out.append(r[0])
            if flips:
                out.append(r[0].flip(-1))
    return out


def random_crops(images: list[torch.Tensor], n: int, size: int, flip: bool) -> torch.Tensor:
    batch = []
    for _ in range(n):
        img = random.choice(images)
        y = random.randint(0, img.shape[-2] - size)
        x = random.randint(0, img.shape[-1] - size)
        crop = img[:, y:y + size, x:x + size]
        batch.append(crop.flip(-1) if flip and random.random() < 0.5 else crop)
    return torch.stack(batch)


def cosine_lr(step: int, progress: float, base: float, warmup: int = 50) -> float:
    """Cosine decay to 10 % over `progress` in [0, 1]: the share of the step or time budget
    used so far, whichever is larger, so a run cut short by its time limit still anneals."""
    if step < warmup:
        return base * (step + 1) / warmup
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def save_grid(images: torch.Tensor, path: Path, cols: int = 4) -> None:
    """Images in [-1, 1], (N, 3, H, W) -> one PNG grid."""
    from PIL import Image
    n, _, h, w = images.shape
    rows = math.ceil(n / cols)
    grid = torch.ones(3, rows * h, cols * w)
    for i, img in enumerate(images):
        grid[:, (i // cols) * h:(i // cols + 1) * h, (i % cols) * w:(i % cols + 1) * w] = img
    arr = ((grid.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    Image.fromarray(arr).save(path)


def progress(step: int, args: argparse.Namespace, log: "Logger") -> float:
    return max(step / args.steps, log.minutes() / args.max_minutes)


class Logger:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = path.open("w")
        self.start = time.time()

    def __call__(self, **record) -> None:
        record["elapsed_s"] = round(time.time() - self.start, 1)
        self.file.write(json.dumps(record, default=str) + "\n")
        self.file.flush()
        print(json.dumps(record, default=str), flush=True)

    def minutes(self) -> float:
        return (time.time() - self.start) / 60


def train_vae(args: argparse.Namespace) -> None:
    from diffusers import AutoencoderKL

    seed_all(args.seed)
    images = pyramid(flips=False)
    vae = AutoencoderKL(**vae_config())
    opt = torch.optim.AdamW(vae.parameters(), lr=args.lr, weight_decay=0.0)
    out = RUNS / "vae"
    log = Logger(out / "log.jsonl")
    log(event="start", params=sum(p.numel() for p in vae.parameters()), images=len(images),
        **{k: v for k, v in vars(args).items() if k != "func"})
    fixed = random_crops(images, 8, 128, flip=False)  # for the reconstruction preview
    running = {}
    for step in range(1, args.steps + 1):
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, progress(step, args, log), args.lr)
        x = random_crops(images, args.batch, args.crop, flip=True)
        post = vae.encode(x).latent_dist
        y = vae.decode(post.sample()).sample
        l1 = (y - x).abs().mean()
        # Matching image gradients sharpens edges that a plain L1 leaves blurred.
        grad = ((y.diff(dim=-1) - x.diff(dim=-1)).abs().mean()
                + (y.diff(dim=-2) - x.diff(dim=-2)).abs().mean())
        kl = post.kl().mean() / x[0].numel()
        loss = l1 + args.grad_weight * grad + args.kl_weight * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        for k, v in (("loss", loss), ("l1", l1), ("grad", grad), ("kl", kl)):
            running[k] = running.get(k, 0.0) + v.item()
        done = step == args.steps or log.minutes() >= args.max_minutes
        if step % args.log_every == 0 or done:
            n = (step - 1) % args.log_every + 1  # steps since the last record
            log(step=step, lr=opt.param_groups[0]["lr"],
                **{k: round(v / n, 5) for k, v in running.items()})
            running = {}
        if step % args.save_every == 0 or done:
            vae.save_pretrained(out / "model")
            with torch.no_grad():
                rec = vae.decode(vae.encode(fixed).latent_dist.mode()).sample
            save_grid(torch.cat([fixed, rec]), out / "reconstruction.png")
            log(event="checkpoint", step=step)
        if done:
            break
    log(event="end", step=step)


class EMA:
    def __init__(self, model: torch.nn.Module, decay: float):
        import copy
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))  # warm-up: early checkpoints are usable
        for e, p in zip(self.model.parameters(), model.parameters()):
            e.lerp_(p, 1 - d)


@torch.no_grad()
def encode_latents(vae) -> list[torch.Tensor]:
    return [vae.encode(img[None]).latent_dist.mode()[0] for img in pyramid(flips=True)]


@torch.no_grad()
def sample(unet, vae, scheduler, n: int, steps: int, seed: int) -> torch.Tensor:
    """The same loop as diffusers' LDMPipeline, kept here to preview checkpoints cheaply."""
    g = torch.Generator().manual_seed(seed)
    c, s = unet.config.in_channels, unet.config.sample_size
    latents = torch.randn(n, c, s, s, generator=g) * scheduler.init_noise_sigma
    scheduler.set_timesteps(steps)
    for t in scheduler.timesteps:
        eps = unet(scheduler.scale_model_input(latents, t), t).sample
        latents = scheduler.step(eps, t, latents, eta=0.0).prev_sample
    return vae.decode(latents / vae.config.scaling_factor).sample


def train_unet(args: argparse.Namespace) -> None:
    from diffusers import AutoencoderKL, DDIMScheduler, DDPMScheduler, UNet2DModel

    gen = seed_all(args.seed)
    out = RUNS / args.run
    log = Logger(out / "log.jsonl")
    vae = AutoencoderKL.from_pretrained(RUNS / "vae" / "model").eval().requires_grad_(False)
    latents = encode_latents(vae)
    flat = torch.cat([z.flatten(1) for z in latents], dim=1)
    scale = 1.0 / flat.std().item()
    vae.register_to_config(scaling_factor=scale)
    latents = [z * scale for z in latents]
    if args.init:  # warm start, e.g. from an epsilon-prediction run
        unet = UNet2DModel.from_pretrained(args.init)
    else:
        unet = UNet2DModel(**unet_config(vae.config.latent_channels))
    ema = EMA(unet, args.ema)
    sched_cfg = scheduler_config(args.prediction)
    train_sched = DDPMScheduler(**{k: v for k, v in sched_cfg.items() if k != "set_alpha_to_one"})
    opt = torch.optim.AdamW(unet.parameters(), lr=args.lr, weight_decay=0.0)
    log(event="start", params=sum(p.numel() for p in unet.parameters()), latents=len(latents),
        scaling_factor=scale, latent_mean=flat.mean().item(),
        **{k: v for k, v in vars(args).items() if k != "func"})
    running, size = 0.0, unet.config.sample_size
    for step in range(1, args.steps + 1):
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, progress(step, args, log), args.lr)
        z0 = random_crops(latents, args.batch, size, flip=False)  # flips are pre-encoded
        noise = torch.randn(z0.shape, generator=gen)
        t = torch.randint(0, train_sched.config.num_train_timesteps, (z0.shape[0],), generator=gen)
        pred = unet(train_sched.add_noise(z0, noise, t), t).sample
        target = noise if args.prediction == "epsilon" else train_sched.get_velocity(z0, noise, t)
        loss = F.mse_loss(pred, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        ema.update(unet, step)
        running += loss.item()
        done = step == args.steps or log.minutes() >= args.max_minutes
        if step % args.log_every == 0 or done:
            n = (step - 1) % args.log_every + 1
            log(step=step, lr=opt.param_groups[0]["lr"], loss=round(running / n, 5))
            running = 0.0
        if step % args.save_every == 0 or done:
            ema.model.save_pretrained(out / "ema")
            vae.save_pretrained(out / "vae")  # carries the scaling factor
            DDIMScheduler(**sched_cfg).save_pretrained(out / "scheduler")
            imgs = sample(ema.model, vae, DDIMScheduler(**sched_cfg), 4, 25, args.seed)
            save_grid(imgs, out / f"preview_{step:06d}.png")
            log(event="checkpoint", step=step)
        if done:
            break
    log(event="end", step=step)


def export(args: argparse.Namespace) -> None:
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, LDMPipeline, UNet2DModel

    run = RUNS / args.run
    vae = AutoencoderKL.from_pretrained(run / "vae")
    unet = UNet2DModel.from_pretrained(run / "ema")
    pipe = LDMPipeline(vqvae=vae, unet=unet,
                       scheduler=DDIMScheduler.from_pretrained(run / "scheduler"))
    # stored as float16 (half the size; trustgen loads it back as float32: samples differ from
    # float32 weights by under one grey level on average)
    pipe.to(dtype=torch.float16).save_pretrained(args.out, safe_serialization=True)
    for f in sorted(args.out.rglob("*.safetensors")):
        print(f"{f.relative_to(args.out)}: {f.stat().st_size / 1e6:.1f} MB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    sub = parser.add_subparsers(required=True)

    p = sub.add_parser("vae", help="train the autoencoder")
    p.add_argument("--steps", type=int, default=3000, help="stop after this many steps ...")
    p.add_argument("--max-minutes", type=float, default=18.0, help="... or this much wall time")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=64, help="training crop, px")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--grad-weight", type=float, default=1.0, help="weight of the edge loss")
    p.add_argument("--kl-weight", type=float, default=1e-6)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--save-every", type=int, default=250)
    p.set_defaults(func=train_vae)

    p = sub.add_parser("unet", help="train the latent denoiser (needs the vae stage)")
    p.add_argument("--steps", type=int, default=20000, help="stop after this many steps ...")
    p.add_argument("--max-minutes", type=float, default=55.0, help="... or this much wall time")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay of the shipped weights")
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--save-every", type=int, default=250)
    p.add_argument("--prediction", choices=("epsilon", "v_prediction"), default="v_prediction",
                   help="v keeps the x0 estimate sane at high noise, where an undertrained "
                        "epsilon model's error is amplified ~12x")
    p.add_argument("--init", type=Path, help="warm-start from this UNet2DModel folder")
    p.add_argument("--run", default="unet", help="output folder under runs/")
    p.set_defaults(func=train_unet)

    p = sub.add_parser("export", help="write the LDMPipeline folder the package ships")
    p.add_argument("--out", type=Path, default=SHIPPED)
    p.add_argument("--run", default="unet", help="the unet run to export, under runs/")
    p.set_defaults(func=export)

    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.func(args)


if __name__ == "__main__":
    main()
