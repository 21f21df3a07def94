"""The few things that differ only in spelling between the four frameworks and are not the lesson:
counting trainable parameters and writing or reading a checkpoint of a dict of networks.

Each function looks at what kind of network it was given, so an answer calls
``gendojo.save_checkpoint(networks, folder)`` whatever its framework (the formats are in
gendojo/checkpoints.py). Nothing here imports a framework the caller has not already imported.
"""

FRAMEWORKS = ("pytorch", "tensorflow", "keras", "chainer")


def framework_of(network):
    """'pytorch', 'tensorflow', 'keras' or 'chainer', from the network's class hierarchy."""
    roots = {c.__module__.split(".")[0] for c in type(network).__mro__}
    if "keras" in roots:  # checked before tensorflow: a Keras model is also a tf.Module
        return "keras"
    if "torch" in roots:
        return "pytorch"
    if "chainer" in roots:
        return "chainer"
    if "tensorflow" in roots:
        return "tensorflow"
    raise TypeError(f"{type(network).__name__} is not a network of any of {FRAMEWORKS}")


def count_parameters(network):
    """Number of trainable scalars in one network."""
    framework = framework_of(network)
    if framework == "pytorch":
        return sum(p.numel() for p in network.parameters() if p.requires_grad)
    if framework == "tensorflow":
        return sum(int(v.shape.num_elements()) for v in network.trainable_variables)
    if framework == "keras":
        return sum(int(w.size if hasattr(w, "size") else w.numpy().size) for w in network.trainable_weights)
    return sum(p.size for p in network.params() if p.update_rule is None or p.update_rule.enabled)


def save_checkpoint(networks, folder):
    """Write each network's weights to ``folder/checkpoint/``, atomically (gendojo/checkpoints.py).

    A training run saves more through its ``gendojo.Run`` (optimizers, step, random streams);
    this is for the weights alone."""
    from gendojo import checkpoints

    return checkpoints.write(folder, networks)


def load_checkpoint(networks, folder):
    """Read the weights in ``folder/checkpoint/`` into freshly built ``networks``, in place."""
    from gendojo import checkpoints

    return checkpoints.load_networks(networks, checkpoints.read(folder))
