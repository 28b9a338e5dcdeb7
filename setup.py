"""The compiled parts, each optional: without a C compiler the package installs without
them. The record check (aggregator/_settle.c) falls back to Ticker.settle; the codecs'
routes reader (aggregator/_frames.c) to each codec's parse_ws; the WebSocket listener's
frame call (aggregator/adapters/_listen.pyx, against picows's Cython declarations) to
stream.py's Python listener; the socket sink's fan-out by tee and splice (Linux only) to
writing each subscriber's copy itself."""

import sys

from setuptools import Extension, setup

linux = sys.platform.startswith("linux")


def _listener() -> list[Extension]:
    """The WebSocket listener's frame call against picows's Cython declarations
    (adapters/_listen.pyx), where Cython is there to build it (the build requirements
    bring it); else stream.py's Python listener handles every frame."""
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    ext = Extension(
        "aggregator.adapters._listen",
        ["aggregator/adapters/_listen.pyx"],
        include_dirs=["aggregator"],
        optional=True,
        extra_compile_args=["-O2"],
    )
    return cythonize([ext], quiet=True, compiler_directives={"language_level": 3})  # type: ignore[no-any-return]


setup(
    ext_modules=[
        # every record's numbers checked (records.settle): the same rules as Ticker.settle
        Extension(
            "aggregator._settle",
            ["aggregator/_settle.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
        # a codec's declared routes read in C (adapters/routes.py): its Python path otherwise
        Extension(
            "aggregator._frames",
            ["aggregator/_frames.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
        *_listener(),
        *(
            [
                Extension(
                    "aggregator.sinks._splice",
                    ["aggregator/sinks/_splice.c"],
                    optional=True,
                    extra_compile_args=["-O2"],
                )
            ]
            if linux
            else []
        ),
    ]
)
