# %% [markdown]
# # Variational Auto Encoder — TensorFlow
#
# TensorFlow core: tf.Module, tf.nn, tf.GradientTape, tf.function, tf.data; no Keras.
#
# The encoder maps each image to a Gaussian over a 2-D latent space; training samples from it
# with the reparameterisation trick and pays a KL penalty for straying from N(0, I), so decoding
# noise drawn from N(0, I) gives new images. Question sheet: questions/vae.md.
# Run: `python answers/vae/vae_tensorflow.py --help`.

# %% 1. Config
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import tensorflow as tf

import gendojo
from gendojo import latent as latent_plots
from gendojo import tf_core

TOPIC, FRAMEWORK = "vae", "tensorflow"


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
    gpu = "/GPU:0" if tf.config.list_physical_devices("GPU") else None
    return gendojo.choose_device(config, gpu, "/CPU:0", "TensorFlow")


# %% 2. Data
def batches(images, config):
    """Endless shuffled NHWC batches from tf.data (TensorFlow keeps channels last)."""
    dataset = tf.data.Dataset.from_tensor_slices(images)
    dataset = dataset.shuffle(len(images), seed=config.seed).repeat()
    return iter(dataset.batch(min(config.batch_size, len(images)), drop_remainder=True))


# %% 3. Models (Q1)
class Encoder(tf.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        pixels = config.image_size * config.image_size * config.channels
        self.hidden = tf_core.Dense(pixels, config.hidden_dim)
        self.mean = tf_core.Dense(config.hidden_dim, config.latent_dim)
        self.log_variance = tf_core.Dense(config.hidden_dim, config.latent_dim)
        # END SOLUTION Q1

    def __call__(self, x):
        # BEGIN SOLUTION Q1
        h = tf.nn.relu(self.hidden(tf.reshape(x, [tf.shape(x)[0], -1])))  # (N, 256)
        # log σ², not σ: any real output is valid
        return self.mean(h), self.log_variance(h)  # (N, 2) each
        # END SOLUTION Q1


class Decoder(tf.Module):
    def __init__(self, config):
        super().__init__()
        # BEGIN SOLUTION Q1
        self.latent_dim = config.latent_dim
        self.shape = (config.image_size, config.image_size, config.channels)
        self.hidden = tf_core.Dense(config.latent_dim, config.hidden_dim)
        self.output = tf_core.Dense(config.hidden_dim, int(np.prod(self.shape)))
        # END SOLUTION Q1

    def __call__(self, z):
        # BEGIN SOLUTION Q1
        h = tf.nn.relu(self.hidden(z))  # (N, 256)
        x = tf.tanh(self.output(h))  # tanh: images live in [-1, 1]
        return tf.reshape(x, [-1, *self.shape])  # (N, 32, 32, 3)
        # END SOLUTION Q1


def reparameterize(mean, log_variance, seed=None):
    """z = mean + σ·ε, ε ~ N(0, I): the randomness sits in ε, so gradients reach mean and σ."""
    # BEGIN SOLUTION Q1
    # ε from ``seed``, a tf.random.Generator: its state is a variable a resumed run restores
    epsilon = (seed or tf.random.get_global_generator()).normal(tf.shape(mean))
    return mean + tf.exp(0.5 * log_variance) * epsilon
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
    tf.random.set_seed(config.seed)
    with tf.device(device_for(config)):
        return {"encoder": Encoder(config), "decoder": Decoder(config)}


# %% 4. Loss (Q2)
def reconstruction_loss(images, reconstructions):
    """Squared error summed over each image's pixels and channels, then averaged over the batch."""
    # BEGIN SOLUTION Q2
    return tf.reduce_mean(tf.reduce_sum(tf.square(reconstructions - images), axis=[1, 2, 3]))
    # END SOLUTION Q2


def kl_divergence(mean, log_variance):
    """KL(N(mean, exp(log_variance)) ‖ N(0, I)), summed over latent dimensions, batch-averaged."""
    # BEGIN SOLUTION Q2
    per_example = -0.5 * tf.reduce_sum(
        1 + log_variance - tf.square(mean) - tf.exp(log_variance), axis=1
    )
    return tf.reduce_mean(per_example)
    # END SOLUTION Q2


# %% 5. Training step (Q3)
class VAE(tf.Module):
    """Encoder → reparameterised sample → decoder: the path a training step differentiates."""

    def __init__(self, encoder, decoder, seed=0):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.noise = tf.random.Generator.from_seed(seed)  # ε's random state, traced as a variable

    def __call__(self, images):
        # BEGIN SOLUTION Q3
        mean, log_variance = self.encoder(images)
        return self.decoder(reparameterize(mean, log_variance, self.noise)), mean, log_variance
        # END SOLUTION Q3


@tf.function  # traced once into a graph, then run as a graph at every step
def train_step(vae, optimizer, images, beta):
    # BEGIN SOLUTION Q3
    with tf.GradientTape() as tape:
        reconstructions, mean, log_variance = vae(images)
        reconstruction = reconstruction_loss(images, reconstructions)
        kl = kl_divergence(mean, log_variance)
        loss = reconstruction + beta * kl  # the negative ELBO (up to a constant) when beta is 1
    variables = vae.trainable_variables
    gradients = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(gradients, variables, strict=True))
    return {"reconstruction": reconstruction, "kl": kl, "loss": loss}
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step loss history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    vae = VAE(networks["encoder"], networks["decoder"], config.seed)
    optimizer = tf_core.Adam(vae.trainable_variables, learning_rate=config.lr)
    run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
    run.noise(vae.noise)  # saved with the run and restored, so a resumed run draws the same ε
    stream = run.stream(batches(data.images, config))
    history = run.history({"reconstruction": [], "kl": [], "loss": []})
    with tf.device(device_for(config)):
        for step in run.steps(optimizer, f"{TOPIC} {FRAMEWORK}"):
            losses = train_step(vae, optimizer, next(stream), config.beta)
            for name, value in losses.items():
                history[name].append(float(value))
            if callback:
                callback(step, networks)
    return networks, history


# %% 7. Inference (Q4)
def encode(networks, images):
    """NHWC images in [-1, 1] → (mean, log_variance), NumPy float32 arrays, (N, latent_dim) each."""
    # BEGIN SOLUTION Q4
    mean, log_variance = networks["encoder"](
        tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    )
    return mean.numpy(), log_variance.numpy()
    # END SOLUTION Q4


def decode(networks, latents):
    """(N, latent_dim) latent vectors → NHWC float32 images in [-1, 1]."""
    # BEGIN SOLUTION Q4
    z = tf.convert_to_tensor(np.asarray(latents, dtype=np.float32))
    return tf.clip_by_value(networks["decoder"](z), -1.0, 1.0).numpy()
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
    config = gendojo.parse_args(Config, argv, description="Variational Auto Encoder in TensorFlow")
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
