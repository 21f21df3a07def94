# %% [markdown]
# # pix2pix — Keras 3 (keras and keras.ops only: runs on the TensorFlow, JAX or torch backend)
#
# Paired image-to-image translation: a U-Net turns a sketch into a picture, judged patch by patch
# by a PatchGAN and pulled toward the true picture by an L1 term.
# Question sheet: questions/pix2pix.md. Run: `python answers/pix2pix/pix2pix_keras.py --help`.

# %% 1. Config
from dataclasses import dataclass, field

import keras
import numpy as np
from keras import layers, ops

import gendojo
from gendojo.keras_tools import TrainingMode

TOPIC, FRAMEWORK = "pix2pix", "keras"


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
    # A new tensor lands on the backend's default device: a GPU ("GPU:0", "cuda:0") if it found one.
    default = str(ops.zeros(()).device).lower()
    gpu = "gpu:0" if "gpu" in default or "cuda" in default else None
    # "cpu", not "cpu:0": the torch backend would copy every weight there and lose its gradient
    return gendojo.choose_device(config, gpu, "cpu", "Keras")


# %% 2. Data
def batches(sources, targets, config):
    """Endless shuffled (source, target) NHWC pairs as NumPy arrays: one order indexes both."""
    rng = np.random.default_rng(config.seed)
    size = min(config.batch_size, len(sources))
    while True:
        order = rng.permutation(len(sources))
        for start in range(0, len(sources) - size + 1, size):
            chosen = order[start : start + size]
            yield sources[chosen], targets[chosen]


# %% 3. Models (Q1)
def widths(config):
    """Channels per U-Net level: doubling from g_width, capped at 8 × g_width as in the paper."""
    return [config.g_width * 2 ** min(level, 3) for level in range(config.depth)]


def Generator(config):
    # BEGIN SOLUTION Q1
    chans = widths(config)  # (32, 64, 128, 256): down to (N, 2, 2, 256), then back up
    sources = keras.Input((config.image_size, config.image_size, config.channels))
    x, skips = sources, []
    for level, cout in enumerate(chans):
        x = layers.Conv2D(cout, 4, strides=2, padding="same")(x)
        if level:
            x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
        x = layers.LeakyReLU(0.2)(x)
        skips.append(x)
    skips.pop()  # the bottleneck itself is no skip
    for block, level in enumerate(range(config.depth - 2, -1, -1)):
        x = layers.Conv2DTranspose(chans[level], 4, strides=2, padding="same")(x)
        x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
        if block < 2:  # dropout is G's only noise: in the two deepest decoder blocks
            x = layers.Dropout(0.5)(x)
        x = layers.Concatenate()([layers.ReLU()(x), skips.pop()])  # skip connection: channels
    x = layers.Conv2DTranspose(config.channels, 4, strides=2, padding="same", activation="tanh")(x)
    return keras.Model(sources, x, name="generator")
    # END SOLUTION Q1


def Discriminator(config):
    # BEGIN SOLUTION Q1
    shape = (config.image_size, config.image_size, config.channels)
    sources, targets = keras.Input(shape), keras.Input(shape)
    w = config.d_width
    x = layers.Concatenate()([sources, targets])  # D judges the pair, not B alone
    x = layers.LeakyReLU(0.2)(layers.Conv2D(w, 4, strides=2, padding="same")(x))  # (N, 16, 16, 64)
    x = layers.LeakyReLU(0.2)(
        layers.Conv2D(2 * w, 4, strides=2, padding="same")(x)
    )  # (N, 8, 8, 128)
    x = layers.Conv2D(1, 3, strides=1, padding="same")(x)  # (N, 8, 8, 1): a logit per patch
    return keras.Model([sources, targets], x, name="discriminator")
    # END SOLUTION Q1


def build(config):
    gendojo.check(config.depth >= 2, f"--depth must be at least 2, not {config.depth}")
    gendojo.check(
        config.image_size % 2**config.depth == 0,
        f"--image-size must be a multiple of 2**depth = {2**config.depth} (the U-Net halves it "
        f"{config.depth} times), not {config.image_size}",
    )
    keras.utils.set_random_seed(config.seed)
    with keras.device(device_for(config)):
        return {"generator": Generator(config), "discriminator": Discriminator(config)}


# %% 4. Loss (Q2)
def adversarial_loss(labels, logits):
    """Sigmoid cross-entropy of every patch logit against its label (1 real, 0 fake), averaged."""
    # BEGIN SOLUTION Q2
    return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))
    # END SOLUTION Q2


def l1_loss(targets, fakes):
    """Mean absolute difference between the true and the generated picture, per pixel."""
    # BEGIN SOLUTION Q2
    return ops.mean(ops.abs(targets - fakes))
    # END SOLUTION Q2


# %% 5. Training step (Q3)
def train_step(networks, trainers, sources, targets):
    # BEGIN SOLUTION Q3
    # no l1_weight argument: Keras compiled λ into the combined model's loss_weights
    discriminator = networks["discriminator"]
    # D first: real pairs (A, B) → 1, fake pairs (A, G(A)) → 0, in one batch of 2N.
    # G in training mode, compiled (gendojo/keras_tools.py); NumPy, so cut off from G
    fakes = trainers["fakes"].predict_on_batch(sources)
    pairs = [np.concatenate([sources, sources]), np.concatenate([targets, fakes])]
    patches = discriminator.output.shape[1:]
    labels = np.concatenate([np.ones((len(sources), *patches)), np.zeros((len(sources), *patches))])
    # Keras reads `trainable` at every update, so D is switched on for its own and off for G's
    # (questions/gan.md, the frozen-discriminator trap).
    discriminator.trainable = True
    d_loss = discriminator.train_on_batch(pairs, labels.astype(np.float32))
    discriminator.trainable = False  # the combined model A → (D(A, G(A)), G(A)) updates G alone
    ones = np.ones((len(sources), *patches), dtype=np.float32)
    # the combined model returns its total loss, then each output's
    _, g_loss, l1 = trainers["generator"].train_on_batch(sources, [ones, targets])
    return {"d_loss": float(d_loss), "g_loss": float(g_loss), "l1": float(l1)}
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
    generator, discriminator = networks["generator"], networks["discriminator"]
    with keras.device(device_for(config)):
        # BEGIN SOLUTION Q3
        adam = dict(learning_rate=config.lr, beta_1=config.beta1, epsilon=1e-8)  # 1e-8 as torch's
        discriminator.trainable = True
        discriminator.compile(optimizer=keras.optimizers.Adam(**adam), loss=adversarial_loss)
        discriminator.trainable = False
        sources = keras.Input(generator.input.shape[1:])
        fakes = generator(sources)
        combined = keras.Model(sources, [discriminator([sources, fakes]), fakes], name="combined")
        combined.compile(
            optimizer=keras.optimizers.Adam(**adam),
            loss=[adversarial_loss, l1_loss],
            loss_weights=[1.0, config.l1_weight],  # G's loss: adversarial + λ · L1
        )
        # G's update, and G's forward pass (dropout on) that makes D's fakes
        trainers = {"generator": combined, "fakes": TrainingMode(generator)}
        # END SOLUTION Q3
        run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
        stream = run.stream(batches(data.sources, data.images, config))
        history = run.history({"d_loss": [], "g_loss": [], "l1": []})
        optimizers = {
            "discriminator": discriminator.optimizer,
            "generator": trainers["generator"].optimizer,
        }
        for step in run.steps(optimizers, f"{TOPIC} {FRAMEWORK}"):
            losses = train_step(networks, trainers, *next(stream))
            for name, value in losses.items():
                history[name].append(value)
            if callback:
                callback(step, networks)
    discriminator.trainable = True  # hand D back trainable, as build made it
    return networks, history


# %% 7. Inference (Q4)
def translate(networks, sources):
    """NHWC sources in [-1, 1] → G's pictures, NHWC float32 in [-1, 1]; no dropout."""
    # BEGIN SOLUTION Q4
    # predict_on_batch runs in inference mode: running BatchNorm statistics and no dropout
    images = networks["generator"].predict_on_batch(np.asarray(sources, dtype=np.float32))
    return ops.convert_to_numpy(images)
    # END SOLUTION Q4


def discriminate(networks, sources, targets):
    """NHWC pairs → D's patch logits, (N, H/4, W/4, 1) float32: above 0 means "looks real"."""
    # BEGIN SOLUTION Q4
    pairs = [np.asarray(x, dtype=np.float32) for x in (sources, targets)]
    return ops.convert_to_numpy(networks["discriminator"].predict_on_batch(pairs))
    # END SOLUTION Q4


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="pix2pix in Keras 3")
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
