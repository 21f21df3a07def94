# %% [markdown]
# # Generative Adversarial Network — Keras 3 (keras and keras.ops only: any backend)
#
# Two multilayer perceptrons play a game: G turns noise into images, D tells them from real ones.
# Question sheet: questions/gan.md. Run: `python answers/gan/gan_keras.py --help`.

# %% 1. Config
from dataclasses import dataclass, field

import keras
import numpy as np
from keras import layers, ops

import gendojo
from gendojo import gan_metrics, quality
from gendojo.keras_tools import TrainingMode

TOPIC, FRAMEWORK = "gan", "keras"


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
def Generator(config):
    # BEGIN SOLUTION Q1
    shape = (config.image_size, config.image_size, config.channels)
    return keras.Sequential(
        [
            keras.Input((config.latent_dim,)),
            layers.Dense(128),  # (N, 128)
            layers.LeakyReLU(0.2),
            layers.Dense(256),  # (N, 256)
            layers.LeakyReLU(0.2),
            layers.Dense(512),  # (N, 512)
            layers.LeakyReLU(0.2),
            layers.Dense(int(np.prod(shape)), activation="tanh"),  # (N, 768) in [-1, 1]
            layers.Reshape(shape),  # (N, 16, 16, 3)
        ],
        name="generator",
    )
    # END SOLUTION Q1


def Discriminator(config):
    # BEGIN SOLUTION Q1
    shape = (config.image_size, config.image_size, config.channels)
    return keras.Sequential(
        [
            keras.Input(shape),
            layers.Flatten(),  # (N, 768)
            layers.Dense(512),  # (N, 512)
            layers.LeakyReLU(0.2),
            layers.Dropout(config.dropout),  # without it G never learns one of the six shapes
            layers.Dense(256),  # (N, 256)
            layers.LeakyReLU(0.2),
            layers.Dropout(config.dropout),
            layers.Dense(1),  # (N, 1): a logit, no sigmoid here, the loss applies it
        ],
        name="discriminator",
    )
    # END SOLUTION Q1


def build(config):
    keras.utils.set_random_seed(config.seed)
    with keras.device(device_for(config)):
        return {"generator": Generator(config), "discriminator": Discriminator(config)}


# %% 4. Loss (Q2)
# Keras calls a compiled loss as loss(y_true, y_pred): hence (targets, logits) in this section
def discriminator_loss(targets, logits):
    """Sigmoid cross-entropy on a batch of real (target 1) then fake (target 0): log 2 at a draw."""
    # BEGIN SOLUTION Q2
    return ops.mean(ops.binary_crossentropy(targets, logits, from_logits=True))
    # END SOLUTION Q2


def generator_loss(targets, logits):
    """The non-saturating loss: G maximises log D(G(z)) by calling its fakes real (target 1)."""
    # BEGIN SOLUTION Q2
    return ops.mean(ops.binary_crossentropy(targets, logits, from_logits=True))
    # END SOLUTION Q2


# %% 5. Training step (Q3)
def train_step(networks, trainers, images, latents):
    # BEGIN SOLUTION Q3
    discriminator = networks["discriminator"]
    n = len(images)
    # G in training mode, compiled (gendojo/keras_tools.py); NumPy, so cut off from G
    fakes = trainers["fakes"].predict_on_batch(latents)
    # D first, on real and fake in one batch. Keras reads `trainable` at every update, so D is
    # switched on for its own and off for G's (questions/gan.md, the frozen-discriminator trap).
    discriminator.trainable = True
    targets = np.concatenate([np.ones((n, 1)), np.zeros((n, 1))]).astype(np.float32)
    d_loss = discriminator.train_on_batch(np.concatenate([images, fakes]), targets)
    discriminator.trainable = False  # the combined model G → D updates G alone
    g_loss = trainers["generator"].train_on_batch(latents, np.ones((n, 1), dtype=np.float32))
    return {"d_loss": float(d_loss), "g_loss": float(g_loss)}
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    generator, discriminator = networks["generator"], networks["discriminator"]
    with keras.device(device_for(config)):
        # BEGIN SOLUTION Q3
        adam = dict(learning_rate=config.lr, beta_1=config.beta1, epsilon=1e-8)  # 1e-8 as torch's
        discriminator.trainable = True
        discriminator.compile(optimizer=keras.optimizers.Adam(**adam), loss=discriminator_loss)
        discriminator.trainable = False
        latents = keras.Input((config.latent_dim,))
        combined = keras.Model(latents, discriminator(generator(latents)), name="combined")
        combined.compile(optimizer=keras.optimizers.Adam(**adam), loss=generator_loss)
        # G's update, and G's forward pass that makes D's fakes
        trainers = {"generator": combined, "fakes": TrainingMode(generator)}
        # END SOLUTION Q3
        run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
        stream = run.stream(batches(data.images, config))
        # NumPy noise: the same numbers in all four frameworks, its state saved with the run
        noise = run.noise(np.random.default_rng(config.seed + 1))  # not the grid's noise
        fixed = fixed_latents(config)  # the diversity check's samples: main's grid
        history = run.history({"d_loss": [], "g_loss": [], "diversity": []})
        optimizers = {
            "discriminator": discriminator.optimizer,
            "generator": trainers["generator"].optimizer,
        }
        for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
            images = next(stream)
            latents = noise.standard_normal((len(images), config.latent_dim), dtype=np.float32)
            losses = train_step(networks, trainers, images, latents)
            for name, value in losses.items():
                history[name].append(value)
            if step % config.diversity_every == 0:  # a mode-collapse alarm, measured now and then
                history["diversity"].append(gan_metrics.diversity(generate(networks, fixed)))
            else:  # and held between measurements (a resumed run finds it in its history)
                history["diversity"].append(history["diversity"][-1])
            if callback:
                callback(step, networks)
    discriminator.trainable = True  # hand D back trainable, as build made it
    return networks, history


# %% 7. Inference (Q4)
def generate(networks, latents):
    """(N, latent_dim) noise → N images, NHWC float32 in [-1, 1]."""
    # BEGIN SOLUTION Q4
    images = networks["generator"].predict_on_batch(np.asarray(latents, dtype=np.float32))
    return ops.convert_to_numpy(images)
    # END SOLUTION Q4


def discriminate(networks, images):
    """NHWC images in [-1, 1] → D's logits, (N, 1) float32: above 0 means "looks real"."""
    # BEGIN SOLUTION Q4
    logits = networks["discriminator"].predict_on_batch(np.asarray(images, dtype=np.float32))
    return ops.convert_to_numpy(logits)
    # END SOLUTION Q4


def fixed_latents(config, count=64):
    """The latents of every sample grid and of the diversity check, the same in every framework."""
    return np.random.default_rng(config.seed).standard_normal(
        (count, config.latent_dim), dtype=np.float32
    )


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="GAN in Keras 3")
    data = gendojo.load_dataset(config)
    fixed = fixed_latents(config)  # the same samples in every grid, and in every framework

    def samples(networks):
        return generate(networks, fixed)

    def score(networks):  # 1000 fresh samples against real images: see gendojo/quality.py
        return quality.score_generator(data, config, lambda z: generate(networks, z))

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples, score)


if __name__ == "__main__":
    gendojo.run_main(main)
