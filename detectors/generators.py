"""The synthetic-image generators the training data is made with.

Each family is a small autoencoder trained here on the training photos; the convolutional ones
differ only in how the decoder upsamples (transposed conv, nearest + conv, bilinear + conv, pixel
shuffle); ``vae_kl`` is a diffusers ``AutoencoderKL`` (the decoder of a latent-diffusion pipeline);
``vit_patch`` is a different design: a transformer over 8x8 patch tokens whose output layer maps
each token linearly to its pixels (the DiT / MAE head), with no convolution after the tokens.
Upsampling layers leave distinct spectral traces, which is what a detector must learn; passing the
very photos it sees as real through them keeps the content of both classes the same.
"""

from __future__ import annotations

FAMILIES = ("ae_tconv", "ae_nearest", "ae_bilinear", "ae_pixelshuffle", "vae_kl", "vit_patch")
PATCH = 8


def build_generator(family: str, *, width: int = 32, latent: int = 8):
    """An untrained generator of ``family``: images in [0, 1] -> images in [0, 1], same size."""
    from torch import nn

    if family == "vae_kl":
        from diffusers import AutoencoderKL

        vae = AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
            down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
            block_out_channels=(width // 2, width, width), norm_num_groups=8,
        )

        class _Vae(nn.Module):
            def __init__(self):
                super().__init__()
                self.vae = vae

            def forward(self, x):
                post = self.vae.encode(x * 2 - 1).latent_dist
                z = post.sample() if self.training else post.mode()
                self.kl = post.kl().mean() if self.training else None
                return (self.vae.decode(z).sample.clamp(-1, 1) + 1) / 2

        return _Vae()
    if family == "vit_patch":
        return _patch_transformer(dim=3 * width, bottleneck=3 * PATCH * PATCH // 6)

    def up(cin: int, cout: int) -> nn.Module:
        if family == "ae_tconv":
            return nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)
        if family == "ae_nearest":
            return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                 nn.Conv2d(cin, cout, 3, padding=1))
        if family == "ae_bilinear":
            return nn.Sequential(
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(cin, cout, 3, padding=1),
            )
        if family == "ae_pixelshuffle":
            return nn.Sequential(nn.Conv2d(cin, cout * 4, 3, padding=1), nn.PixelShuffle(2))
        raise ValueError(f"unknown generator family {family!r}; choose from {', '.join(FAMILIES)}")

    w = width
    return nn.Sequential(
        nn.Conv2d(3, w, 3, padding=1), nn.GELU(),
        nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.GELU(),
        nn.Conv2d(2 * w, 2 * w, 4, stride=2, padding=1), nn.GELU(),
        nn.Conv2d(2 * w, latent, 1),
        nn.Conv2d(latent, 2 * w, 1), nn.GELU(),
        up(2 * w, 2 * w), nn.GELU(),
        up(2 * w, w), nn.GELU(),
        nn.Conv2d(w, 3, 3, padding=1), nn.Sigmoid(),
    )


def _patch_transformer(dim: int, bottleneck: int):
    from torch import nn

    class PatchTransformer(nn.Module):
        """Patch tokens -> transformer -> a narrow bottleneck -> transformer -> linear head to
        each token's 8x8 pixels. Positions come from a 3x3 depthwise conv on the token grid (a
        conditional position encoding), so any image size divisible by 8 works."""

        def __init__(self, dim: int, bottleneck: int):
            super().__init__()
            self.embed = nn.Conv2d(3, dim, PATCH, stride=PATCH)
            self.pos = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)

            def layer():
                return nn.TransformerEncoderLayer(dim, 4, 2 * dim, dropout=0.0,
                                                  activation="gelu", batch_first=True,
                                                  norm_first=True)

            self.encoder = nn.Sequential(layer(), layer())
            self.squeeze = nn.Linear(dim, bottleneck)
            self.expand = nn.Linear(bottleneck, dim)
            self.decoder = nn.Sequential(layer(), layer())
            self.head = nn.Linear(dim, 3 * PATCH * PATCH)

        def forward(self, x):
            b, _, h, w = x.shape
            t = self.embed(x * 2 - 1)
            t = t + self.pos(t)
            gh, gw = t.shape[2:]
            t = self.encoder(t.flatten(2).transpose(1, 2))
            t = self.decoder(self.expand(self.squeeze(t)))
            p = self.head(t).view(b, gh, gw, 3, PATCH, PATCH)
            y = p.permute(0, 3, 1, 4, 2, 5).reshape(b, 3, gh * PATCH, gw * PATCH)
            return ((y + 1) / 2).clamp(0, 1)

    return PatchTransformer(dim, bottleneck)


def train_generator(family: str, photos, *, steps: int = 300, batch: int = 8, crop: int = 48,
                    seed: int = 0, log=print):
    """Train a reconstruction generator on random crops of ``photos`` (RGB uint8 arrays)."""
    import numpy as np
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build_generator(family)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    photos = [p for p in photos if min(p.shape[:2]) >= crop]
    net.train()
    for step in range(steps):
        xs = []
        for _ in range(batch):
            p = photos[rng.integers(len(photos))]
            y, x = rng.integers(p.shape[0] - crop + 1), rng.integers(p.shape[1] - crop + 1)
            xs.append(p[y:y + crop, x:x + crop])
        x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float() / 255
        out = net(x)
        loss = (out - x).abs().mean()
        if getattr(net, "kl", None) is not None:
            loss = loss + 1e-6 * net.kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"{family}: step {step + 1}/{steps} L1 {loss.item():.4f}")
    return net.eval()


def generate(net, tile):
    """Pass one RGB uint8 tile through a trained generator; same size out, uint8."""
    import numpy as np
    import torch

    x = torch.from_numpy(np.ascontiguousarray(tile)).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        y = net(x)[0]
    return (y.permute(1, 2, 0).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
