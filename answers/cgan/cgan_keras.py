# %% [markdown]
# # Conditional GAN — Keras 3 (keras and keras.ops only: any backend)
#
# The DCGAN told what to draw: a class label goes into G with the noise, and into D with the image.
# Question sheet: questions/cgan.md. Run: `python answers/cgan/cgan_keras.py --class 3`.

# %% 1. Config
from dataclasses import dataclass, field

import keras
import numpy as np
from keras import layers, ops

import gendojo
from gendojo import gan_metrics, quality
from gendojo.keras_tools import TrainingMode

TOPIC, FRAMEWORK = "cgan", "keras"


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
    # A new tensor lands on the backend's default device: a GPU ("GPU:0", "cuda:0") if it found one.
    default = str(ops.zeros(()).device).lower()
    gpu = "gpu:0" if "gpu" in default or "cuda" in default else None
    # "cpu", not "cpu:0": the torch backend would copy every weight there and lose its gradient
    return gendojo.choose_device(config, gpu, "cpu", "Keras")


# %% 2. Data
def batches(images, labels, config):
    """Endless shuffled NHWC batches with one-hot labels as NumPy arrays (Keras: channels last)."""
    onehots = np.eye(config.num_classes, dtype=np.float32)[labels]
    rng = np.random.default_rng(config.seed)
    size = min(config.batch_size, len(images))
    while True:
        order = rng.permutation(len(images))
        for start in range(0, len(images) - size + 1, size):
            chosen = order[start : start + size]
            yield images[chosen], onehots[chosen]


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
        crop = layers.Cropping2D(((2, 1), (2, 1)))
        return lambda x: crop(convolution(x))

    def norm():
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

    # shapes at the default config: N noises of 100 and N one-hot labels of 6 → N images
    z, y = keras.Input((config.latent_dim,)), keras.Input((config.num_classes,))
    h = layers.Concatenate()([z, y])  # (N, 106): the label joins the noise
    h = layers.Dense(size * size * top, kernel_initializer=normal())(h)
    h = layers.ReLU()(norm()(layers.Reshape((size, size, top))(h)))  # (N, 2, 2, 64)
    h = layers.ReLU()(norm()(up(c1)(h)))  # (N, 4, 4, 128)
    h = layers.ReLU()(norm()(up(c2)(h)))  # (N, 8, 8, 64)
    h = layers.ReLU()(norm()(up(c3)(h)))  # (N, 16, 16, 32)
    images = up(config.channels, activation="tanh")(h)  # (N, 32, 32, 3); no BatchNorm here
    return keras.Model([z, y], images, name="generator")
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
        return lambda x: convolution(layers.ZeroPadding2D(2)(x))

    def norm():
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

    # shapes at the default config: N images of 32 × 32 × 3 and their labels → N logits
    x, y = keras.Input(shape), keras.Input((config.num_classes,))
    # (N, 6) → (N, 1, 1, 6) → (N, 32, 32, 6): a constant plane per class
    maps = layers.UpSampling2D(config.image_size)(layers.Reshape((1, 1, config.num_classes))(y))
    h = layers.Concatenate()([x, maps])  # (N, 32, 32, 9)
    h = layers.LeakyReLU(0.2)(down(c1)(h))  # (N, 16, 16, 16); no BatchNorm at D's input
    h = layers.LeakyReLU(0.2)(norm()(down(c2)(h)))  # (N, 8, 8, 32)
    h = layers.LeakyReLU(0.2)(norm()(down(c3)(h)))  # (N, 4, 4, 64)
    h = layers.LeakyReLU(0.2)(norm()(down(c4)(h)))  # (N, 2, 2, 128)
    logits = layers.Dense(1, kernel_initializer=normal())(layers.Flatten()(h))  # (N, 1): a logit
    return keras.Model([x, y], logits, name="discriminator")
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
# (targets, logits), not (real_logits, fake_logits): compile() calls a loss as loss(y_true, y_pred)
def discriminator_loss(targets, logits):
    """Sigmoid cross-entropy on rows of (real, fake) logits, targets (1, 0): log 2 at a draw."""
    # BEGIN SOLUTION Q2
    return ops.mean(ops.binary_crossentropy(targets, logits, from_logits=True))
    # END SOLUTION Q2


def generator_loss(targets, logits):
    """The non-saturating loss: G maximises log D(G(z)) by calling its fakes real (targets 1)."""
    # BEGIN SOLUTION Q2
    return ops.mean(ops.binary_crossentropy(targets, logits, from_logits=True))
    # END SOLUTION Q2


# %% 5. Training step (Q3)
# trainers where the other frameworks take optimizers: Keras updates through compiled models
def train_step(networks, trainers, images, labels, latents):
    # BEGIN SOLUTION Q3
    n = len(images)
    # fakes for the real batch's labels; G in training mode, compiled (gendojo/keras_tools.py)
    fakes = trainers["fakes"].predict_on_batch([latents, labels])  # NumPy, so cut off from G
    # D first, real and fake in two passes (BatchNorm: each half its own statistics), each image
    # with its label. Keras reads `trainable` at every update: D's weights thaw for D's update...
    for weight in trainers["discriminator_weights"]:
        weight.trainable = True
    targets = np.tile(np.float32([[1, 0]]), (n, 1))  # every row: D(real) → 1, D(fake) → 0
    d_loss = trainers["discriminator"].train_on_batch([images, fakes, labels], targets)
    # ...and freeze for G's update through the combined model G → D: weight by weight, as a frozen
    # BatchNormalization layer would use its moving averages (see the sheet)
    for weight in trainers["discriminator_weights"]:
        weight.trainable = False
    g_loss = trainers["generator"].train_on_batch(
        [latents, labels], np.ones((n, 1), dtype=np.float32)
    )
    return {"d_loss": float(d_loss), "g_loss": float(g_loss)}
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
    generator, discriminator = networks["generator"], networks["discriminator"]
    with keras.device(device_for(config)):
        # BEGIN SOLUTION Q3
        adam = dict(learning_rate=config.lr, beta_1=config.beta1, epsilon=1e-8)  # 1e-8 as torch's
        # D's trainer: the same D on real and on fake images, its two logits side by side per row
        shape = (config.image_size, config.image_size, config.channels)
        real, fake, labels = (
            keras.Input(shape),
            keras.Input(shape),
            keras.Input((config.num_classes,)),
        )
        logits = layers.Concatenate(axis=1)(
            [discriminator([real, labels]), discriminator([fake, labels])]
        )
        d_trainer = keras.Model([real, fake, labels], logits, name="discriminator_trainer")
        d_trainer.compile(optimizer=keras.optimizers.Adam(**adam), loss=discriminator_loss)
        # G's trainer: the combined model G → D, with D's weights frozen (see train_step)
        d_weights = discriminator.trainable_weights  # kernels, biases, BatchNorm scales and shifts
        for weight in d_weights:
            weight.trainable = False
        latents = keras.Input((config.latent_dim,))
        combined = keras.Model(
            [latents, labels],
            discriminator([generator([latents, labels]), labels]),
            name="combined",
        )
        combined.compile(optimizer=keras.optimizers.Adam(**adam), loss=generator_loss)
        # and G's forward pass that makes D's fakes
        trainers = {
            "discriminator": d_trainer,
            "generator": combined,
            "fakes": TrainingMode(generator),
            "discriminator_weights": d_weights,
        }
        # END SOLUTION Q3
        run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
        stream = run.stream(batches(data.images, data.labels, config))
        # NumPy noise: the same numbers in all four frameworks, its state saved with the run;
        # seed + 1, so that the steps' noise is not the grid's (fixed_latents)
        noise = run.noise(np.random.default_rng(config.seed + 1))
        fixed = fixed_latents(config), fixed_labels(config)
        history = run.history({"d_loss": [], "g_loss": [], "diversity": []})
        optimizers = {name: trainers[name].optimizer for name in ("discriminator", "generator")}
        for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
            images, labels = next(stream)
            latents = noise.standard_normal((len(images), config.latent_dim), dtype=np.float32)
            losses = train_step(networks, trainers, images, labels, latents)
            for name, value in losses.items():
                history[name].append(value)
            if step % config.diversity_every == 0:  # a mode-collapse alarm, measured now and then
                history["diversity"].append(gan_metrics.diversity(generate(networks, *fixed)))
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


def fixed_labels(config, count=64):
    """The classes beside fixed_latents in the diversity check: each class in turn."""
    return np.arange(count) % config.num_classes


def generate(networks, latents, labels):
    """(N, latent_dim) noise and N class indices → N images of those classes, NHWC in [-1, 1]."""
    # BEGIN SOLUTION Q4
    generator = networks["generator"]
    y = np.eye(generator.inputs[1].shape[-1], dtype=np.float32)[np.asarray(labels)]
    # predict_on_batch runs in inference mode: BatchNorm uses its moving statistics
    images = generator.predict_on_batch([np.asarray(latents, dtype=np.float32), y])
    return ops.convert_to_numpy(images)
    # END SOLUTION Q4


def discriminate(networks, images, labels):
    """NHWC images in [-1, 1] and their class indices → D's logits, (N, 1): > 0 "looks real"."""
    # BEGIN SOLUTION Q4
    discriminator = networks["discriminator"]
    y = np.eye(discriminator.inputs[1].shape[-1], dtype=np.float32)[np.asarray(labels)]
    logits = discriminator.predict_on_batch([np.asarray(images, dtype=np.float32), y])
    return ops.convert_to_numpy(logits)
    # END SOLUTION Q4


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="Conditional GAN in Keras 3")
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
