"""The compiled part: optional and Linux only. Without a C compiler (or elsewhere) the
package installs without it and the socket sink writes each subscriber's copy itself."""

import sys

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "aggregator.sinks._splice",
            ["aggregator/sinks/_splice.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
    if sys.platform.startswith("linux")
    else []
)
