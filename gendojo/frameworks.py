"""The few things that differ only in spelling between the four frameworks and are not the lesson:
counting trainable parameters and writing or reading a checkpoint of a dict of networks.

Each function looks at what kind of network it was given, so an answer calls
``gendojo.save_checkpoint(networks, folder)`` whatever its framework. Nothing here imports a
framework the caller has not already imported.
"""

import sys
from pathlib import Path

from gendojo.errors import GenDojoError

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


def _checkpoint_path(folder, name, framework):
    suffix = {"pytorch": ".pt", "tensorflow": "", "keras": ".weights.h5", "chainer": ".npz"}
    return Path(folder) / "checkpoint" / f"{name}{suffix[framework]}"


def save_checkpoint(networks, folder):
    """Write each network's weights to ``folder/checkpoint/<name>.<framework's format>``."""
    for name, network in networks.items():
        framework = framework_of(network)
        path = _checkpoint_path(folder, name, framework)
        path.parent.mkdir(parents=True, exist_ok=True)
        if framework == "pytorch":
            sys.modules["torch"].save(network.state_dict(), path)
        elif framework == "tensorflow":
            sys.modules["tensorflow"].train.Checkpoint(network=network).write(str(path))
        elif framework == "keras":
            network.save_weights(str(path))
        else:
            sys.modules["chainer"].serializers.save_npz(str(path), network)
    return Path(folder) / "checkpoint"


def load_checkpoint(networks, folder):
    """Read weights written by ``save_checkpoint`` into freshly built ``networks``, in place."""
    for name, network in networks.items():
        framework = framework_of(network)
        path = _checkpoint_path(folder, name, framework)
        exists = Path(str(path) + ".index").exists() if framework == "tensorflow" else path.exists()
        if not exists:
            raise GenDojoError(
                f"--resume: no checkpoint for {name!r} at {path}. Train once without --resume "
                f"(with the same --out) to write one."
            )
        try:
            if framework == "pytorch":
                network.load_state_dict(sys.modules["torch"].load(path, map_location="cpu"))
            elif framework == "tensorflow":
                tf = sys.modules["tensorflow"]
                tf.train.Checkpoint(network=network).read(str(path)).assert_existing_objects_matched()
            elif framework == "keras":
                network.load_weights(str(path))
            else:
                sys.modules["chainer"].serializers.load_npz(str(path), network)
        except Exception as error:  # a shape mismatch reads differently in every framework
            raise GenDojoError(
                f"--resume: the checkpoint {path} does not fit this {name!r} network ({error}). "
                f"Was it trained with other settings, such as another --image-size or --channels?"
            ) from error
    return networks
