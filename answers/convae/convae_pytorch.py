# %% [markdown]
# # Convolutional Auto Encoder — PyTorch
#
# Two convolutions, each followed by a 2×2 max-pool, squeeze an image to a quarter of its size;
# two stride-2 transposed convolutions bring it back to full size.
# Question sheet: questions/convae.md. Run: `python answers/convae/convae_pytorch.py --help`.

# %% 1. Config
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

import gendojo

TOPIC, FRAMEWORK = "convae", "pytorch"


@dataclass
class Config:
    dataset: str = "shapes"
    data_dir: str = ""
    image_size: int = 32  # must be divisible by 4: two 2×2 pools down, two stride-2 layers up
    channels: int = 3
    dataset_size: int = 4096
    steps: int = 1000
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
        self.conv1 = nn.Conv2d(config.channels, 32, kernel_size=3, stride=1, padding=1)
        self.conv2 = nn.Conv2d(32, 16, kernel_size=3, stride=1, padding=1)
        # END SOLUTION Q1

    def forward(self, x):
        # BEGIN SOLUTION Q1
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)  # (N, 32, 16, 16)
        return nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)  # (N, 16, 8, 8)
        # END SOLUTION Q1


class Decoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        self.deconv1 = nn.ConvTranspose2d(16, 32, kernel_size=2, stride=2)
        self.deconv2 = nn.ConvTranspose2d(32, config.channels, kernel_size=2, stride=2)
        # END SOLUTION Q1

    def forward(self, z):
        # BEGIN SOLUTION Q1
        z = torch.relu(self.deconv1(z))  # (N, 32, 16, 16)
        return self.deconv2(z)  # (N, 3, 32, 32); no activation: a raw estimate
        # END SOLUTION Q1


def build(config):
    gendojo.check(
        config.image_size % 4 == 0,
        f"--image-size {config.image_size} is not divisible by 4: the encoder halves it twice and "
        f"the decoder doubles it twice, so only multiples of 4 come back at the same size.",
    )
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
    config = gendojo.parse_args(Config, argv, description="Convolutional Auto Encoder in PyTorch")
    data = gendojo.load_dataset(config)
    fixed = data.images[:16]  # the same images in every grid, so grids are comparable over time

    def samples(networks):  # the fixed images above their reconstructions
        return [fixed, reconstruct(networks, fixed)]

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples)


if __name__ == "__main__":
    gendojo.run_main(main)
