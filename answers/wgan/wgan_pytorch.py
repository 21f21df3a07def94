# %% [markdown]
# # Wasserstein GAN (weight clipping) — PyTorch
#
# The DCGAN's networks trained on the Earth-Mover distance: a critic that scores, clipped weights,
# RMSprop and n_critic critic updates per generator update.
# Question sheet: questions/wgan.md. Run: `python answers/wgan/wgan_pytorch.py --help`.

# %% 1. Config
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

import gendojo
from gendojo import gan_metrics, quality

TOPIC, FRAMEWORK = "wgan", "pytorch"


@dataclass
class Config:
    dataset: str = "simple-shapes"
    data_dir: str = ""
    image_size: int = 16  # a multiple of 16: four stride-2 layers halve or double it four times
    channels: int = 3
    dataset_size: int = 4096
    latent_dim: int = 100
    g_width: float = field(default=0.25, metadata={"help": "scales G's reference channel widths"})
    d_width: float = field(
        default=0.5, metadata={"help": "scales the critic's reference channel widths"}
    )
    # 4000 on the drawn shapes: at 3000 G was still improving and a run now and then left a shape
    # out; on real images 2250 with n_critic 3 (below), which drew the digits best (see the sheet)
    steps: int = field(default=4000, metadata={"real_images": 2250})
    batch_size: int = 64
    # not the paper's 5e-5: in a few CPU minutes G had not left noise or collapse (see the sheet)
    lr: float = 2e-4
    # not the paper's 5 (G stayed collapsed too long). At about the same cost, 2 drew the built-in
    # shapes best and 3 the real digits, so the default follows the data (see the sheet)
    n_critic: int = field(
        default=2, metadata={"help": "critic updates per generator update", "real_images": 3}
    )
    clip: float = field(
        default=0.01, metadata={"help": "every critic weight is clipped to [-clip, clip]"}
    )
    seed: int = 0
    out: str = ""
    device: str = "auto"
    resume: bool = False
    sample_every: int = 200
    diversity_every: int = field(default=25, metadata={"help": "steps between diversity checks"})
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
        self.size = config.image_size // 16
        self.top, c1, c2, c3 = (max(1, round(n * config.g_width)) for n in (256, 512, 256, 128))

        def up(cin, cout):  # "same": padding 2 trims the overhang, output_padding 1 adds a row
            return nn.ConvTranspose2d(cin, cout, 5, stride=2, padding=2, output_padding=1)

        def norm(c):
            return nn.BatchNorm2d(c, momentum=0.1, eps=1e-5)

        self.dense = nn.Linear(config.latent_dim, self.size * self.size * self.top)
        self.norm = norm(self.top)
        self.layers = nn.Sequential(
            up(self.top, c1), norm(c1), nn.ReLU(),  # (N, 128, 2, 2)
            up(c1, c2), norm(c2), nn.ReLU(),  # (N, 64, 4, 4)
            up(c2, c3), norm(c3), nn.ReLU(),  # (N, 32, 8, 8)
            up(c3, config.channels), nn.Tanh(),  # (N, 3, 16, 16); no BatchNorm before the tanh
        )  # fmt: skip
        # END SOLUTION Q1

    def forward(self, z):
        # BEGIN SOLUTION Q1
        x = self.dense(z).view(-1, self.top, self.size, self.size)  # (N, 64, 1, 1)
        return self.layers(torch.relu(self.norm(x)))
        # END SOLUTION Q1


class Critic(nn.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        c1, c2, c3, c4 = (max(1, round(n * config.d_width)) for n in (32, 64, 128, 256))
        size = config.image_size // 16

        def down(cin, cout):
            return nn.Conv2d(cin, cout, 5, stride=2, padding=2)

        # no BatchNorm, unlike the DCGAN's D: here it made the critic worse (see the sheet)
        self.layers = nn.Sequential(
            down(config.channels, c1), nn.LeakyReLU(0.2),  # (N, 16, 8, 8)
            down(c1, c2), nn.LeakyReLU(0.2),  # (N, 32, 4, 4)
            down(c2, c3), nn.LeakyReLU(0.2),  # (N, 64, 2, 2)
            down(c3, c4), nn.LeakyReLU(0.2),  # (N, 128, 1, 1)
            nn.Flatten(),  # (N, 128)
            nn.Linear(c4 * size * size, 1),  # (N, 1): a score, not a probability, no sigmoid
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
    networks = {"generator": Generator(config), "critic": Critic(config)}
    for network in networks.values():
        for module in network.modules():  # the DCGAN paper's N(0, 0.02) weights, zero biases
            if isinstance(module, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
                nn.init.normal_(module.weight, 0.0, 0.02)
                nn.init.zeros_(module.bias)
        network.to(device)
    return networks


# %% 4. Loss (Q2)
def critic_loss(real_scores, fake_scores):
    """mean f(fake) − mean f(real): minimising it raises the critic's Earth-Mover estimate."""
    # BEGIN SOLUTION Q2
    return fake_scores.mean() - real_scores.mean()
    # END SOLUTION Q2


def generator_loss(fake_scores):
    """−mean f(G(z)): G moves its samples to where the critic scores higher."""
    # BEGIN SOLUTION Q2
    return -fake_scores.mean()
    # END SOLUTION Q2


# %% 5. Training step (Q3)
def train_step(networks, optimizers, real_batches, latent_batches, clip):
    """len(real_batches) critic updates, then one generator update with the last noise batch."""
    # BEGIN SOLUTION Q3
    generator, critic = networks["generator"], networks["critic"]
    for images, latents in zip(real_batches, latent_batches[:-1], strict=True):
        with torch.no_grad():  # the critic's update must not reach G: no graph through it
            fakes = generator(latents)
        loss = critic_loss(critic(images), critic(fakes))
        optimizers["critic"].zero_grad()
        loss.backward()
        optimizers["critic"].step()
        # after every critic update, every critic weight (kernels, biases) back into [-clip, clip]
        with torch.no_grad():
            for parameter in critic.parameters():
                parameter.clamp_(-clip, clip)
    # Then G, through the clipped critic; only G's optimizer steps.
    g_loss = generator_loss(critic(generator(latent_batches[-1])))
    optimizers["generator"].zero_grad()
    g_loss.backward()
    optimizers["generator"].step()
    return {"critic_loss": loss.item(), "g_loss": g_loss.item(), "wasserstein": -loss.item()}
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    # RMSprop, no momentum; torch's defaults: alpha 0.99, eps 1e-8 added after the square root
    optimizers = {
        name: torch.optim.RMSprop(network.parameters(), lr=config.lr, alpha=0.99, eps=1e-8)
        for name, network in networks.items()
    }
    device = device_for(config)
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.images, config))
    # NumPy noise: the same numbers in all four frameworks, its state saved with the run
    noise = run.noise(np.random.default_rng(config.seed + 1))  # not the grid's noise
    fixed = fixed_latents(config)  # the diversity check's samples: main's grid
    history = run.history(
        {"critic_loss": [], "g_loss": [], "wasserstein": [], "diversity": [], "critic_updates": []}
    )
    first_weight = next(networks["critic"].parameters())
    for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
        real_batches = [next(stream).to(device) for _ in range(config.n_critic)]
        shape = (len(real_batches[0]), config.latent_dim)
        latent_batches = [  # fresh noise for each critic update, and for G's
            torch.from_numpy(noise.standard_normal(shape, dtype=np.float32)).to(device)
            for _ in range(config.n_critic + 1)
        ]
        losses = train_step(networks, optimizers, real_batches, latent_batches, config.clip)
        for name, value in losses.items():
            history[name].append(value)
        # the critic optimizer's own count of its updates: n_critic more after every step
        history["critic_updates"].append(float(optimizers["critic"].state[first_weight]["step"]))
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
    training = generator.training
    generator.eval()  # BatchNorm's running statistics: a sample does not depend on its batch
    images = generator(z)
    generator.train(training)
    return images.permute(0, 2, 3, 1).cpu().numpy()
    # END SOLUTION Q4


@torch.no_grad()
def critique(networks, images):
    """NHWC images in [-1, 1] → the critic's scores, (N, 1) float32: higher is "more like data"."""
    # BEGIN SOLUTION Q4
    critic = networks["critic"]
    device = next(critic.parameters()).device
    x = torch.from_numpy(np.asarray(images, dtype=np.float32)).permute(0, 3, 1, 2).to(device)
    return critic(x).cpu().numpy()
    # END SOLUTION Q4


def fixed_latents(config, count=64):
    """The latents of every sample grid and of the diversity check, the same in every framework."""
    return np.random.default_rng(config.seed).standard_normal(
        (count, config.latent_dim), dtype=np.float32
    )


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="WGAN (weight clipping) in PyTorch")
    data = gendojo.load_dataset(config)
    fixed = fixed_latents(config)  # the same samples in every grid, and in every framework

    def samples(networks):
        return generate(networks, fixed)

    def score(networks):  # 1000 fresh samples against real images: see gendojo/quality.py
        return quality.score_generator(data, config, lambda z: generate(networks, z))

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples, score)


if __name__ == "__main__":
    gendojo.run_main(main)
