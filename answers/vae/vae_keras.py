# %% [markdown]
# # Variational Auto Encoder — Keras 3 (keras and keras.ops only: any backend)
#
# The encoder maps each image to a Gaussian over a 2-D latent space; training samples from it
# with the reparameterisation trick and pays a KL penalty for straying from N(0, I), so decoding
# noise drawn from N(0, I) gives new images. Question sheet: questions/vae.md.
# Run: `python answers/vae/vae_keras.py --help`.

# %% 1. Config
from dataclasses import dataclass, field
from functools import partial

import keras
import numpy as np
from keras import layers, ops

import gendojo
from gendojo import latent as latent_plots

TOPIC, FRAMEWORK = "vae", "keras"


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
    # A new tensor lands on the backend's default device: a GPU ("GPU:0", "cuda:0") if it found one.
    default = str(ops.zeros(()).device).lower()
    gpu = "gpu:0" if "gpu" in default or "cuda" in default else None
    # "cpu", not "cpu:0": the torch backend would copy every weight there and lose its gradient
    return gendojo.choose_device(config, gpu, "cpu", "Keras")


# %% 2. Data
def batches(images, config):
    """Endless shuffled NHWC batches as NumPy arrays (Keras keeps channels last)."""
    rng = np.random.default_rng(config.seed)
    size = min(config.batch_size, len(images))
    while True:
        order = rng.permutation(len(images))
        for start in range(0, len(images) - size + 1, size):
            yield images[order[start : start + size]]


# %% 3. Models (Q1)
def Encoder(config):
    # BEGIN SOLUTION Q1
    images = keras.Input((config.image_size, config.image_size, config.channels))
    h = layers.Dense(config.hidden_dim, activation="relu")(layers.Flatten()(images))  # (N, 256)
    # log σ², not σ: any real output is valid
    mean = layers.Dense(config.latent_dim, name="mean")(h)  # (N, 2)
    log_variance = layers.Dense(config.latent_dim, name="log_variance")(h)  # (N, 2)
    return keras.Model(images, [mean, log_variance], name="encoder")
    # END SOLUTION Q1


def Decoder(config):
    # BEGIN SOLUTION Q1
    shape = (config.image_size, config.image_size, config.channels)
    return keras.Sequential(
        [
            keras.Input((config.latent_dim,)),
            layers.Dense(config.hidden_dim, activation="relu"),  # (N, 256)
            layers.Dense(int(np.prod(shape)), activation="tanh"),  # tanh: images live in [-1, 1]
            layers.Reshape(shape),  # (N, 32, 32, 3)
        ],
        name="decoder",
    )
    # END SOLUTION Q1


def reparameterize(mean, log_variance, seed=None):
    """z = mean + σ·ε, ε ~ N(0, I): the randomness sits in ε, so gradients reach mean and σ."""
    # BEGIN SOLUTION Q1
    # ε from ``seed``, a keras.random.SeedGenerator (None: Keras' global one, seeded in build)
    epsilon = keras.random.normal(ops.shape(mean), seed=seed)
    return mean + ops.exp(0.5 * log_variance) * epsilon
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
    keras.utils.set_random_seed(config.seed)
    with keras.device(device_for(config)):
        return {"encoder": Encoder(config), "decoder": Decoder(config)}


# %% 4. Loss (Q2)
def reconstruction_loss(images, reconstructions):
    """Squared error summed over each image's pixels and channels, then averaged over the batch."""
    # BEGIN SOLUTION Q2
    return ops.mean(ops.sum(ops.square(reconstructions - images), axis=(1, 2, 3)))
    # END SOLUTION Q2


def kl_divergence(mean, log_variance):
    """KL(N(mean, exp(log_variance)) ‖ N(0, I)), summed over latent dimensions, batch-averaged."""
    # BEGIN SOLUTION Q2
    per_example = -0.5 * ops.sum(
        1 + log_variance - ops.square(mean) - ops.exp(log_variance), axis=1
    )
    return ops.mean(per_example)
    # END SOLUTION Q2


# %% 5. Training step (Q3)
class VAE(keras.Model):
    """Encoder → reparameterised sample → decoder: the path a training step differentiates.

    Keras' own train step (one per backend) calls ``compute_loss``; overriding it, rather than
    ``train_step``, keeps this answer free of backend-specific gradient code.
    """

    def __init__(self, encoder, decoder, beta=1.0, seed=0):
        super().__init__(name="vae")
        self.encoder, self.decoder, self.beta = encoder, decoder, beta
        self.noise = keras.random.SeedGenerator(seed)  # ε's random state, traced as a variable
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def call(self, images):
        # BEGIN SOLUTION Q3
        mean, log_variance = self.encoder(images)
        return self.decoder(reparameterize(mean, log_variance, self.noise)), mean, log_variance
        # END SOLUTION Q3

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # BEGIN SOLUTION Q3
        reconstructions, mean, log_variance = y_pred
        images = ops.convert_to_tensor(x)  # the torch backend hands x over as it was given: NumPy
        reconstruction = reconstruction_loss(images, reconstructions)
        kl = kl_divergence(mean, log_variance)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        # the negative ELBO (up to a constant) when beta is 1
        return reconstruction + self.beta * kl
        # END SOLUTION Q3


def train_step(vae, images):
    # BEGIN SOLUTION Q3
    # no optimizer or beta argument: Keras compiled the optimizer into vae, β is in compute_loss
    # train_on_batch resets the metrics first, so each value is this batch's, not a running mean.
    logs = vae.train_on_batch(images, return_dict=True)
    return {name: float(logs[name]) for name in ("reconstruction", "kl", "loss")}
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step loss history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    with keras.device(device_for(config)):
        # BEGIN SOLUTION Q3
        vae = VAE(networks["encoder"], networks["decoder"], config.beta, config.seed)
        vae.compile(optimizer=keras.optimizers.Adam(learning_rate=config.lr))
        # END SOLUTION Q3
        run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
        run.noise(vae.noise)  # saved with the run and restored, so a resumed run draws the same ε
        stream = run.stream(batches(data.images, config))
        history = run.history({"reconstruction": [], "kl": [], "loss": []})
        for step in run.steps(vae.optimizer, f"{TOPIC} {FRAMEWORK}"):
            losses = train_step(vae, next(stream))
            for name, value in losses.items():
                history[name].append(value)
            if callback:
                callback(step, networks)
    return networks, history


# %% 7. Inference (Q4)
def encode(networks, images):
    """NHWC images in [-1, 1] → (mean, log_variance), NumPy float32 arrays, (N, latent_dim) each."""
    # BEGIN SOLUTION Q4
    mean, log_variance = networks["encoder"].predict_on_batch(np.asarray(images, dtype=np.float32))
    return ops.convert_to_numpy(mean), ops.convert_to_numpy(log_variance)
    # END SOLUTION Q4


def decode(networks, latents):
    """(N, latent_dim) latent vectors → NHWC float32 images in [-1, 1]."""
    # BEGIN SOLUTION Q4
    images = networks["decoder"].predict_on_batch(np.asarray(latents, dtype=np.float32))
    return np.clip(ops.convert_to_numpy(images), -1, 1)
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
    latent_dim = networks["decoder"].input_shape[-1]
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
    config = gendojo.parse_args(Config, argv, description="Variational Auto Encoder in Keras 3")
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
