"""The compiled part: optional. Without a C compiler the package installs without it and
the daemon uses the Python path for every venue (and says so in its log)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "aggregator.adapters._fastpath",
            ["aggregator/adapters/_fastpath.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
