# %% [markdown]
# # Conditional GAN — Chainer (Chain, links, functions, chainer.optimizers)
#
# The DCGAN told what to draw: a class label goes into G with the noise, and into D with the image.
# Question sheet: questions/cgan.md. Run: `python answers/cgan/cgan_chainer.py --class 3`.

# %% 1. Config
from dataclasses import dataclass, field
from functools import partial

import numpy as np

import gendojo
from gendojo import gan_metrics, quality
from gendojo.chainer_compat import import_chainer

chainer = import_chainer()  # Chainer 7.8.1 predates NumPy 2: this backfills the two names it needs
F, L = chainer.functions, chainer.links

TOPIC, FRAMEWORK = "cgan", "chainer"


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
    num_classes: int = field(default=6, metadata={"help": "classes in the data set (shapes: 6)"})
    class_id: int = field(
        default=-1, metadata={"help": "class to draw, also --class (-1: one row per class)"}
    )
    steps: int = 2000
    batch_size: int = 32  # 64 draws crisper shapes in twice the time (see the sheet)
    lr: float = 2e-4
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
def batches(images, labels, config):
    """Endless shuffled NCHW batches with one-hot labels (channels before height and width)."""
    onehots = np.eye(config.num_classes, dtype=np.float32)[labels]
    dataset = chainer.datasets.TupleDataset(
        np.ascontiguousarray(images.transpose(0, 3, 1, 2)), onehots
    )
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
        size, self.num_classes = config.image_size // 16, config.num_classes
        top, c1, c2, c3 = (max(1, round(n * config.g_width)) for n in (256, 512, 256, 128))
        normal = chainer.initializers.Normal(0.02)  # the DCGAN paper's N(0, 0.02); biases at 0

        def up(cin, cout, outsize):  # pad=2 gives 2n - 1 pixels: outsize asks for 2n ("same")
            return L.Deconvolution2D(
                cin, cout, 5, stride=2, pad=2, outsize=(outsize,) * 2, initialW=normal
            )

        def norm(c):
            return L.BatchNormalization(c, decay=0.9, eps=1e-5)

        # shapes at the default config: N noises of 100 and N one-hot labels of 6 → N images
        with self.init_scope():
            self.layers = chainer.Sequential(
                L.Linear(
                    config.latent_dim + config.num_classes, size * size * top, initialW=normal
                ),
                partial(F.reshape, shape=(-1, top, size, size)), norm(top), F.relu,  # (N, 64, 2, 2)
                up(top, c1, size * 2), norm(c1), F.relu,  # (N, 128, 4, 4)
                up(c1, c2, size * 4), norm(c2), F.relu,  # (N, 64, 8, 8)
                up(c2, c3, size * 8), norm(c3), F.relu,  # (N, 32, 16, 16)
                up(c3, config.channels, size * 16), F.tanh,  # (N, 3, 32, 32); no BatchNorm here
            )  # fmt: skip
        # END SOLUTION Q1

    def forward(self, z, y):
        # BEGIN SOLUTION Q1
        return self.layers(F.concat((z, y), axis=1))  # (N, 106): the label joins the noise
        # END SOLUTION Q1


class Discriminator(chainer.Chain):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        size, self.num_classes = config.image_size // 16, config.num_classes
        c1, c2, c3, c4 = (max(1, round(n * config.d_width)) for n in (32, 64, 128, 256))
        normal = chainer.initializers.Normal(0.02)
        leaky = partial(F.leaky_relu, slope=0.2)

        def down(cin, cout):  # stride 2 instead of pooling: D learns its own downsampling
            return L.Convolution2D(cin, cout, 5, stride=2, pad=2, initialW=normal)

        def norm(c):
            return L.BatchNormalization(c, decay=0.9, eps=1e-5)

        # shapes at the default config: N images of 3 × 32 × 32 and their labels → N logits
        with self.init_scope():
            self.layers = chainer.Sequential(
                down(config.channels + config.num_classes, c1), leaky,  # (N, 16, 16, 16)
                down(c1, c2), norm(c2), leaky,  # (N, 32, 8, 8)
                down(c2, c3), norm(c3), leaky,  # (N, 64, 4, 4)
                down(c3, c4), norm(c4), leaky,  # (N, 128, 2, 2)
                L.Linear(c4 * size * size, 1, initialW=normal),  # (N, 1): a logit; Linear flattens
            )  # fmt: skip
        # END SOLUTION Q1

    def forward(self, x, y):
        # BEGIN SOLUTION Q1
        n, _, height, width = x.shape  # (N, 6) → (N, 6, 32, 32): a constant plane per class
        maps = F.broadcast_to(F.reshape(y, (n, -1, 1, 1)), (n, y.shape[1], height, width))
        return self.layers(F.concat((x, maps), axis=1))  # (N, 9, 32, 32) in
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
def discriminator_loss(real_logits, fake_logits):
    """Sigmoid cross-entropy, real → 1 and fake → 0, the mean of the two halves: log 2 at a draw."""
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
def train_step(networks, optimizers, images, labels, latents):
    # BEGIN SOLUTION Q3
    generator, discriminator = networks["generator"], networks["discriminator"]
    fakes = generator(latents, labels)  # the real batch's labels: the same class mix
    # D first, on real and fake, each with its label, in two passes (BatchNorm: each half with its
    # own batch statistics); fakes.array is cut off from G's graph.
    d_loss = discriminator_loss(discriminator(images, labels), discriminator(fakes.array, labels))
    discriminator.cleargrads()
    d_loss.backward()
    optimizers["discriminator"].update()
    # Then G, through the freshly updated D (BatchNorm still on batch statistics); only G's
    # optimizer updates.
    g_loss = generator_loss(discriminator(fakes, labels))
    generator.cleargrads()
    g_loss.backward()
    optimizers["generator"].update()
    return {"d_loss": float(d_loss.array), "g_loss": float(g_loss.array)}
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    gendojo.check(
        data.labels is not None and data.labels.max() < config.num_classes,
        f"a conditional GAN needs labels 0 … {config.num_classes - 1}: use a labelled data set "
        f"(shapes, digits, mnist, …, a folder of class folders) and --num-classes to match it",
    )
    networks = networks or build(config)
    optimizers = {}
    for name, network in networks.items():
        optimizers[name] = chainer.optimizers.Adam(alpha=config.lr, beta1=config.beta1, eps=1e-8)
        optimizers[name].setup(network)
    device = device_for(config)
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.images, data.labels, config))
    # NumPy noise: the same numbers in all four frameworks, its state saved with the run;
    # seed + 1, so that the steps' noise is not the grid's (fixed_latents)
    noise = run.noise(np.random.default_rng(config.seed + 1))
    fixed = fixed_latents(config), fixed_labels(config)
    history = run.history({"d_loss": [], "g_loss": [], "diversity": []})
    for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
        images, labels = next(stream)
        latents = device.send(
            noise.standard_normal((len(images), config.latent_dim), dtype=np.float32)
        )
        losses = train_step(networks, optimizers, images, labels, latents)
        for name, value in losses.items():
            history[name].append(value)
        if step % config.diversity_every == 0:  # a mode-collapse alarm, measured now and then
            history["diversity"].append(gan_metrics.diversity(generate(networks, *fixed)))
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


def fixed_labels(config, count=64):
    """The classes beside fixed_latents in the diversity check: each class in turn."""
    return np.arange(count) % config.num_classes


def generate(networks, latents, labels):
    """(N, latent_dim) noise and N class indices → N images of those classes, NHWC in [-1, 1]."""
    # BEGIN SOLUTION Q4
    generator = networks["generator"]
    z = generator.xp.asarray(np.asarray(latents, dtype=np.float32))
    y = generator.xp.asarray(np.eye(generator.num_classes, dtype=np.float32)[np.asarray(labels)])
    # train=False: BatchNorm uses its running statistics, so a sample does not depend on its batch
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        images = generator(z, y)
    return chainer.backends.cuda.to_cpu(images.array).transpose(0, 2, 3, 1)
    # END SOLUTION Q4


def discriminate(networks, images, labels):
    """NHWC images in [-1, 1] and their class indices → D's logits, (N, 1): > 0 "looks real"."""
    # BEGIN SOLUTION Q4
    discriminator = networks["discriminator"]
    x = discriminator.xp.asarray(np.asarray(images, dtype=np.float32).transpose(0, 3, 1, 2))
    y = discriminator.xp.asarray(
        np.eye(discriminator.num_classes, dtype=np.float32)[np.asarray(labels)]
    )
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        logits = discriminator(x, y)
    return chainer.backends.cuda.to_cpu(logits.array)
    # END SOLUTION Q4


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="Conditional GAN in Chainer")
    data = gendojo.load_dataset(config)
    fixed = fixed_latents(config)  # the same samples in every grid, and every framework
    if config.class_id >= 0:  # 64 samples of the asked class
        latents, labels = fixed, np.full(64, config.class_id)
    else:  # one row per class, the same 8 noises in every row: the label alone changes the shape
        latents, labels = (
            np.tile(fixed[:8], (config.num_classes, 1)),
            np.repeat(np.arange(config.num_classes), 8),
        )

    def samples(networks):
        images = generate(networks, latents, labels)
        return (
            images
            if config.class_id >= 0
            else list(images.reshape(config.num_classes, 8, *images.shape[1:]))
        )

    def score(networks):  # 1000 fresh samples, each class asked for in turn: see gendojo/quality.py
        return quality.score_generator(
            data, config, lambda z, y: generate(networks, z, y), num_classes=config.num_classes
        )

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples, score)


if __name__ == "__main__":
    gendojo.run_main(main)
