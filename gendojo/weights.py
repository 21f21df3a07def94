"""Canonical weights: the networks of any answer in one framework-neutral ``.npz`` file, and back.

``export(answer, networks, config, path)`` writes every network an answer's ``build(config)``
returns; ``load(answer, networks, config, path)`` reads such a file into the networks of the same
topic in any framework. The answers know nothing of it (``--init-from`` and
``python -m gendojo export`` use it; see gendojo/outputs.py and CONTRIBUTING.md for the layout).

Layers are found by running the networks once (the answer's own inference functions, or a Keras
model on zeros) and noting the order in which each network's parameterised layers are first
called: that order survives renamed attributes and regrouped models, and it is the same in the
four answers of a topic. Every array is stored in PyTorch's layout:

* ``dense``: weight (out, in), bias (out);
* ``conv``: weight (out, in, kH, kW), bias;
* ``deconv`` (transposed convolution): weight (in, out, kH, kW), bias;
* ``batchnorm``: weight and bias (gamma, beta) when it has them, running_mean, running_var (the
  variance inference divides by);
* ``embedding``: weight (num, dim).

A dense layer that reads a flattened feature map, or whose output is reshaped into one, is stored
as if that map were NCHW (channels first): TensorFlow and Keras flatten NHWC maps, so their rows
(or columns) are permuted on the way in and out.
"""

import inspect
import json
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np

from gendojo.errors import GenDojoError

FORMAT, VERSION = "gendojo-weights", 1
META = "__meta__"
# The inference functions run to find the layers, and what each argument is.
PROBES = ("reconstruct", "encode", "decode", "generate", "discriminate", "critique", "translate")
PROBE_BATCH = 2


class Layer:
    """One parameterised layer as found in a forward pass: its kind, the framework's object and,
    for a dense layer next to a flatten, the (H, W, C) of the NHWC map it reads or makes."""

    def __init__(self, kind, obj):
        self.kind, self.obj = kind, obj
        self.map_in = self.map_out = None  # (H, W, C), NHWC frameworks only


# --- probing: which layers, in which order -------------------------------------------------------


def example_arguments(function, config, count=PROBE_BATCH, seed=0):
    """Arguments after ``networks`` for an inference function, chosen by parameter name: NHWC
    images in [-1, 1], normal latents, class indices; None if a name is not one of these."""
    rng = np.random.default_rng(seed)
    size, channels = getattr(config, "image_size", 0), getattr(config, "channels", 0)
    arguments = []
    for name in list(inspect.signature(function).parameters)[1:]:
        if name in ("images", "sources", "targets"):
            shape = (count, size, size, channels)
            arguments.append(rng.uniform(-1, 1, shape).astype(np.float32))
        elif name == "latents":
            shape = (count, config.latent_dim)
            arguments.append(rng.standard_normal(shape).astype(np.float32))
        elif name == "labels":
            arguments.append(np.arange(count) % config.num_classes)
        else:
            return None
    return arguments


def _run_probes(answer, networks, config):
    for name in PROBES:
        function = getattr(answer, name, None)
        arguments = example_arguments(function, config) if callable(function) else None
        if arguments is not None:
            function(networks, *arguments)


@contextmanager
def _patched(owner, attribute, wrapper):
    """Replace ``owner.attribute`` by ``wrapper(it)`` while inside."""
    own = attribute in owner.__dict__
    original = getattr(owner, attribute)
    setattr(owner, attribute, wrapper(original))
    try:
        yield
    finally:
        if own:
            setattr(owner, attribute, original)
        else:
            delattr(owner, attribute)


def _recorder(events, describe):
    """A wrapper for a ``__call__`` that appends ``describe(obj, inputs, output)`` to events."""

    def wrap(original):
        def call(self, *args, **kwargs):
            output = original(self, *args, **kwargs)
            event = describe(self, args, output)
            if event is not None:
                events.append(event)
            return output

        return call

    return wrap


def _shape(value):
    shape = getattr(value, "shape", None)
    return tuple(int(s) if s is not None else -1 for s in shape) if shape is not None else None


class _Framework:
    """What one framework needs: its layer kinds, its probe, reading and writing arrays."""

    nhwc = False
    kinds = ()  # (layer class, kind) pairs

    def kind(self, layer):
        """The kind of a parameterised layer (``dense``, ``conv``, …), or None."""
        return next((kind for cls, kind in self.kinds if isinstance(layer, cls)), None)

    def owner_map(self, networks):
        """id of each layer object → the name of the network holding it."""
        raise NotImplementedError

    def order(self, network):
        """The layers in their order of definition, where the call order is not fixed (or None)."""
        return None

    def trace(self, answer, networks, config):
        """The events of one probe: ("layer", kind, obj) and ("reshape", in_shape, out_shape)."""
        raise NotImplementedError


class _PyTorch(_Framework):
    def __init__(self):
        import torch

        nn = torch.nn
        self.torch = torch
        self.kinds = (
            (nn.Linear, "dense"), (nn.Conv2d, "conv"), (nn.ConvTranspose2d, "deconv"),
            (nn.modules.batchnorm._BatchNorm, "batchnorm"), (nn.Embedding, "embedding"),
        )  # fmt: skip

    def owner_map(self, networks):
        return {id(m): name for name, net in networks.items() for m in net.modules() if self.kind(m)}

    def trace(self, answer, networks, config):
        events, handles = [], []
        for network in networks.values():
            for module in network.modules():
                if self.kind(module):
                    hook = lambda m, i, o: events.append(("layer", self.kind(m), m))  # noqa: E731
                    handles.append(module.register_forward_hook(hook))
        try:
            _run_probes(answer, networks, config)
        finally:
            for handle in handles:
                handle.remove()
        return events

    def read(self, layer):
        m = layer.obj
        names = ("weight", "bias")
        if layer.kind == "batchnorm":
            names = ("weight", "bias", "running_mean", "running_var")
        return {n: _numpy(getattr(m, n)) for n in names if getattr(m, n, None) is not None}

    def write(self, layer, arrays):
        with self.torch.no_grad():
            for name, array in arrays.items():
                target = getattr(layer.obj, name)
                target.copy_(self.torch.from_numpy(np.ascontiguousarray(array)).to(target.device))

    def snapshot(self, networks):
        return {n: {k: v.clone() for k, v in net.state_dict().items()} for n, net in networks.items()}

    def restore(self, networks, saved):
        for name, network in networks.items():
            network.load_state_dict(saved[name])


class _Chainer(_Framework):
    def __init__(self):
        from gendojo.chainer_compat import import_chainer

        chainer = import_chainer()
        L = chainer.links
        self.chainer = chainer
        self.kinds = (
            (L.Linear, "dense"), (L.Convolution2D, "conv"), (L.Deconvolution2D, "deconv"),
            (L.BatchNormalization, "batchnorm"), (L.EmbedID, "embedding"),
        )  # fmt: skip

    def owner_map(self, networks):
        return {id(link): name for name, net in networks.items() for link in net.links() if self.kind(link)}

    def trace(self, answer, networks, config):
        events = []

        def describe(link, args, output):
            kind = self.kind(link)
            return ("layer", kind, link) if kind else None

        with _patched(self.chainer.Link, "__call__", _recorder(events, describe)):
            _run_probes(answer, networks, config)
        return events

    def _names(self, layer):
        if layer.kind == "batchnorm":
            return {"weight": "gamma", "bias": "beta", "running_mean": "avg_mean", "running_var": "avg_var"}
        return {"weight": "W", "bias": "b"}

    def read(self, layer):
        arrays = {}
        for name, attribute in self._names(layer).items():
            value = getattr(layer.obj, attribute, None)
            if value is not None:
                arrays[name] = _numpy(value)
        return arrays

    def write(self, layer, arrays):
        names = self._names(layer)
        for name, array in arrays.items():
            value = getattr(layer.obj, names[name])
            target = value.array if hasattr(value, "array") else value
            target[...] = self.chainer.backend.get_array_module(target).asarray(array)

    def snapshot(self, networks):
        saved = {}
        for name, network in networks.items():
            serializer = self.chainer.serializers.DictionarySerializer()
            serializer.save(network)
            to_cpu = self.chainer.backends.cuda.to_cpu
            saved[name] = {k: np.array(to_cpu(v)) for k, v in serializer.target.items()}
        return saved

    def restore(self, networks, saved):
        for name, network in networks.items():
            self.chainer.serializers.NpzDeserializer(saved[name]).load(network)


class _TensorFlow(_Framework):
    nhwc = True

    def __init__(self):
        import tensorflow as tf

        from gendojo import tf_core

        self.tf, self.tf_core = tf, tf_core
        self.kinds = (
            (tf_core.Dense, "dense"), (tf_core.Conv2D, "conv"), (tf_core.Conv2DTranspose, "deconv"),
            (tf_core.BatchNorm, "batchnorm"),
        )  # fmt: skip

    def owner_map(self, networks):
        owners = {}
        for name, network in networks.items():
            for module in network.submodules:
                if self.kind(module):
                    owners[id(module)] = name
        return owners

    def trace(self, answer, networks, config):
        events = []

        def describe(module, args, output):
            return ("layer", self.kind(module), module)

        def reshape(original):
            def call(tensor, shape, *args, **kwargs):
                output = original(tensor, shape, *args, **kwargs)
                events.append(("reshape", _shape(tensor), _shape(output)))
                return output

            return call

        with ExitStack() as stack:
            for cls, _ in self.kinds:
                stack.enter_context(_patched(cls, "__call__", _recorder(events, describe)))
            stack.enter_context(_patched(self.tf, "reshape", reshape))
            _run_probes(answer, networks, config)
        return events

    NAMES = {"weight": "kernel", "bias": "bias"}
    BN = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}

    def variables(self, layer):
        names = self.BN if layer.kind == "batchnorm" else self.NAMES
        found = {name: getattr(layer.obj, attribute, None) for name, attribute in names.items()}
        return {name: variable for name, variable in found.items() if variable is not None}

    def read(self, layer):
        return _from_nhwc(layer, {n: _numpy(v) for n, v in self.variables(layer).items()})

    def write(self, layer, arrays):
        variables = self.variables(layer)
        for name, array in _to_nhwc(layer, arrays).items():
            variables[name].assign(array)

    def all_variables(self, network):
        return list(network.variables)

    def snapshot(self, networks):
        return {n: [_numpy(v).copy() for v in self.all_variables(net)] for n, net in networks.items()}

    def restore(self, networks, saved):
        for name, network in networks.items():
            for variable, value in zip(self.all_variables(network), saved[name], strict=True):
                variable.assign(value)


class _Keras(_TensorFlow):
    def __init__(self):
        import keras

        L = keras.layers
        self.keras = keras
        self.kinds = (
            (L.Dense, "dense"), (L.Conv2DTranspose, "deconv"), (L.Conv2D, "conv"),
            (L.BatchNormalization, "batchnorm"), (L.Embedding, "embedding"),
        )  # fmt: skip
        self.reshapes = (L.Flatten, L.Reshape)

    def owner_map(self, networks):
        owners = {}
        for name, network in networks.items():
            variables = {id(v) for v in network.weights}
            for layer in _keras_layers(network):
                if self.kind(layer) and any(id(v) in variables for v in layer.weights):
                    owners[id(layer)] = name
        return owners

    def trace(self, answer, networks, config):
        events = []

        def describe(layer, args, output):
            kind = self.kind(layer)
            if kind:
                return ("layer", kind, layer)
            if isinstance(layer, self.reshapes) and args:
                return ("reshape", _shape(args[0]), _shape(output))
            return None

        with _patched(self.keras.layers.Layer, "__call__", _recorder(events, describe)):
            for network in networks.values():
                try:
                    shapes = [x.shape[1:] for x in network.inputs]
                except (AttributeError, ValueError):  # a subclassed model: its inference functions
                    for model in networks.values():  # ... traced afresh, so that layers are called
                        model.predict_function = None
                    _run_probes(answer, networks, config)
                    break
                inputs = [np.zeros((PROBE_BATCH, *shape), np.float32) for shape in shapes]
                network(inputs if len(inputs) > 1 else inputs[0], training=False)
        return events

    NAMES = {"weight": "kernel", "bias": "bias"}

    def variables(self, layer):
        if layer.kind == "embedding":
            return {"weight": layer.obj.embeddings}
        return super().variables(layer)

    def all_variables(self, network):
        return list(network.weights)

    def order(self, network):
        # a functional model runs the layers of one depth in no set order (a VAE's mean and
        # log-variance heads swap): take the order they were added in
        return list(_keras_layers(network))


def _keras_layers(model):
    """Every layer inside a Keras model, nested models opened."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _keras_layers(layer)


FRAMEWORKS = {"pytorch": _PyTorch, "chainer": _Chainer, "tensorflow": _TensorFlow, "keras": _Keras}


def _framework(answer):
    name = getattr(answer, "FRAMEWORK", None)
    if name not in FRAMEWORKS:
        raise GenDojoError(f"canonical weights: unknown framework {name!r} (one of {', '.join(FRAMEWORKS)})")
    return FRAMEWORKS[name]()


def _numpy(value):
    value = getattr(value, "array", value)  # a Chainer parameter
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    if hasattr(value, "get") and not isinstance(value, np.ndarray | dict):  # CuPy
        value = value.get()
    return np.asarray(value, dtype=np.float32)


# --- NHWC permutations (TensorFlow and Keras) ------------------------------------------------------


def _from_nhwc(layer, native):
    """Native TensorFlow/Keras arrays → PyTorch layout (channels-first maps around dense layers)."""
    arrays = dict(native)
    if layer.kind in ("conv", "deconv"):
        arrays["weight"] = native["weight"].transpose(3, 2, 0, 1)  # HWIO → OIHW, (k,k,o,i) → (i,o,k,k)
    elif layer.kind == "dense":
        weight = native["weight"].T  # (in, out) → (out, in)
        if layer.map_in:
            h, w, c = layer.map_in
            weight = weight.reshape(len(weight), h, w, c).transpose(0, 3, 1, 2).reshape(len(weight), -1)
        if layer.map_out:
            weight = _rows_to_chw(weight, layer.map_out)
            arrays["bias"] = _rows_to_chw(native["bias"], layer.map_out)
        arrays["weight"] = weight
    elif layer.kind == "batchnorm" and layer.map_out:
        arrays = {name: _rows_to_chw(value, layer.map_out) for name, value in native.items()}
    return {name: np.ascontiguousarray(value) for name, value in arrays.items()}


def _to_nhwc(layer, canonical):
    arrays = dict(canonical)
    if layer.kind in ("conv", "deconv"):
        arrays["weight"] = canonical["weight"].transpose(2, 3, 1, 0)
    elif layer.kind == "dense":
        weight = canonical["weight"]
        if layer.map_out:
            weight = _rows_to_hwc(weight, layer.map_out)
            arrays["bias"] = _rows_to_hwc(canonical["bias"], layer.map_out)
        if layer.map_in:
            h, w, c = layer.map_in
            weight = weight.reshape(len(weight), c, h, w).transpose(0, 2, 3, 1).reshape(len(weight), -1)
        arrays["weight"] = weight.T
    elif layer.kind == "batchnorm" and layer.map_out:
        arrays = {name: _rows_to_hwc(value, layer.map_out) for name, value in canonical.items()}
    return {name: np.ascontiguousarray(value) for name, value in arrays.items()}


def _rows_to_chw(array, hwc):
    h, w, c = hwc
    rest = array.shape[1:]
    return array.reshape(h, w, c, *rest).transpose(2, 0, 1, *range(3, 3 + len(rest))).reshape(array.shape)


def _rows_to_hwc(array, hwc):
    h, w, c = hwc
    rest = array.shape[1:]
    return array.reshape(c, h, w, *rest).transpose(1, 2, 0, *range(3, 3 + len(rest))).reshape(array.shape)


# --- finding the layers --------------------------------------------------------------------------


def layers(answer, networks, config, framework=None):
    """{network name: [Layer, …]} in first-call order, for ``answer``'s ``networks``."""
    framework = framework or _framework(answer)
    owners = framework.owner_map(networks)
    saved = framework.snapshot(networks)  # a probe must change nothing (BatchNorm in train mode)
    try:
        events = framework.trace(answer, networks, config)
    finally:
        framework.restore(networks, saved)
    found = {name: [] for name in networks}
    seen, history = set(), []  # history: the calls in order, for matching reshapes to layers
    for event in events:
        if event[0] != "layer":
            history.append(event)
            continue
        _, kind, obj = event
        owner = owners.get(id(obj))
        if owner is None or id(obj) in seen:  # another model's layer, or a second call
            history.append(("layer", None))
            continue
        seen.add(id(obj))
        layer = Layer(kind, obj)
        found[owner].append(layer)
        history.append(("layer", layer))
    if framework.nhwc:
        _mark_maps(history)
    for name, network in networks.items():  # Keras runs sibling layers in no set order
        order = framework.order(network)
        if order:
            position = {id(obj): index for index, obj in enumerate(order)}
            found[name].sort(key=lambda layer: position.get(id(layer.obj), len(position)))
    missing = [name for name, found_layers in found.items() if not found_layers]
    if missing:
        raise GenDojoError(
            f"canonical weights: no layer of {', '.join(missing)} ran in the "
            f"{getattr(answer, 'TOPIC', '?')} {getattr(answer, 'FRAMEWORK', '?')} inference functions"
        )
    return found


def _mark_maps(history):
    """Find the dense layers of an NHWC network that read a flattened map or make one."""
    for index, event in enumerate(history):
        if event[0] != "reshape":
            continue
        _, before, after = event
        if before is None or after is None:
            continue
        if len(before) == 4 and len(after) == 2:  # a flatten: the next layer called reads it
            following = next((e[1] for e in history[index + 1 :] if e[0] == "layer"), None)
            if following is not None and following.kind == "dense":
                following.map_in = before[1:]
        elif len(before) == 2 and len(after) == 4:  # an unflatten: the layers just before made it
            for earlier in reversed(history[:index]):
                if earlier[0] != "layer" or earlier[1] is None:
                    break
                layer = earlier[1]
                if layer.kind in ("dense", "batchnorm"):
                    layer.map_out = after[1:]
                if layer.kind != "batchnorm":
                    break


# --- the canonical arrays --------------------------------------------------------------------------


def canonical(answer, networks, config):
    """(arrays, meta): every network's layers as PyTorch-layout float32 arrays, and what they are."""
    framework = _framework(answer)
    found = layers(answer, networks, config, framework)
    arrays, described = {}, {}
    for name, network_layers in found.items():
        described[name] = []
        for index, layer in enumerate(network_layers):
            values = framework.read(layer)
            for param, value in values.items():
                arrays[f"{name}.{index}.{param}"] = value
            described[name].append(
                {"kind": layer.kind, "arrays": {p: list(v.shape) for p, v in values.items()}}
            )
    from gendojo.outputs import _plain

    meta = {
        "format": FORMAT,
        "version": VERSION,
        "topic": getattr(answer, "TOPIC", None),
        "framework": getattr(answer, "FRAMEWORK", None),
        "config": _plain(config),  # the settings the networks were built with
        "networks": described,
    }
    return arrays, meta


def assign(answer, networks, config, arrays, meta, source="these weights"):
    """Set ``networks`` from canonical ``arrays`` (and their ``meta``); a GenDojoError on a misfit."""
    framework = _framework(answer)
    found = layers(answer, networks, config, framework)
    topic = getattr(answer, "TOPIC", None)
    if meta.get("topic") not in (None, topic):
        raise GenDojoError(f"{source}: a {meta.get('topic')} model, not a {topic} one")
    if sorted(meta.get("networks", {})) != sorted(found):
        raise GenDojoError(
            f"{source}: the networks {', '.join(sorted(meta.get('networks', {})))}, this answer "
            f"builds {', '.join(sorted(found))}"
        )
    plan = []
    for name, network_layers in found.items():
        stored = meta["networks"][name]
        if len(stored) != len(network_layers):
            raise GenDojoError(f"{source}: {name} has {len(stored)} layers there, {len(network_layers)} here")
        for index, (layer, record) in enumerate(zip(network_layers, stored, strict=True)):
            here = {p: list(v.shape) for p, v in framework.read(layer).items()}
            if record["kind"] != layer.kind or record["arrays"] != here:
                raise GenDojoError(
                    f"{source} does not fit this {topic} {answer.FRAMEWORK} answer: {name} layer "
                    f"{index} is a {record['kind']} {_shapes(record['arrays'])} there, a {layer.kind} "
                    f"{_shapes(here)} here (trained with other settings, e.g. --image-size?)"
                )
            values = {p: arrays[f"{name}.{index}.{p}"] for p in here}
            plan.append((layer, values))
    for layer, values in plan:  # only once all fit: a misfit changes nothing
        framework.write(layer, values)
    return networks


def _shapes(arrays):
    return "(" + ", ".join(f"{p} {'×'.join(map(str, s))}" for p, s in arrays.items()) + ")"


# --- files -------------------------------------------------------------------------------------------


def export(answer, networks, config, path):
    """Write ``networks`` to ``path`` (.npz) in the canonical layout; return the path."""
    arrays, meta = canonical(answer, networks, config)
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        np.savez(file, **arrays, **{META: np.array(json.dumps(meta))})
    return path


def read(path):
    """(arrays, meta) from a canonical file; a GenDojoError if it is not one."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as file:
            contents = {key: file[key] for key in file.files}
    except FileNotFoundError:
        raise GenDojoError(f"{path}: no such file") from None
    except (OSError, ValueError) as error:
        raise GenDojoError(f"{path} is not a weights file (.npz): {error}") from None
    try:
        meta = json.loads(str(contents.pop(META)))
    except (KeyError, ValueError):
        meta = None
    if not meta or meta.get("format") != FORMAT:
        raise GenDojoError(f"{path} is not a GenDojo weights file (python -m gendojo export writes one)")
    if meta.get("version", 0) > VERSION:
        raise GenDojoError(f"{path} is format version {meta['version']}; this GenDojo reads {VERSION}")
    return contents, meta


def load(answer, networks, config, path):
    """Read the canonical file ``path`` into ``networks``; return them."""
    arrays, meta = read(path)
    return assign(answer, networks, config, arrays, meta, source=str(path))


# --- python -m gendojo export ---------------------------------------------------------------------


def export_run(folder, out=None, answers=None):
    """Turn the checkpoint of the run in ``folder`` (an answer's output folder) into a canonical
    file; return its path (default: ``folder/weights.npz``)."""
    import dataclasses
    import importlib.util

    from gendojo import checkpoints
    from gendojo.notebook import answer_path

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise GenDojoError(f"export: no such folder {folder}")
    try:
        checkpoint = checkpoints.read(folder)
    except GenDojoError:
        raise GenDojoError(
            f"export: no checkpoint in {folder}/checkpoint (an answer's run writes one, e.g. "
            f"outputs/gan/pytorch)"
        ) from None
    state = checkpoint["state"]
    if not state.get("topic") and (folder / "history.json").is_file():  # a weights-only checkpoint
        state = json.loads((folder / "history.json").read_text())
    topic, framework = state.get("topic"), state.get("framework")
    if not topic or not framework:
        raise GenDojoError(f"export: the checkpoint in {folder} does not say which answer wrote it")
    path = answer_path(topic, framework, answers)
    spec = importlib.util.spec_from_file_location(f"gendojo_export_{topic}_{framework}", path)
    answer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(answer)
    fields = {f.name for f in dataclasses.fields(answer.Config)}
    saved = {k: tuple(v) if isinstance(v, list) else v for k, v in (state.get("config") or {}).items()}
    config = answer.Config(**{k: v for k, v in saved.items() if k in fields})
    config = dataclasses.replace(config, device="cpu")
    networks = answer.build(config)
    checkpoints.load_networks(networks, checkpoint)
    return export(answer, networks, config, Path(out).expanduser() if out else folder / "weights.npz")


def main(argv=None):

    from gendojo.cli import _Parser

    parser = _Parser(
        prog="python -m gendojo export",
        description="Write the networks of a run's checkpoint as one framework-neutral .npz, which "
        "any framework's answer of the topic starts from with --init-from FILE.npz.",
    )
    parser.add_argument(
        "run", metavar="RUN_FOLDER", help="an answer's output folder, e.g. outputs/gan/pytorch"
    )
    parser.add_argument("--out", default="", metavar="FILE.npz", help="default: RUN_FOLDER/weights.npz")
    parser.add_argument(
        "--answers", default="", metavar="DIR", help="the answers' folder (default: answers/)"
    )
    args = parser.parse_args(argv)
    path = export_run(args.run, args.out or None, args.answers or None)
    print(f"wrote {path}")
