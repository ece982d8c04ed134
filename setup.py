"""Build the optional native cores of the linearizability and Elle checkers.

Everything else is configured in pyproject.toml. The extensions are ``optional``: when no C
compiler or Python headers are available the install still succeeds, and the checkers use their
pure-Python code (same verdicts, slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "checkers.linearizable._wgl",
            sources=["checkers/linearizable/_wgl.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
        Extension(
            "checkers.elle._elle",
            sources=["checkers/elle/_elle.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
    ]
)
