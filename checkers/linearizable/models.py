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
    t = type(value)
    if t is str or t is int or value is None:  # the common leaves, decided without isinstance
        return value
    if isinstance(value, list):
        return tuple([freeze(v) for v in value])
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

    def partition_keys(self, f, invoke_value):
        """The keys an op touches, for P-compositionality; ``None``: the model is not
        partitionable (every op is checked in one search). Ops sharing a key share a partition."""
        return None

    def prune(self, ops):
        """Ops the search may leave out without changing the verdict (default: none). Returns
        the ops to keep, in order."""
        return ops

    def native_states(self, values, ops):
        """The model states for the native core's integer states (``values[i]`` is state i)."""
        return values

    def int_ops(self, ops):
        """For the native core: ``(initial, [(code, a, b), ...])`` with states as small ints, or
        ``None`` when this model has no integer encoding (then the pure-Python search runs)."""
        return None

    def keyed_string_ops(self, ops):
        """For the native core, a second encoding: the state is a map from a fixed set of keys to
        strings, and every op reads, sets or appends to one key. Returns ``(keys, initial,
        [(code, key index, string), ...])`` with codes :data:`C_KV_GET` (the key's value must be
        the string), :data:`C_KV_PUT`, :data:`C_KV_APPEND` or :data:`C_READ_ANY` (string
        ``None``), and ``initial`` the initial string of each key; or ``None``."""
        return None

    def keyed_string_state(self, keys, values):
        """The model state for a keyed-string state of the native core (``values[i]`` is the
        string of ``keys[i]``)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# Operation codes of the native core (_wgl.c): a read that must see ``a``, a read that
# constrains nothing, a write of ``a``, a cas from ``a`` to ``b``.
C_READ, C_READ_ANY, C_WRITE, C_CAS = 0, 1, 2, 3
# Keyed-string ops (Model.keyed_string_ops): get must see the string, put, append.
C_KV_GET, C_KV_PUT, C_KV_APPEND = 5, 6, 7


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

    def prune(self, ops):
        """Drop ``info`` writes (and cas) of a value that nothing observes: no ok read returned
        it and no cas compares against it. Placing such a write only moves the register to a value
        no later op can succeed on except another write (or a read that constrains nothing), so
        any order with it stays valid without it. Histories with many indefinite writes of unique
        values (the usual Jepsen register workload under faults) become tractable."""
        observed = set()
        for op in ops:
            if op.f == "read" and op.ok_value is not UNKNOWN and not (
                    op.ok_value is None and self.nil_read_free):
                observed.add(op.ok_value)
            elif op.f == "cas":
                observed.add(op.invoke_value[0])
        keep = []
        for op in ops:
            if op.ret is None and op.ok_value is UNKNOWN:
                written = op.invoke_value if op.f == "write" else (
                    op.invoke_value[1] if op.f == "cas" else None)
                if op.f in ("write", "cas") and written not in observed:
                    continue
            keep.append(op)
        return keep

    def int_ops(self, ops):
        ids = {}

        def vid(v):
            i = ids.get(v)
            if i is None:
                i = ids[v] = len(ids)
            return i

        init = vid(self.initial)
        out = []
        for op in ops:
            f, ov = op.f, op.ok_value
            if f == "read":
                if ov is UNKNOWN or (ov is None and self.nil_read_free):
                    out.append((C_READ_ANY, 0, 0))
                else:
                    out.append((C_READ, vid(ov), 0))
            elif f == "write":
                out.append((C_WRITE, vid(op.invoke_value), 0))
            elif f == "cas":
                frm, to = op.invoke_value
                out.append((C_CAS, vid(frm), vid(to)))
            else:
                return None
        values = list(ids)
        return init, out, values

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

    def partition_keys(self, f, invoke_value):
        return {m[1] for m in invoke_value}

    def describe_state(self, state) -> str:
        return "{" + ", ".join(f"{k} {repr_value(v)}" for k, v in state) + "}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.initial)!r})"


def _kv_pair(value, where):
    if not (isinstance(value, tuple) and len(value) == 2):
        raise InputError(f"{where}: value: a kv op needs [key, value], got {value!r}")


class KVModel(Model):
    """Porcupine's key-value store: ``get``, ``put`` and ``append`` on string values, a missing key
    reads as ``""``. Op values are ``[key, value]`` (as the porcupine-kv reader makes them); a
    get's observed value is on its completion. State: a sorted tuple of ``(key, value)`` pairs of
    the keys whose value is not ``""`` (one representation per state: a key set to ``""`` reads
    like a missing one). Partitionable by key."""

    name = "kv"
    fs = frozenset({"get", "put", "append"})

    def __init__(self, initial=None):
        if initial is None:
            initial = {}
        if not isinstance(initial, dict):
            raise InputError(f"initial: kv needs a map of key -> value, got {initial!r}")
        self.initial = tuple(sorted((k, freeze(v)) for k, v in initial.items() if v != ""))

    def init(self):
        return self.initial

    def step(self, state, f, invoke_value, ok_value):
        key, arg = invoke_value
        cur = ""
        for k, v in state:
            if k == key:
                cur = v
                break
        if f == "get":
            if ok_value is UNKNOWN:
                return True, state
            return (ok_value[1] if ok_value[1] is not None else "") == cur, state
        if f == "put":
            new = arg
        elif f == "append":
            new = cur + arg
        else:
            return False, state
        if new == cur:
            return True, state
        if not state or (len(state) == 1 and state[0][0] == key):  # one key (a partition)
            return True, (((key, new),) if new != "" else ())
        d = dict(state)
        if new == "":
            del d[key]
        else:
            d[key] = new
        return True, tuple(sorted(d.items()))

    def check_op(self, f, invoke_value, where: str) -> None:
        super().check_op(f, invoke_value, where)
        _kv_pair(invoke_value, where)
        if f != "get" and not isinstance(invoke_value[1], str):
            raise InputError(f"{where}: value: {f} needs a string value, got {invoke_value[1]!r}")

    def read_only(self, f, invoke_value) -> bool:
        return f == "get"

    def partition_keys(self, f, invoke_value):
        return {invoke_value[0]}

    def describe_state(self, state) -> str:
        return "{" + ", ".join(f"{k} {repr_value(v)}" for k, v in state) + "}"

    def keyed_string_ops(self, ops):
        """The native encoding: one string per key the ops touch (a partition has one key, an
        unpartitioned history all of them), so the C core never calls back into Python."""
        init = dict(self.initial)
        try:
            keys = sorted({op.invoke_value[0] for op in ops})
        except TypeError:  # keys of mixed types: no order; the cached callback handles them
            return None
        if not keys:
            return None
        if any(not isinstance(init.get(k, ""), str) for k in keys):
            return None
        index = {k: i for i, k in enumerate(keys)}
        out = []
        for op in ops:
            key, arg = op.invoke_value
            if op.f == "get":
                ov = op.ok_value
                if ov is UNKNOWN:
                    out.append((C_READ_ANY, 0, None))
                    continue
                if not (isinstance(ov, tuple) and len(ov) == 2):
                    return None
                seen = "" if ov[1] is None else ov[1]
                if not isinstance(seen, str):
                    return None
                out.append((C_KV_GET, index[key], seen))
            elif op.f in ("put", "append") and isinstance(arg, str):
                out.append((C_KV_PUT if op.f == "put" else C_KV_APPEND, index[key], arg))
            else:
                return None
        return keys, [init.get(k, "") for k in keys], out

    def keyed_string_state(self, keys, values):
        # the representation step uses: keys whose value is not "", sorted
        if len(keys) == 1 and not self.initial:  # a partition: kept cheap (failures report many)
            v = values[0]
            return ((keys[0], v),) if v != "" else ()
        d = dict(self.initial)  # keys of other partitions keep their initial values
        d.update(zip(keys, values))
        return tuple(sorted((k, v) for k, v in d.items() if v != ""))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.initial)!r})"


class SetModel(Model):
    """A grow-only set: ``add`` x, ``read`` observing the whole set (a list). State: a frozenset."""

    name = "set"
    fs = frozenset({"add", "read"})

    def __init__(self, initial=None):
        self.initial = frozenset(freeze(v) for v in (initial or ()))

    def init(self):
        return self.initial

    def step(self, state, f, invoke_value, ok_value):
        if f == "add":
            return True, state | {invoke_value}
        if f == "read":
            if ok_value is UNKNOWN:
                return True, state
            return frozenset(ok_value or ()) == state, state
        return False, state

    def describe_state(self, state) -> str:
        return "#{" + " ".join(repr_value(v) for v in sorted(state, key=repr)) + "}"


class QueueModel(Model):
    """A FIFO queue: ``enqueue`` x; ``dequeue`` observes the head (its ok value). An ``info``
    dequeue may have taken the head, or found the queue empty. State: a tuple, head first."""

    name = "queue"
    fs = frozenset({"enqueue", "dequeue"})

    def __init__(self, initial=None):
        self.initial = tuple(freeze(v) for v in (initial or ()))

    def init(self):
        return self.initial

    def step(self, state, f, invoke_value, ok_value):
        if f == "enqueue":
            return True, state + (invoke_value,)
        if f == "dequeue":
            if ok_value is UNKNOWN:
                return True, state[1:]
            if state and state[0] == ok_value:
                return True, state[1:]
            return False, state
        return False, state

    def read_only(self, f, invoke_value) -> bool:
        return False


class MutexModel(Model):
    """A lock: ``acquire`` succeeds only when free, ``release`` only when held (Knossos's mutex).
    State: True when held."""

    name = "mutex"
    fs = frozenset({"acquire", "release"})

    def __init__(self, initial=None):
        self.initial = bool(initial)

    def init(self):
        return self.initial

    def step(self, state, f, invoke_value, ok_value):
        if f == "acquire":
            return (not state), True
        if f == "release":
            return state, False
        return False, state

    def read_only(self, f, invoke_value) -> bool:
        return False

    def describe_state(self, state) -> str:
        return "held" if state else "free"


class _BaseView:
    """What the base model of :class:`IndependentModel` sees of an op (its value without the
    key): the fields ``prune`` and ``int_ops`` read, in a cheap object (big histories make one
    per op)."""

    __slots__ = ("id", "f", "invoke_value", "ok_value", "ret")

    def __init__(self, id, f, invoke_value, ok_value, ret):  # noqa: A002 (Op's field name)
        self.id, self.f, self.invoke_value, self.ok_value, self.ret = (
            id, f, invoke_value, ok_value, ret)


class IndependentModel(Model):
    """Jepsen's ``independent``: many registers, one per key, each op's value is ``[key, v]``
    (a read invokes ``[key, null]`` and completes ``[key, value]``). Ops on different keys are
    independent, so the checker partitions by key and checks each key with ``base`` (the native
    core applies per key). State (unpartitioned): a sorted tuple of ``(key, base state)``."""

    def __init__(self, base: Model):
        self.base = base
        self.name = "independent-" + base.name
        self.fs = base.fs

    def init(self):
        return ()

    @staticmethod
    def _unwrap(v):
        return v if v is UNKNOWN else (v[1] if isinstance(v, tuple) and len(v) == 2 else v)

    def step(self, state, f, invoke_value, ok_value):
        key = invoke_value[0]
        d = dict(state)
        cur = d.get(key, self.base.init())
        ok, new = self.base.step(cur, f, invoke_value[1], self._unwrap(ok_value))
        if not ok or new == cur:
            return ok, state
        if new == self.base.init():  # one representation per state: absent = initial
            d.pop(key, None)
        else:
            d[key] = new
        return True, tuple(sorted(d.items(), key=lambda kv: repr(kv[0])))

    def read_only(self, f, invoke_value) -> bool:
        return self.base.read_only(f, invoke_value[1])

    def check_op(self, f, invoke_value, where: str) -> None:
        _kv_pair(invoke_value, where)
        self.base.check_op(f, invoke_value[1], where)

    def partition_keys(self, f, invoke_value):
        return {invoke_value[0]}

    def _unwrapped(self, ops):
        unwrap = self._unwrap
        return [_BaseView(op.id, op.f, op.invoke_value[1], unwrap(op.ok_value), op.ret)
                for op in ops]

    def prune(self, ops):
        by_key: dict = {}
        for op in ops:
            by_key.setdefault(op.invoke_value[0], []).append(op)
        keep = set()
        for group in by_key.values():
            keep.update(op.id for op in self.base.prune(self._unwrapped(group)))
        return [op for op in ops if op.id in keep]

    def native_states(self, values, ops):
        key = ops[0].invoke_value[0]
        init = self.base.init()
        return [() if v == init else ((key, v),) for v in values]

    def int_ops(self, ops):
        if len({op.invoke_value[0] for op in ops}) > 1:
            return None
        return self.base.int_ops(self._unwrapped(ops))

    def describe_state(self, state) -> str:
        return "{" + ", ".join(f"{k} {self.base.describe_state(v)}" for k, v in state) + "}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base!r})"


MODELS = {
    "register": RegisterModel,
    "cas-register": CASRegisterModel,
    "multi-register": MultiRegisterModel,
    "kv": KVModel,
    "set": SetModel,
    "queue": QueueModel,
    "mutex": MutexModel,
    "independent-register": lambda initial=None: IndependentModel(RegisterModel(initial)),
    "independent-cas-register": lambda initial=None: IndependentModel(CASRegisterModel(initial)),
}


def make_model(name: str, initial=None) -> Model:
    """The model called ``name`` starting at ``initial``; :class:`InputError` on an unknown name."""
    cls = MODELS.get(name)
    if cls is None:
        raise InputError(
            f"model: unknown model {name!r} (valid: {', '.join(sorted(MODELS))})")
    return cls(initial)
