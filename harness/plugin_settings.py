"""Where a bad db, workload or nemesis setting was written: file and line, or the command line.

:mod:`harness.config` validates the spec's own fields and names ``file:line: field`` in its
errors. The db, workload and nemesis *options* are validated by the target, workload and nemesis
registries, which know nothing of files: their errors say ``raft: unknown option 'bogus'``. This
module builds the three once, up front (``splitbrain test`` would build them seconds later anyway,
before touching the machine), and puts the place in front of such an error::

    test.yaml:4: db-options: bogus: raft: unknown option 'bogus' (valid: ...)
    command line: --nemesis-option: interval: must be a number > 0, got -3
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import yaml

from harness.config import TestSpec, load_yaml
from harness.errors import InputError

#: spec field -> (the name-setting it goes with, the CLI flag that sets the options)
_OPTION_FIELDS = {
    "db_options": ("db", "--db-option"),
    "workload_options": ("workload", "--workload-option"),
    "nemesis_options": ("nemesis", "--nemesis-option"),
}
_NAME_FLAGS = {"db": "--db", "workload": "--workload", "nemesis": "--nemesis", "bug": "--bug"}


def nested_key_lines(text: str, key: str) -> dict[str, int]:
    """1-based lines of the keys of the mapping under the top-level ``key`` (either spelling:
    ``db-options`` or ``db_options``); empty when there is none."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and str(k.value).replace("-", "_") == key \
                and isinstance(v, yaml.MappingNode):
            return {str(sk.value): sk.start_mark.line + 1 for sk, _ in v.value
                    if isinstance(sk, yaml.ScalarNode)}
    return {}


def _blamed_subkey(message: str, sub_lines: dict[str, int]) -> str | None:
    """The option key the registry's message names (``'bogus'``, ``bogus:``, ``option bogus``):
    the one named first, so a ``(valid: ...)`` list at the end does not count."""
    best: tuple[int, int, str] | None = None
    for sub in sub_lines:
        for v in {sub, sub.replace("-", "_"), sub.replace("_", "-")}:
            m = re.search(rf"(?<![\w-])['\"]?{re.escape(v)}['\"]?(?![\w-])", message)
            if m and (best is None or (m.start(), -len(sub)) < best[:2]):
                best = (m.start(), -len(sub), sub)
    return best[2] if best else None


def _locate(e: InputError, field: str, spec_path: str | None, flags: dict,
            text: str | None, lines: dict[str, int]) -> InputError:
    msg = str(e)
    yaml_name = field.replace("_", "-")
    if field in flags or not spec_path:  # the value came from a flag
        flag = _OPTION_FIELDS[field][1] if field in _OPTION_FIELDS else _NAME_FLAGS[field]
        core = msg[len(yaml_name) + 2:] if msg.startswith(f"{yaml_name}: ") else msg
        return InputError(f"command line: {flag}: {core}")
    line = lines.get(field)
    where = f"{spec_path}:{line}" if line else spec_path
    if field in _OPTION_FIELDS and text is not None:
        sub_lines = nested_key_lines(text, field)
        sub = _blamed_subkey(msg, sub_lines)
        if sub is not None:
            core = msg[len(yaml_name) + 2:] if msg.startswith(f"{yaml_name}: ") else msg
            if not core.startswith(f"{sub}: "):
                core = f"{sub}: {core}"
            return InputError(f"{spec_path}:{sub_lines[sub]}: {yaml_name}: {core}")
    if msg.startswith(f"{yaml_name}: "):  # the registry already named the field
        return InputError(f"{where}: {msg}")
    return InputError(f"{where}: {yaml_name}: {msg}")


def check_plugin_settings(spec: TestSpec, spec_path: str | None, flags: dict) -> None:
    """Build the spec's target, workload and nemesis package once; raise their InputError with
    the place it was written (``spec_path``'s line, or the command-line flag when ``flags``,
    the CLI overrides, set that field). Other errors are left to the run itself."""
    from harness.targets import make_target
    from nemesis.packages import make_nemesis_package
    from workloads import make_workload

    text, lines = None, {}
    if spec_path:
        try:
            text = Path(spec_path).read_text(encoding="utf-8")
            _, lines = load_yaml(spec_path)
        except (OSError, UnicodeDecodeError, InputError):
            text, lines = None, {}
    flags = {k: v for k, v in flags.items() if v is not None}

    def blame(name_field: str, option_field: str, e: InputError) -> InputError:
        # "db: unknown target ..." is about the name; anything else about the options.
        named = str(e).startswith(f"{name_field}: ")
        return _locate(e, name_field if named else option_field, spec_path, flags, text, lines)

    try:
        make_target(spec.db, dict(spec.db_options, bug=spec.bug) if spec.bug
                    else dict(spec.db_options))
    except InputError as e:
        if spec.bug and not str(e).startswith("db: ") and repr(spec.bug) in str(e):
            raise _locate(e, "bug", spec_path, flags, text, lines) from None
        raise blame("db", "db_options", e) from None
    try:
        make_workload(spec.workload, dict(spec.workload_options, seed=spec.seed))
    except InputError as e:
        raise blame("workload", "workload_options", e) from None
    try:
        make_nemesis_package(spec.nemesis, spec.nemesis_options, random.Random(spec.seed))
    except InputError as e:
        raise blame("nemesis", "nemesis_options", e) from None
