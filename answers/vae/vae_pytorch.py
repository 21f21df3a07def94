# %% [markdown]
# # Variational Auto Encoder — PyTorch
#
# The encoder maps each image to a Gaussian over a 2-D latent space; training samples from it
# with the reparameterisation trick and pays a KL penalty for straying from N(0, I), so decoding
# noise drawn from N(0, I) gives new images. Question sheet: questions/vae.md.
# Run: `python answers/vae/vae_pytorch.py --help`.

# %% 1. Config
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch
from torch import nn

import gendojo
from gendojo import latent as latent_plots

TOPIC, FRAMEWORK = "vae", "pytorch"


@dataclass
class Config:
    dataset: str = "shapes"
    data_dir: str = ""
    image_size: int = 32
    channels: int = 3
    dataset_size: int = 4096
    latent_dim: int = field(
        default=2, metadata={"help": "latent dimensions (2 can be drawn as a map)"}
    )
    hidden_dim: int = field(default=256, metadata={"help": "units of the hidden dense layers"})
    beta: float = field(
        default=1.0, metadata={"help": "weight of the KL term (1: plain VAE, >1: β-VAE)"}
    )
    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    out: str = ""
    device: str = "auto"
    resume: bool = False
    sample_every: int = 500
    latent_plots: bool = field(
        default=True, metadata={"help": "draw the latent map, lattice and interpolation"}
    )
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
class Encoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        pixels = config.image_size * config.image_size * config.channels
        self.hidden = nn.Linear(pixels, config.hidden_dim)
        self.mean = nn.Linear(config.hidden_dim, config.latent_dim)
        self.log_variance = nn.Linear(config.hidden_dim, config.latent_dim)
        # END SOLUTION Q1

    def forward(self, x):
        # BEGIN SOLUTION Q1
        h = torch.relu(self.hidden(x.flatten(start_dim=1)))  # (N, 256)
        # log σ², not σ: any real output is valid
        return self.mean(h), self.log_variance(h)  # (N, 2) each
        # END SOLUTION Q1


class Decoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        self.latent_dim = config.latent_dim
        self.shape = (config.channels, config.image_size, config.image_size)
        self.hidden = nn.Linear(config.latent_dim, config.hidden_dim)
        self.output = nn.Linear(config.hidden_dim, int(np.prod(self.shape)))
        # END SOLUTION Q1

    def forward(self, z):
        # BEGIN SOLUTION Q1
        h = torch.relu(self.hidden(z))  # (N, 256)
        x = torch.tanh(self.output(h))  # tanh: images live in [-1, 1]
        return x.view(-1, *self.shape)  # (N, 3, 32, 32)
        # END SOLUTION Q1


def reparameterize(mean, log_variance, seed=None):
    """z = mean + σ·ε, ε ~ N(0, I): the randomness sits in ε, so gradients reach mean and σ."""
    # BEGIN SOLUTION Q1
    # ε from ``seed``, a torch.Generator (None: PyTorch's global one, seeded in build)
    epsilon = torch.randn(mean.shape, generator=seed, device=mean.device)
    return mean + torch.exp(0.5 * log_variance) * epsilon
    # END SOLUTION Q1


def build(config):
    gendojo.check(
        config.latent_dim >= 1, f"--latent-dim must be at least 1, not {config.latent_dim}."
    )
    gendojo.check(
        config.latent_dim >= 2 or not config.latent_plots,
        "the latent plots draw two latent dimensions: use --latent-dim 2 or more, "
        "or --no-latent-plots.",
    )
    gendojo.check(
        config.beta >= 0, f"--beta weights the KL term and cannot be negative ({config.beta})."
    )
    torch.manual_seed(config.seed)
    device = device_for(config)
    return {"encoder": Encoder(config).to(device), "decoder": Decoder(config).to(device)}


# %% 4. Loss (Q2)
def reconstruction_loss(images, reconstructions):
    """Squared error summed over each image's pixels and channels, then averaged over the batch."""
    # BEGIN SOLUTION Q2
    return (reconstructions - images).square().flatten(start_dim=1).sum(dim=1).mean()
    # END SOLUTION Q2


def kl_divergence(mean, log_variance):
    """KL(N(mean, exp(log_variance)) ‖ N(0, I)), summed over latent dimensions, batch-averaged."""
    # BEGIN SOLUTION Q2
    per_example = -0.5 * (1 + log_variance - mean.square() - log_variance.exp()).sum(dim=1)
    return per_example.mean()
    # END SOLUTION Q2


# %% 5. Training step (Q3)
class VAE(nn.Module):
    """Encoder → reparameterised sample → decoder: the path a training step differentiates."""

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, images):
        # BEGIN SOLUTION Q3
        mean, log_variance = self.encoder(images)
        return self.decoder(reparameterize(mean, log_variance)), mean, log_variance
        # END SOLUTION Q3


def train_step(vae, optimizer, images, beta):
    # BEGIN SOLUTION Q3
    reconstructions, mean, log_variance = vae(images)
    reconstruction = reconstruction_loss(images, reconstructions)
    kl = kl_divergence(mean, log_variance)
    loss = reconstruction + beta * kl  # the negative ELBO (up to a constant) when beta is 1
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return {"reconstruction": reconstruction.item(), "kl": kl.item(), "loss": loss.item()}
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step loss history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    vae = VAE(networks["encoder"], networks["decoder"])
    optimizer = torch.optim.Adam(vae.parameters(), lr=config.lr)
    device = device_for(config)
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.images, config))
    history = run.history({"reconstruction": [], "kl": [], "loss": []})
    for step in run.steps(optimizer, f"{TOPIC} {FRAMEWORK}"):
        losses = train_step(vae, optimizer, next(stream).to(device), config.beta)
        for name, value in losses.items():
            history[name].append(value)
        if callback:
            callback(step, networks)
    return networks, history


# %% 7. Inference (Q4)
@torch.no_grad()
def encode(networks, images):
    """NHWC images in [-1, 1] → (mean, log_variance), NumPy float32 arrays, (N, latent_dim) each."""
    # BEGIN SOLUTION Q4
    encoder = networks["encoder"]
    device = next(encoder.parameters()).device
    x = torch.from_numpy(np.asarray(images, dtype=np.float32)).permute(0, 3, 1, 2).to(device)
    mean, log_variance = encoder(x)
    return mean.cpu().numpy(), log_variance.cpu().numpy()
    # END SOLUTION Q4


@torch.no_grad()
def decode(networks, latents):
    """(N, latent_dim) latent vectors → NHWC float32 images in [-1, 1]."""
    # BEGIN SOLUTION Q4
    decoder = networks["decoder"]
    device = next(decoder.parameters()).device
    z = torch.from_numpy(np.asarray(latents, dtype=np.float32)).to(device)
    return decoder(z).clamp(-1, 1).permute(0, 2, 3, 1).cpu().numpy()
    # END SOLUTION Q4


def reconstruct(networks, images):
    """NHWC images in [-1, 1] → reconstructions: each image's latent mean, decoded (no noise)."""
    # BEGIN SOLUTION Q4
    mean, _ = encode(networks, images)
    return decode(networks, mean)
    # END SOLUTION Q4


def sample(networks, count, seed=0):
    """``count`` new NHWC images in [-1, 1]: latents drawn from the prior N(0, I), decoded."""
    # BEGIN SOLUTION Q4
    latent_dim = networks["decoder"].latent_dim
    z = np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)
    return decode(networks, z)
    # END SOLUTION Q4


def fixed_latents(config, count=64):
    """The latents of every sample grid, the same in every framework."""
    return np.random.default_rng(config.seed).standard_normal(
        (count, config.latent_dim), dtype=np.float32
    )


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="Variational Auto Encoder in PyTorch")
    data = gendojo.load_dataset(config)
    fixed = data.images[:16]  # the same images in every grid, so grids are comparable over time

    prior = fixed_latents(config, len(fixed))  # the same draws from N(0, I) in every grid

    def samples(networks):  # rows: the fixed images, their reconstructions, decoded prior draws
        return [fixed, reconstruct(networks, fixed), decode(networks, prior)]

    networks, _, out = gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples)
    if config.latent_plots:
        paths = latent_plots.save_all(
            partial(encode, networks),
            partial(decode, networks),
            data,
            out,
            f"{TOPIC} · {FRAMEWORK}",
        )
        print(f"wrote {out}/: {', '.join(path.name for path in paths)}")


if __name__ == "__main__":
    gendojo.run_main(main)
