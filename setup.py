"""Build the optional native core of the linearizability checker.

Everything else is configured in pyproject.toml. The extension is ``optional``: when no C compiler
or Python headers are available the install still succeeds, and the checker uses its pure-Python
search (same verdicts, slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "checkers.linearizable._wgl",
            sources=["checkers/linearizable/_wgl.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
