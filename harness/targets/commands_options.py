"""The ``commands`` target's YAML block: validation and template rendering (pure, no I/O).

A store splitbrain has never seen is described by shell templates, one per lifecycle step, in
``db-options`` (docs/auditing.md walks through it)::

    db: commands
    db-options:
      name: redis                  # daemon name: its output goes to <node_dir>/logs/redis.log
      port: 6379                   # {port}, and the client's port
      primary: n1                  # a fixed primary ({primary}, {primary_ip}, primaries())
      install: "command -v redis-server"
      start: "exec redis-server --bind {ip} --port {port} --dir {data_dir}"
      status: "redis-cli -h {ip} -p {port} ping | grep -q PONG"
      log-files: ["{data_dir}/redis.log"]
      client: redis                # redis | etcd | raft | http | package.module:Class
      client-options: {key: "sb:set"}

Every ``{placeholder}`` is replaced by its value **shell-quoted** (:func:`shell_quote.quote`), so
a value like ``n1;touch pwned`` stays one word and never runs a command. Placeholders are plain
names only (no ``{x.attr}``/``{x[0]}``/``!r``); a literal brace is written ``{{`` or ``}}``.
An unknown placeholder is refused when the spec is loaded, not mid-run.

Validation errors are :class:`~harness.errors.InputError` lines naming the field
(``test.yaml:7: db-options: start: unknown placeholder {dir} (valid: ...)``); the file and line
are given when the options came from a YAML file (:func:`field_lines`).
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any, Callable

import yaml

from harness.control.shell_quote import format_command
from harness.errors import InputError

#: Shell-template steps. ``start`` is required; the others have defaults (see harness/targets/commands.py).
TEMPLATES = ("install", "start", "stop", "kill", "pause", "resume", "status", "primaries")

#: Placeholders every template may use (plus the keys of ``vars``).
PLACEHOLDERS = {
    "node": "the node's name (n1)",
    "ip": "the node's IP address",
    "port": "the option port (the client's port)",
    "data_dir": "<node_dir>/data/<name>: wiped at setup, kept across kill/start",
    "node_dir": "the run's directory on the node",
    "log_dir": "<node_dir>/logs: every file there is collected into the run's store",
    "pid_file": "<node_dir>/pids/<name>.pid: the pid of the daemon start launched",
    "peers": "every node through peer-format, joined by peer-separator",
    "nodes": "every node's name, comma-separated",
    "prefix": "the run's unique prefix (sb + 6 hex digits), e.g. a cluster token",
    "primary": "the option primary (only when it is set)",
    "primary_ip": "the primary's IP address (only when primary is set)",
}

#: Placeholders of ``peer-format`` (one per node), plus the keys of ``vars``.
PEER_PLACEHOLDERS = ("node", "ip", "port")

BUILTIN_CLIENTS = ("redis", "etcd", "raft", "http")

DEFAULTS: dict[str, Any] = {
    "name": "db",
    "port": None,
    "primary": None,
    "vars": {},
    "peer_format": "{node}={ip}",
    "peer_separator": ",",
    "log_files": [],
    "client": None,
    "client_options": {},
    "start_timeout": 60.0,
    "command_timeout": 30.0,
    "wipe": True,
    **{t: None for t in TEMPLATES},
}

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DAEMON_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_LOG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CLIENT_CLASS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")

Where = Callable[[tuple], str]


def field_lines(path: str | Path) -> dict[tuple, int]:
    """Map each key path of a YAML file (``("db-options", "start")``) to its 1-based line.

    Keys are given as written and also with ``-`` turned into ``_``, so lookups work with the
    normalised spelling. An unreadable or unparsable file gives ``{}`` (its errors are reported
    by :func:`harness.config.load_yaml`)."""
    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return {}
    out: dict[tuple, int] = {}

    def walk(n, prefix: tuple, depth: int) -> None:
        if depth > 6:
            return
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                if isinstance(k, yaml.ScalarNode):
                    for spelling in {str(k.value), str(k.value).replace("-", "_")}:
                        out.setdefault(prefix + (spelling,), k.start_mark.line + 1)
                        walk(v, prefix + (spelling,), depth + 1)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                out.setdefault(prefix + (i,), item.start_mark.line + 1)
                walk(item, prefix + (i,), depth + 1)

    walk(node, (), 0)
    return out


def where_in(source: str | None = None, lines: dict[tuple, int] | None = None) -> Where:
    """A function naming a field for error messages: ``file:line: db-options: start``."""
    lines = lines or {}

    def where(path: tuple) -> str:
        # Field names are shown as documented (start-timeout); a user's own names (a vars key,
        # a log name) exactly as written.
        name = ": ".join(["db-options"] + [
            str(p).replace("_", "-") if i == 0 and str(p).replace("-", "_") in DEFAULTS else str(p)
            for i, p in enumerate(path)])
        line = 0
        for i in range(len(path), -1, -1):  # the deepest key that has a line
            line = lines.get(("db_options",) + tuple(path[:i]), 0)
            if line:
                break
        if source and line:
            return f"{source}:{line}: {name}"
        if source:
            return f"{source}: {name}"
        return name

    return where


def placeholders_of(template: str) -> list[str]:
    """The placeholder names a template uses; ValueError for bad syntax or non-plain fields."""
    names = []
    for _lit, field, spec, conv in string.Formatter().parse(template):
        if field is None:
            continue
        if not _IDENT.match(field):
            raise ValueError(f"placeholder {{{field}}} must be a plain name like {{node}}")
        if conv is not None:
            raise ValueError(f"placeholder {{{field}!{conv}}}: conversions are not allowed")
        if spec and "{" in spec:
            raise ValueError(f"placeholder {{{field}:{spec}}}: nested placeholders are not allowed")
        names.append(field)
    return names


def render(template: str, values: dict[str, Any]) -> str:
    """The shell command for ``template`` with every placeholder replaced by its quoted value."""
    placeholders_of(template)  # refuse {x.attr}, {x[0]}, {x!r} here too
    return format_command(template, **values)


def render_plain(template: str, values: dict[str, Any]) -> str:
    """``template`` with placeholders replaced *unquoted*: for file paths and peer entries, which
    are never handed to a shell as they are (a peer list is quoted as a whole by :func:`render`)."""
    placeholders_of(template)
    return template.format(**values)


def normalize_options(options: dict | None, where: Where | None = None) -> dict:
    """``DEFAULTS`` updated with ``options`` (keys with ``-`` or ``_``), validated.

    ``where(path)`` names a field for messages (default: ``db-options: <field>``)."""
    where = where or where_in()
    options = dict(options or {})
    bug = options.pop("bug", None)
    if bug is not None:
        raise InputError(f"{where(('bug',))}: the commands target has no planted bugs ({bug!r}); "
                         "--bug is for the reference raft and paxos stores")
    o = dict(DEFAULTS)
    for k, v in options.items():
        key = str(k).replace("-", "_")
        if key not in DEFAULTS:
            valid = ", ".join(sorted(d.replace("_", "-") for d in DEFAULTS))
            raise InputError(f"{where((k,))}: unknown field (valid: {valid})")
        o[key] = v

    def bad(key: str, msg: str, *sub) -> InputError:
        return InputError(f"{where((key,) + sub)}: {msg}")

    if not isinstance(o["name"], str) or not _DAEMON_NAME.match(o["name"]):
        raise bad("name", f"must be 1-32 letters, digits, '_', '.', '-', got {o['name']!r}")
    if o["port"] is not None and (isinstance(o["port"], bool) or not isinstance(o["port"], int)
                                  or not 1 <= o["port"] <= 65535):
        raise bad("port", f"must be a port number from 1 to 65535, got {o['port']!r}")
    for key in ("start_timeout", "command_timeout"):
        v = o[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or v > 3600:
            raise bad(key, f"must be a number of seconds in (0, 3600], got {v!r}")
        o[key] = float(v)
    if not isinstance(o["wipe"], bool):
        raise bad("wipe", f"must be true or false, got {o['wipe']!r}")
    if o["primary"] is not None and not isinstance(o["primary"], str):
        raise bad("primary", f"must be a node name, got {o['primary']!r}")

    if not isinstance(o["vars"], dict):
        raise bad("vars", f"must be a mapping of name: value, got {type(o['vars']).__name__}")
    for k, v in o["vars"].items():
        if not isinstance(k, str) or not _IDENT.match(k):
            raise bad("vars", f"{k!r} is not a plain name (letters, digits, '_')", k)
        if k in PLACEHOLDERS:
            raise bad("vars", f"{k!r} is a built-in placeholder; choose another name", k)
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise bad("vars", f"must be a string or a number, got {v!r}", k)
    o["vars"] = dict(o["vars"])

    names = set(PLACEHOLDERS) | set(o["vars"])
    if o["primary"] is None:
        names -= {"primary", "primary_ip"}
    if o["start"] is None:
        raise bad("start", "missing: the command that runs the store on a node in the foreground "
                           "(e.g. \"exec redis-server --bind {ip} --port {port}\")")
    for t in TEMPLATES:
        if o[t] is None:
            continue
        _check_template(o[t], names, bad, t)

    for key in ("peer_format", "peer_separator"):
        if not isinstance(o[key], str):
            raise bad(key, f"must be a string, got {o[key]!r}")
    _check_template(o["peer_format"], set(PEER_PLACEHOLDERS) | set(o["vars"]), bad, "peer_format")

    logs = o["log_files"]
    if isinstance(logs, list):
        pairs = []
        for i, p in enumerate(logs):
            if not isinstance(p, str) or not p.strip():
                raise bad("log_files", f"must be a path, got {p!r}", i)
            pairs.append((p.rstrip("/").rsplit("/", 1)[-1], p, (i,)))
    elif isinstance(logs, dict):
        pairs = [(k, p, (k,)) for k, p in logs.items()]
    else:
        raise bad("log_files", f"must be a list of paths or a mapping name: path, got {logs!r}")
    out_logs = {}
    for name, p, sub in pairs:
        if not isinstance(name, str) or not _LOG_NAME.match(name):
            raise bad("log_files", f"log name {name!r} must be letters, digits, '_', '.', '-'", *sub)
        if not isinstance(p, str) or not p.strip():
            raise bad("log_files", f"must be a path, got {p!r}", *sub)
        if name in out_logs or name == f"{o['name']}.log":
            raise bad("log_files", f"two logs would be stored as {name!r}", *sub)
        _check_template(p, names - {"peers"}, bad, "log_files", *sub)
        out_logs[name] = p
    o["log_files"] = out_logs

    client = o["client"]
    if client is None:
        raise bad("client", f"missing: a built-in client ({', '.join(BUILTIN_CLIENTS)}) "
                            "or package.module:Class")
    if not isinstance(client, str) or (client not in BUILTIN_CLIENTS and not _CLIENT_CLASS.match(client)):
        raise bad("client", f"must be one of {', '.join(BUILTIN_CLIENTS)} or package.module:Class, "
                            f"got {client!r}")
    if not isinstance(o["client_options"], dict):
        raise bad("client_options", f"must be a mapping, got {type(o['client_options']).__name__}")
    if client == "http":
        # The HTTP/JSON adapter's block is checked here, where file and line are known.
        from harness.targets.commands_http_client import normalize_http_options

        http_o = normalize_http_options(o["client_options"],
                                        lambda msg, *sub: bad("client_options", msg, *sub))
        if o["port"] is None and "{port}" in http_o["url"]:
            raise bad("port", "missing: the http client's url uses {port}")
    elif client in BUILTIN_CLIENTS and o["port"] is None:
        raise bad("port", f"missing: the {client} client needs the port it connects to")
    return o


def _check_template(template: Any, names: set, bad, key: str, *sub) -> None:
    if not isinstance(template, str) or not template.strip():
        raise bad(key, f"must be a non-empty string, got {template!r}", *sub)
    try:
        used = placeholders_of(template)
        # Render once with dummy values: catches unbalanced braces and bad format specs now.
        template.format(**{n: "0" for n in used})
    except (ValueError, IndexError, KeyError) as e:
        raise bad(key, f"bad template: {e}", *sub) from None
    unknown = [u for u in used if u not in names]
    if unknown:
        raise bad(key, f"unknown placeholder {{{unknown[0]}}} (valid: "
                       f"{', '.join('{' + n + '}' for n in sorted(names))})", *sub)


def check_yaml_block(path: str | Path, options: dict | None) -> dict:
    """Validate a YAML file's ``db-options`` for the commands target, naming file:line:field."""
    return normalize_options(options, where_in(str(path), field_lines(path)))


def placeholder_values(o: dict, nodes: list, node, node_dir: str, prefix: str) -> dict[str, Any]:
    """The values of every placeholder for ``node`` (``nodes``: every node, with ``name``/``ip``)."""
    node_dir = str(node_dir).rstrip("/")
    common = {"port": "" if o["port"] is None else o["port"], **o["vars"]}
    peers = o["peer_separator"].join(
        render_plain(o["peer_format"], {**common, "node": n.name, "ip": n.ip}) for n in nodes)
    values = {
        **common,
        "node": node.name,
        "ip": node.ip,
        "data_dir": f"{node_dir}/data/{o['name']}",
        "node_dir": node_dir,
        "log_dir": f"{node_dir}/logs",
        "pid_file": f"{node_dir}/pids/{o['name']}.pid",
        "peers": peers,
        "nodes": ",".join(n.name for n in nodes),
        "prefix": prefix,
    }
    if o["primary"] is not None:
        prim = [n for n in nodes if n.name == o["primary"]]
        if not prim:
            raise InputError(f"db-options: primary: {o['primary']!r} is not one of the nodes "
                             f"({', '.join(n.name for n in nodes)})")
        values["primary"] = prim[0].name
        values["primary_ip"] = prim[0].ip
    return values


__all__ = ["BUILTIN_CLIENTS", "DEFAULTS", "PLACEHOLDERS", "TEMPLATES", "check_yaml_block",
           "field_lines", "normalize_options", "placeholder_values", "placeholders_of", "render",
           "render_plain", "where_in"]
