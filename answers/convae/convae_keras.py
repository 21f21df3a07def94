# %% [markdown]
# # Convolutional Auto Encoder — Keras 3 (keras and keras.ops only: any backend)
#
# Two convolutions, each followed by a 2×2 max-pool, squeeze an image to a quarter of its size;
# two stride-2 transposed convolutions bring it back to full size.
# Question sheet: questions/convae.md. Run: `python answers/convae/convae_keras.py --help`.

# %% 1. Config
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

import gendojo

TOPIC, FRAMEWORK = "convae", "keras"


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
    shape = (config.image_size, config.image_size, config.channels)
    return keras.Sequential(
        [
            keras.Input(shape),
            # "same" padding of a 3×3 stride-1 convolution: one pixel of zeros on each side
            layers.Conv2D(32, 3, strides=1, padding="same", activation="relu"),
            layers.MaxPooling2D(2),  # (N, 16, 16, 32)
            layers.Conv2D(16, 3, strides=1, padding="same", activation="relu"),
            layers.MaxPooling2D(2),  # (N, 8, 8, 16)
        ],
        name="encoder",
    )
    # END SOLUTION Q1


def Decoder(config):
    # BEGIN SOLUTION Q1
    size = config.image_size // 4
    return keras.Sequential(
        [
            keras.Input((size, size, 16)),
            # padding "valid" (the default): (H - 1)·2 + 2 = 2H
            layers.Conv2DTranspose(32, 2, strides=2, activation="relu"),  # (N, 16, 16, 32)
            layers.Conv2DTranspose(config.channels, 2, strides=2),  # (N, 32, 32, 3), no activation
        ],
        name="decoder",
    )
    # END SOLUTION Q1


def build(config):
    gendojo.check(
        config.image_size % 4 == 0,
        f"--image-size {config.image_size} is not divisible by 4: the encoder halves it twice and "
        f"the decoder doubles it twice, so only multiples of 4 come back at the same size.",
    )
    keras.utils.set_random_seed(config.seed)
    with keras.device(device_for(config)):
        return {"encoder": Encoder(config), "decoder": Decoder(config)}


# %% 4. Loss (Q2)
def reconstruction_loss(images, reconstructions):
    """Mean squared error over every pixel and channel of the batch."""
    # BEGIN SOLUTION Q2
    return ops.mean(ops.square(reconstructions - images))
    # END SOLUTION Q2


# %% 5. Training step (Q3)
def train_step(networks, trainer, images):
    # BEGIN SOLUTION Q3
    # trainer: encoder → decoder compiled with Adam and the loss, in the optimizer's place (Keras
    # keeps them in the model); train_on_batch runs one update of the networks in it.
    loss = trainer.train_on_batch(images, images)
    return {"loss": float(loss)}
    # END SOLUTION Q3


# %% 6. Training loop
def train(config, data, networks=None, callback=None, run=None):
    """Train on ``data.images``; return the networks and the per-step loss history.

    ``run`` (from ``main``) continues a stopped run: see gendojo/runs.py."""
    networks = networks or build(config)
    with keras.device(device_for(config)):
        # BEGIN SOLUTION Q3
        trainer = keras.Sequential([networks["encoder"], networks["decoder"]], name="convae")
        trainer.compile(
            optimizer=keras.optimizers.Adam(learning_rate=config.lr), loss=reconstruction_loss
        )
        # END SOLUTION Q3
        run = gendojo.Run.of(run, config)  # counts steps and batches, so a run can stop and go on
        stream = run.stream(batches(data.images, config))
        history = run.history({"loss": []})
        for step in run.steps(trainer.optimizer, f"{TOPIC} {FRAMEWORK}"):
            losses = train_step(networks, trainer, next(stream))
            for name, value in losses.items():
                history[name].append(value)
            if callback:
                callback(step, networks)
    return networks, history


# %% 7. Inference (Q4)
def reconstruct(networks, images):
    """NHWC images in [-1, 1] → their reconstructions, NHWC float32 clipped to [-1, 1]."""
    # BEGIN SOLUTION Q4
    x = np.asarray(images, dtype=np.float32)
    y = networks["decoder"].predict_on_batch(networks["encoder"].predict_on_batch(x))
    return np.clip(ops.convert_to_numpy(y), -1, 1)
    # END SOLUTION Q4


# %% 8. Main
def main(argv=None):
    config = gendojo.parse_args(Config, argv, description="Convolutional Auto Encoder in Keras 3")
    data = gendojo.load_dataset(config)
    fixed = data.images[:16]  # the same images in every grid, so grids are comparable over time

    def samples(networks):  # the fixed images above their reconstructions
        return [fixed, reconstruct(networks, fixed)]

    gendojo.train_and_save(config, TOPIC, FRAMEWORK, build, train, data, samples)


if __name__ == "__main__":
    gendojo.run_main(main)
