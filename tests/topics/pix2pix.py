"""What the harness checks for pix2pix (questions/pix2pix.md)."""

LOSSES = ("d_loss", "g_loss", "l1")
FALLING = "l1"
FALL_RATIO = 0.75  # measured over seeds 0-3: the last 10 steps average 0.53-0.61 × the first 10
# lr 2e-3: ten times the paper's, so the L1 falls clearly within 60 tiny steps
TINY = dict(image_size=16, dataset_size=32, batch_size=8, steps=60, g_width=16, d_width=16, lr=2e-3)
CLI_ARGS = ("--g-width", "8", "--d-width", "16")
OUTPUTS = ("samples.png", "losses.png", "history.json")


def inference_checks(answer, networks, config, data):
    """(label, array, expected shape, value range) for each inference function of the topic."""
    sources, targets = data.sources[:5], data.images[:5]
    patches = config.image_size // 4  # two stride-2 convolutions in the PatchGAN
    yield "translate(networks, sources)", answer.translate(networks, sources), targets.shape, (-1.0, 1.0)
    yield (
        "discriminate(networks, sources, targets)",
        answer.discriminate(networks, sources, targets),
        (len(sources), patches, patches, 1),
        None,
    )
