"""The child side of grading: seal this process, then run a student's answer in it.

Started by ``gendojo.sandbox`` (never by hand) as::

    [unshare --net --mount --propagation private --] python -s -B -m gendojo.sandbox_worker
        --workdir DIR [--hide PATH ...] [--uid N] [--cpu S] [--memory BYTES] -- serve R W
                                                                          -- exec PROGRAM ARG ...

Sealing, in this order, each step only where the parent found it possible: cover the instructor's
folders (reference answers, tests) with empty read-only file systems, keep the Python installation
reachable, drop to an unprivileged user id of its own, forbid new privileges, set CPU, memory,
file-size and process limits. Then ``serve`` imports the student's file and answers the grader's
requests (``gendojo.wire`` messages on two pipes), or ``exec`` runs a command (the answer's own
command line).
"""

import ctypes
import os
import resource
import stat
import sys
import traceback
from pathlib import Path

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC = 1, 2, 4, 4096, 16384
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _mount(source, target, fstype, flags, data=""):
    if _libc().mount(source.encode(), str(target).encode(), fstype.encode(), flags, data.encode()) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {target}: {os.strerror(error)}")


def _hide(path):
    """Cover ``path`` with something empty and read-only."""
    path = Path(path)
    if path.is_dir():
        _mount("none", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=555")
    elif path.exists():
        _mount("/dev/null", path, "", MS_BIND)


def _blocking_ancestor(path):
    """The first folder above ``path`` that others may not enter (e.g. /root), or None."""
    for parent in reversed(Path(path).parents):
        if parent != Path("/") and not os.stat(parent).st_mode & stat.S_IXOTH:
            return parent
    return None


def _expose(paths, workdir):
    """Make ``paths`` reachable for an unprivileged user when a folder above them is closed
    (a Python installed under /root): cover that folder with an open, empty one and bind back
    only the entries the paths need. Everything else in it stays out of sight."""
    needed = {}
    for path in paths:
        blocked = _blocking_ancestor(path)
        if blocked is not None:
            entry = blocked / Path(path).relative_to(blocked).parts[0]
            needed.setdefault(blocked, set()).add(entry)
    stage = Path(workdir).parent / f".stage-{os.getpid()}"
    for blocked, entries in needed.items():
        stage.mkdir(mode=0o700, exist_ok=True)
        staged = []
        for number, entry in enumerate(sorted(entries)):
            keep = stage / str(number)
            keep.mkdir()
            _mount(str(entry), keep, "", MS_BIND | MS_REC)
            staged.append((entry, keep))
        _mount("none", blocked, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
        for entry, keep in staged:
            entry.mkdir()
            _mount(str(keep), entry, "", MS_BIND | MS_REC)
            _libc().umount2(str(keep).encode(), MNT_DETACH)
            keep.rmdir()
        stage.rmdir()


def seal(workdir, hide=(), uid=None, cpu=None, memory=None, processes=None):
    _libc().prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # die with the grader
    if hide or uid is not None:
        for path in hide:
            _hide(path)
    if uid is not None:
        import gendojo

        _expose([sys.base_prefix, sys.prefix, Path(gendojo.__file__).parent, workdir], workdir)
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 30, 1 << 30))
    if cpu:
        resource.setrlimit(resource.RLIMIT_CPU, (int(cpu), int(cpu) + 5))
    if memory:
        resource.setrlimit(resource.RLIMIT_DATA, (int(memory), int(memory)))
    if processes:
        resource.setrlimit(resource.RLIMIT_NPROC, (int(processes), int(processes)))
    os.chdir(workdir)


# --- serving the grader's requests ---------------------------------------------------------------


class Server:
    """Holds the student's module and every object the grader has a handle to."""

    def __init__(self, first_id):
        self.module = None
        self.framework = ""
        self.objects = {}
        self.next_id = first_id

    # values that leave: arrays and data as they are, tensors as arrays, anything else a handle
    def outgoing(self, value, blobs):
        from gendojo import wire

        module = type(value).__module__ or ""
        array = None
        if module.startswith("torch") and hasattr(value, "detach"):
            array = value.detach().cpu().numpy()
        elif module.startswith("tensorflow") and hasattr(value, "numpy"):
            array = value.numpy()
        elif module.startswith("chainer") and type(value).__name__ == "Variable":
            array = value.array
        elif module.startswith(("jax", "jaxlib")) and hasattr(value, "__array__"):
            array = value.__array__()
        if array is not None:
            try:
                return wire.encode(array, blobs)
            except wire.WireError:
                pass
        self.next_id += 1
        self.objects[self.next_id] = value
        return wire.encode(wire.Handle(self.next_id, type(value).__name__), blobs)

    def incoming(self, name, values):
        """Rebuild a dataclass the grader sent: the answer's Config, the kit's Dataset, or an
        array to hand over as this framework's tensor."""
        import gendojo

        if name == "Config":
            return self.module.Config(**values)
        if name == "Dataset":
            return gendojo.Dataset(**values)
        if name == "AsTensor":
            return self.tensor(values["value"])
        raise ValueError(f"unexpected {name}")

    def tensor(self, array):
        if self.framework == "pytorch":
            import torch

            return torch.from_numpy(array)
        if self.framework == "tensorflow":
            import tensorflow as tf

            return tf.constant(array)
        if self.framework == "keras":
            import keras

            return keras.ops.convert_to_tensor(array)
        return array  # Chainer's functions take NumPy arrays

    def resolve(self, value):
        from gendojo import wire

        if isinstance(value, wire.Handle):
            if value.id not in self.objects:
                raise LookupError("that object belongs to an earlier process of this answer")
            return self.objects[value.id]
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def handle(self, request):
        op = request["op"]
        if op == "import":
            return self.load(request["path"], request["name"], request["framework"])
        if op == "call":
            target = self.module if request.get("target") is None else self.resolve(request["target"])
            function = getattr(target, request["name"]) if request.get("name") else target
            return function(*self.resolve(request["args"]), **self.resolve(request["kwargs"]))
        if op == "get":
            return getattr(self.resolve(request["target"]) or self.module, request["name"])
        if op == "item":
            return self.resolve(request["target"])[self.resolve(request["key"])]
        if op == "kit":
            return KIT[request["name"]](*self.resolve(request["args"]))
        raise ValueError(f"unknown request {op!r}")

    def load(self, path, name, framework):
        import importlib.util

        self.framework = framework
        sys.path.insert(0, str(Path(path).parent))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        self.module = module
        public = {n: getattr(module, n) for n in dir(module) if not n.startswith("_")}
        import dataclasses

        return {
            "callables": sorted(n for n, v in public.items() if callable(v)),
            "values": {n: v for n, v in public.items() if isinstance(v, int | float | str | bool)},
            "dataclasses": sorted(n for n, v in public.items() if dataclasses.is_dataclass(v)),
        }

    def serve(self, read_fd, write_fd):
        from gendojo import wire

        global _SERVER
        _SERVER = self

        reader, writer = os.fdopen(read_fd, "rb", buffering=0), os.fdopen(write_fd, "wb", buffering=0)

        def read(size):
            data = b""
            while len(data) < size:
                part = reader.read(size - len(data))
                if not part:
                    raise EOFError
                data += part
            return data

        while True:
            try:
                request = wire.receive(read, self.incoming)
            except EOFError:
                return
            if request.get("op") == "exit":
                return
            try:
                blobs = []
                result = self.handle(request)
                tree = wire.encode(result, blobs, lambda value, b=blobs: self.outgoing(value, b))
                reply = wire.pack_tree({"~": "dict", "items": [["ok", True], ["value", tree]]}, blobs)
            except BaseException as error:  # the grader decides what an error means
                reply = wire.pack({"ok": False, **describe(error)})
            writer.write(reply)


def describe(error):
    import gendojo

    text = str(error).strip()
    lines = traceback.format_exception(error)
    return {
        "type": type(error).__name__,
        "message": text[:2000],
        "not_implemented": isinstance(error, NotImplementedError),
        "gendojo": isinstance(error, gendojo.GenDojoError),
        "where": "".join(lines[-3:])[-1500:],
    }


# --- small measurements the grader asks for, run next to the networks ----------------------------


def _weights(network, trainable_only=False):
    """Each weight tensor of a network as an array, in the network's own order (BatchNorm's running
    statistics left out; with ``trainable_only`` False, Keras' frozen tensors are kept so that a
    discriminator frozen for good shows)."""
    import numpy as np

    from gendojo.frameworks import framework_of

    framework = framework_of(network)
    if framework == "pytorch":
        return [
            p.detach().cpu().numpy().copy()
            for p in network.parameters()
            if p.requires_grad or not trainable_only
        ]
    if framework == "tensorflow":
        return [v.numpy().copy() for v in network.trainable_variables]
    if framework == "keras":
        import keras

        if trainable_only:
            return [np.array(keras.ops.convert_to_numpy(w)) for w in network.trainable_weights]
        return [np.array(keras.ops.convert_to_numpy(w)) for w in network.weights if "moving_" not in w.path]
    if trainable_only:
        return [np.array(p.array).copy() for p in network.params()]
    return [np.array(p.array).copy() for _, p in sorted(network.namedparams())]


def _count(network):
    from gendojo import count_parameters

    return count_parameters(network)


def _zero_learning_rate(optimizer):
    """Set one optimizer's learning rate to 0 before its first update, whatever the framework, and
    keep it at 0 when the answer sets a rate at every step (a schedule, such as the DCGAN's)."""
    from gendojo.checkpoints import optimizer_framework

    framework = optimizer_framework(optimizer)
    if framework == "pytorch":  # the steps read group["lr"]: groups that keep it at 0
        optimizer.param_groups[:] = [_ZeroRate(group) for group in optimizer.param_groups]
    elif framework == "chainer":  # the update rules read the optimizer's hyperparameters
        # Adam's step size is alpha (RMSprop's alpha is its decay rate); the others' is lr
        name = "alpha" if hasattr(optimizer.hyperparam, "beta1") else "lr"
        hyperparam = optimizer.hyperparam
        setattr(hyperparam, name, 0.0)
        hyperparam.__class__ = type("ZeroRate", (type(hyperparam),), {"__setattr__": _keep(name)})
    elif framework == "keras":  # a variable behind a setter: a setter that writes 0
        optimizer.learning_rate = 0.0
        kind = type(optimizer)
        setter = property(kind.learning_rate.fget, lambda self, value: kind.learning_rate.fset(self, 0.0))
        optimizer.__class__ = type(kind.__name__, (kind,), {"learning_rate": setter})
    elif hasattr(optimizer.learning_rate, "assign"):  # gendojo.tf_core: a tf.Variable, kept at 0
        optimizer.learning_rate.assign(0.0)
        optimizer.learning_rate.assign = lambda value, *args, **kwargs: None
    else:  # another tf.Module optimizer: a Python number, read when its step is traced
        optimizer.learning_rate = 0.0


class _ZeroRate(dict):
    """A PyTorch parameter group whose learning rate stays 0, whatever is written to it."""

    def __init__(self, group):
        super().__init__(group)
        super().__setitem__("lr", 0.0)

    def __setitem__(self, key, value):
        super().__setitem__(key, 0.0 if key == "lr" else value)


def _keep(name):
    """``__setattr__`` for Chainer hyperparameters that keeps ``name`` at 0."""

    def setattr_(self, key, value):
        object.__setattr__(self, key, 0.0 if key == name else value)

    return setattr_


def _frozen_step(module, config, data, frozen):
    """``module.train`` for ``config.steps`` steps with the optimizer named ``frozen`` given learning
    rate 0 (the grader's probe: what moves that network then is some other update). Returns every
    network's trainable weights as ``build`` made them and after the run."""
    from gendojo import runs

    original = runs.Run.steps

    def steps(run, optimizers, description=""):
        named = optimizers if isinstance(optimizers, dict) else {"optimizer": optimizers}
        if frozen not in named:
            raise LookupError(f"train passes run.steps no optimizer named {frozen!r} ({sorted(named)})")
        _zero_learning_rate(named[frozen])
        yield from original(run, optimizers, description)

    networks = module.build(config)
    before = {name: _weights(network, trainable_only=True) for name, network in networks.items()}
    runs.Run.steps = steps
    try:
        networks, _ = module.train(config, data, networks=networks)
    finally:
        runs.Run.steps = original
    after = {name: _weights(network, trainable_only=True) for name, network in networks.items()}
    return before, after


_SERVER = None  # the answer's server, for the kit's probes that run its module
KIT = {
    "frozen_step": lambda config, data, frozen: _frozen_step(_SERVER.module, config, data, frozen),
    "weights": _weights,
    "trainable_weights": lambda network: _weights(network, trainable_only=True),
    "count_parameters": _count,
    "keras_backend": lambda: __import__("keras").backend.backend(),
    "threads": lambda: {
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "torch": sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None,
    },
}


def main(argv):
    import argparse

    separator = argv.index("--")
    parser = argparse.ArgumentParser(prog="gendojo.sandbox_worker")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--hide", action="append", default=[])
    parser.add_argument("--uid", type=int)
    parser.add_argument("--cpu", type=float)
    parser.add_argument("--memory", type=int)
    parser.add_argument("--processes", type=int)
    parser.add_argument("--first-id", type=int, default=0)
    options = parser.parse_args(argv[:separator])
    mode, rest = argv[separator + 1], argv[separator + 2 :]
    seal(options.workdir, options.hide, options.uid, options.cpu, options.memory, options.processes)
    if mode == "exec":
        os.execv(rest[0], rest)
    Server(options.first_id).serve(int(rest[0]), int(rest[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
