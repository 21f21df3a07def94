# %% [markdown]
# # Generative Adversarial Network — Chainer (Chain, links, functions, chainer.optimizers)
#
# Two multilayer perceptrons play a game: G turns noise into images, D tells them from real ones.
# Question sheet: questions/gan.md. Run: `python answers/gan/gan_chainer.py --help`.

# %% 1. Config
from dataclasses import dataclass, field
from functools import partial

import numpy as np

import gendojo
from gendojo import gan_metrics, quality
from gendojo.chainer_compat import import_chainer

chainer = import_chainer()  # Chainer 7.8.1 predates NumPy 2: this backfills the two names it needs
F, L = chainer.functions, chainer.links

TOPIC, FRAMEWORK = "gan", "chainer"


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
    gpu = chainer.get_device("@cupy:0") if chainer.backends.cuda.available else None
    return gendojo.choose_device(config, gpu, chainer.get_device("@numpy"), "Chainer")


# %% 2. Data
def batches(images, config):
    """Endless shuffled NCHW batches: Chainer, like PyTorch, puts channels before height, width."""
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
        self.shape = (config.channels, config.image_size, config.image_size)
        glorot = chainer.initializers.GlorotUniform()  # Chainer's default is LeCun normal
        leaky_relu = partial(F.leaky_relu, slope=0.2)
        with self.init_scope():
            self.layers = chainer.Sequential(
                L.Linear(config.latent_dim, 128, initialW=glorot),  # (N, 128)
                leaky_relu,
                L.Linear(128, 256, initialW=glorot),  # (N, 256)
                leaky_relu,
                L.Linear(256, 512, initialW=glorot),  # (N, 512)
                leaky_relu,
                L.Linear(512, int(np.prod(self.shape)), initialW=glorot),  # (N, 768)
                F.tanh,  # images live in [-1, 1]
            )
        # END SOLUTION Q1

    def forward(self, z):
        # BEGIN SOLUTION Q1
        return F.reshape(self.layers(z), (-1, *self.shape))  # (N, 3, 16, 16)
        # END SOLUTION Q1


class Discriminator(chainer.Chain):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        pixels = config.channels * config.image_size * config.image_size
        glorot = chainer.initializers.GlorotUniform()
        leaky_relu = partial(F.leaky_relu, slope=0.2)
        # dropout, in training mode only (chainer.config.train); without it G never learns one
        # of the six shapes
        dropout = partial(F.dropout, ratio=config.dropout)
        with self.init_scope():
            self.layers = chainer.Sequential(
                L.Linear(pixels, 512, initialW=glorot),  # (N, 512)
                leaky_relu,
                dropout,
                L.Linear(512, 256, initialW=glorot),  # (N, 256)
                leaky_relu,
                dropout,
                L.Linear(256, 1, initialW=glorot),  # (N, 1): a logit, the loss applies the sigmoid
            )
        # END SOLUTION Q1

    def forward(self, x):
        # BEGIN SOLUTION Q1
        return self.layers(x)  # L.Linear flattens the image itself
        # END SOLUTION Q1


def build(config):
    np.random.seed(config.seed)  # Chainer's initializers draw from NumPy's global generator
    device = device_for(config)
    networks = {"generator": Generator(config), "discriminator": Discriminator(config)}
    for network in networks.values():
        network.to_device(device)
    return networks


# %% 4. Loss (Q2)
def discriminator_loss(real_logits, fake_logits):
    """Sigmoid cross-entropy, real → 1 and fake → 0, averaged over both halves: log 2 at a draw."""
    # BEGIN SOLUTION Q2
    xp = chainer.backend.get_array_module(real_logits)
    real = F.sigmoid_cross_entropy(real_logits, xp.ones(real_logits.shape, dtype=np.int32))
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
    # D first, on real and fake; fakes.array is a plain array, cut off from G's graph.
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
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    optimizers = {}
    for name, network in networks.items():
        optimizers[name] = chainer.optimizers.Adam(alpha=config.lr, beta1=config.beta1, eps=1e-8)
        optimizers[name].setup(network)
    device = device_for(config)
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.images, config))
    # NumPy noise: the same numbers in all four frameworks, its state saved with the run
    noise = run.noise(np.random.default_rng(config.seed + 1))  # not the grid's noise
    fixed = fixed_latents(config)  # the diversity check's samples: main's grid
    history = run.history({"d_loss": [], "g_loss": [], "diversity": []})
    for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
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
def generate(networks, latents):
    """(N, latent_dim) noise → N images, NHWC float32 in [-1, 1]."""
    # BEGIN SOLUTION Q4
    generator = networks["generator"]
    z = generator.xp.asarray(np.asarray(latents, dtype=np.float32))
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


def fixed_latents(config, count=64):
    """The latents of every sample grid and of the diversity check, the same in every framework."""
    return np.random.default_rng(config.seed).standard_normal(
        (count, config.latent_dim), dtype=np.float32
    )


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="GAN in Chainer")
    data = gendojo.load_dataset(config)
    fixed = fixed_latents(config)  # the same samples in every grid, and in every framework

    def samples(networks):
        return generate(networks, fixed)

    def score(networks):  # 1000 fresh samples against real images: see gendojo/quality.py
        return quality.score_generator(data, config, lambda z: generate(networks, z))

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples, score)


if __name__ == "__main__":
    gendojo.run_main(main)
