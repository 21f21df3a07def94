# %% [markdown]
# # Auto Encoder — PyTorch
#
# An hourglass of two dense layers learns to copy images through a 64-number bottleneck.
# Question sheet: questions/ae.md. Run: `python answers/ae/ae_pytorch.py --help`.

# %% 1. Config
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

import gendojo

TOPIC, FRAMEWORK = "ae", "pytorch"


@dataclass
class Config:
    dataset: str = "shapes"
    data_dir: str = ""
    image_size: int = 32
    channels: int = 3
    dataset_size: int = 4096
    latent_dim: int = 64  # the bottleneck: far fewer numbers than the 32·32·3 = 3072 inputs
    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    out: str = ""
    device: str = "auto"
    resume: bool = False
    sample_every: int = 500
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
        self.dense = nn.Linear(pixels, config.latent_dim)
        # END SOLUTION Q1

    def forward(self, x):
        # BEGIN SOLUTION Q1
        return torch.relu(self.dense(x.flatten(start_dim=1)))  # (N, 64)
        # END SOLUTION Q1


class Decoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        self.shape = (config.channels, config.image_size, config.image_size)
        self.dense = nn.Linear(config.latent_dim, int(np.prod(self.shape)))
        # END SOLUTION Q1

    def forward(self, z):
        # BEGIN SOLUTION Q1
        # no activation: the output is a raw estimate
        return self.dense(z).view(-1, *self.shape)  # (N, 3, 32, 32)
        # END SOLUTION Q1


def build(config):
    torch.manual_seed(config.seed)
    device = device_for(config)
    return {"encoder": Encoder(config).to(device), "decoder": Decoder(config).to(device)}


# %% 4. Loss (Q2)
def reconstruction_loss(images, reconstructions):
    """Mean squared error over every pixel and channel of the batch."""
    # BEGIN SOLUTION Q2
    return nn.functional.mse_loss(reconstructions, images)
    # END SOLUTION Q2


# %% 5. Training step (Q3)
def train_step(networks, optimizer, images):
    # BEGIN SOLUTION Q3
    encoder, decoder = networks["encoder"], networks["decoder"]
    loss = reconstruction_loss(images, decoder(encoder(images)))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return {"loss": loss.item()}
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step loss history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    parameters = [p for network in networks.values() for p in network.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=config.lr)
    device = device_for(config)
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.images, config))
    history = run.history({"loss": []})
    for step in run.steps(optimizer, f"{TOPIC} {FRAMEWORK}"):
        losses = train_step(networks, optimizer, next(stream).to(device))
        for name, value in losses.items():
            history[name].append(value)
        if callback:
            callback(step, networks)
    return networks, history


# %% 7. Inference (Q4)
@torch.no_grad()
def reconstruct(networks, images):
    """NHWC images in [-1, 1] → their reconstructions, NHWC float32 clipped to [-1, 1]."""
    # BEGIN SOLUTION Q4
    encoder, decoder = networks["encoder"], networks["decoder"]
    device = next(encoder.parameters()).device
    x = torch.from_numpy(np.asarray(images, dtype=np.float32)).permute(0, 3, 1, 2).to(device)
    y = decoder(encoder(x)).clamp(-1, 1)
    return y.permute(0, 2, 3, 1).cpu().numpy()
    # END SOLUTION Q4


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="Auto Encoder in PyTorch")
    data = gendojo.load_dataset(config)
    fixed = data.images[:16]  # the same images in every grid, so grids are comparable over time

    def samples(networks):  # the fixed images above their reconstructions
        return [fixed, reconstruct(networks, fixed)]

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples)


if __name__ == "__main__":
    gendojo.run_main(main)
