"""Let Chainer 7.8.1 (the last release, 2019) import under NumPy 2.

Chainer reads two names that NumPy 2 removed:

* ``numpy.sctypes`` (``chainer/functions/array/as_strided.py``), a dict of scalar types by kind;
* ``numpy.distutils.system_info`` (``chainer/_environment_check.py``), used only on macOS to warn
  about Accelerate.

``install()`` puts back exactly those two names, and nothing else, before ``import chainer``.
Every Chainer answer calls it first; ``tests/test_chainer_compat.py`` proves it is needed and
enough. On NumPy 1 it does nothing.
"""

import sys
import types
import warnings

import numpy as np


def _sctypes():
    return {
        "int": [np.int8, np.int16, np.int32, np.int64],
        "uint": [np.uint8, np.uint16, np.uint32, np.uint64],
        "float": [np.float16, np.float32, np.float64, np.longdouble],
        "complex": [np.complex64, np.complex128, np.clongdouble],
        "others": [bool, object, bytes, str, np.void],
    }


def _distutils():
    distutils = types.ModuleType("numpy.distutils")
    system_info = types.ModuleType("numpy.distutils.system_info")
    # Chainer asks for the BLAS build info to spot macOS Accelerate; "unknown" is a safe answer.
    system_info.get_info = lambda name, notfound_action=0: {}
    distutils.system_info = system_info
    return distutils, system_info


def install():
    """Backfill ``numpy.sctypes`` and ``numpy.distutils.system_info`` if this NumPy lacks them."""
    if "sctypes" not in np.__dict__:
        np.sctypes = _sctypes()  # noqa: NPY201  (putting back exactly what NumPy 2 removed)
    try:
        import numpy.distutils.system_info  # noqa: F401  (NumPy 1 still has it)
    except ImportError:
        distutils, system_info = _distutils()
        sys.modules["numpy.distutils"] = distutils
        sys.modules["numpy.distutils.system_info"] = system_info
        np.distutils = distutils


def import_chainer():
    """``install()``, then import and return Chainer, with a clear error if it is not installed."""
    install()
    try:
        with warnings.catch_warnings():
            # Chainer imports pkg_resources at start-up; setuptools<81 warns that it is deprecated.
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
            import chainer
    except ImportError as error:  # pragma: no cover - depends on the environment
        from gendojo.errors import GenDojoError

        raise GenDojoError(
            f"Chainer could not be imported ({error}). Run the README's setup command: Chainer "
            "7.8.1 has to be built with setuptools<81, which the setup script arranges."
        ) from error
    return chainer
