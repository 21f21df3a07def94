"""What the harness checks for the Auto Encoder (questions/ae.md)."""

LOSSES = ("loss",)
FALLING = "loss"
FALL_RATIO = 0.6  # measured: the last 10 steps average about 0.2-0.35 × the first 10 in all four
TINY = dict(image_size=16, dataset_size=48, batch_size=16, steps=80)
CLI_ARGS = ()
OUTPUTS = ("samples.png", "losses.png", "history.json")


def inference_checks(answer, networks, config, data):
    """(label, array, expected shape, value range) for each inference function of the topic."""
    images = data.images[:5]
    yield "reconstruct(networks, images)", answer.reconstruct(networks, images), images.shape, (-1.0, 1.0)
