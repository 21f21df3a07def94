# %% [markdown]
# # Deep Convolutional GAN — Keras 3 (keras and keras.ops only: any backend)
#
# The GAN game played by convolutional networks, built by the DCGAN rules.
# Question sheet: questions/dcgan.md. Run: `python answers/dcgan/dcgan_keras.py --help`.

# %% 1. Config
from dataclasses import dataclass, field

import keras
import numpy as np
from keras import layers, ops

import gendojo
from gendojo import gan_metrics, quality
from gendojo.keras_tools import TrainingMode

TOPIC, FRAMEWORK = "dcgan", "keras"


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
    size = config.image_size // 16
    top, c1, c2, c3 = (max(1, round(n * config.g_width)) for n in (256, 512, 256, 128))

    def normal():  # N(0, 0.02), a new one per layer: an unseeded initializer repeats its draw
        return keras.initializers.RandomNormal(stddev=0.02)

    def up(channels, **kwargs):  # doubles the size: cropped 2 before and 1 after, as PyTorch's
        # padding=2, output_padding=1 ("same" would crop 1 before and 2 after: a one-pixel shift)
        convolution = layers.Conv2DTranspose(
            channels, 5, strides=2, kernel_initializer=normal(), **kwargs
        )
        return [convolution, layers.Cropping2D(((2, 1), (2, 1)))]

    def norm():
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

    # shapes at the default config: N noises of 100 → N images of 32 × 32 × 3
    return keras.Sequential(
        [
            keras.Input((config.latent_dim,)),
            layers.Dense(size * size * top, kernel_initializer=normal()),
            layers.Reshape((size, size, top)), norm(), layers.ReLU(),  # (N, 2, 2, 64)
            *up(c1), norm(), layers.ReLU(),  # (N, 4, 4, 128)
            *up(c2), norm(), layers.ReLU(),  # (N, 8, 8, 64)
            *up(c3), norm(), layers.ReLU(),  # (N, 16, 16, 32)
            *up(config.channels, activation="tanh"),  # (N, 32, 32, 3); no BatchNorm at G's output
        ],
        name="generator",
    )  # fmt: skip
    # END SOLUTION Q1


def Discriminator(config):
    # BEGIN SOLUTION Q1
    shape = (config.image_size, config.image_size, config.channels)
    c1, c2, c3, c4 = (max(1, round(n * config.d_width)) for n in (32, 64, 128, 256))

    def normal():  # N(0, 0.02), a new one per layer: an unseeded initializer repeats its draw
        return keras.initializers.RandomNormal(stddev=0.02)

    def down(channels):  # stride 2 instead of pooling; 2 pixels of padding on every side, as
        # PyTorch's padding=2 ("same" pads 1 before and 2 after)
        convolution = layers.Conv2D(channels, 5, strides=2, kernel_initializer=normal())
        return [layers.ZeroPadding2D(2), convolution]

    def norm():
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

    # shapes at the default config: N images of 32 × 32 × 3 → N logits
    return keras.Sequential(
        [
            keras.Input(shape),
            *down(c1), layers.LeakyReLU(0.2),  # (N, 16, 16, 16); no BatchNorm at D's input
            *down(c2), norm(), layers.LeakyReLU(0.2),  # (N, 8, 8, 32)
            *down(c3), norm(), layers.LeakyReLU(0.2),  # (N, 4, 4, 64)
            *down(c4), norm(), layers.LeakyReLU(0.2),  # (N, 2, 2, 128)
            layers.Flatten(),
            layers.Dense(1, kernel_initializer=normal()),  # (N, 1): a logit, the loss applies σ
        ],
        name="discriminator",
    )  # fmt: skip
    # END SOLUTION Q1


def build(config):
    gendojo.check(
        config.image_size % 16 == 0,
        f"--image-size must be a multiple of 16 (four stride-2 layers), not {config.image_size}",
    )
    keras.utils.set_random_seed(config.seed)
    with keras.device(device_for(config)):
        return {"generator": Generator(config), "discriminator": Discriminator(config)}


# %% 4. Loss (Q2)
# D's target for real images: 0.9, not 1 (one-sided label smoothing). A D that may grow certain
# lets G hide in a few modes of real data; measured in the sheet's "Real data" section.
REAL_TARGET = 0.9


# (targets, logits), not (real_logits, fake_logits): compile() calls a loss as loss(y_true, y_pred)
def discriminator_loss(targets, logits):
    """Sigmoid cross-entropy on (N, 2) logits, D(real) beside D(fake), targets (1, 0) in every row,
    scaled to (0.9, 0): the mean is (real + fake) / 2, log 2 at a draw."""
    # BEGIN SOLUTION Q2
    return ops.mean(ops.binary_crossentropy(targets * REAL_TARGET, logits, from_logits=True))
    # END SOLUTION Q2


def generator_loss(targets, logits):
    """The non-saturating loss: G maximises log D(G(z)) by calling its fakes real (targets 1)."""
    # BEGIN SOLUTION Q2
    return ops.mean(ops.binary_crossentropy(targets, logits, from_logits=True))
    # END SOLUTION Q2


# %% 5. Training step (Q3)
# trainers where the other frameworks take optimizers: Keras updates through compiled models
def train_step(networks, trainers, images, latents):
    # BEGIN SOLUTION Q3
    n = len(images)
    # G in training mode, compiled (gendojo/keras_tools.py); NumPy, so cut off from G
    fakes = trainers["fakes"].predict_on_batch(latents)
    # D first, real and fake in two passes (BatchNorm: each half its own statistics). Keras
    # reads `trainable` at every update: D's weights thaw for D's update...
    for weight in trainers["discriminator_weights"]:
        weight.trainable = True
    targets = np.tile(np.float32([[1, 0]]), (n, 1))  # every row: D(real) → 1, D(fake) → 0
    d_loss = trainers["discriminator"].train_on_batch([images, fakes], targets)
    # ...and freeze for G's update through the combined model G → D: weight by weight, as a frozen
    # BatchNormalization layer would use its moving averages (see the sheet)
    for weight in trainers["discriminator_weights"]:
        weight.trainable = False
    g_loss = trainers["generator"].train_on_batch(latents, np.ones((n, 1), dtype=np.float32))
    return {"d_loss": float(d_loss), "g_loss": float(g_loss)}
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
    generator, discriminator = networks["generator"], networks["discriminator"]
    rates = {"generator": config.lr, "discriminator": config.d_lr}  # D learns faster than G
    with keras.device(device_for(config)):
        # BEGIN SOLUTION Q3
        adam = dict(beta_1=config.beta1, epsilon=1e-8)  # epsilon 1e-8 as torch's
        # D's trainer: the same D called on a real and on a fake input, its logits side by side
        shape = (config.image_size, config.image_size, config.channels)
        real, fake = keras.Input(shape), keras.Input(shape)
        logits = layers.Concatenate(axis=1)([discriminator(real), discriminator(fake)])
        d_trainer = keras.Model([real, fake], logits, name="discriminator_trainer")
        d_optimizer = keras.optimizers.Adam(learning_rate=rates["discriminator"], **adam)
        d_trainer.compile(optimizer=d_optimizer, loss=discriminator_loss)
        # G's trainer: the classic combined model G → D, with D's weights frozen (see train_step)
        d_weights = discriminator.trainable_weights  # kernels, biases, BatchNorm scales and shifts
        for weight in d_weights:
            weight.trainable = False
        latents = keras.Input((config.latent_dim,))
        combined = keras.Model(latents, discriminator(generator(latents)), name="combined")
        g_optimizer = keras.optimizers.Adam(learning_rate=rates["generator"], **adam)
        combined.compile(optimizer=g_optimizer, loss=generator_loss)
        # and G's forward pass that makes D's fakes
        trainers = {
            "discriminator": d_trainer,
            "generator": combined,
            "fakes": TrainingMode(generator),
            "discriminator_weights": d_weights,
        }
        # END SOLUTION Q3
        run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
        stream = run.stream(batches(data.images, config))
        # NumPy noise: the same numbers in all four frameworks, its state saved with the run;
        # seed + 1, so that the steps' noise is not the grid's (fixed_latents)
        noise = run.noise(np.random.default_rng(config.seed + 1))
        fixed = fixed_latents(config)
        history = run.history({"d_loss": [], "g_loss": [], "diversity": []})
        optimizers = {name: trainers[name].optimizer for name in ("discriminator", "generator")}
        for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
            for name, optimizer in optimizers.items():  # a variable: the compiled step reads it
                optimizer.learning_rate = decayed(rates[name], step, config)
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
    for weight in trainers["discriminator_weights"]:  # hand D back trainable, as build made it
        weight.trainable = True
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
    # predict_on_batch runs in inference mode: BatchNorm uses its moving statistics
    images = networks["generator"].predict_on_batch(np.asarray(latents, dtype=np.float32))
    return ops.convert_to_numpy(images)
    # END SOLUTION Q4


def discriminate(networks, images):
    """NHWC images in [-1, 1] → D's logits, (N, 1) float32: above 0 means "looks real"."""
    # BEGIN SOLUTION Q4
    logits = networks["discriminator"].predict_on_batch(np.asarray(images, dtype=np.float32))
    return ops.convert_to_numpy(logits)
    # END SOLUTION Q4


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="DCGAN in Keras 3")
    data = gendojo.load_dataset(config)
    fixed = fixed_latents(config)  # the same samples in every grid, and every framework

    def samples(networks):
        return generate(networks, fixed)

    def score(networks):  # 1000 fresh samples against real images: see gendojo/quality.py
        return quality.score_generator(data, config, lambda z: generate(networks, z))

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples, score)


if __name__ == "__main__":
    gendojo.run_main(main)
