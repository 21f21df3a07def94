# %% [markdown]
# # Auto Encoder — Chainer (Chain, links, functions, chainer.optimizers)
#
# An hourglass of two dense layers learns to copy images through a 64-number bottleneck.
# Question sheet: questions/ae.md. Run: `python answers/ae/ae_chainer.py --help`.

# %% 1. Config
from dataclasses import dataclass

import numpy as np

import gendojo
from gendojo.chainer_compat import import_chainer

chainer = import_chainer()  # Chainer 7.8.1 predates NumPy 2: this backfills the two names it needs
F, L = chainer.functions, chainer.links

TOPIC, FRAMEWORK = "ae", "chainer"


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
class Encoder(chainer.Chain):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        pixels = config.image_size * config.image_size * config.channels
        with self.init_scope():
            self.dense = L.Linear(pixels, config.latent_dim)
        # END SOLUTION Q1

    def forward(self, x):
        # BEGIN SOLUTION Q1
        # L.Linear flattens all axes after the first by itself
        return F.relu(self.dense(x))  # (N, 64)
        # END SOLUTION Q1


class Decoder(chainer.Chain):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        self.shape = (config.channels, config.image_size, config.image_size)
        with self.init_scope():
            self.dense = L.Linear(config.latent_dim, int(np.prod(self.shape)))
        # END SOLUTION Q1

    def forward(self, z):
        # BEGIN SOLUTION Q1
        # no activation: the output is a raw estimate
        return F.reshape(self.dense(z), (-1, *self.shape))  # (N, 3, 32, 32)
        # END SOLUTION Q1


def build(config):
    np.random.seed(config.seed)  # Chainer's initializers draw from NumPy's global generator
    device = device_for(config)
    networks = {"encoder": Encoder(config), "decoder": Decoder(config)}
    for network in networks.values():
        network.to_device(device)
    return networks


# %% 4. Loss (Q2)
def reconstruction_loss(images, reconstructions):
    """Mean squared error over every pixel and channel of the batch."""
    # BEGIN SOLUTION Q2
    return F.mean_squared_error(reconstructions, images)
    # END SOLUTION Q2


# %% 5. Training step (Q3)
def train_step(networks, optimizer, images):
    # BEGIN SOLUTION Q3
    encoder, decoder = networks["encoder"], networks["decoder"]
    loss = reconstruction_loss(images, decoder(encoder(images)))
    optimizer.target.cleargrads()
    loss.backward()
    optimizer.update()
    return {"loss": float(loss.array)}
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step loss history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    optimizer = chainer.optimizers.Adam(alpha=config.lr)  # Chainer calls the learning rate alpha
    optimizer.setup(chainer.Sequential(networks["encoder"], networks["decoder"]))
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.images, config))
    history = run.history({"loss": []})
    for step in run.steps(optimizer, f"{TOPIC} {FRAMEWORK}"):
        losses = train_step(networks, optimizer, next(stream))
        for name, value in losses.items():
            history[name].append(value)
        if callback:
            callback(step, networks)
    return networks, history


# %% 7. Inference (Q4)
def reconstruct(networks, images):
    """NHWC images in [-1, 1] → their reconstructions, NHWC float32 clipped to [-1, 1]."""
    # BEGIN SOLUTION Q4
    encoder, decoder = networks["encoder"], networks["decoder"]
    x = encoder.xp.asarray(np.asarray(images, dtype=np.float32).transpose(0, 3, 1, 2))
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        y = F.clip(decoder(encoder(x)), -1.0, 1.0)
    return chainer.backends.cuda.to_cpu(y.array).transpose(0, 2, 3, 1)
    # END SOLUTION Q4


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="Auto Encoder in Chainer")
    data = gendojo.load_dataset(config)
    fixed = data.images[:16]  # the same images in every grid, so grids are comparable over time

    def samples(networks):  # the fixed images above their reconstructions
        return [fixed, reconstruct(networks, fixed)]

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples)


if __name__ == "__main__":
    gendojo.run_main(main)
