"""The Python API: write a test in Python with the same pieces as the CLI.

    from harness.api import run, check
    from harness.config import TestSpec

    outcome = run(TestSpec(name="demo", db="raft", workload="set", time_limit=10))
    outcome = run(name="demo", db="raft", workload="set", time_limit=10)   # same, validated
    print(outcome.exit_code, outcome.results["valid"], outcome.run.path)

    result = check(history, workload="set")            # a workload's own checker
    result = check(history, checker=SetChecker())      # or any checker object

Keyword settings go through :func:`harness.config.build_spec`, so they are validated exactly as a
YAML file's are (bad input raises :class:`harness.errors.InputError` with one clear line).
"""

from __future__ import annotations

from typing import Any

from harness.config import TestSpec, build_spec
from harness.runner import Outcome, run_test

__all__ = ["run", "check", "TestSpec", "Outcome"]


def run(spec: TestSpec | dict | None = None, /, **settings: Any) -> Outcome:
    """Run one test and return its :class:`~harness.runner.Outcome` (run dir, results, exit code).

    ``spec`` is a :class:`TestSpec`, or a dict of settings; ``settings`` are keyword settings
    (underscored names, as TestSpec fields). Passing both a TestSpec and settings is an error:
    build the spec you mean with ``dataclasses.replace``.
    """
    if isinstance(spec, TestSpec):
        if settings:
            raise TypeError("run(): pass a TestSpec or keyword settings, not both")
        return run_test(spec)
    values = dict(spec or {})
    values.update(settings)
    return run_test(build_spec({k.replace("-", "_"): v for k, v in values.items()},
                               source="harness.api.run"))


def check(history: list[dict], *, workload: str | None = None, workload_options: dict | None = None,
          checker: Any = None, test: dict | None = None, opts: dict | None = None) -> dict:
    """Check a history (a list of op dicts) and return the checker's result dict.

    Give either ``checker`` (any object with ``check(test, history, opts)``) or ``workload``
    (a name from :data:`workloads.WORKLOADS`: its checker is used). The check goes through
    :func:`checkers.compose.run_checkers`, so a checker that raises yields ``unknown``.
    """
    from checkers.compose import run_checkers

    if (checker is None) == (workload is None):
        raise TypeError("check(): give exactly one of checker= or workload=")
    if checker is None:
        from workloads import make_workload
        checker = make_workload(workload, workload_options).checker()
    return run_checkers({"workload": checker}, test or {}, history,
                        {"open_as_info": True, **(opts or {})})
