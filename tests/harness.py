"""The grading harness's machinery: find answers, run them sealed, train them on a tiny subset.

A student's file is never imported here. ``load`` starts it in its own sealed process
(``gendojo.sandbox``) and returns a ``RemoteAnswer``: calling ``answer.build(config)`` sends the
request there and brings back data (arrays, histories) or handles to what stays there (networks).
The checks compute their numbers here, on that data. Everything a student's file can do wrong (not
exist, not import, raise, hang, crash, return nonsense) becomes an ``AnswerProblem`` with a
sentence a person can read, never a crash of the harness. The checks themselves live in
``test_answers.py`` (every topic) and ``test_<topic>.py`` (one topic).
"""

import ast
import dataclasses
import functools
import hashlib
import importlib.util
import re
import sys
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

import gendojo
from gendojo import sandbox
from gendojo.notebook import config_defaults
from gendojo.sandbox import AsTensor, RemoteDied, RemoteError, RemoteTimeout

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "answers"
QUESTIONS = ROOT / "questions"
TOPICS = Path(__file__).resolve().parent / "topics"

# Seconds before a check gives up on an answer; --time-limit changes "train" (and the CLI run).
limits = {"import": 120, "train": 180}  # TensorFlow alone takes ~5 s to import on 2 cores
# The sealed process's own limits (gendojo.sandbox.DEFAULT_LIMITS); a grading file can change them.
process_limits = dict(sandbox.DEFAULT_LIMITS)

__all__ = ["AsTensor", "RemoteError"]


class AnswerRef(NamedTuple):
    """One answer file under test: ``answers/<topic>/<topic>_<framework>.py`` of some tree."""

    topic: str
    framework: str
    path: Path

    @property
    def id(self):
        return f"{self.topic}-{self.framework}"


class AnswerProblem(pytest.fail.Exception):
    """Something wrong with an answer, worded for the person who wrote it.

    It is pytest's own "failed" outcome without a traceback, so a check that meets one fails
    with exactly this sentence.
    """

    def __init__(self, message):
        super().__init__(message, pytrace=False)


@contextmanager
def deadline(seconds, what):
    """Requests to answers inside must be answered within ``seconds`` in all; else
    ``AnswerProblem`` naming ``what`` (the answer's process is killed, its whole group)."""
    try:
        with sandbox.deadline(seconds):
            yield
    except RemoteTimeout:
        raise AnswerProblem(
            f"{what} did not finish within {seconds:g} s (an endless loop, or far too much work)"
        ) from None


# --- finding answers ---------------------------------------------------------------------------


def spec_topics():
    """Topics the harness knows how to check: one ``tests/topics/<topic>.py`` each."""
    return sorted(p.stem for p in TOPICS.glob("*.py") if not p.stem.startswith("_"))


@cache
def topic_spec(topic):
    spec = importlib.util.spec_from_file_location(f"gendojo_topic_{topic}", TOPICS / f"{topic}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def discover(answers_dir, topics=None, frameworks=None):
    """Every (topic, framework) to check in a tree laid out like ``answers/``.

    A topic counts when its folder exists in the tree (or, for the reference tree, always); each
    of its four frameworks is then expected, so a missing file is a failed check, not a skip.
    """
    answers_dir = Path(answers_dir)
    known = spec_topics()
    present = [t for t in known if (answers_dir / t).is_dir()]
    chosen = [t for t in present if not topics or t in topics]
    return [
        AnswerRef(topic, framework, answers_dir / topic / f"{topic}_{framework}.py")
        for topic in chosen
        for framework in gendojo.FRAMEWORKS
        if not frameworks or framework in frameworks
    ]


def reference(topic, framework="pytorch"):
    return AnswerRef(topic, framework, REFERENCE / topic / f"{topic}_{framework}.py")


# --- running answers -----------------------------------------------------------------------------

_modules = {}


class RemoteAnswer:
    """A student's answer in its own process: ``answer.build(config)``, ``answer.Config()``,
    ``answer.TOPIC`` read and call there; ``answer.kit.weights(network)`` runs one of the
    grader's measurements there (``gendojo.sandbox_worker.KIT``)."""

    def __init__(self, ref, process, info):
        self.REF, self._process, self._info = ref, process, info
        self.__name__ = f"answer_{ref.id}_{hashlib.sha1(str(ref.path).encode()).hexdigest()[:8]}"
        self.kit = _Kit(self)

    @property
    def workdir(self):
        """The answer process's own folder: the only place it may write."""
        return self._process.workdir

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._info["callables"]:
            return functools.partial(self._call, name)
        if name in self._info["values"]:
            return self._info["values"][name]
        raise AttributeError(f"{self.REF.path.name} defines no {name}")

    def has(self, name):
        return name in self._info["callables"] or name in self._info["values"]

    def _call(self, name, *args, **kwargs):
        if not self._process.alive:  # it hung or crashed in an earlier check: start it again
            self._process.start(limits["import"])
        return self._process.call(name, *args, **kwargs)

    def close(self):
        self._process.close()


class _Kit:
    def __init__(self, answer):
        self._answer = answer

    def __getattr__(self, name):
        def run(*args):
            if not self._answer._process.alive:
                self._answer._process.start(limits["import"])
            return self._answer._process.kit(name, *args)

        return run


def load(ref):
    """Start an answer file in its own process, once; ``AnswerProblem`` if it can't be imported."""
    key = str(ref.path.resolve()) if ref.path.exists() else str(ref.path)
    return _cached(_modules, key, lambda: _start(ref))


def release(ref):
    """Stop the answer's process and forget its cached runs: its checks are done."""
    key = str(ref.path.resolve()) if ref.path.exists() else str(ref.path)
    answer = _modules.pop(key, None)
    if isinstance(answer, RemoteAnswer):
        answer.close()
        for cached in [k for k in _runs if k[0] == answer.__name__]:
            del _runs[cached]


def _cached(store, key, make):
    """``make()`` once per key; a failure is remembered and raised again, not retried."""
    if key not in store:
        try:
            store[key] = make()
        except AnswerProblem as problem:
            store[key] = problem
    result = store[key]
    if isinstance(result, AnswerProblem):
        raise AnswerProblem(result.msg)
    return result


def _start(ref):
    if not ref.path.exists():
        raise AnswerProblem(f"{ref.path.name} is missing (expected at {ref.path})")
    try:
        compile(ref.path.read_bytes(), ref.path.name, "exec")
    except SyntaxError as error:
        raise AnswerProblem(
            f"{ref.path.name} has a syntax error on line {error.lineno}: {error.msg}"
        ) from None
    process = sandbox.AnswerProcess(ref.path, ref.framework, process_limits, limits["train"])
    try:
        info = process.start(limits["import"])
    except RemoteTimeout:
        process.close()
        raise AnswerProblem(
            f"importing {ref.path.name} did not finish within {limits['import']:g} s"
        ) from None
    except RemoteDied as error:
        process.close()
        raise AnswerProblem(f"importing {ref.path.name}: {error}") from None
    except RemoteError as error:  # anything, even SystemExit from a stray parse_args() at import
        process.close()
        raise AnswerProblem(f"importing {ref.path.name} raised {_describe(error)}") from None
    missing = [n for n in ("Config", "build", "train", "main") if n not in info["callables"]]
    if missing:
        process.close()
        raise AnswerProblem(f"{ref.path.name} defines no {', '.join(missing)} (see CONTRIBUTING.md)")
    if "Config" not in info["dataclasses"]:
        process.close()
        raise AnswerProblem(f"{ref.path.name}: Config must be a dataclass")
    return RemoteAnswer(ref, process, info)


def load_local(ref):
    """Import one of the project's own answer files into this process (kit tests only, never a
    student's file)."""
    name = f"gendojo_local_{ref.topic}_{ref.framework}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ref.path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _describe(error):
    kind = getattr(error, "remote_type", type(error).__name__)
    message = getattr(error, "message", str(error)).strip().splitlines()
    if isinstance(error, NotImplementedError):
        first = message[0] if message else "a NotImplementedError"
        return first if "not implemented yet" in first else f"not implemented yet ({first})"
    return f"{kind}: {message[0][:300] if message else ''}".rstrip(": ")


_hung = {}  # answer module name → the time-limit message of its first hang


def stop_if_hung(answer):
    """Once an answer has hung, its other training checks fail at once instead of waiting again."""
    if answer.__name__ in _hung:
        raise AnswerProblem(f"not run: {_hung[answer.__name__]}")


@contextmanager
def answer_code(what, seconds=None, answer=None):
    """Run a student's code: exceptions, crashes and hangs become one readable ``AnswerProblem``."""
    try:
        with deadline(seconds or limits["train"], what):
            yield
    except AnswerProblem as problem:
        if answer is not None and "did not finish within" in problem.msg:
            _hung[answer.__name__] = problem.msg
        raise
    except RemoteDied as error:
        raise AnswerProblem(f"{what}: {error}") from None
    except NotImplementedError as error:  # a starter file's "Qn of questions/… is not implemented yet"
        raise AnswerProblem(f"{what}: {_describe(error)}") from None
    except Exception as error:
        raise AnswerProblem(f"{what} raised {_describe(error)}") from None


# --- tiny training runs --------------------------------------------------------------------------


class Run(NamedTuple):
    networks: dict
    history: dict
    config: object
    data: gendojo.Dataset


def tiny_config(answer, topic, **overrides):
    spec = topic_spec(topic)
    return dataclasses.replace(answer.Config(), **{**spec.TINY, "quiet": True, **overrides})


_data = {}


def tiny_data(config):
    key = (config.dataset, config.image_size, config.channels, config.dataset_size, config.seed)
    if key not in _data:
        _data[key] = gendojo.load_dataset(config)
    return _data[key]


_runs = {}


def train_tiny(answer, topic, **overrides):
    """``answer.train`` on the topic's tiny config; cached per answer and overrides."""
    key = (answer.__name__, tuple(sorted(overrides.items())))
    stop_if_hung(answer)

    def run():
        config = tiny_config(answer, topic, **overrides)
        data = tiny_data(config)
        with answer_code(f"train(config, data) for {config.steps} tiny steps", answer=answer):
            networks, history = answer.train(config, data)
        return Run(networks, history, config, data)

    return _cached(_runs, key, run)


def check_history(history, names):
    """The history is a dict of per-step float lists with (at least) the topic's names, all finite."""
    if not isinstance(history, dict):
        raise AnswerProblem(
            f"train must return (networks, history) with history a dict, got {type(history).__name__}"
        )
    missing = [n for n in names if n not in history]
    if missing:
        raise AnswerProblem(f"history has no {', '.join(map(repr, missing))} (it has {sorted(history)})")
    for name in names:
        values = np.asarray(history[name], dtype=np.float64)
        if values.ndim != 1 or len(values) == 0:
            raise AnswerProblem(f"history[{name!r}] should be one number per step, got shape {values.shape}")
        if not np.all(np.isfinite(values)):
            first = int(np.flatnonzero(~np.isfinite(values))[0])
            raise AnswerProblem(f"history[{name!r}] is not finite from step {first} on ({values[first]})")


def check_falls(values, name, ratio, window="last"):
    """The loss ``values`` (one per step) fall: a 10-step average ends below ``ratio`` × the first 10.

    ``window="last"`` compares the last 10 steps. ``window="lowest"`` compares the lowest 10-step
    average after the first 10 steps: in a GAN game D's loss falls while D learns and rises again
    when G catches up, so "D's loss is low at the very end" measures who is ahead at that moment,
    not whether D learned (measured on the DCGAN's tiny run: Keras' D fell from 0.66 to 0.35 by
    step 40 and was back at 0.68 by step 100, as G learned to fool it).
    """
    values = np.asarray(values, dtype=np.float64)
    first = values[:10].mean()
    if window == "lowest":
        means = np.convolve(values[10:], np.ones(10) / 10, mode="valid")
        where = f"lowest 10-step average after the first 10 steps {means.min():.4f}"
        end = means.min()
    else:
        end = values[-10:].mean()
        where = f"last 10 average {end:.4f}"
    assert end < ratio * first, (
        f"{name} did not fall enough in {len(values)} steps: first 10 average {first:.4f}, {where}, "
        f"needed below {ratio} × first"
    )


# --- what the sheet and the reference say ---------------------------------------------------------


def sheet_parameter_counts(topic):
    """{network: count} from the ``## Parameter counts`` table of ``questions/<topic>.md``."""
    sheet = QUESTIONS / f"{topic}.md"
    if not sheet.exists():
        raise AnswerProblem(f"the question sheet {sheet.name} is missing")
    text = sheet.read_text()
    match = re.search(r"^## Parameter counts\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not match:
        raise AnswerProblem(f"{sheet.name} has no '## Parameter counts' section")
    counts = {
        name: int(number.replace(",", ""))
        for name, number in re.findall(r"^\|\s*`(\w+)`\s*\|\s*([\d,]+)\s*\|", match.group(1), re.M)
    }
    if not counts:
        raise AnswerProblem(f"{sheet.name}'s parameter table has no rows like | `name` | 1,234 |")
    return counts


def reference_config(topic, real_images=False):
    """{field: default} of the reference answer's ``Config``, read from its source (the grader
    never runs the reference in a student's process, nor imports it here); with
    ``real_images``, the defaults on real images."""
    return config_defaults(REFERENCE / topic / f"{topic}_pytorch.py", real_images)


def runs_main_as_a_script(path):
    """Whether the file ends in ``if __name__ == "__main__":`` calling ``main`` (through
    ``gendojo.run_main(main)`` or directly)."""
    for node in ast.parse(Path(path).read_text()).body:
        if (
            isinstance(node, ast.If)
            and "__main__" in ast.unparse(node.test)
            and "__name__" in ast.unparse(node.test)
        ):
            return any("main" in ast.unparse(statement) for statement in node.body)
    return False


def outline(path):
    """The file's ``# %%`` section titles and its top-level class and function names, in order."""
    source = Path(path).read_text()
    sections = [
        line[4:].strip()
        for line in source.splitlines()
        if line.startswith("# %% ") and "[markdown]" not in line
    ]
    tree = ast.parse(source)
    names = [node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)]
    return sections, names
