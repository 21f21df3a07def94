"""Run a student's answer in a sealed child process and talk to it with data only.

The grader never imports a student's file. ``AnswerProcess`` starts one child per answer (it
imports the file once for all the checks), sends it requests ("call build(config)", "call
generate(networks, latents)") and gets back data: arrays, numbers, histories, and opaque handles
to what must stay in the child (networks, optimizers). The checks then compute their numbers in
the grader, on that data.

The child gets a fresh working folder holding only the student's file, a scrubbed environment
with one thread per framework (so a result does not depend on how the grader was run), CPU,
memory, file-size and process limits, and a wall-clock limit that kills its whole process group.
Where the OS allows it (Linux as root with namespaces) it also has no network, the instructor's
folders are covered with empty ones, and it runs as an unprivileged user id of its own.
``protections()`` says which of these are in force; the grade report repeats it.
"""

import atexit
import contextlib
import dataclasses
import itertools
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from functools import cache
from pathlib import Path

import gendojo
from gendojo import wire
from gendojo.errors import GenDojoError

KIT_ROOT = Path(gendojo.__file__).resolve().parent.parent
PASSED_ON = ("KERAS_BACKEND", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "TF_ENABLE_ONEDNN_OPTS")
THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
           "TF_NUM_INTEROP_THREADS")  # fmt: skip
DEFAULT_LIMITS = {"cpu_seconds": 1200, "memory_mb": 6144, "processes": 512}

# Folders a student's process must not see: the instructor's answers, tests and reference loops.
hidden = [KIT_ROOT / "answers", KIT_ROOT / "tests", KIT_ROOT / "benchmarks"]


class RemoteError(Exception):
    """The student's code raised ``remote_type`` in its process."""

    def __init__(self, remote_type, message, where=""):
        super().__init__(f"{remote_type}: {message}" if message else remote_type)
        self.remote_type, self.message, self.where = remote_type, message, where


class RemoteNotImplemented(RemoteError, NotImplementedError):
    """A starter file's ``raise NotImplementedError("Qn ... is not implemented yet")``."""

    def __str__(self):
        return self.message


class RemoteGenDojoError(RemoteError, GenDojoError):
    """The answer stopped with the kit's clear error for bad input, as it should."""

    def __str__(self):
        return self.message


class RemoteTimeout(Exception):
    def __init__(self, seconds):
        super().__init__(f"did not finish within {seconds:g} s")
        self.seconds = seconds


class RemoteDied(Exception):
    """The child is gone: it crashed, exited, or broke the channel."""


@dataclasses.dataclass(frozen=True)
class AsTensor:
    """An array the child hands to the answer as its framework's tensor."""

    value: object


# --- what the OS lets us do --------------------------------------------------------------------

_uids = itertools.count((os.getpid() * 97) % 30000 + 20000)


@cache
def protections():
    """{"namespaces": bool, "user": bool, "why": str}: which seals this machine allows, tested by
    starting a sealed child that imports NumPy and the kit."""
    if os.environ.get("GENDOJO_SANDBOX") == "off":  # for debugging the grader only
        return {"namespaces": False, "user": False, "why": "GENDOJO_SANDBOX=off"}
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("unshare"):
        return {"namespaces": False, "user": False, "why": "needs Linux, root and unshare"}
    for user in (True, False):
        with tempfile.TemporaryDirectory(prefix="gendojo-probe-") as folder:
            settings = {"namespaces": True, "user": user}
            command = _command(
                settings, Path(folder), ["exec", sys.executable, "-c", "import numpy, gendojo"]
            )
            _prepare_workdir(Path(folder), settings, uid=command.uid)
            result = subprocess.run(
                command.argv, env=_environment(Path(folder)), capture_output=True, timeout=120
            )
            _kill_user(command.uid)
            if result.returncode == 0:
                why = "" if user else "the Python installation is not readable by an unprivileged user"
                return {**settings, "why": why}
    return {"namespaces": False, "user": False, "why": "unshare failed here"}


def describe_protections():
    """One sentence for reports."""
    p = protections()
    parts = ["own process per answer", "wall-clock, CPU, memory and process limits", "scrubbed environment",
             "one thread per framework"]  # fmt: skip
    if p["namespaces"]:
        parts += ["no network", "instructor's answers and tests hidden"]
    if p["user"]:
        parts.append("unprivileged user id")
    missing = (
        [] if p["user"] else ["no unprivileged user" if p["namespaces"] else "no network or user isolation"]
    )
    text = "; ".join(parts)
    if missing:
        text += f" ({', '.join(missing)}: {p['why']})"
    return text


class _Command:
    def __init__(self, argv, uid):
        self.argv, self.uid = argv, uid


def _command(settings, workdir, tail, limits=None, first_id=0):
    limits = {**DEFAULT_LIMITS, **(limits or {})}
    uid = next(_uids) if settings["user"] else None
    argv = ["unshare", "--net", "--mount", "--propagation", "private", "--"] if settings["namespaces"] else []
    argv += [sys.executable, "-s", "-B", "-m", "gendojo.sandbox_worker", "--workdir", str(workdir)]
    if settings["namespaces"]:
        for path in hidden:
            if path.exists() and not _contains(path, workdir) and not _contains(path, KIT_ROOT / "gendojo"):
                argv += ["--hide", str(path)]
    if uid is not None:
        argv += ["--uid", str(uid), "--processes", str(limits["processes"])]
    argv += ["--cpu", str(limits["cpu_seconds"]), "--memory", str(limits["memory_mb"] << 20)]
    argv += ["--first-id", str(first_id), "--", *tail]
    return _Command(argv, uid)


def _contains(folder, path):
    try:
        Path(path).resolve().relative_to(Path(folder).resolve())
        return True
    except ValueError:
        return False


def _environment(workdir):
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir), "TMPDIR": str(workdir), "LANG": "C.UTF-8",
        "PYTHONPATH": str(KIT_ROOT), "PYTHONHASHSEED": "0", "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(workdir / ".matplotlib"), "TF_CPP_MIN_LOG_LEVEL": "3",
        "CUDA_VISIBLE_DEVICES": "", "GENDOJO_DATA": str(shared_cache()), "TQDM_DISABLE": "1",
    }  # fmt: skip
    env |= {name: "1" for name in THREADS}
    env |= {name: os.environ[name] for name in PASSED_ON if name in os.environ}
    return env


@cache
def shared_cache():
    """One download and quality-score cache for all the answer processes of this grading run
    (``GENDOJO_DATA``): the quality score's feature network for a data set is trained once, not
    once per answer. It starts as a copy of this checkout's cache and is removed at exit. Open to
    every sandbox user id (sticky, like /tmp); what an answer writes there can only cost its own
    tree's later answers a retraining, since a damaged or foreign file is retrained."""
    from gendojo import quality

    folder = Path(tempfile.mkdtemp(prefix="gendojo-cache-"))
    cached = quality.cache_folder()
    if cached.is_dir():
        shutil.copytree(cached, folder / "quality", dirs_exist_ok=True)
    (folder / "quality").mkdir(exist_ok=True)
    for path in [folder, *folder.rglob("*")]:
        os.chmod(path, 0o1777 if path.is_dir() else 0o644)
    atexit.register(shutil.rmtree, folder, True)
    return folder


def _prepare_workdir(workdir, settings, uid=None, files=()):
    """The child's folder: the student's file."""
    for source in files:
        shutil.copy(source, workdir / Path(source).name)
    if uid is not None:
        for path in [workdir, *workdir.rglob("*")]:
            os.chown(path, uid, uid)


def _kill_user(uid):
    """SIGKILL every process of a sandbox user id (a daemon a student's code left behind)."""
    if uid is None:
        return
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            for line in status.read_text().splitlines():
                if line.startswith("Uid:") and int(line.split()[1]) == uid:
                    os.kill(int(status.parent.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


# --- deadlines ---------------------------------------------------------------------------------

_local = threading.local()


@contextlib.contextmanager
def deadline(seconds):
    """Requests inside must be answered within ``seconds`` in all (else ``RemoteTimeout``)."""
    stack = _local.__dict__.setdefault("stack", [])
    stack.append((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        stack.pop()


def _current_deadline(default):
    stack = getattr(_local, "stack", [])
    if stack:
        return min(stack, key=lambda item: item[0])
    return time.monotonic() + default, default


# --- one answer in one child ---------------------------------------------------------------------


class AnswerProcess:
    """A student's file imported in a sealed child; requests go in, data comes out."""

    generations = itertools.count(1)

    def __init__(self, path, framework, limits=None, default_seconds=180, env=None):
        self.path, self.framework, self.env = Path(path), framework, env or {}
        self.limits, self.default_seconds = limits, default_seconds
        self.process = None
        self.info = None

    # life cycle
    def start(self, import_seconds=120):
        settings = protections()
        self.workdir = Path(tempfile.mkdtemp(prefix="gendojo-answer-"))
        generation = next(self.generations)
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        command = _command(settings, self.workdir, ["serve", str(request_r), str(reply_w)], self.limits,
                           first_id=generation * 10**9)  # fmt: skip
        self.uid = command.uid
        _prepare_workdir(self.workdir, settings, self.uid, files=[self.path])
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the process)
        self.process = subprocess.Popen(
            command.argv, env=_environment(self.workdir) | self.env, stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT, pass_fds=(request_r, reply_w), start_new_session=True,
        )  # fmt: skip
        os.close(request_r)
        os.close(reply_w)
        self.requests, self.replies = request_w, reply_r
        name = f"student_{self.path.stem}"
        with deadline(import_seconds):
            self.info = self.request(
                op="import", path=str(self.workdir / self.path.name), name=name, framework=self.framework
            )
        return self.info

    def close(self):
        if self.process is None:
            return
        with contextlib.suppress(OSError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.process.wait(timeout=10)
        _kill_user(self.uid)
        for fd in (self.requests, self.replies):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.process = None
        self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def alive(self):
        return self.process is not None and self.process.poll() is None

    def output_tail(self, lines=5):
        self.log.seek(0)
        text = self.log.read().decode(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])

    # requests
    def request(self, **message):
        if not self.alive:
            raise RemoteDied(self._death())
        end, seconds = _current_deadline(self.default_seconds)
        try:
            self._write(wire.pack(message), end)
            reply = wire.receive(lambda size: self._read(size, end), self._dataclass)
        except TimeoutError:
            self.close()
            raise RemoteTimeout(seconds) from None
        except (EOFError, BrokenPipeError, OSError, wire.WireError) as error:
            description = self._death(error)
            self.close()
            raise RemoteDied(description) from None
        if not isinstance(reply, dict) or "ok" not in reply:
            self.close()
            raise RemoteDied("the answer's process sent something that is not a reply")
        if reply["ok"]:
            return reply.get("value")
        kind = RemoteError
        if reply.get("not_implemented"):
            kind = RemoteNotImplemented
        elif reply.get("gendojo"):
            kind = RemoteGenDojoError
        raise kind(str(reply.get("type")), str(reply.get("message", "")), str(reply.get("where", "")))

    def _death(self, error=None):
        if self.process is None:
            return "the answer's process was stopped earlier"
        code = self.process.poll()
        if code is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.process.wait(timeout=2)
        if code is not None and code < 0:
            what = f"was killed by {signal.Signals(-code).name}"
            if -code in (signal.SIGXCPU, signal.SIGKILL):
                what += " (a CPU or memory limit?)"
        elif code is not None:
            what = f"exited with code {code}"
        else:
            what = f"broke the channel ({type(error).__name__})"
        tail = self.output_tail()
        return f"the answer's process {what}" + (f"; its last output: {tail[-300:]}" if tail else "")

    def _write(self, data, end):
        view = memoryview(data)
        while view:
            remaining = end - time.monotonic()
            if remaining <= 0 or not select.select([], [self.requests], [], remaining)[1]:
                raise TimeoutError
            view = view[os.write(self.requests, view[: 1 << 16]) :]

    def _read(self, size, end):
        parts, count = [], 0
        while count < size:
            remaining = end - time.monotonic()
            if remaining <= 0 or not select.select([self.replies], [], [], remaining)[0]:
                raise TimeoutError
            part = os.read(self.replies, min(size - count, 1 << 20))
            if not part:
                raise EOFError
            parts.append(part)
            count += len(part)
        return b"".join(parts)

    @staticmethod
    def _dataclass(name, values):
        if name == "Dataset":
            return gendojo.Dataset(**values)
        return wire.plain_dataclass(name, values)

    # conveniences
    def call(self, name, *args, **kwargs):
        return self.request(op="call", target=None, name=name, args=list(args), kwargs=kwargs)

    def call_handle(self, handle, *args, **kwargs):
        return self.request(op="call", target=handle, name="", args=list(args), kwargs=kwargs)

    def kit(self, name, *args):
        return self.request(op="kit", name=name, args=list(args))
