# %% [markdown]
# # Generative Adversarial Network — PyTorch
#
# Two multilayer perceptrons play a game: G turns noise into images, D tells them from real ones.
# Question sheet: questions/gan.md. Run: `python answers/gan/gan_pytorch.py --help`.

# %% 1. Config
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

import gendojo
from gendojo import gan_metrics, quality

TOPIC, FRAMEWORK = "gan", "pytorch"


@dataclass
class Config:
    dataset: str = "simple-shapes"
    data_dir: str = ""
    image_size: int = 16
    channels: int = 3
    dataset_size: int = 4096
    latent_dim: int = 100
    steps: int = 4000
    batch_size: int = 64
    lr: float = 2e-4
    dropout: float = field(
        default=0.5, metadata={"help": "D's dropout after each hidden layer (see the sheet)"}
    )
    beta1: float = field(
        default=0.5, metadata={"help": "Adam's β1; 0.5 rather than 0.9 steadies the game"}
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
        self.shape = (config.channels, config.image_size, config.image_size)
        self.layers = nn.Sequential(
            nn.Linear(config.latent_dim, 128),  # (N, 128)
            nn.LeakyReLU(0.2),
            nn.Linear(128, 256),  # (N, 256)
            nn.LeakyReLU(0.2),
            nn.Linear(256, 512),  # (N, 512)
            nn.LeakyReLU(0.2),
            nn.Linear(512, int(np.prod(self.shape))),  # (N, 768)
            nn.Tanh(),  # images live in [-1, 1]
        )
        # END SOLUTION Q1

    def forward(self, z):
        # BEGIN SOLUTION Q1
        return self.layers(z).view(-1, *self.shape)  # (N, 3, 16, 16)
        # END SOLUTION Q1


class Discriminator(nn.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        pixels = config.channels * config.image_size * config.image_size
        self.layers = nn.Sequential(
            nn.Linear(pixels, 512),  # (N, 512)
            nn.LeakyReLU(0.2),
            nn.Dropout(config.dropout),  # without it G never learns one of the six shapes
            nn.Linear(512, 256),  # (N, 256)
            nn.LeakyReLU(0.2),
            nn.Dropout(config.dropout),
            nn.Linear(256, 1),  # (N, 1): a logit, no sigmoid here, the loss applies it
        )
        # END SOLUTION Q1

    def forward(self, x):
        # BEGIN SOLUTION Q1
        return self.layers(x.flatten(start_dim=1))  # flattened: (N, 768)
        # END SOLUTION Q1


def build(config):
    torch.manual_seed(config.seed)
    device = device_for(config)
    networks = {"generator": Generator(config), "discriminator": Discriminator(config)}
    for network in networks.values():
        for module in network.modules():  # Glorot weights, zero biases: as the other three here
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        network.to(device)
    return networks


# %% 4. Loss (Q2)
def discriminator_loss(real_logits, fake_logits):
    """Sigmoid cross-entropy, real → 1 and fake → 0, averaged over both halves: log 2 at a draw."""
    # BEGIN SOLUTION Q2
    bce = nn.functional.binary_cross_entropy_with_logits
    real = bce(real_logits, torch.ones_like(real_logits))
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
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    adam = dict(lr=config.lr, betas=(config.beta1, 0.999))
    optimizers = {
        name: torch.optim.Adam(network.parameters(), **adam) for name, network in networks.items()
    }
    device = device_for(config)
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.images, config))
    # NumPy noise: the same numbers in all four frameworks, its state saved with the run
    noise = run.noise(np.random.default_rng(config.seed + 1))  # not the grid's noise
    fixed = fixed_latents(config)  # the diversity check's samples: main's grid
    history = run.history({"d_loss": [], "g_loss": [], "diversity": []})
    for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
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
@torch.no_grad()
def generate(networks, latents):
    """(N, latent_dim) noise → N images, NHWC float32 in [-1, 1]."""
    # BEGIN SOLUTION Q4
    generator = networks["generator"]
    device = next(generator.parameters()).device
    z = torch.from_numpy(np.asarray(latents, dtype=np.float32)).to(device)
    return generator(z).permute(0, 2, 3, 1).cpu().numpy()
    # END SOLUTION Q4


@torch.no_grad()
def discriminate(networks, images):
    """NHWC images in [-1, 1] → D's logits, (N, 1) float32: above 0 means "looks real"."""
    # BEGIN SOLUTION Q4
    discriminator = networks["discriminator"]
    device = next(discriminator.parameters()).device
    x = torch.from_numpy(np.asarray(images, dtype=np.float32)).permute(0, 3, 1, 2).to(device)
    training = discriminator.training
    discriminator.eval()  # dropout off: an image gets one score
    logits = discriminator(x)
    discriminator.train(training)
    return logits.cpu().numpy()
    # END SOLUTION Q4


def fixed_latents(config, count=64):
    """The latents of every sample grid and of the diversity check, the same in every framework."""
    return np.random.default_rng(config.seed).standard_normal(
        (count, config.latent_dim), dtype=np.float32
    )


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="GAN in PyTorch")
    data = gendojo.load_dataset(config)
    fixed = fixed_latents(config)  # the same samples in every grid, and in every framework

    def samples(networks):
        return generate(networks, fixed)

    def score(networks):  # 1000 fresh samples against real images: see gendojo/quality.py
        return quality.score_generator(data, config, lambda z: generate(networks, z))

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples, score)


if __name__ == "__main__":
    gendojo.run_main(main)
