# %% [markdown]
# # Variational Auto Encoder — Chainer (Chain, links, functions, chainer.optimizers)
#
# The encoder maps each image to a Gaussian over a 2-D latent space; training samples from it
# with the reparameterisation trick and pays a KL penalty for straying from N(0, I), so decoding
# noise drawn from N(0, I) gives new images. Question sheet: questions/vae.md.
# Run: `python answers/vae/vae_chainer.py --help`.

# %% 1. Config
from dataclasses import dataclass, field
from functools import partial

import numpy as np

import gendojo
from gendojo import latent as latent_plots
from gendojo.chainer_compat import import_chainer

chainer = import_chainer()  # Chainer 7.8.1 predates NumPy 2: this backfills the two names it needs
F, L = chainer.functions, chainer.links

TOPIC, FRAMEWORK = "vae", "chainer"


@dataclass
class Config:
    dataset: str = "shapes"
    data_dir: str = ""
    image_size: int = 32
    channels: int = 3
    dataset_size: int = 4096
    latent_dim: int = field(
        default=2, metadata={"help": "latent dimensions (2 can be drawn as a map)"}
    )
    hidden_dim: int = field(default=256, metadata={"help": "units of the hidden dense layers"})
    beta: float = field(
        default=1.0, metadata={"help": "weight of the KL term (1: plain VAE, >1: β-VAE)"}
    )
    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    out: str = ""
    device: str = "auto"
    resume: bool = False
    sample_every: int = 500
    latent_plots: bool = field(
        default=True, metadata={"help": "draw the latent map, lattice and interpolation"}
    )
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
            self.hidden = L.Linear(pixels, config.hidden_dim)
            self.mean = L.Linear(config.hidden_dim, config.latent_dim)
            self.log_variance = L.Linear(config.hidden_dim, config.latent_dim)
        # END SOLUTION Q1

    def forward(self, x):
        # BEGIN SOLUTION Q1
        # L.Linear flattens all axes after the first by itself
        h = F.relu(self.hidden(x))  # (N, 256)
        # log σ², not σ: any real output is valid
        return self.mean(h), self.log_variance(h)  # (N, 2) each
        # END SOLUTION Q1


class Decoder(chainer.Chain):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        self.latent_dim = config.latent_dim
        self.shape = (config.channels, config.image_size, config.image_size)
        with self.init_scope():
            self.hidden = L.Linear(config.latent_dim, config.hidden_dim)
            self.output = L.Linear(config.hidden_dim, int(np.prod(self.shape)))
        # END SOLUTION Q1

    def forward(self, z):
        # BEGIN SOLUTION Q1
        h = F.relu(self.hidden(z))  # (N, 256)
        x = F.tanh(self.output(h))  # tanh: images live in [-1, 1]
        return F.reshape(x, (-1, *self.shape))  # (N, 3, 32, 32)
        # END SOLUTION Q1


def reparameterize(mean, log_variance, seed=None):
    """z = mean + σ·ε, ε ~ N(0, I): the randomness sits in ε, so gradients reach mean and σ."""
    # BEGIN SOLUTION Q1
    # F.gaussian(mean, log_variance) does the same in one call; spelled out here to be seen.
    # ε from ``seed``, a NumPy (CuPy) generator (None: the global one, seeded in build)
    xp = chainer.backend.get_array_module(mean)
    epsilon = (seed or xp.random).standard_normal(mean.shape).astype(np.float32)
    return mean + F.exp(0.5 * log_variance) * epsilon
    # END SOLUTION Q1


def build(config):
    gendojo.check(
        config.latent_dim >= 1, f"--latent-dim must be at least 1, not {config.latent_dim}."
    )
    gendojo.check(
        config.latent_dim >= 2 or not config.latent_plots,
        "the latent plots draw two latent dimensions: use --latent-dim 2 or more, "
        "or --no-latent-plots.",
    )
    gendojo.check(
        config.beta >= 0, f"--beta weights the KL term and cannot be negative ({config.beta})."
    )
    np.random.seed(config.seed)  # Chainer's initializers draw from NumPy's global generator
    device = device_for(config)
    networks = {"encoder": Encoder(config), "decoder": Decoder(config)}
    for network in networks.values():
        network.to_device(device)
    return networks


# %% 4. Loss (Q2)
def reconstruction_loss(images, reconstructions):
    """Squared error summed over each image's pixels and channels, then averaged over the batch."""
    # BEGIN SOLUTION Q2
    return F.sum(F.square(reconstructions - images)) / len(images)
    # END SOLUTION Q2


def kl_divergence(mean, log_variance):
    """KL(N(mean, exp(log_variance)) ‖ N(0, I)), summed over latent dimensions, batch-averaged."""
    # BEGIN SOLUTION Q2
    # F.gaussian_kl_divergence(mean, log_variance) gives the batch's sum; divide it by the batch
    per_example = -0.5 * F.sum(1 + log_variance - F.square(mean) - F.exp(log_variance), axis=1)
    return F.mean(per_example)
    # END SOLUTION Q2


# %% 5. Training step (Q3)
class VAE(chainer.Chain):
    """Encoder → reparameterised sample → decoder: the path a training step differentiates."""

    def __init__(self, encoder, decoder):
        super().__init__()
        with self.init_scope():
            self.encoder, self.decoder = encoder, decoder

    def forward(self, images):
        # BEGIN SOLUTION Q3
        mean, log_variance = self.encoder(images)
        return self.decoder(reparameterize(mean, log_variance)), mean, log_variance
        # END SOLUTION Q3


def train_step(vae, optimizer, images, beta):
    # BEGIN SOLUTION Q3
    reconstructions, mean, log_variance = vae(images)
    reconstruction = reconstruction_loss(images, reconstructions)
    kl = kl_divergence(mean, log_variance)
    loss = reconstruction + beta * kl  # the negative ELBO (up to a constant) when beta is 1
    vae.cleargrads()
    loss.backward()
    optimizer.update()
    return {
        "reconstruction": float(reconstruction.array),
        "kl": float(kl.array),
        "loss": float(loss.array),
    }
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step loss history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    vae = VAE(networks["encoder"], networks["decoder"])
    optimizer = chainer.optimizers.Adam(alpha=config.lr)  # Chainer calls the learning rate alpha
    optimizer.setup(vae)
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    stream = run.stream(batches(data.images, config))
    history = run.history({"reconstruction": [], "kl": [], "loss": []})
    for step in run.steps(optimizer, f"{TOPIC} {FRAMEWORK}"):
        losses = train_step(vae, optimizer, next(stream), config.beta)
        for name, value in losses.items():
            history[name].append(value)
        if callback:
            callback(step, networks)
    return networks, history


# %% 7. Inference (Q4)
def encode(networks, images):
    """NHWC images in [-1, 1] → (mean, log_variance), NumPy float32 arrays, (N, latent_dim) each."""
    # BEGIN SOLUTION Q4
    encoder = networks["encoder"]
    x = encoder.xp.asarray(np.asarray(images, dtype=np.float32).transpose(0, 3, 1, 2))
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        mean, log_variance = encoder(x)
    to_cpu = chainer.backends.cuda.to_cpu
    return to_cpu(mean.array), to_cpu(log_variance.array)
    # END SOLUTION Q4


def decode(networks, latents):
    """(N, latent_dim) latent vectors → NHWC float32 images in [-1, 1]."""
    # BEGIN SOLUTION Q4
    decoder = networks["decoder"]
    z = decoder.xp.asarray(np.asarray(latents, dtype=np.float32))
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        y = F.clip(decoder(z), -1.0, 1.0)
    return chainer.backends.cuda.to_cpu(y.array).transpose(0, 2, 3, 1)
    # END SOLUTION Q4


def reconstruct(networks, images):
    """NHWC images in [-1, 1] → reconstructions: each image's latent mean, decoded (no noise)."""
    # BEGIN SOLUTION Q4
    mean, _ = encode(networks, images)
    return decode(networks, mean)
    # END SOLUTION Q4


def sample(networks, count, seed=0):
    """``count`` new NHWC images in [-1, 1]: latents drawn from the prior N(0, I), decoded."""
    # BEGIN SOLUTION Q4
    latent_dim = networks["decoder"].latent_dim
    z = np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)
    return decode(networks, z)
    # END SOLUTION Q4


def fixed_latents(config, count=64):
    """The latents of every sample grid, the same in every framework."""
    return np.random.default_rng(config.seed).standard_normal(
        (count, config.latent_dim), dtype=np.float32
    )


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="Variational Auto Encoder in Chainer")
    data = gendojo.load_dataset(config)
    fixed = data.images[:16]  # the same images in every grid, so grids are comparable over time

    prior = fixed_latents(config, len(fixed))  # the same draws from N(0, I) in every grid

    def samples(networks):  # rows: the fixed images, their reconstructions, decoded prior draws
        return [fixed, reconstruct(networks, fixed), decode(networks, prior)]

    networks, _, out = gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples)
    if config.latent_plots:
        paths = latent_plots.save_all(
            partial(encode, networks),
            partial(decode, networks),
            data,
            out,
            f"{TOPIC} · {FRAMEWORK}",
        )
        print(f"wrote {out}/: {', '.join(path.name for path in paths)}")


if __name__ == "__main__":
    gendojo.run_main(main)
