"""Sequential models for the linearizability checker.

A model is pure: ``init() -> state`` and
``step(state, f, invoke_value, ok_value) -> (ok, new_state)``. States are hashable (the search
memoizes on them) and JSON-friendly (tuples come out as lists).

Arguments of ``step``:
- ``invoke_value``: the value on the invoke (a write's value, a cas's ``[from, to]``).
- ``ok_value``: the value on the ``ok`` completion (a read's observed value), or :data:`UNKNOWN`
  when the op ended ``info`` (it may have happened but observed nothing).

Knossos's rule for reads: a read that observed ``None`` constrains nothing when ``None`` is not a
state the register can take (``initial`` is not ``None``). When ``initial`` is ``None``, ``None``
means "absent" and must equal the state (Porcupine's etcd model).
"""

from __future__ import annotations

from harness.errors import InputError


class _Unknown:
    """The observed value of an op that completed ``info``: nothing was observed."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self):
        return "UNKNOWN"


UNKNOWN = _Unknown()


def freeze(value):
    """A hashable version of a JSON value (lists -> tuples, dicts -> sorted item tuples)."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    return value


class Model:
    """Base class: subclasses set :attr:`name` and :attr:`fs` and implement the two methods."""

    name = "model"
    fs: frozenset = frozenset()

    def init(self):
        raise NotImplementedError

    def step(self, state, f, invoke_value, ok_value):
        raise NotImplementedError

    def describe_state(self, state) -> str:
        return repr_value(state)

    def read_only(self, f, invoke_value) -> bool:
        """True when the op never changes the state: an ``info`` one can be dropped."""
        return f == "read"

    def check_op(self, f, invoke_value, where: str) -> None:
        """Raise :class:`InputError` when the model cannot interpret this op."""
        if f not in self.fs:
            raise InputError(
                f"{where}: f: model {self.name} has no operation {f!r} "
                f"(it knows {', '.join(sorted(self.fs))})")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def repr_value(v) -> str:
    if v is None:
        return "nil"
    if isinstance(v, tuple):
        return "[" + " ".join(repr_value(x) for x in v) + "]"
    return repr(v) if isinstance(v, str) else str(v)


class RegisterModel(Model):
    """A single read/write register starting at ``initial``."""

    name = "register"
    fs = frozenset({"read", "write"})

    def __init__(self, initial=None):
        self.initial = freeze(initial)
        # With a non-None initial, None is not a value the register can hold: a read of None
        # carries no information (Knossos). With initial None it means "absent" and must match.
        self.nil_read_free = self.initial is not None

    def init(self):
        return self.initial

    def step(self, state, f, invoke_value, ok_value):
        if f == "read":
            if ok_value is UNKNOWN or (ok_value is None and self.nil_read_free) or ok_value == state:
                return True, state
            return False, state
        if f == "write":
            return True, invoke_value
        return False, state

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.initial!r})"


class CASRegisterModel(RegisterModel):
    """A register with read, write and compare-and-set (``cas`` value ``[from, to]``)."""

    name = "cas-register"
    fs = frozenset({"read", "write", "cas"})

    def step(self, state, f, invoke_value, ok_value):
        if f == "cas":
            frm, to = invoke_value
            if frm == state:
                return True, to
            return False, state
        return RegisterModel.step(self, state, f, invoke_value, ok_value)

    def check_op(self, f, invoke_value, where: str) -> None:
        super().check_op(f, invoke_value, where)
        if f == "cas" and not (isinstance(invoke_value, tuple) and len(invoke_value) == 2):
            raise InputError(f"{where}: value: a cas needs [from, to], got {invoke_value!r}")


class MultiRegisterModel(Model):
    """Knossos's multi-register: a map of registers; ``txn`` ops carry ``[[f, key, value], ...]``
    micro-ops with ``f`` ``read`` or ``write``, applied atomically. State: a sorted tuple of
    ``(key, value)`` pairs. A read of ``None`` on a key whose initial value is not ``None``
    constrains nothing (Knossos)."""

    name = "multi-register"
    fs = frozenset({"txn"})

    def __init__(self, initial=None):
        if initial is None:
            initial = {}
        if not isinstance(initial, dict):
            raise InputError(f"initial: multi-register needs a map of key -> value, got {initial!r}")
        self.initial = tuple(sorted((k, freeze(v)) for k, v in initial.items()))
        self.nil_read_free_keys = frozenset(k for k, v in self.initial if v is not None)

    def init(self):
        return self.initial

    def step(self, state, f, invoke_value, ok_value):
        if f != "txn":
            return False, state
        mops = invoke_value if ok_value is UNKNOWN else ok_value
        d = dict(state)
        wrote = False
        for mf, k, v in mops:
            if mf == "read":
                if ok_value is UNKNOWN or (v is None and k in self.nil_read_free_keys):
                    continue
                if v != d.get(k):
                    return False, state
            elif mf == "write":
                d[k] = v
                wrote = True
            else:
                return False, state
        if not wrote:
            return True, state
        return True, tuple(sorted(d.items()))

    def check_op(self, f, invoke_value, where: str) -> None:
        super().check_op(f, invoke_value, where)
        ok = isinstance(invoke_value, tuple) and all(
            isinstance(m, tuple) and len(m) == 3 and m[0] in ("read", "write") for m in invoke_value)
        if not ok:
            raise InputError(
                f"{where}: value: a txn needs [[read|write, key, value], ...], got {invoke_value!r}")

    def read_only(self, f, invoke_value) -> bool:
        return f == "txn" and all(m[0] == "read" for m in invoke_value)

    def describe_state(self, state) -> str:
        return "{" + ", ".join(f"{k} {repr_value(v)}" for k, v in state) + "}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.initial)!r})"


MODELS = {
    "register": RegisterModel,
    "cas-register": CASRegisterModel,
    "multi-register": MultiRegisterModel,
}


def make_model(name: str, initial=None) -> Model:
    """The model called ``name`` starting at ``initial``; :class:`InputError` on an unknown name."""
    cls = MODELS.get(name)
    if cls is None:
        raise InputError(
            f"model: unknown model {name!r} (valid: {', '.join(sorted(MODELS))})")
    return cls(initial)
