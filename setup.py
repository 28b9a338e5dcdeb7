"""The compiled parts, each optional: without a C compiler the package installs without
them. The record check (aggregator/_settle.c) falls back to Ticker.settle; the socket sink's
fan-out by tee and splice (Linux only) to writing each subscriber's copy itself."""

import sys

from setuptools import Extension, setup

linux = sys.platform.startswith("linux")
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
