# %% [markdown]
# # pix2pix — Chainer (Chain, links, functions, chainer.optimizers)
#
# Paired image-to-image translation: a U-Net turns a sketch into a picture, judged patch by patch
# by a PatchGAN and pulled toward the true picture by an L1 term.
# Question sheet: questions/pix2pix.md. Run: `python answers/pix2pix/pix2pix_chainer.py --help`.

# %% 1. Config
from dataclasses import dataclass, field
from functools import partial

import numpy as np

import gendojo
from gendojo.chainer_compat import import_chainer

chainer = import_chainer()  # Chainer 7.8.1 predates NumPy 2: this backfills the two names it needs
F, L = chainer.functions, chainer.links

TOPIC, FRAMEWORK = "pix2pix", "chainer"


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
    gpu = chainer.get_device("@cupy:0") if chainer.backends.cuda.available else None
    return gendojo.choose_device(config, gpu, chainer.get_device("@numpy"), "Chainer")


# %% 2. Data
def batches(sources, targets, config):
    """Endless shuffled (source, target) NCHW pairs: a TupleDataset keeps each pair together."""
    dataset = chainer.datasets.TupleDataset(
        *(np.ascontiguousarray(array.transpose(0, 3, 1, 2)) for array in (sources, targets))
    )
    order = chainer.iterators.ShuffleOrderSampler(np.random.RandomState(config.seed))
    iterator = chainer.iterators.SerialIterator(
        dataset, min(config.batch_size, len(sources)), repeat=True, order_sampler=order
    )
    device = device_for(config)
    while True:
        yield chainer.dataset.concat_examples(iterator.next(), device)


# %% 3. Models (Q1)
def widths(config):
    """Channels per U-Net level: doubling from g_width, capped at 8 × g_width as in the paper."""
    return [config.g_width * 2 ** min(level, 3) for level in range(config.depth)]


class Generator(chainer.Chain):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        chans = widths(config)  # (32, 64, 128, 256): down to (N, 256, 2, 2), then back up
        glorot = chainer.initializers.GlorotUniform()  # as the other three; Chainer's is LeCun
        leaky_relu = partial(F.leaky_relu, slope=0.2)
        with self.init_scope():
            self.down = chainer.ChainList()
            for level, (cin, cout) in enumerate(
                zip([config.channels, *chans[:-1]], chans, strict=True)
            ):
                conv = L.Convolution2D(cin, cout, 4, stride=2, pad=1, initialW=glorot)
                norm = L.BatchNormalization(cout, decay=0.9, eps=1e-5) if level else F.identity
                self.down.append(chainer.Sequential(conv, norm, leaky_relu))
            self.up = chainer.ChainList()
            for block, level in enumerate(range(config.depth - 2, -1, -1)):
                # the deepest block takes the bottleneck; the others also take the skip beside them
                cin = chans[-1] if block == 0 else 2 * chans[level + 1]
                layers = [L.Deconvolution2D(cin, chans[level], 4, stride=2, pad=1, initialW=glorot)]
                layers.append(L.BatchNormalization(chans[level], decay=0.9, eps=1e-5))
                if block < 2:  # dropout is G's only noise: in the two deepest decoder blocks
                    layers.append(partial(F.dropout, ratio=0.5))  # active in train mode only
                self.up.append(chainer.Sequential(*layers, F.relu))
            self.out = L.Deconvolution2D(
                2 * chans[0], config.channels, 4, stride=2, pad=1, initialW=glorot
            )
        # END SOLUTION Q1

    def forward(self, x):
        # BEGIN SOLUTION Q1
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        skips.pop()  # the bottleneck itself is no skip
        for block in self.up:
            x = F.concat([block(x), skips.pop()], axis=1)  # skip connection: concatenate channels
        return F.tanh(self.out(x))
        # END SOLUTION Q1


class Discriminator(chainer.Chain):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        w = config.d_width
        glorot = chainer.initializers.GlorotUniform()
        leaky_relu = partial(F.leaky_relu, slope=0.2)
        with self.init_scope():
            self.layers = chainer.Sequential(
                # (N, 64, 16, 16), then (N, 128, 8, 8)
                L.Convolution2D(2 * config.channels, w, 4, stride=2, pad=1, initialW=glorot),
                leaky_relu,
                L.Convolution2D(w, 2 * w, 4, stride=2, pad=1, initialW=glorot),
                leaky_relu,
                # (N, 1, 8, 8): a logit per patch, no sigmoid
                L.Convolution2D(2 * w, 1, 3, stride=1, pad=1, initialW=glorot),
            )
        # END SOLUTION Q1

    def forward(self, sources, targets):
        # BEGIN SOLUTION Q1
        return self.layers(F.concat([sources, targets], axis=1))  # D judges the pair, not B alone
        # END SOLUTION Q1


def build(config):
    gendojo.check(config.depth >= 2, f"--depth must be at least 2, not {config.depth}")
    gendojo.check(
        config.image_size % 2**config.depth == 0,
        f"--image-size must be a multiple of 2**depth = {2**config.depth} (the U-Net halves it "
        f"{config.depth} times), not {config.image_size}",
    )
    np.random.seed(config.seed)  # Chainer's initializers and F.dropout draw from NumPy's global one
    device = device_for(config)
    networks = {"generator": Generator(config), "discriminator": Discriminator(config)}
    for network in networks.values():
        network.to_device(device)
    return networks


# %% 4. Loss (Q2)
def adversarial_loss(labels, logits):
    """Sigmoid cross-entropy of every patch logit against its label (1 real, 0 fake), averaged."""
    # BEGIN SOLUTION Q2
    return F.sigmoid_cross_entropy(logits, labels, normalize=True)  # mean over every patch
    # END SOLUTION Q2


def l1_loss(targets, fakes):
    """Mean absolute difference between the true and the generated picture, per pixel."""
    # BEGIN SOLUTION Q2
    return F.mean_absolute_error(fakes, targets)
    # END SOLUTION Q2


# %% 5. Training step (Q3)
def train_step(networks, optimizers, sources, targets, l1_weight):
    # BEGIN SOLUTION Q3
    generator, discriminator = networks["generator"], networks["discriminator"]
    xp, n = generator.xp, len(sources)
    # D first: real pairs (A, B) → 1, fake pairs (A, G(A)) → 0, in one batch of 2N.
    with chainer.no_backprop_mode():
        fakes = generator(sources).array
    logits = discriminator(xp.concatenate([sources, sources]), xp.concatenate([targets, fakes]))
    labels = xp.zeros(logits.shape, dtype=np.int32)  # Chainer wants integer labels here
    labels[:n] = 1
    d_loss = adversarial_loss(labels, logits)  # the mean over 2N halves D's loss, as the paper does
    discriminator.cleargrads()
    d_loss.backward()
    optimizers["discriminator"].update()
    # Then G, through the updated D: fool D on every patch and stay close to B in L1.
    fakes = generator(sources)
    logits = discriminator(sources, fakes)
    g_loss = adversarial_loss(xp.ones(logits.shape, dtype=np.int32), logits)
    l1 = l1_loss(targets, fakes)
    generator.cleargrads()
    (g_loss + l1_weight * l1).backward()
    optimizers["generator"].update()  # only G's: D's stray gradients are cleared next time
    return {"d_loss": float(d_loss.array), "g_loss": float(g_loss.array), "l1": float(l1.array)}
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
    optimizers = {}
    for name, network in networks.items():
        optimizers[name] = chainer.optimizers.Adam(
            alpha=config.lr, beta1=config.beta1
        )  # alpha: the lr
        optimizers[name].setup(network)
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.sources, data.images, config))
    history = run.history({"d_loss": [], "g_loss": [], "l1": []})
    for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
        sources, targets = next(stream)
        losses = train_step(networks, optimizers, sources, targets, config.l1_weight)
        for name, value in losses.items():
            history[name].append(value)
        if callback:
            callback(step, networks)
    return networks, history


# %% 7. Inference (Q4)
def translate(networks, sources):
    """NHWC sources in [-1, 1] → G's pictures, NHWC float32 in [-1, 1]; no dropout."""
    # BEGIN SOLUTION Q4
    generator = networks["generator"]
    x = generator.xp.asarray(np.asarray(sources, dtype=np.float32).transpose(0, 3, 1, 2))
    # train=False: running BatchNorm statistics and no dropout, so one answer per sketch
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        y = generator(x)
    return chainer.backends.cuda.to_cpu(y.array).transpose(0, 2, 3, 1)
    # END SOLUTION Q4


def discriminate(networks, sources, targets):
    """NHWC pairs → D's patch logits, (N, H/4, W/4, 1) float32: above 0 means "looks real"."""
    # BEGIN SOLUTION Q4
    discriminator = networks["discriminator"]
    a, b = (
        discriminator.xp.asarray(np.asarray(x, dtype=np.float32).transpose(0, 3, 1, 2))
        for x in (sources, targets)
    )
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        logits = discriminator(a, b)
    return chainer.backends.cuda.to_cpu(logits.array).transpose(0, 2, 3, 1)
    # END SOLUTION Q4


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="pix2pix in Chainer")
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
