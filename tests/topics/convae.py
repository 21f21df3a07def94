"""What the harness checks for the Convolutional Auto Encoder (questions/convae.md)."""

LOSSES = ("loss",)
FALLING = "loss"
FALL_RATIO = 0.7  # measured over seeds 0-2: the last 10 steps average 0.32-0.52 × the first 10
TINY = dict(image_size=16, dataset_size=48, batch_size=16, steps=60)
CLI_ARGS = ()
OUTPUTS = ("samples.png", "losses.png", "history.json")


def inference_checks(answer, networks, config, data):
    """(label, array, expected shape, value range) for each inference function of the topic."""
    images = data.images[:5]
    yield "reconstruct(networks, images)", answer.reconstruct(networks, images), images.shape, (-1.0, 1.0)
