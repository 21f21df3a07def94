# %% [markdown]
# # Convolutional Auto Encoder — Chainer (Chain, links, functions, chainer.optimizers)
#
# Two convolutions, each followed by a 2×2 max-pool, squeeze an image to a quarter of its size;
# two stride-2 transposed convolutions bring it back to full size.
# Question sheet: questions/convae.md. Run: `python answers/convae/convae_chainer.py --help`.

# %% 1. Config
from dataclasses import dataclass

import numpy as np

import gendojo
from gendojo.chainer_compat import import_chainer

chainer = import_chainer()  # Chainer 7.8.1 predates NumPy 2: this backfills the two names it needs
F, L = chainer.functions, chainer.links

TOPIC, FRAMEWORK = "convae", "chainer"


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
        with self.init_scope():
            self.conv1 = L.Convolution2D(config.channels, 32, ksize=3, stride=1, pad=1)
            self.conv2 = L.Convolution2D(32, 16, ksize=3, stride=1, pad=1)
        # END SOLUTION Q1

    def forward(self, x):
        # BEGIN SOLUTION Q1
        # cover_all=False: plain floor division of the size, as in the other frameworks
        x = F.max_pooling_2d(F.relu(self.conv1(x)), 2, 2, cover_all=False)  # (N, 32, 16, 16)
        return F.max_pooling_2d(F.relu(self.conv2(x)), 2, 2, cover_all=False)  # (N, 16, 8, 8)
        # END SOLUTION Q1


class Decoder(chainer.Chain):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        size = config.image_size
        with self.init_scope():
            # outsize pins the output size; (H - 1)·2 + 2 = 2H is also what Chainer would infer
            self.deconv1 = L.Deconvolution2D(
                16, 32, ksize=2, stride=2, pad=0, outsize=(size // 2, size // 2)
            )
            self.deconv2 = L.Deconvolution2D(
                32, config.channels, ksize=2, stride=2, pad=0, outsize=(size, size)
            )
        # END SOLUTION Q1

    def forward(self, z):
        # BEGIN SOLUTION Q1
        z = F.relu(self.deconv1(z))  # (N, 32, 16, 16)
        return self.deconv2(z)  # (N, 3, 32, 32); no activation: a raw estimate
        # END SOLUTION Q1


def build(config):
    gendojo.check(
        config.image_size % 4 == 0,
        f"--image-size {config.image_size} is not divisible by 4: the encoder halves it twice and "
        f"the decoder doubles it twice, so only multiples of 4 come back at the same size.",
    )
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
    config = gendojo.parse_args(Config, argv, description="Convolutional Auto Encoder in Chainer")
    data = gendojo.load_dataset(config)
    fixed = data.images[:16]  # the same images in every grid, so grids are comparable over time

    def samples(networks):  # the fixed images above their reconstructions
        return [fixed, reconstruct(networks, fixed)]

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples)


if __name__ == "__main__":
    gendojo.run_main(main)
