# %% [markdown]
# # Deep Convolutional GAN — Chainer (Chain, links, functions, chainer.optimizers)
#
# The GAN game played by convolutional networks, built by the DCGAN rules.
# Question sheet: questions/dcgan.md. Run: `python answers/dcgan/dcgan_chainer.py --help`.

# %% 1. Config
from dataclasses import dataclass, field
from functools import partial

import numpy as np

import gendojo
from gendojo import gan_metrics, quality
from gendojo.chainer_compat import import_chainer

chainer = import_chainer()  # Chainer 7.8.1 predates NumPy 2: this backfills the two names it needs
F, L = chainer.functions, chainer.links

TOPIC, FRAMEWORK = "dcgan", "chainer"


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
    gpu = chainer.get_device("@cupy:0") if chainer.backends.cuda.available else None
    return gendojo.choose_device(config, gpu, chainer.get_device("@numpy"), "Chainer")


# %% 2. Data
def batches(images, config):
    """Endless shuffled NCHW batches: Chainer, as PyTorch, puts channels before height and width."""
    dataset = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    order = chainer.iterators.ShuffleOrderSampler(np.random.RandomState(config.seed))
    iterator = chainer.iterators.SerialIterator(
        dataset, min(config.batch_size, len(images)), repeat=True, order_sampler=order
    )
    device = device_for(config)
    while True:
        yield chainer.dataset.concat_examples(iterator.next(), device)


# %% 3. Models (Q1)
class Generator(chainer.Chain):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        size = config.image_size // 16
        top, c1, c2, c3 = (max(1, round(n * config.g_width)) for n in (256, 512, 256, 128))
        normal = chainer.initializers.Normal(0.02)  # the DCGAN paper's N(0, 0.02); biases at 0

        def up(cin, cout, outsize):  # pad=2 gives 2n - 1 pixels: outsize asks for 2n ("same")
            return L.Deconvolution2D(
                cin, cout, 5, stride=2, pad=2, outsize=(outsize,) * 2, initialW=normal
            )

        def norm(c):
            return L.BatchNormalization(c, decay=0.9, eps=1e-5)

        # shapes at the default config: N noises of 100 → N images
        with self.init_scope():
            self.layers = chainer.Sequential(
                L.Linear(config.latent_dim, size * size * top, initialW=normal),
                partial(F.reshape, shape=(-1, top, size, size)), norm(top), F.relu,  # (N, 64, 2, 2)
                up(top, c1, size * 2), norm(c1), F.relu,  # (N, 128, 4, 4)
                up(c1, c2, size * 4), norm(c2), F.relu,  # (N, 64, 8, 8)
                up(c2, c3, size * 8), norm(c3), F.relu,  # (N, 32, 16, 16)
                up(c3, config.channels, size * 16), F.tanh,  # (N, 3, 32, 32); no BatchNorm here
            )  # fmt: skip
        # END SOLUTION Q1

    def forward(self, z):
        # BEGIN SOLUTION Q1
        return self.layers(z)
        # END SOLUTION Q1


class Discriminator(chainer.Chain):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        size = config.image_size // 16
        c1, c2, c3, c4 = (max(1, round(n * config.d_width)) for n in (32, 64, 128, 256))
        normal = chainer.initializers.Normal(0.02)
        leaky = partial(F.leaky_relu, slope=0.2)

        def down(cin, cout):  # stride 2 instead of pooling: D learns its own downsampling
            return L.Convolution2D(cin, cout, 5, stride=2, pad=2, initialW=normal)

        def norm(c):
            return L.BatchNormalization(c, decay=0.9, eps=1e-5)

        # shapes at the default config: N images of 3 × 32 × 32 → N logits
        with self.init_scope():
            self.layers = chainer.Sequential(
                down(config.channels, c1), leaky,  # (N, 16, 16, 16); no BatchNorm here
                down(c1, c2), norm(c2), leaky,  # (N, 32, 8, 8)
                down(c2, c3), norm(c3), leaky,  # (N, 64, 4, 4)
                down(c3, c4), norm(c4), leaky,  # (N, 128, 2, 2)
                L.Linear(c4 * size * size, 1, initialW=normal),  # (N, 1): a logit; Linear flattens
            )  # fmt: skip
        # END SOLUTION Q1

    def forward(self, x):
        # BEGIN SOLUTION Q1
        # BatchNorm follows chainer.config.train: batch statistics in training, running ones after
        return self.layers(x)
        # END SOLUTION Q1


def build(config):
    gendojo.check(
        config.image_size % 16 == 0,
        f"--image-size must be a multiple of 16 (four stride-2 layers), not {config.image_size}",
    )
    np.random.seed(config.seed)  # Chainer's initializers draw from NumPy's global generator
    device = device_for(config)
    networks = {"generator": Generator(config), "discriminator": Discriminator(config)}
    for network in networks.values():
        network.to_device(device)
    return networks


# %% 4. Loss (Q2)
# D's target for real images: 0.9, not 1 (one-sided label smoothing). A D that may grow certain
# lets G hide in a few modes of real data; measured in the sheet's "Real data" section.
REAL_TARGET = 0.9


def discriminator_loss(real_logits, fake_logits):
    """Sigmoid cross-entropy, real → 0.9, fake → 0, mean of the two halves: log 2 at a draw."""
    # BEGIN SOLUTION Q2
    xp = chainer.backend.get_array_module(real_logits)
    # F.sigmoid_cross_entropy takes 0/1 labels only; for target t it is softplus(x) - t·x
    real = F.mean(F.softplus(real_logits) - REAL_TARGET * real_logits)
    fake = F.sigmoid_cross_entropy(fake_logits, xp.zeros(fake_logits.shape, dtype=np.int32))
    return (real + fake) / 2
    # END SOLUTION Q2


def generator_loss(fake_logits):
    """The non-saturating loss: G maximises log D(G(z)) by calling its fakes real (target 1)."""
    # BEGIN SOLUTION Q2
    xp = chainer.backend.get_array_module(fake_logits)
    return F.sigmoid_cross_entropy(fake_logits, xp.ones(fake_logits.shape, dtype=np.int32))
    # END SOLUTION Q2


# %% 5. Training step (Q3)
def train_step(networks, optimizers, images, latents):
    # BEGIN SOLUTION Q3
    generator, discriminator = networks["generator"], networks["discriminator"]
    fakes = generator(latents)
    # D first, on real and fake in two passes (BatchNorm: each with its own batch statistics);
    # fakes.array is a plain array, cut off from G's graph. chainer.config.train is True here.
    d_loss = discriminator_loss(discriminator(images), discriminator(fakes.array))
    discriminator.cleargrads()
    d_loss.backward()
    optimizers["discriminator"].update()
    # Then G, through the freshly updated D; only G's optimizer updates.
    g_loss = generator_loss(discriminator(fakes))
    generator.cleargrads()
    g_loss.backward()
    optimizers["generator"].update()
    return {"d_loss": float(d_loss.array), "g_loss": float(g_loss.array)}
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
    optimizers = {}
    for name, network in networks.items():
        optimizers[name] = chainer.optimizers.Adam(alpha=rates[name], beta1=config.beta1, eps=1e-8)
        optimizers[name].setup(network)
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
            optimizer.alpha = decayed(rates[name], step, config)  # Adam's learning rate
        images = next(stream)
        latents = device.send(
            noise.standard_normal((len(images), config.latent_dim), dtype=np.float32)
        )
        losses = train_step(networks, optimizers, images, latents)
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


def generate(networks, latents):
    """(N, latent_dim) noise → N images, NHWC float32 in [-1, 1]."""
    # BEGIN SOLUTION Q4
    generator = networks["generator"]
    z = generator.xp.asarray(np.asarray(latents, dtype=np.float32))
    # train=False: BatchNorm uses its running statistics, so a sample does not depend on its batch
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        images = generator(z)
    return chainer.backends.cuda.to_cpu(images.array).transpose(0, 2, 3, 1)
    # END SOLUTION Q4


def discriminate(networks, images):
    """NHWC images in [-1, 1] → D's logits, (N, 1) float32: above 0 means "looks real"."""
    # BEGIN SOLUTION Q4
    discriminator = networks["discriminator"]
    x = discriminator.xp.asarray(np.asarray(images, dtype=np.float32).transpose(0, 3, 1, 2))
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        logits = discriminator(x)
    return chainer.backends.cuda.to_cpu(logits.array)
    # END SOLUTION Q4


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="DCGAN in Chainer")
    data = gendojo.load_dataset(config)
    fixed = fixed_latents(config)  # the same samples in every grid, and every framework

    def samples(networks):
        return generate(networks, fixed)

    def score(networks):  # 1000 fresh samples against real images: see gendojo/quality.py
        return quality.score_generator(data, config, lambda z: generate(networks, z))

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples, score)


if __name__ == "__main__":
    gendojo.run_main(main)
