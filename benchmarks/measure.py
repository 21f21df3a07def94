"""One throughput measurement in this process: one answer, or its reference loop, timed per step.

``benchmarks/throughput.py`` runs this once per measurement, each in a fresh process, so that
frameworks share no thread pools, memory or compiled functions. It is not meant to be run by
hand, but can be:

    python benchmarks/measure.py --topic dcgan --framework pytorch --kind answer --steps 40 \\
        --threads 2 --result /tmp/dcgan.json

The answer trains with its own ``train(config, data, callback=...)``, at its default config with
``steps`` set; the callback only takes a timestamp. The reference trains the same networks with
``benchmarks/reference/<framework>_reference.py``, which takes a timestamp after every step the
same way. The result file holds the timestamps (``time.perf_counter``), the thread settings in
effect, and how much CPU other processes used while it trained (from /proc/stat).
"""

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)


def cpu_counters():
    """(busy, steal) seconds of all CPUs together since boot, from /proc/stat; None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq + steal) / tick, steal / tick


def cpu_use(before, after, own_seconds, wall_seconds):
    """How busy the machine was besides this process: the CPU time of everything else (and the
    time the hypervisor took, "steal") as a share of all CPUs over ``wall_seconds``."""
    if before is None or after is None or wall_seconds <= 0:
        return None
    capacity = wall_seconds * (os.cpu_count() or 1)
    return {
        "others_share": max(0.0, (after[0] - before[0] - own_seconds) / capacity),
        "steal_share": (after[1] - before[1]) / capacity,
        "own_cpu_s": own_seconds,
    }


def thread_environment(threads):
    """Environment variables that fix every framework's thread pools (set before they start)."""
    return dict.fromkeys(THREAD_VARIABLES, str(threads))


def set_threads(framework, threads):
    """Set the thread pools of the framework (and of the Keras backend) before any work runs;
    return the settings in effect. NumPy (and Chainer on the CPU) follow the BLAS variables."""
    settings = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    backend = framework
    if framework == "keras":
        import keras

        backend = keras.backend.backend()
        settings["keras_backend"] = backend
    if backend in ("pytorch", "torch"):
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(threads)
        settings["torch_threads"] = torch.get_num_threads()
        settings["torch_interop_threads"] = torch.get_num_interop_threads()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        settings["tf_intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads()
        settings["tf_inter_op_threads"] = tf.config.threading.get_inter_op_parallelism_threads()
    return settings


def measure(topic, framework, kind, steps, threads, device=None):
    """Train ``steps`` steps; return the per-step timestamps and what they were taken under."""
    settings = set_threads(framework, threads)
    sys.path.insert(0, str(ROOT))
    import gendojo
    from benchmarks.reference import load_answer, module_for

    answer = load_answer(topic, framework)
    overrides = {"steps": steps, **({"device": device} if device else {})}
    config = dataclasses.replace(answer.Config(), **overrides)
    data = gendojo.load_dataset(config)
    stamps = []

    def probe():
        stamps.append(time.perf_counter())

    counters, own = cpu_counters(), time.process_time()
    start = time.perf_counter()
    if kind == "answer":
        answer.train(config, data, callback=lambda step, networks: probe())
    else:
        module_for(framework).train(answer, config, data, steps, probe)
    end = time.perf_counter()
    cpu = cpu_use(counters, cpu_counters(), time.process_time() - own, end - start)
    return {
        "topic": topic,
        "framework": framework,
        "kind": kind,
        "steps": steps,
        "start": start,
        "stamps": stamps,
        "cpu": cpu,
        "threads": settings,
        "device": str(answer.device_for(config)),
        "config": {k: v for k, v in dataclasses.asdict(config).items() if isinstance(v, int | float | str)},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description="One throughput measurement (see benchmarks/README.md).")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--framework", required=True)
    parser.add_argument("--kind", choices=("answer", "reference"), required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--device", default=None, help="override the config's device (auto, cpu, gpu)")
    parser.add_argument("--result", required=True, help="JSON file to write")
    args = parser.parse_args(argv)
    result = measure(args.topic, args.framework, args.kind, args.steps, args.threads, args.device)
    Path(args.result).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
