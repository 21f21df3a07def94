# %% [markdown]
# # Deep Convolutional GAN — PyTorch
#
# The GAN game played by convolutional networks, built by the DCGAN rules.
# Question sheet: questions/dcgan.md. Run: `python answers/dcgan/dcgan_pytorch.py --help`.

# %% 1. Config
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

import gendojo
from gendojo import gan_metrics, quality

TOPIC, FRAMEWORK = "dcgan", "pytorch"


@dataclass
class Config:
    dataset: str = "simple-shapes"
    data_dir: str = ""
    image_size: int = 32  # a multiple of 16: four stride-2 layers halve or double it four times
    channels: int = 3
    dataset_size: int = 4096
    latent_dim: int = 100
    g_width: float = field(default=0.25, metadata={"help": "scales G's reference channel widths"})
    d_width: float = field(default=0.5, metadata={"help": "scales D's reference channel widths"})
    steps: int = 2500  # at 2000, 3 of 12 shape runs missed a class, such as the thin rings (sheet)
    batch_size: int = 32  # 64 costs 1.7 times as much a step and drew no better (see the sheet)
    lr: float = field(default=2e-4, metadata={"help": "G's learning rate"})
    d_lr: float = field(
        default=4e-4, metadata={"help": "D's learning rate: twice G's, see the sheet"}
    )
    beta1: float = field(
        default=0.5, metadata={"help": "Adam's β1; 0.5 rather than 0.9 steadies the game"}
    )
    lr_decay: float = field(
        default=0.4,
        metadata={"help": "the share of steps at the end over which both rates fall to 0"},
    )
    seed: int = 0
    out: str = ""
    device: str = "auto"
    resume: bool = False
    sample_every: int = 500
    diversity_every: int = field(default=50, metadata={"help": "steps between diversity checks"})
    quiet: bool = False


def device_for(config):
    # any accelerator this PyTorch finds (CUDA, ROCm, Apple's MPS, Intel's XPU…), None without one
    accelerator = torch.accelerator.current_accelerator(check_available=True)
    return gendojo.choose_device(config, accelerator, torch.device("cpu"), "PyTorch")


# %% 2. Data
def batches(images, config):
    """Endless shuffled batches of NCHW tensors: PyTorch puts channels before height and width."""
    tensors = torch.from_numpy(images).permute(0, 3, 1, 2)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(tensors),
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=len(images) >= config.batch_size,
        generator=torch.Generator().manual_seed(config.seed),
    )
    while True:
        for (batch,) in loader:
            yield batch


# %% 3. Models (Q1)
class Generator(nn.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        size = config.image_size // 16
        top, c1, c2, c3 = (max(1, round(n * config.g_width)) for n in (256, 512, 256, 128))

        def up(cin, cout):  # "same": padding 2 trims the overhang, output_padding 1 adds a row
            return nn.ConvTranspose2d(cin, cout, 5, stride=2, padding=2, output_padding=1)

        def norm(c):
            return nn.BatchNorm2d(c, momentum=0.1, eps=1e-5)

        # shapes at the default config: N noises of 100 → N images of 3 × 32 × 32
        self.layers = nn.Sequential(
            nn.Linear(config.latent_dim, size * size * top),
            nn.Unflatten(1, (top, size, size)), norm(top), nn.ReLU(),  # (N, 64, 2, 2)
            up(top, c1), norm(c1), nn.ReLU(),  # (N, 128, 4, 4)
            up(c1, c2), norm(c2), nn.ReLU(),  # (N, 64, 8, 8)
            up(c2, c3), norm(c3), nn.ReLU(),  # (N, 32, 16, 16)
            up(c3, config.channels), nn.Tanh(),  # (N, 3, 32, 32); no BatchNorm at G's output
        )  # fmt: skip
        # END SOLUTION Q1

    def forward(self, z):
        # BEGIN SOLUTION Q1
        return self.layers(z)
        # END SOLUTION Q1


class Discriminator(nn.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        size = config.image_size // 16
        c1, c2, c3, c4 = (max(1, round(n * config.d_width)) for n in (32, 64, 128, 256))

        def down(cin, cout):  # stride 2 instead of pooling: D learns its own downsampling
            return nn.Conv2d(cin, cout, 5, stride=2, padding=2)

        def norm(c):
            return nn.BatchNorm2d(c, momentum=0.1, eps=1e-5)

        # shapes at the default config: N images of 3 × 32 × 32 → N logits
        self.layers = nn.Sequential(
            down(config.channels, c1), nn.LeakyReLU(0.2),  # (N, 16, 16, 16); no BatchNorm here
            down(c1, c2), norm(c2), nn.LeakyReLU(0.2),  # (N, 32, 8, 8)
            down(c2, c3), norm(c3), nn.LeakyReLU(0.2),  # (N, 64, 4, 4)
            down(c3, c4), norm(c4), nn.LeakyReLU(0.2),  # (N, 128, 2, 2)
            nn.Flatten(), nn.Linear(c4 * size * size, 1),  # (N, 1): a logit, the loss applies σ
        )  # fmt: skip
        # END SOLUTION Q1

    def forward(self, x):
        # BEGIN SOLUTION Q1
        return self.layers(x)
        # END SOLUTION Q1


def build(config):
    gendojo.check(
        config.image_size % 16 == 0,
        f"--image-size must be a multiple of 16 (four stride-2 layers), not {config.image_size}",
    )
    torch.manual_seed(config.seed)
    device = device_for(config)
    networks = {"generator": Generator(config), "discriminator": Discriminator(config)}
    for network in networks.values():
        for module in network.modules():  # the DCGAN paper's N(0, 0.02) weights, zero biases
            if isinstance(module, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
                nn.init.normal_(module.weight, 0.0, 0.02)
                nn.init.zeros_(module.bias)
        network.to(device)
    return networks


# %% 4. Loss (Q2)
# D's target for real images: 0.9, not 1 (one-sided label smoothing). A D that may grow certain
# lets G hide in a few modes of real data; measured in the sheet's "Real data" section.
REAL_TARGET = 0.9


def discriminator_loss(real_logits, fake_logits):
    """Sigmoid cross-entropy, real → 0.9, fake → 0, mean of the two halves: log 2 at a draw."""
    # BEGIN SOLUTION Q2
    bce = nn.functional.binary_cross_entropy_with_logits
    real = bce(real_logits, torch.full_like(real_logits, REAL_TARGET))
    fake = bce(fake_logits, torch.zeros_like(fake_logits))
    return (real + fake) / 2
    # END SOLUTION Q2


def generator_loss(fake_logits):
    """The non-saturating loss: G maximises log D(G(z)) by calling its fakes real (target 1)."""
    # BEGIN SOLUTION Q2
    return nn.functional.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    # END SOLUTION Q2


# %% 5. Training step (Q3)
def train_step(networks, optimizers, images, latents):
    # BEGIN SOLUTION Q3
    generator, discriminator = networks["generator"], networks["discriminator"]
    fakes = generator(latents)
    # D first, on real and fake; detach() keeps this update from reaching G.
    d_loss = discriminator_loss(discriminator(images), discriminator(fakes.detach()))
    optimizers["discriminator"].zero_grad()
    d_loss.backward()
    optimizers["discriminator"].step()
    # Then G, through the freshly updated D; only G's optimizer steps.
    g_loss = generator_loss(discriminator(fakes))
    optimizers["generator"].zero_grad()
    g_loss.backward()
    optimizers["generator"].step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}
    # END SOLUTION Q3


# %% 6. Training loop
def decayed(rate, step, config):
    """``rate``, until the last ``lr_decay`` share of the steps takes it linearly down towards 0.
    A GAN's samples swing from step to step; falling rates let the last steps settle (sheet)."""
    tail = config.lr_decay * config.steps
    return rate * min(1.0, (config.steps - step) / tail) if tail > 0 else rate


def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    rates = {"generator": config.lr, "discriminator": config.d_lr}  # D learns faster than G
    optimizers = {
        name: torch.optim.Adam(network.parameters(), lr=rates[name], betas=(config.beta1, 0.999))
        for name, network in networks.items()
    }
    device = device_for(config)
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.images, config))
    # NumPy noise: the same numbers in all four frameworks, its state saved with the run;
    # seed + 1, so that the steps' noise is not the grid's (fixed_latents)
    noise = run.noise(np.random.default_rng(config.seed + 1))
    fixed = fixed_latents(config)
    history = run.history({"d_loss": [], "g_loss": [], "diversity": []})
    for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
        for name, optimizer in optimizers.items():
            for group in optimizer.param_groups:
                group["lr"] = decayed(rates[name], step, config)
        images = next(stream).to(device)
        latents = torch.from_numpy(
            noise.standard_normal((len(images), config.latent_dim), dtype=np.float32)
        )
        losses = train_step(networks, optimizers, images, latents.to(device))
        for name, value in losses.items():
            history[name].append(value)
        if step % config.diversity_every == 0:  # a mode-collapse alarm, measured now and then
            history["diversity"].append(gan_metrics.diversity(generate(networks, fixed)))
        else:  # and held between measurements (a resumed run finds it in its history)
            history["diversity"].append(history["diversity"][-1])
        if callback:
            callback(step, networks)
    return networks, history


# %% 7. Inference (Q4)
def fixed_latents(config, count=64):
    """The latents of every sample grid and of the diversity check, the same in every framework."""
    return np.random.default_rng(config.seed).standard_normal(
        (count, config.latent_dim), dtype=np.float32
    )


@torch.no_grad()
def generate(networks, latents):
    """(N, latent_dim) noise → N images, NHWC float32 in [-1, 1]."""
    # BEGIN SOLUTION Q4
    generator = networks["generator"]
    device = next(generator.parameters()).device
    z = torch.from_numpy(np.asarray(latents, dtype=np.float32)).to(device)
    training = generator.training
    generator.eval()  # BatchNorm: running statistics, so a sample does not depend on its batch
    images = generator(z)
    generator.train(training)
    return images.permute(0, 2, 3, 1).cpu().numpy()
    # END SOLUTION Q4


@torch.no_grad()
def discriminate(networks, images):
    """NHWC images in [-1, 1] → D's logits, (N, 1) float32: above 0 means "looks real"."""
    # BEGIN SOLUTION Q4
    discriminator = networks["discriminator"]
    device = next(discriminator.parameters()).device
    x = torch.from_numpy(np.asarray(images, dtype=np.float32)).permute(0, 3, 1, 2).to(device)
    training = discriminator.training
    discriminator.eval()  # running statistics: an image's score does not depend on its batch
    logits = discriminator(x)
    discriminator.train(training)
    return logits.cpu().numpy()
    # END SOLUTION Q4


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="DCGAN in PyTorch")
    data = gendojo.load_dataset(config)
    fixed = fixed_latents(config)  # the same samples in every grid, and every framework

    def samples(networks):
        return generate(networks, fixed)

    def score(networks):  # 1000 fresh samples against real images: see gendojo/quality.py
        return quality.score_generator(data, config, lambda z: generate(networks, z))

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples, score)


if __name__ == "__main__":
    gendojo.run_main(main)
