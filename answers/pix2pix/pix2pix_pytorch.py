# %% [markdown]
# # pix2pix — PyTorch
#
# Paired image-to-image translation: a U-Net turns a sketch into a picture, judged patch by patch
# by a PatchGAN and pulled toward the true picture by an L1 term.
# Question sheet: questions/pix2pix.md. Run: `python answers/pix2pix/pix2pix_pytorch.py --help`.

# %% 1. Config
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

import gendojo

TOPIC, FRAMEWORK = "pix2pix", "pytorch"


@dataclass
class Config:
    dataset: str = "shapes"  # its paired view: sources are outline sketches, images the pictures
    data_dir: str = ""
    image_size: int = 32  # a multiple of 2**depth: every encoder level halves it
    channels: int = 3
    dataset_size: int = 2048
    depth: int = field(default=4, metadata={"help": "U-Net levels (stride-2 convolutions)"})
    g_width: int = field(default=32, metadata={"help": "channels of G's first level (paper: 64)"})
    d_width: int = field(default=64, metadata={"help": "channels of D's first layer (paper: 64)"})
    l1_weight: float = field(default=100.0, metadata={"help": "λ, the weight of the L1 term"})
    steps: int = 1000
    batch_size: int = 16
    lr: float = 2e-4
    beta1: float = field(
        default=0.5, metadata={"help": "Adam's β1; 0.5 rather than 0.9 steadies the game"}
    )
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
def batches(sources, targets, config):
    """Endless shuffled (source, target) NCHW pairs, shuffled together so pairs stay pairs."""
    pairs = [torch.from_numpy(array).permute(0, 3, 1, 2) for array in (sources, targets)]
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(*pairs),
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=len(sources) >= config.batch_size,
        generator=torch.Generator().manual_seed(config.seed),
    )
    while True:
        yield from loader


# %% 3. Models (Q1)
def widths(config):
    """Channels per U-Net level: doubling from g_width, capped at 8 × g_width as in the paper."""
    return [config.g_width * 2 ** min(level, 3) for level in range(config.depth)]


class Generator(nn.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        chans = widths(config)  # (32, 64, 128, 256): down to (N, 256, 2, 2), then back up
        self.down = nn.ModuleList()
        for level, (cin, cout) in enumerate(
            zip([config.channels, *chans[:-1]], chans, strict=True)
        ):
            conv = nn.Conv2d(cin, cout, 4, stride=2, padding=1)
            norm = nn.BatchNorm2d(cout, momentum=0.1, eps=1e-5) if level else nn.Identity()
            self.down.append(nn.Sequential(conv, norm, nn.LeakyReLU(0.2)))
        self.up = nn.ModuleList()
        for block, level in enumerate(range(config.depth - 2, -1, -1)):
            # the deepest block takes the bottleneck; the others also take the skip beside them
            cin = chans[-1] if block == 0 else 2 * chans[level + 1]
            layers = [nn.ConvTranspose2d(cin, chans[level], 4, stride=2, padding=1)]
            layers.append(nn.BatchNorm2d(chans[level], momentum=0.1, eps=1e-5))
            if block < 2:  # dropout is G's only noise: in the two deepest decoder blocks
                layers.append(nn.Dropout(0.5))
            self.up.append(nn.Sequential(*layers, nn.ReLU()))
        self.out = nn.ConvTranspose2d(2 * chans[0], config.channels, 4, stride=2, padding=1)
        # END SOLUTION Q1

    def forward(self, x):
        # BEGIN SOLUTION Q1
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        skips.pop()  # the bottleneck itself is no skip
        for block in self.up:
            x = torch.cat([block(x), skips.pop()], dim=1)  # skip connection: concatenate channels
        return torch.tanh(self.out(x))
        # END SOLUTION Q1


class Discriminator(nn.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        w = config.d_width
        self.layers = nn.Sequential(
            # (N, 64, 16, 16), then (N, 128, 8, 8)
            nn.Conv2d(2 * config.channels, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 1, 3, stride=1, padding=1),  # (N, 1, 8, 8): a logit per patch
        )  # fmt: skip
        # END SOLUTION Q1

    def forward(self, sources, targets):
        # BEGIN SOLUTION Q1
        return self.layers(torch.cat([sources, targets], dim=1))  # D judges the pair, not B alone
        # END SOLUTION Q1


def build(config):
    gendojo.check(config.depth >= 2, f"--depth must be at least 2, not {config.depth}")
    gendojo.check(
        config.image_size % 2**config.depth == 0,
        f"--image-size must be a multiple of 2**depth = {2**config.depth} (the U-Net halves it "
        f"{config.depth} times), not {config.image_size}",
    )
    torch.manual_seed(config.seed)
    device = device_for(config)
    networks = {"generator": Generator(config), "discriminator": Discriminator(config)}
    for network in networks.values():
        for module in network.modules():  # Glorot weights, zero biases: as the other three here
            if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        network.to(device)
    return networks


# %% 4. Loss (Q2)
def adversarial_loss(labels, logits):
    """Sigmoid cross-entropy of every patch logit against its label (1 real, 0 fake), averaged."""
    # BEGIN SOLUTION Q2
    return nn.functional.binary_cross_entropy_with_logits(logits, labels)
    # END SOLUTION Q2


def l1_loss(targets, fakes):
    """Mean absolute difference between the true and the generated picture, per pixel."""
    # BEGIN SOLUTION Q2
    return (targets - fakes).abs().mean()
    # END SOLUTION Q2


# %% 5. Training step (Q3)
def train_step(networks, optimizers, sources, targets, l1_weight):
    # BEGIN SOLUTION Q3
    generator, discriminator = networks["generator"], networks["discriminator"]
    n = len(sources)
    # D first: real pairs (A, B) → 1, fake pairs (A, G(A)) → 0, in one batch of 2N.
    with torch.no_grad():
        fakes = generator(sources)
    logits = discriminator(torch.cat([sources, sources]), torch.cat([targets, fakes]))
    labels = torch.cat([torch.ones_like(logits[:n]), torch.zeros_like(logits[n:])])
    d_loss = adversarial_loss(labels, logits)  # the mean over 2N halves D's loss, as the paper does
    optimizers["discriminator"].zero_grad()
    d_loss.backward()
    optimizers["discriminator"].step()
    # Then G, through the updated D: fool D on every patch and stay close to B in L1.
    fakes = generator(sources)
    logits = discriminator(sources, fakes)
    g_loss = adversarial_loss(torch.ones_like(logits), logits)
    l1 = l1_loss(targets, fakes)
    optimizers["generator"].zero_grad()
    (g_loss + l1_weight * l1).backward()
    optimizers["generator"].step()  # only G's: D's stray gradients are cleared next time
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item(), "l1": l1.item()}
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train G to turn ``data.sources`` into ``data.images``; return the networks and the history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    gendojo.check(
        data.sources is not None,
        "pix2pix needs pairs: use --dataset shapes, "
        "or paired with --data-dir DIR holding A/ and B/",
    )
    gendojo.check(config.batch_size >= 2, "--batch-size must be at least 2 for BatchNorm")
    networks = networks or build(config)
    adam = dict(lr=config.lr, betas=(config.beta1, 0.999))
    optimizers = {
        name: torch.optim.Adam(network.parameters(), **adam) for name, network in networks.items()
    }
    device = device_for(config)
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.sources, data.images, config))
    history = run.history({"d_loss": [], "g_loss": [], "l1": []})
    for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
        sources, targets = next(stream)
        losses = train_step(
            networks, optimizers, sources.to(device), targets.to(device), config.l1_weight
        )
        for name, value in losses.items():
            history[name].append(value)
        if callback:
            callback(step, networks)
    return networks, history


# %% 7. Inference (Q4)
@torch.no_grad()
def translate(networks, sources):
    """NHWC sources in [-1, 1] → G's pictures, NHWC float32 in [-1, 1]; no dropout."""
    # BEGIN SOLUTION Q4
    generator = networks["generator"]
    device = next(generator.parameters()).device
    x = torch.from_numpy(np.asarray(sources, dtype=np.float32)).permute(0, 3, 1, 2).to(device)
    training = generator.training
    generator.eval()  # running BatchNorm statistics and no dropout: one answer per sketch
    y = generator(x)
    generator.train(training)
    return y.permute(0, 2, 3, 1).cpu().numpy()
    # END SOLUTION Q4


@torch.no_grad()
def discriminate(networks, sources, targets):
    """NHWC pairs → D's patch logits, (N, H/4, W/4, 1) float32: above 0 means "looks real"."""
    # BEGIN SOLUTION Q4
    discriminator = networks["discriminator"]
    device = next(discriminator.parameters()).device
    a, b = (
        torch.from_numpy(np.asarray(x, dtype=np.float32)).permute(0, 3, 1, 2).to(device)
        for x in (sources, targets)
    )
    return discriminator(a, b).permute(0, 2, 3, 1).cpu().numpy()
    # END SOLUTION Q4


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="pix2pix in PyTorch")
    data = gendojo.load_dataset(config)
    gendojo.check(
        data.sources is not None,
        "pix2pix needs pairs: use --dataset shapes, "
        "or paired with --data-dir DIR holding A/ and B/",
    )
    sources, targets = data.sources[:8], data.images[:8]  # the same pairs in every grid

    def samples(networks):  # rows: sketch, G's picture, the true picture
        return [sources, translate(networks, sources), targets]

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples)


if __name__ == "__main__":
    gendojo.run_main(main)
