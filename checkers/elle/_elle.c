/* Native core of the Elle checkers: the hot loops of history.py, list_append.py and graph.py,
 * written against the same Python objects (Txn, micro-op tuples, dicts of edges), so every
 * result is the one the pure-Python code gives, in the same order. checkers/elle/native.py
 * loads it; when it is not built, the Python code runs instead.
 *
 * set_txn_type(Txn)                   -> True: Txn's slots are read directly from now on
 * fast_mops(value, kinds)             -> list of (f, k, v) tuples, or None: some micro-op is not
 *                                        a well-formed list of scalars (Python checks it slowly)
 * make_txns(done, kinds, Txn, slow)   -> the Txns of the paired ops (the ok and fail ones with
 *                                        well-formed micro-ops here, others by slow(id, entry))
 * pair(history)                       -> (done, pending) as in history.transactions, or None
 *                                        (not a list of dicts, or a process with two invokes in
 *                                        flight: Python pairs those by shape)
 * unique_appends(txns, seen)          -> None, or (k, v, other_id, txn) for a repeated append
 * repeated_key_txns(txns)             -> the txns with two micro-ops on one key
 * self_cases(multi)                   -> (internal, future, inter, groups) of
 *                                        list_append.self_cases
 * g1b_from(inter, txns)               -> G1b cases
 * incompatible_orders(svs), first_duplicate_at(svs), version_orders(svs): as in list_append
 * read_values(possible, TOO_MANY)     -> (values, appends) of list_append.sorted_values
 * dependency_edges(possible, out, writes, orders, INITIAL, WW, WR, RW) -> reads
 * realtime_edges(txns, out, REALTIME) -> True, having added the transitively reduced realtime
 *                                        edges; False (nothing added): ids not 0..n-1, distinct,
 *                                        or positions not ints
 * trim(out)                           -> graph._trim: vertices left after Kahn both ways, or None
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <structmember.h>

static PyObject *S_id, *S_type, *S_mops, *S_index, *S_invoke_pos, *S_complete_pos;
static PyObject *S_ok, *S_fail, *S_info, *S_invoke, *S_r, *S_append, *S_list, *S_nemesis;
static PyObject *S_key, *S_values, *S_value, *S_process, *S_op, *S_mop, *S_expected, *S_element;
static PyObject *S_writer, *S_dots;
static PyObject *EMPTY;

/* a == s, for s an exact str constant: 1, 0, or -1 with an exception set. */
static int eq(PyObject *a, PyObject *s) {
    if (a == s) return 1;
    if (PyUnicode_CheckExact(a)) return PyUnicode_Compare(a, s) == 0;
    return PyObject_RichCompareBool(a, s, Py_EQ);
}

static int is_scalar(PyObject *x) {
    PyTypeObject *t = Py_TYPE(x);
    return t == &PyLong_Type || t == &PyUnicode_Type || t == &PyFloat_Type || t == &PyBool_Type;
}

/* Borrowed f, k, v of a micro-op tuple. */
static int unpack(PyObject *m, PyObject **f, PyObject **k, PyObject **v) {
    if (!PyTuple_Check(m) || PyTuple_GET_SIZE(m) != 3) {
        PyErr_SetString(PyExc_TypeError, "a micro-op is not a 3-tuple");
        return -1;
    }
    *f = PyTuple_GET_ITEM(m, 0);
    *k = PyTuple_GET_ITEM(m, 1);
    *v = PyTuple_GET_ITEM(m, 2);
    return 0;
}

/* bool(v) for a read's value (a tuple or None, mostly) */
static int truthy(PyObject *v) {
    if (v == Py_None) return 0;
    if (PyTuple_CheckExact(v)) return PyTuple_GET_SIZE(v) != 0;
    return truthy(v);
}

/* New reference to v[-1] */
static PyObject *last_item(PyObject *v) {
    if (PyTuple_CheckExact(v) && PyTuple_GET_SIZE(v)) {
        PyObject *x = PyTuple_GET_ITEM(v, PyTuple_GET_SIZE(v) - 1);
        Py_INCREF(x);
        return x;
    }
    return last_item(v);
}

/* Txn attributes: read straight from the slots when t is exactly the Txn class whose member
 * offsets set_txn_type recorded, else by getattr. New reference. */
static PyTypeObject *txn_type;
static Py_ssize_t off_id, off_type, off_mops, off_index, off_ipos, off_cpos, off_process, off_op;

static PyObject *txn_attr(PyObject *t, PyObject *name, Py_ssize_t off) {
    if (txn_type && Py_TYPE(t) == txn_type) {
        PyObject *x = *(PyObject **)((char *)t + off);
        if (x) {
            Py_INCREF(x);
            return x;
        }
    }
    return PyObject_GetAttr(t, name);
}

#define T_ID(t) txn_attr(t, S_id, off_id)
#define T_INDEX(t) txn_attr(t, S_index, off_index)

static int member_offset(PyObject *cls, const char *name, Py_ssize_t *off) {
    PyObject *d = PyObject_GetAttrString(cls, name);
    if (!d) return -1;
    int ok = Py_TYPE(d) == &PyMemberDescr_Type &&
             ((PyMemberDescrObject *)d)->d_member->type == T_OBJECT_EX;
    if (ok) *off = ((PyMemberDescrObject *)d)->d_member->offset;
    Py_DECREF(d);
    return ok ? 0 : 1;
}

static PyObject *set_txn_type(PyObject *mod, PyObject *args) {
    PyObject *cls;
    if (!PyArg_ParseTuple(args, "O!", &PyType_Type, &cls)) return NULL;
    Py_ssize_t o[8];
    const char *names[8] = {"id", "type", "mops", "index", "invoke_pos", "complete_pos",
                            "process", "op"};
    Py_CLEAR(txn_type);
    if (((PyTypeObject *)cls)->tp_dictoffset || ((PyTypeObject *)cls)->tp_basicsize !=
        (Py_ssize_t)(sizeof(PyObject) + 8 * sizeof(PyObject *)))
        Py_RETURN_FALSE;  /* not exactly the eight slots: getattr and Txn() it is */
    for (int i = 0; i < 8; i++) {
        int r = member_offset(cls, names[i], &o[i]);
        if (r < 0) return NULL;
        if (r > 0) Py_RETURN_FALSE;  /* not plain slots: getattr it is */
    }
    off_id = o[0]; off_type = o[1]; off_mops = o[2]; off_index = o[3]; off_ipos = o[4];
    off_cpos = o[5]; off_process = o[6]; off_op = o[7];
    Py_INCREF(cls);
    Py_XSETREF(txn_type, (PyTypeObject *)cls);
    Py_RETURN_TRUE;
}

/* ------------------------------------------------------------------ parsing and pairing */

static PyObject *fast_mops_impl(PyObject *value, PyObject *kinds) {
    if (!PyList_CheckExact(value)) Py_RETURN_NONE;
    Py_ssize_t n = PyList_GET_SIZE(value);
    PyObject *out = PyList_New(n);
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *mop = PyList_GET_ITEM(value, i);
        if (!PyList_CheckExact(mop) || PyList_GET_SIZE(mop) != 3) goto slow;
        PyObject *f = PyList_GET_ITEM(mop, 0), *k = PyList_GET_ITEM(mop, 1);
        PyObject *v = PyList_GET_ITEM(mop, 2);
        if (!PyUnicode_CheckExact(f) || !is_scalar(k)) goto slow;
        PyObject *kind = PyDict_GetItemWithError(kinds, f);
        if (!kind) {
            if (PyErr_Occurred()) goto fail;
            goto slow;
        }
        int is_list = eq(kind, S_list);
        if (is_list < 0) goto fail;
        PyObject *t;
        if (is_list) {
            if (v == Py_None) {
                t = PyTuple_Pack(3, f, k, Py_None);
            } else if (PyList_CheckExact(v)) {
                Py_ssize_t m = PyList_GET_SIZE(v);
                for (Py_ssize_t j = 0; j < m; j++)
                    if (!is_scalar(PyList_GET_ITEM(v, j))) goto slow;
                PyObject *tv = PyList_AsTuple(v);
                if (!tv) goto fail;
                t = PyTuple_Pack(3, f, k, tv);
                Py_DECREF(tv);
            } else {
                goto slow;
            }
        } else {
            if (v != Py_None && !is_scalar(v)) goto slow;
            t = PyTuple_Pack(3, f, k, v);
        }
        if (!t) goto fail;
        PyList_SET_ITEM(out, i, t);
    }
    return out;
slow:
    Py_DECREF(out);
    Py_RETURN_NONE;
fail:
    Py_DECREF(out);
    return NULL;
}

static PyObject *fast_mops(PyObject *mod, PyObject *args) {
    PyObject *value, *kinds;
    if (!PyArg_ParseTuple(args, "OO!", &value, &PyDict_Type, &kinds)) return NULL;
    return fast_mops_impl(value, kinds);
}

/* The Txn of each (invoke_pos, complete_pos, invoke, completion) of done: ok and fail
 * completions with well-formed micro-ops here, the others by slow(id, entry). */
static PyObject *make_txns(PyObject *mod, PyObject *args) {
    PyObject *done, *kinds, *cls, *slow;
    if (!PyArg_ParseTuple(args, "O!O!OO", &PyList_Type, &done, &PyDict_Type, &kinds, &cls, &slow))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(done);
    PyObject *out = PyList_New(n), *idobj = NULL, *mops = NULL;
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PyList_GET_ITEM(done, i), *txn = NULL;
        if (!(idobj = PyLong_FromSsize_t(i))) goto fail;
        PyObject *comp = PyTuple_Check(e) && PyTuple_GET_SIZE(e) == 4 ? PyTuple_GET_ITEM(e, 3)
                                                                      : NULL;
        PyObject *ttype = NULL;
        if (comp && PyDict_CheckExact(comp)) {
            ttype = PyDict_GetItemWithError(comp, S_type);
            if (!ttype && PyErr_Occurred()) goto fail;
            int info = ttype ? eq(ttype, S_info) : 1;
            if (info < 0) goto fail;
            if (!info) {
                PyObject *value = PyDict_GetItemWithError(comp, S_value);
                if (!value && PyErr_Occurred()) goto fail;
                if (!(mops = fast_mops_impl(value ? value : Py_None, kinds))) goto fail;
                if (mops == Py_None) Py_CLEAR(mops);
            }
        }
        if (mops) {
            PyObject *index = PyDict_GetItemWithError(comp, S_index), *process;
            if (!index && PyErr_Occurred()) goto fail;
            if (!index || index == Py_None) index = PyTuple_GET_ITEM(e, 1);
            process = PyDict_GetItemWithError(comp, S_process);
            if (!process && PyErr_Occurred()) goto fail;
            PyObject *a[8] = {idobj, index, ttype, process ? process : Py_None, mops,
                              PyTuple_GET_ITEM(e, 0), PyTuple_GET_ITEM(e, 1), comp};
            if ((PyObject *)txn_type == cls) {
                /* Txn.__init__ only assigns its eight slots: do that here */
                Py_ssize_t offs[8] = {off_id, off_index, off_type, off_process, off_mops,
                                      off_ipos, off_cpos, off_op};
                txn = txn_type->tp_alloc(txn_type, 0);
                for (int x = 0; txn && x < 8; x++) {
                    Py_INCREF(a[x]);
                    *(PyObject **)((char *)txn + offs[x]) = a[x];
                }
            } else {
                txn = PyObject_Vectorcall(cls, a, 8, NULL);
            }
            Py_CLEAR(mops);
        } else {
            PyObject *a[2] = {idobj, e};
            txn = PyObject_Vectorcall(slow, a, 2, NULL);
        }
        Py_CLEAR(idobj);
        if (!txn) goto fail;
        PyList_SET_ITEM(out, i, txn);
    }
    return out;
fail:
    Py_XDECREF(idobj);
    Py_XDECREF(mops);
    Py_DECREF(out);
    return NULL;
}

static PyObject *pair(PyObject *mod, PyObject *args) {
    PyObject *history;
    if (!PyArg_ParseTuple(args, "O!", &PyList_Type, &history)) return NULL;
    PyObject *pending = PyDict_New(), *done = PyList_New(0), *posobj = NULL, *item = NULL;
    if (!pending || !done) goto fail;
    Py_ssize_t n = PyList_GET_SIZE(history);
    for (Py_ssize_t pos = 0; pos < n; pos++) {
        PyObject *op = PyList_GET_ITEM(history, pos);
        if (!PyDict_CheckExact(op)) goto bail;
        PyObject *p = PyDict_GetItemWithError(op, S_process);
        if (!p) {
            if (PyErr_Occurred()) goto fail;
            p = Py_None;
        }
        int c = eq(p, S_nemesis);
        if (c < 0) goto fail;
        if (c) continue;
        PyObject *t = PyDict_GetItemWithError(op, S_type);
        if (!t) {
            if (PyErr_Occurred()) goto fail;
            t = Py_None;
        }
        posobj = PyLong_FromSsize_t(pos);
        if (!posobj) goto fail;
        if ((c = eq(t, S_invoke)) < 0) goto fail;
        if (c) {
            PyObject *q = PyDict_GetItemWithError(pending, p);
            if (!q) {
                if (PyErr_Occurred()) goto fail;
                q = PyList_New(0);
                if (!q || PyDict_SetItem(pending, p, q) < 0) { Py_XDECREF(q); goto fail; }
                Py_DECREF(q);
            }
            item = PyTuple_Pack(2, posobj, op);
            if (!item || PyList_Append(q, item) < 0) goto fail;
            Py_CLEAR(item);
            Py_CLEAR(posobj);
            continue;
        }
        int ok = eq(t, S_ok), fl = 0, in = 0;
        if (ok < 0) goto fail;
        if (!ok && (fl = eq(t, S_fail)) < 0) goto fail;
        if (!ok && !fl && (in = eq(t, S_info)) < 0) goto fail;
        if (!ok && !fl && !in) { Py_CLEAR(posobj); continue; }
        PyObject *q = PyDict_GetItemWithError(pending, p);
        if (!q && PyErr_Occurred()) goto fail;
        if (q && PyList_GET_SIZE(q) > 1) goto bail;  /* Python picks by shape */
        if (q && PyList_GET_SIZE(q) == 1) {
            PyObject *inv = PyList_GET_ITEM(q, 0);
            item = PyTuple_Pack(4, PyTuple_GET_ITEM(inv, 0), posobj, PyTuple_GET_ITEM(inv, 1), op);
            if (!item || PyList_SetSlice(q, 0, 1, NULL) < 0) goto fail;
        } else {
            item = PyTuple_Pack(4, posobj, posobj, Py_None, op);
        }
        if (!item || PyList_Append(done, item) < 0) goto fail;
        Py_CLEAR(item);
        Py_CLEAR(posobj);
    }
    PyObject *res = PyTuple_Pack(2, done, pending);
    Py_DECREF(done);
    Py_DECREF(pending);
    return res;
bail:
    Py_XDECREF(posobj);
    Py_XDECREF(pending);
    Py_XDECREF(done);
    Py_RETURN_NONE;
fail:
    Py_XDECREF(item);
    Py_XDECREF(posobj);
    Py_XDECREF(pending);
    Py_XDECREF(done);
    return NULL;
}

/* ------------------------------------------------------------------ per-transaction passes */

/* New references to t.type == "ok" (as 0/1/-1) and t.mops as a fast sequence. */
static int txn_ok(PyObject *t) {
    PyObject *ty = txn_attr(t, S_type, off_type);
    if (!ty) return -1;
    int r = eq(ty, S_ok);
    Py_DECREF(ty);
    return r;
}

static PyObject *txn_mops(PyObject *t) {
    PyObject *m = txn_attr(t, S_mops, off_mops);
    if (!m) return NULL;
    PyObject *f = PySequence_Fast(m, "Txn.mops is not a sequence");
    Py_DECREF(m);
    return f;
}

static PyObject *unique_appends(PyObject *mod, PyObject *args) {
    PyObject *txns, *seen;
    if (!PyArg_ParseTuple(args, "OO!", &txns, &PyDict_Type, &seen)) return NULL;
    PyObject *seq = PySequence_Fast(txns, "txns is not a sequence");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *tid = T_ID(t), *mops = tid ? txn_mops(t) : NULL;
        if (!mops) { Py_XDECREF(tid); goto fail; }
        Py_ssize_t m = PySequence_Fast_GET_SIZE(mops);
        for (Py_ssize_t j = 0; j < m; j++) {
            PyObject *f, *k, *v;
            if (unpack(PySequence_Fast_GET_ITEM(mops, j), &f, &k, &v) < 0) goto fail_t;
            int c = eq(f, S_append);
            if (c < 0) goto fail_t;
            if (!c) continue;
            PyObject *key = PyTuple_Pack(2, k, v);
            if (!key) goto fail_t;
            PyObject *other = PyDict_SetDefault(seen, key, tid);
            Py_DECREF(key);
            if (!other) goto fail_t;
            int d = PyObject_RichCompareBool(other, tid, Py_NE);
            if (d < 0) goto fail_t;
            if (d) {
                PyObject *r = PyTuple_Pack(4, k, v, other, t);
                Py_DECREF(tid);
                Py_DECREF(mops);
                Py_DECREF(seq);
                return r;
            }
        }
        Py_DECREF(tid);
        Py_DECREF(mops);
        continue;
    fail_t:
        Py_DECREF(tid);
        Py_DECREF(mops);
        goto fail;
    }
    Py_DECREF(seq);
    Py_RETURN_NONE;
fail:
    Py_DECREF(seq);
    return NULL;
}

static PyObject *repeated_key_txns(PyObject *mod, PyObject *args) {
    PyObject *txns;
    if (!PyArg_ParseTuple(args, "O", &txns)) return NULL;
    PyObject *seq = PySequence_Fast(txns, "txns is not a sequence");
    if (!seq) return NULL;
    PyObject *out = PyList_New(0);
    if (!out) { Py_DECREF(seq); return NULL; }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *mops = txn_mops(t);
        if (!mops) goto fail;
        Py_ssize_t m = PySequence_Fast_GET_SIZE(mops);
        int rep = 0;
        if (m > 1) {
            /* len({k for each mop}) < len(mops): some key repeats (set equality: hash, then ==) */
            PyObject *keys = PySet_New(NULL);
            if (!keys) { Py_DECREF(mops); goto fail; }
            for (Py_ssize_t j = 0; j < m; j++) {
                PyObject *mop = PySequence_Fast_GET_ITEM(mops, j);
                PyObject *k = PySequence_GetItem(mop, 1);
                if (!k || PySet_Add(keys, k) < 0) {
                    Py_XDECREF(k); Py_DECREF(keys); Py_DECREF(mops); goto fail;
                }
                Py_DECREF(k);
            }
            rep = PySet_GET_SIZE(keys) < m;
            Py_DECREF(keys);
        }
        Py_DECREF(mops);
        if (rep && PyList_Append(out, t) < 0) goto fail;
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(seq);
    Py_DECREF(out);
    return NULL;
}

/* {"op": index, "mop": ["r", k, list(v)], name: extra} (steals extra) */
static PyObject *read_case(PyObject *index, PyObject *k, PyObject *v, PyObject *name,
                           PyObject *extra) {
    PyObject *d = NULL, *lv = NULL, *mop = NULL;
    if (!extra) return NULL;
    lv = PySequence_List(v);
    if (!lv) goto fail;
    mop = PyList_New(3);
    if (!mop) goto fail;
    Py_INCREF(S_r);
    PyList_SET_ITEM(mop, 0, S_r);
    Py_INCREF(k);
    PyList_SET_ITEM(mop, 1, k);
    PyList_SET_ITEM(mop, 2, lv);
    lv = NULL;
    d = PyDict_New();
    if (!d || PyDict_SetItem(d, S_op, index) < 0 || PyDict_SetItem(d, S_mop, mop) < 0 ||
        PyDict_SetItem(d, name, extra) < 0)
        goto fail;
    Py_DECREF(mop);
    Py_DECREF(extra);
    return d;
fail:
    Py_XDECREF(d);
    Py_XDECREF(lv);
    Py_XDECREF(mop);
    Py_DECREF(extra);
    return NULL;
}

static PyObject *append_to(PyObject *dict, PyObject *key, PyObject *x) {
    /* dict.setdefault(key, []).append(x); returns a borrowed non-NULL marker or NULL */
    PyObject *lst = PyDict_GetItemWithError(dict, key);
    if (!lst) {
        if (PyErr_Occurred()) return NULL;
        lst = PyList_New(0);
        if (!lst) return NULL;
        if (PyDict_SetItem(dict, key, lst) < 0) { Py_DECREF(lst); return NULL; }
        Py_DECREF(lst);
    }
    if (PyList_Append(lst, x) < 0) return NULL;
    return lst;
}

/* One key's state within a transaction, for self_cases (the Python code keeps one dict per
 * concern; a transaction touches few keys, so here they are slots found by hash and ==, as a
 * dict finds its keys). */
typedef struct {
    PyObject *k;      /* borrowed: the key, as first met */
    Py_hash_t hash;
    PyObject *last;   /* borrowed: the last element appended (G1b), or NULL */
    int has_state, known, written;
    PyObject *lst;    /* owned, when has_state: the state known so far (internal) */
    PyObject *fread;  /* owned list of the non-empty reads (future read), or NULL */
    PyObject *lread;  /* borrowed: the first state read before writing (lost update), or NULL */
} slot_t;

#define SMALL_SLOTS 32

static Py_ssize_t slot_of(slot_t *sl, Py_ssize_t *ns, PyObject *k, PyObject *map) {
    Py_hash_t h = PyObject_Hash(k);
    if (h == -1) return -1;
    if (map) {
        PyObject *ix = PyDict_GetItemWithError(map, k);
        if (ix) return PyLong_AsSsize_t(ix);
        if (PyErr_Occurred()) return -1;
        ix = PyLong_FromSsize_t(*ns);
        if (!ix) return -1;
        int r = PyDict_SetItem(map, k, ix);
        Py_DECREF(ix);
        if (r < 0) return -1;
    } else {
        for (Py_ssize_t i = 0; i < *ns; i++) {
            if (sl[i].hash != h) continue;
            if (sl[i].k == k) return i;
            int c = PyObject_RichCompareBool(sl[i].k, k, Py_EQ);
            if (c < 0) return -1;
            if (c) return i;
        }
    }
    slot_t *s = &sl[*ns];
    memset(s, 0, sizeof(*s));
    s->k = k;
    s->hash = h;
    return (*ns)++;
}

static void clear_slots(slot_t *sl, Py_ssize_t ns) {
    for (Py_ssize_t i = 0; i < ns; i++) {
        Py_CLEAR(sl[i].lst);
        Py_CLEAR(sl[i].fread);
    }
}

static PyObject *self_cases(PyObject *mod, PyObject *args) {
    PyObject *multi;
    if (!PyArg_ParseTuple(args, "O", &multi)) return NULL;
    PyObject *seq = PySequence_Fast(multi, "multi is not a sequence");
    if (!seq) return NULL;
    PyObject *internal = PyList_New(0), *future = PyList_New(0), *inter = PyDict_New();
    PyObject *groups = PyDict_New();
    PyObject *mops = NULL, *index = NULL, *map = NULL, *tmp = NULL, *tv = NULL;
    slot_t small[SMALL_SLOTS], *sl = small;
    Py_ssize_t ns = 0;
    if (!internal || !future || !inter || !groups) goto fail;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        int ok = txn_ok(t);
        if (ok < 0) goto fail;
        if (!(mops = txn_mops(t)) || !(index = T_INDEX(t))) goto fail;
        Py_ssize_t m = PySequence_Fast_GET_SIZE(mops);
        ns = 0;
        if (m > SMALL_SLOTS) {
            if (!(sl = malloc(sizeof(slot_t) * m))) { sl = small; PyErr_NoMemory(); goto fail; }
            if (!(map = PyDict_New())) goto fail;
        }
        int int_on = ok, fut_on = ok;
        for (Py_ssize_t j = 0; j < m; j++) {
            PyObject *f, *k, *v;
            if (unpack(PySequence_Fast_GET_ITEM(mops, j), &f, &k, &v) < 0) goto fail;
            int c = eq(f, S_append);
            if (c < 0) goto fail;
            if (!c && !ok) continue;
            Py_ssize_t si = slot_of(sl, &ns, k, map);
            if (si < 0) goto fail;
            slot_t *s = &sl[si];
            if (c) {
                if (s->last) {
                    tmp = PyTuple_Pack(2, k, s->last);
                    if (!tmp || PyDict_SetItem(inter, tmp, t) < 0) goto fail;
                    Py_CLEAR(tmp);
                }
                s->last = v;
                if (!ok) continue;
                if (int_on) {
                    PyObject *lst = s->has_state ? s->lst : EMPTY;
                    Py_ssize_t ln = PyTuple_GET_SIZE(lst);
                    PyObject *nl = PyTuple_New(ln + 1);
                    if (!nl) goto fail;
                    for (Py_ssize_t x = 0; x < ln; x++) {
                        PyObject *e = PyTuple_GET_ITEM(lst, x);
                        Py_INCREF(e);
                        PyTuple_SET_ITEM(nl, x, e);
                    }
                    Py_INCREF(v);
                    PyTuple_SET_ITEM(nl, ln, v);
                    Py_XSETREF(s->lst, nl);
                    if (!s->has_state) s->known = 0;
                    s->has_state = 1;
                }
                if (fut_on && s->fread) {
                    PyObject *hit = NULL;
                    for (Py_ssize_t x = 0; x < PyList_GET_SIZE(s->fread); x++) {
                        PyObject *r = PyList_GET_ITEM(s->fread, x);
                        int h = PySequence_Contains(r, v);
                        if (h < 0) goto fail;
                        if (h) { hit = r; break; }
                    }
                    if (hit) {
                        Py_INCREF(v);
                        tmp = read_case(index, k, hit, S_element, v);
                        if (!tmp || PyList_Append(future, tmp) < 0) goto fail;
                        Py_CLEAR(tmp);
                        fut_on = 0;
                    }
                }
                if (!s->written && s->lread) {
                    tmp = PyTuple_Pack(2, k, s->lread);
                    if (!tmp || !append_to(groups, tmp, index)) goto fail;
                    Py_CLEAR(tmp);
                }
                s->written = 1;
                continue;
            }
            int vtrue = truthy(v);
            if (vtrue < 0) goto fail;
            if (int_on) {
                if (vtrue) {
                    if (!(tv = PySequence_Tuple(v))) goto fail;
                } else {
                    tv = EMPTY;
                    Py_INCREF(tv);
                }
                if (s->has_state) {
                    PyObject *lst = s->lst;
                    int bad;
                    if (s->known) {
                        bad = PyObject_RichCompareBool(tv, lst, Py_NE);
                    } else {
                        Py_ssize_t lt = PyTuple_GET_SIZE(tv), d = lt - PyTuple_GET_SIZE(lst);
                        if (d < 0) {
                            bad = 1;
                        } else {
                            tmp = PyTuple_GetSlice(tv, d, lt);
                            if (!tmp) goto fail;
                            bad = PyObject_RichCompareBool(tmp, lst, Py_NE);
                            Py_CLEAR(tmp);
                        }
                    }
                    if (bad < 0) goto fail;
                    if (bad) {
                        PyObject *exp = PySequence_List(lst);
                        if (exp && !s->known && PyList_Insert(exp, 0, S_dots) < 0) Py_CLEAR(exp);
                        tmp = read_case(index, k, tv, S_expected, exp);
                        if (!tmp || PyList_Append(internal, tmp) < 0) goto fail;
                        Py_CLEAR(tmp);
                        int_on = 0;
                    }
                }
                if (int_on) {
                    Py_XSETREF(s->lst, tv);
                    tv = NULL;
                    s->known = 1;
                    s->has_state = 1;
                }
                Py_CLEAR(tv);
            }
            if (fut_on && vtrue) {
                if (!s->fread && !(s->fread = PyList_New(0))) goto fail;
                if (PyList_Append(s->fread, v) < 0) goto fail;
            }
            if (!s->lread && !s->written) s->lread = vtrue ? v : EMPTY;
        }
        clear_slots(sl, ns);
        ns = 0;
        if (sl != small) { free(sl); sl = small; }
        Py_CLEAR(map);
        Py_CLEAR(mops);
        Py_CLEAR(index);
    }
    Py_DECREF(seq);
    PyObject *res = PyTuple_Pack(4, internal, future, inter, groups);
    Py_DECREF(internal);
    Py_DECREF(future);
    Py_DECREF(inter);
    Py_DECREF(groups);
    return res;
fail:
    clear_slots(sl, ns);
    if (sl != small) free(sl);
    Py_DECREF(seq);
    Py_XDECREF(internal);
    Py_XDECREF(future);
    Py_XDECREF(inter);
    Py_XDECREF(groups);
    Py_XDECREF(mops);
    Py_XDECREF(index);
    Py_XDECREF(map);
    Py_XDECREF(tmp);
    Py_XDECREF(tv);
    return NULL;
}

static PyObject *g1b_from(PyObject *mod, PyObject *args) {
    PyObject *inter, *txns;
    if (!PyArg_ParseTuple(args, "O!O", &PyDict_Type, &inter, &txns)) return NULL;
    PyObject *seq = PySequence_Fast(txns, "txns is not a sequence");
    if (!seq) return NULL;
    PyObject *cases = PyList_New(0), *mops = NULL, *lastv = NULL, *key = NULL;
    if (!cases) goto fail;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        int ok = txn_ok(t);
        if (ok < 0) goto fail;
        if (!ok) continue;
        if (!(mops = txn_mops(t))) goto fail;
        Py_ssize_t m = PySequence_Fast_GET_SIZE(mops);
        for (Py_ssize_t j = 0; j < m; j++) {
            PyObject *f, *k, *v;
            if (unpack(PySequence_Fast_GET_ITEM(mops, j), &f, &k, &v) < 0) goto fail;
            int c = eq(f, S_r);
            if (c < 0) goto fail;
            if (!c) continue;
            if ((c = truthy(v)) < 0) goto fail;
            if (!c) continue;
            if (!(lastv = last_item(v))) goto fail;
            if (!(key = PyTuple_Pack(2, k, lastv))) goto fail;
            PyObject *w = PyDict_GetItemWithError(inter, key);
            Py_CLEAR(key);
            if (!w && PyErr_Occurred()) goto fail;
            if (w && w != t) {
                PyObject *widx = T_INDEX(w), *index = NULL, *c2 = NULL;
                if (!widx) goto fail;
                index = T_INDEX(t);
                if (index) c2 = read_case(index, k, v, S_writer, widx);
                else Py_DECREF(widx);
                if (c2 && PyDict_SetItem(c2, S_element, lastv) < 0) Py_CLEAR(c2);
                Py_XDECREF(index);
                if (!c2 || PyList_Append(cases, c2) < 0) { Py_XDECREF(c2); goto fail; }
                Py_DECREF(c2);
            }
            Py_CLEAR(lastv);
        }
        Py_CLEAR(mops);
    }
    Py_DECREF(seq);
    return cases;
fail:
    Py_DECREF(seq);
    Py_XDECREF(cases);
    Py_XDECREF(mops);
    Py_XDECREF(lastv);
    Py_XDECREF(key);
    return NULL;
}

/* values: k -> set of the distinct non-empty reads; appends: k -> the single element appended,
 * or too_many. (list_append.sorted_values sorts each set by length.) */
static PyObject *read_values(PyObject *mod, PyObject *args) {
    PyObject *possible, *too_many;
    if (!PyArg_ParseTuple(args, "OO", &possible, &too_many)) return NULL;
    PyObject *seq = PySequence_Fast(possible, "possible is not a sequence");
    if (!seq) return NULL;
    PyObject *values = PyDict_New(), *appends = PyDict_New(), *mops = NULL, *tmp = NULL;
    if (!values || !appends) goto fail;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!(mops = txn_mops(PySequence_Fast_GET_ITEM(seq, i)))) goto fail;
        Py_ssize_t m = PySequence_Fast_GET_SIZE(mops);
        for (Py_ssize_t j = 0; j < m; j++) {
            PyObject *f, *k, *v;
            if (unpack(PySequence_Fast_GET_ITEM(mops, j), &f, &k, &v) < 0) goto fail;
            int c = eq(f, S_r);
            if (c < 0) goto fail;
            if (c) {
                if ((c = truthy(v)) < 0) goto fail;
                if (!c) continue;
                PyObject *st = PyDict_GetItemWithError(values, k);
                if (!st) {
                    if (PyErr_Occurred()) goto fail;
                    tmp = PySet_New(NULL);
                    if (!tmp || PySet_Add(tmp, v) < 0 || PyDict_SetItem(values, k, tmp) < 0)
                        goto fail;
                    Py_CLEAR(tmp);
                } else if (PySet_Add(st, v) < 0) {
                    goto fail;
                }
            } else {
                int had = PyDict_Contains(appends, k);
                if (had < 0 || PyDict_SetItem(appends, k, had ? too_many : v) < 0) goto fail;
            }
        }
        Py_CLEAR(mops);
    }
    Py_DECREF(seq);
    PyObject *res = PyTuple_Pack(2, values, appends);
    Py_DECREF(values);
    Py_DECREF(appends);
    return res;
fail:
    Py_DECREF(seq);
    Py_XDECREF(values);
    Py_XDECREF(appends);
    Py_XDECREF(mops);
    Py_XDECREF(tmp);
    return NULL;
}

/* b[:len(a)] == a, as Python compares (element by element, b's first): 1, 0, or -1 */
static int is_prefix(PyObject *a, PyObject *b) {
    if (PyTuple_CheckExact(a) && PyTuple_CheckExact(b)) {
        Py_ssize_t la = PyTuple_GET_SIZE(a);
        if (PyTuple_GET_SIZE(b) < la) return 0;
        for (Py_ssize_t i = 0; i < la; i++) {
            int c = PyObject_RichCompareBool(PyTuple_GET_ITEM(b, i), PyTuple_GET_ITEM(a, i), Py_EQ);
            if (c <= 0) return c;
        }
        return 1;
    }
    Py_ssize_t la = PyObject_Length(a);
    if (la < 0) return -1;
    PyObject *sl = PySequence_GetSlice(b, 0, la);
    if (!sl) return -1;
    int c = PyObject_RichCompareBool(sl, a, Py_EQ);
    Py_DECREF(sl);
    return c;
}

/* The index of the first pair of successive values that are not prefixes (len if none). */
static Py_ssize_t first_incompatible(PyObject *values) {
    Py_ssize_t n = PyList_GET_SIZE(values);
    for (Py_ssize_t i = 0; i + 1 < n; i++) {
        int c = is_prefix(PyList_GET_ITEM(values, i), PyList_GET_ITEM(values, i + 1));
        if (c < 0) return -1;
        if (!c) return i;
    }
    return n;
}

static PyObject *incompatible_orders(PyObject *mod, PyObject *args) {
    PyObject *svs, *k, *values, *cases;
    Py_ssize_t pos = 0;
    if (!PyArg_ParseTuple(args, "O!", &PyDict_Type, &svs)) return NULL;
    if (!(cases = PyList_New(0))) return NULL;
    while (PyDict_Next(svs, &pos, &k, &values)) {
        if (!PyList_Check(values)) {
            PyErr_SetString(PyExc_TypeError, "sorted values must be lists");
            goto fail;
        }
        Py_ssize_t i = first_incompatible(values);
        if (i < 0) goto fail;
        if (i >= PyList_GET_SIZE(values)) continue;
        PyObject *a = PySequence_List(PyList_GET_ITEM(values, i));
        PyObject *b = a ? PySequence_List(PyList_GET_ITEM(values, i + 1)) : NULL;
        PyObject *pair_ = b ? PyList_New(2) : NULL, *d = NULL;
        if (!pair_) { Py_XDECREF(a); Py_XDECREF(b); goto fail; }
        PyList_SET_ITEM(pair_, 0, a);
        PyList_SET_ITEM(pair_, 1, b);
        d = PyDict_New();
        if (!d || PyDict_SetItem(d, S_key, k) < 0 || PyDict_SetItem(d, S_values, pair_) < 0 ||
            PyList_Append(cases, d) < 0) {
            Py_XDECREF(d);
            Py_DECREF(pair_);
            goto fail;
        }
        Py_DECREF(d);
        Py_DECREF(pair_);
    }
    return cases;
fail:
    Py_DECREF(cases);
    return NULL;
}

static PyObject *first_duplicate_at(PyObject *mod, PyObject *args) {
    PyObject *svs, *k, *values, *out, *seen = NULL;
    Py_ssize_t pos = 0;
    if (!PyArg_ParseTuple(args, "O!", &PyDict_Type, &svs)) return NULL;
    if (!(out = PyDict_New())) return NULL;
    while (PyDict_Next(svs, &pos, &k, &values)) {
        if (!PyList_Check(values) || !PyList_GET_SIZE(values)) {
            PyErr_SetString(PyExc_TypeError, "sorted values must be non-empty lists");
            goto fail;
        }
        Py_ssize_t i = first_incompatible(values);
        if (i < 0) goto fail;
        if (i < PyList_GET_SIZE(values)) continue;
        PyObject *longest = PySequence_Fast(PyList_GET_ITEM(values, PyList_GET_SIZE(values) - 1),
                                            "a read is not a sequence");
        if (!longest) goto fail;
        if (!(seen = PySet_New(NULL))) { Py_DECREF(longest); goto fail; }
        PyObject *at = Py_None;
        Py_INCREF(at);
        for (Py_ssize_t j = 0; j < PySequence_Fast_GET_SIZE(longest); j++) {
            PyObject *e = PySequence_Fast_GET_ITEM(longest, j);
            int c = PySet_Contains(seen, e);
            if (c < 0 || (!c && PySet_Add(seen, e) < 0)) {
                Py_DECREF(at);
                Py_DECREF(longest);
                goto fail;
            }
            if (c) {
                Py_DECREF(at);
                if (!(at = PyLong_FromSsize_t(j + 1))) { Py_DECREF(longest); goto fail; }
                break;
            }
        }
        Py_DECREF(longest);
        Py_CLEAR(seen);
        int r = PyDict_SetItem(out, k, at);
        Py_DECREF(at);
        if (r < 0) goto fail;
    }
    return out;
fail:
    Py_XDECREF(seen);
    Py_DECREF(out);
    return NULL;
}

/* key -> (distinct elements of the longest read, in order; element -> position) */
static PyObject *version_orders(PyObject *mod, PyObject *args) {
    PyObject *svs, *k, *values, *out, *vs = NULL, *idx = NULL;
    Py_ssize_t pos = 0;
    if (!PyArg_ParseTuple(args, "O!", &PyDict_Type, &svs)) return NULL;
    if (!(out = PyDict_New())) return NULL;
    while (PyDict_Next(svs, &pos, &k, &values)) {
        if (!PyList_Check(values) || !PyList_GET_SIZE(values)) {
            PyErr_SetString(PyExc_TypeError, "sorted values must be non-empty lists");
            goto fail;
        }
        PyObject *longest = PySequence_Fast(PyList_GET_ITEM(values, PyList_GET_SIZE(values) - 1),
                                            "a read is not a sequence");
        if (!longest) goto fail;
        vs = PyList_New(0);
        idx = PyDict_New();
        if (!vs || !idx) { Py_DECREF(longest); goto fail; }
        for (Py_ssize_t j = 0; j < PySequence_Fast_GET_SIZE(longest); j++) {
            PyObject *e = PySequence_Fast_GET_ITEM(longest, j);
            int c = PyDict_Contains(idx, e);
            if (c < 0) { Py_DECREF(longest); goto fail; }
            if (c) continue;
            PyObject *i = PyLong_FromSsize_t(PyList_GET_SIZE(vs));
            int r = i ? PyDict_SetItem(idx, e, i) : -1;
            Py_XDECREF(i);
            if (r < 0 || PyList_Append(vs, e) < 0) { Py_DECREF(longest); goto fail; }
        }
        Py_DECREF(longest);
        PyObject *o = PyTuple_Pack(2, vs, idx);
        Py_CLEAR(vs);
        Py_CLEAR(idx);
        if (!o) goto fail;
        int r = PyDict_SetItem(out, k, o);
        Py_DECREF(o);
        if (r < 0) goto fail;
    }
    return out;
fail:
    Py_XDECREF(vs);
    Py_XDECREF(idx);
    Py_DECREF(out);
    return NULL;
}

/* ------------------------------------------------------------------ the graph */

/* out[a][b] |= bit, as d[b] = d.get(b, 0) | bit */
static int add_edge(PyObject *out, PyObject *a, PyObject *b, long bit) {
    Py_ssize_t ai = PyLong_AsSsize_t(a), n = PyList_GET_SIZE(out);
    if (ai == -1 && PyErr_Occurred()) return -1;
    if (ai < 0) ai += n;
    if (ai < 0 || ai >= n) {
        PyErr_SetString(PyExc_IndexError, "list index out of range");
        return -1;
    }
    PyObject *d = PyList_GET_ITEM(out, ai);
    PyObject *cur = PyDict_GetItemWithError(d, b);
    long c = 0;
    if (cur) {
        c = PyLong_AsLong(cur);
        if (c == -1 && PyErr_Occurred()) return -1;
        if ((c | bit) == c) return 0;
    } else if (PyErr_Occurred()) {
        return -1;
    }
    PyObject *nv = PyLong_FromLong(c | bit);
    if (!nv) return -1;
    int r = PyDict_SetItem(d, b, nv);
    Py_DECREF(nv);
    return r;
}

/* One micro-op of a possible txn, as the first pass of dependency_edges leaves it for the
 * second: a read keeps the writer of its last element (looked up once), an append its key and
 * element. */
typedef struct {
    PyObject *tid;   /* borrowed (the Txn holds it) */
    PyObject *k, *v; /* borrowed (the micro-op holds them) */
    PyObject *w;     /* borrowed from writes: a read's writer, or NULL */
    int is_read;
} rec_t;

static PyObject *dependency_edges(PyObject *mod, PyObject *args) {
    PyObject *possible, *out, *writes, *orders, *initial;
    long ww, wr, rwb;
    if (!PyArg_ParseTuple(args, "OO!O!O!Olll", &possible, &PyList_Type, &out, &PyDict_Type,
                          &writes, &PyDict_Type, &orders, &initial, &ww, &wr, &rwb))
        return NULL;
    PyObject *seq = PySequence_Fast(possible, "possible is not a sequence");
    if (!seq) return NULL;
    PyObject *reads = PyDict_New(), *tid = NULL, *mops = NULL, *key = NULL, *p = NULL;
    PyObject *keep = PyList_New(0);  /* the Txns' ids and mops stay alive through here */
    rec_t *recs = NULL;
    Py_ssize_t nrec = 0, cap = 0;
    if (!reads || !keep) goto fail;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    /* Pass 1: reads: (k, last element | INITIAL) -> [ok txn ids]; the records. */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        int ok = txn_ok(t);
        if (ok < 0) goto fail;
        if (!(tid = T_ID(t)) || !(mops = txn_mops(t))) goto fail;
        if (PyList_Append(keep, tid) < 0 || PyList_Append(keep, mops) < 0) goto fail;
        Py_ssize_t m = PySequence_Fast_GET_SIZE(mops);
        if (nrec + m > cap) {
            Py_ssize_t nc = cap ? cap * 2 : 1024;
            while (nc < nrec + m) nc *= 2;
            rec_t *nr = realloc(recs, sizeof(rec_t) * nc);
            if (!nr) { PyErr_NoMemory(); goto fail; }
            recs = nr;
            cap = nc;
        }
        for (Py_ssize_t j = 0; j < m; j++) {
            PyObject *f, *k, *v;
            if (unpack(PySequence_Fast_GET_ITEM(mops, j), &f, &k, &v) < 0) goto fail;
            int c = eq(f, S_r);
            if (c < 0) goto fail;
            rec_t *rc = &recs[nrec++];
            rc->tid = tid;
            rc->k = k;
            rc->v = v;
            rc->w = NULL;
            rc->is_read = c;
            if (!c) continue;
            int vt = truthy(v);
            if (vt < 0) goto fail;
            if (!ok && !vt) continue;
            if (vt) {
                if (!(p = last_item(v))) goto fail;
            } else {
                p = initial;
                Py_INCREF(p);
            }
            key = PyTuple_Pack(2, k, p);
            Py_CLEAR(p);
            if (!key) goto fail;
            if (vt) {  /* the writer of the last element (wr edge, pass 2) */
                rc->w = PyDict_GetItemWithError(writes, key);
                if (!rc->w && PyErr_Occurred()) goto fail;
            }
            if (ok) {  /* an info read observed nothing */
                PyObject *lst = PyDict_GetItemWithError(reads, key);
                if (!lst) {
                    if (PyErr_Occurred()) goto fail;
                    lst = PyList_New(1);
                    if (!lst) goto fail;
                    Py_INCREF(tid);
                    PyList_SET_ITEM(lst, 0, tid);
                    int r = PyDict_SetItem(reads, key, lst);
                    Py_DECREF(lst);
                    if (r < 0) goto fail;
                } else {
                    int d = PyObject_RichCompareBool(
                        PyList_GET_ITEM(lst, PyList_GET_SIZE(lst) - 1), tid, Py_NE);
                    if (d < 0 || (d && PyList_Append(lst, tid) < 0)) goto fail;
                }
            }
            Py_CLEAR(key);
        }
        Py_CLEAR(tid);
        Py_CLEAR(mops);
    }
    /* Pass 2: the edges, in the order the Python code adds them. */
    for (Py_ssize_t x = 0; x < nrec; x++) {
        rec_t *rc = &recs[x];
        PyObject *k = rc->k, *v = rc->v;
        tid = rc->tid;
        if (rc->is_read) {
            if (rc->w) {
                int d = PyObject_RichCompareBool(rc->w, tid, Py_NE);
                if (d < 0 || (d && add_edge(out, rc->w, tid, wr) < 0)) { tid = NULL; goto fail; }
            }
            continue;
        }
        tid = NULL;
        PyObject *o = PyDict_GetItemWithError(orders, k);
        if (!o) {
            if (PyErr_Occurred()) goto fail;
            p = initial;
            Py_INCREF(p);
        } else {
            PyObject *vs, *idx;
            if (PyTuple_CheckExact(o) && PyTuple_GET_SIZE(o) == 2) {
                vs = PyTuple_GET_ITEM(o, 0);
                idx = PyTuple_GET_ITEM(o, 1);
                Py_INCREF(vs);
                Py_INCREF(idx);
            } else {
                vs = PySequence_GetItem(o, 0);
                idx = vs ? PySequence_GetItem(o, 1) : NULL;
            }
            if (!idx) { Py_XDECREF(vs); goto fail; }
            PyObject *ix = PyDict_Check(idx) ? PyDict_GetItemWithError(idx, v) : NULL;
            if (!ix && !PyDict_Check(idx)) PyErr_SetString(PyExc_TypeError, "bad order");
            if (!ix && PyErr_Occurred()) { Py_DECREF(vs); Py_DECREF(idx); goto fail; }
            Py_ssize_t nv = PySequence_Size(vs);
            if (nv < 0) { Py_DECREF(vs); Py_DECREF(idx); goto fail; }
            Py_ssize_t at = -1;
            if (!ix) {
                at = nv ? nv - 1 : -1;
            } else {
                Py_ssize_t iv = PyLong_AsSsize_t(ix);
                if (iv == -1 && PyErr_Occurred()) { Py_DECREF(vs); Py_DECREF(idx); goto fail; }
                at = iv > 0 ? iv - 1 : -1;
            }
            if (at >= 0) {
                if (PyList_CheckExact(vs) && at < PyList_GET_SIZE(vs)) {
                    p = PyList_GET_ITEM(vs, at);
                    Py_INCREF(p);
                } else {
                    p = PySequence_GetItem(vs, at);
                }
            } else {
                p = initial;
                Py_INCREF(p);
            }
            Py_DECREF(vs);
            Py_DECREF(idx);
            if (!p) goto fail;
        }
        if (!(key = PyTuple_Pack(2, k, p))) goto fail;
        if (p != initial) {
            PyObject *w = PyDict_GetItemWithError(writes, key);
            if (!w && PyErr_Occurred()) goto fail;
            if (w) {
                int d = PyObject_RichCompareBool(w, rc->tid, Py_NE);
                if (d < 0 || (d && add_edge(out, w, rc->tid, ww) < 0)) goto fail;
            }
        }
        Py_CLEAR(p);
        PyObject *rs = PyDict_GetItemWithError(reads, key);
        Py_CLEAR(key);
        if (!rs && PyErr_Occurred()) goto fail;
        if (rs) {
            for (Py_ssize_t y = 0; y < PyList_GET_SIZE(rs); y++) {
                PyObject *r = PyList_GET_ITEM(rs, y);
                int d = PyObject_RichCompareBool(r, rc->tid, Py_NE);
                if (d < 0 || (d && add_edge(out, r, rc->tid, rwb) < 0)) goto fail;
            }
        }
    }
    free(recs);
    Py_DECREF(keep);
    Py_DECREF(seq);
    return reads;
fail:
    free(recs);
    Py_XDECREF(keep);
    Py_DECREF(seq);
    Py_XDECREF(reads);
    Py_XDECREF(tid);
    Py_XDECREF(mops);
    Py_XDECREF(key);
    Py_XDECREF(p);
    return NULL;
}

typedef struct { long long ev; Py_ssize_t id; } event_t;

static int cmp_event(const void *a, const void *b) {
    const event_t *x = a, *y = b;
    if (x->ev != y->ev) return x->ev < y->ev ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static PyObject *realtime_edges(PyObject *mod, PyObject *args) {
    PyObject *txns, *out;
    long bit;
    if (!PyArg_ParseTuple(args, "OO!l", &txns, &PyList_Type, &out, &bit)) return NULL;
    PyObject *seq = PySequence_Fast(txns, "txns is not a sequence");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), ne = 0, nf = 0;
    event_t *evs = malloc(sizeof(event_t) * (2 * n + 1));
    Py_ssize_t *fr = malloc(sizeof(Py_ssize_t) * (n + 1));
    Py_ssize_t *where = malloc(sizeof(Py_ssize_t) * (n + 1));
    Py_ssize_t **snap = calloc(n + 1, sizeof(Py_ssize_t *));
    Py_ssize_t *snap_n = calloc(n + 1, sizeof(Py_ssize_t));
    PyObject **ids = calloc(n + 1, sizeof(PyObject *));  /* owned: the Txns' own id objects */
    PyObject *tidobj = NULL;
    if (!evs || !fr || !where || !snap || !snap_n || !ids) { PyErr_NoMemory(); goto fail; }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        int ok = txn_ok(t);
        if (ok < 0) goto fail;
        if (!ok) continue;
        PyObject *a = T_ID(t), *b = NULL, *c = NULL;
        if (a) b = txn_attr(t, S_invoke_pos, off_ipos);
        if (b) c = txn_attr(t, S_complete_pos, off_cpos);
        if (!c) { Py_XDECREF(a); Py_XDECREF(b); goto fail; }
        int o1 = 1, o2 = 1, o3 = 1;  /* stays 1 (overflow) unless an exact int */
        long long id = PyLong_CheckExact(a) ? PyLong_AsLongLongAndOverflow(a, &o1) : 0;
        long long ip = PyLong_CheckExact(b) ? PyLong_AsLongLongAndOverflow(b, &o2) : 0;
        long long cp = PyLong_CheckExact(c) ? PyLong_AsLongLongAndOverflow(c, &o3) : 0;
        Py_DECREF(b); Py_DECREF(c);
        if (PyErr_Occurred()) { Py_DECREF(a); goto fail; }
        const long long lim = (long long)1 << 60;
        if (o1 || o2 || o3 || ip <= -lim || ip >= lim || cp <= -lim || cp >= lim || id < 0 ||
            id >= n || ids[id]) {
            /* not dense int ids and int positions: the Python code handles it */
            Py_DECREF(a);
            for (Py_ssize_t x = 0; x < n; x++) { free(snap[x]); Py_XDECREF(ids[x]); }
            free(evs); free(fr); free(where); free(snap); free(snap_n); free(ids);
            Py_DECREF(seq);
            Py_RETURN_FALSE;
        }
        ids[id] = a;  /* owned, released at the end */
        evs[ne].ev = ip * 2; evs[ne++].id = id;
        evs[ne].ev = cp * 2 + 1; evs[ne++].id = id;
    }
    qsort(evs, ne, sizeof(event_t), cmp_event);
    for (Py_ssize_t i = 0; i < n; i++) where[i] = -1;
    for (Py_ssize_t e = 0; e < ne; e++) {
        Py_ssize_t id = evs[e].id;
        if (!(evs[e].ev & 1)) {
            free(snap[id]);
            snap[id] = malloc(sizeof(Py_ssize_t) * (nf + 1));
            if (!snap[id]) { PyErr_NoMemory(); goto fail; }
            memcpy(snap[id], fr, sizeof(Py_ssize_t) * nf);
            snap_n[id] = nf;
            continue;
        }
        tidobj = ids[id];
        Py_INCREF(tidobj);
        for (Py_ssize_t x = 0; x < snap_n[id]; x++) {
            Py_ssize_t p = snap[id][x];
            PyObject *d = PyList_GET_ITEM(out, p);  /* p < n <= len(out): Graph(len(txns)) */
            PyObject *cur = PyDict_GetItemWithError(d, tidobj);
            long cv = 0;
            if (cur) {
                cv = PyLong_AsLong(cur);
                if (cv == -1 && PyErr_Occurred()) goto fail;
            } else if (PyErr_Occurred()) {
                goto fail;
            }
            if (!cur || (cv | bit) != cv) {
                PyObject *nv = PyLong_FromLong(cv | bit);
                if (!nv || PyDict_SetItem(d, tidobj, nv) < 0) { Py_XDECREF(nv); goto fail; }
                Py_DECREF(nv);
            }
            if (where[p] >= 0) {  /* frontier.discard(p): move the last one into its slot */
                Py_ssize_t at = where[p], lastv = fr[--nf];
                fr[at] = lastv;
                where[lastv] = at;
                where[p] = -1;
            }
        }
        Py_CLEAR(tidobj);
        free(snap[id]);
        snap[id] = NULL;
        if (where[id] < 0) {
            where[id] = nf;
            fr[nf++] = id;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) { free(snap[i]); Py_XDECREF(ids[i]); }
    free(evs); free(fr); free(where); free(snap); free(snap_n); free(ids);
    Py_DECREF(seq);
    Py_RETURN_TRUE;
fail:
    for (Py_ssize_t i = 0; i < n; i++) {
        if (snap) free(snap[i]);
        if (ids) Py_XDECREF(ids[i]);
    }
    free(evs); free(fr); free(where); free(snap); free(snap_n); free(ids);
    Py_XDECREF(tidobj);
    Py_DECREF(seq);
    return NULL;
}

static PyObject *trim(PyObject *mod, PyObject *args) {
    PyObject *out;
    if (!PyArg_ParseTuple(args, "O!", &PyList_Type, &out)) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(out), ne = 0;
    for (Py_ssize_t v = 0; v < n; v++) {
        PyObject *d = PyList_GET_ITEM(out, v);
        if (!PyDict_Check(d)) {
            PyErr_SetString(PyExc_TypeError, "Graph.out must hold dicts");
            return NULL;
        }
        ne += PyDict_GET_SIZE(d);
    }
    /* CSR copy of the edges as ints */
    Py_ssize_t *start = malloc(sizeof(Py_ssize_t) * (n + 1));
    Py_ssize_t *dst = malloc(sizeof(Py_ssize_t) * (ne + 1));
    Py_ssize_t *deg = calloc(n + 1, sizeof(Py_ssize_t));
    Py_ssize_t *stack = malloc(sizeof(Py_ssize_t) * (n + 1));
    Py_ssize_t *pstart = NULL, *psrc = NULL;
    char *removed = calloc(n + 1, 1);
    PyObject *res = NULL;
    if (!start || !dst || !deg || !stack || !removed) { PyErr_NoMemory(); goto done; }
    Py_ssize_t e = 0;
    for (Py_ssize_t v = 0; v < n; v++) {
        start[v] = e;
        PyObject *d = PyList_GET_ITEM(out, v), *k, *val;
        Py_ssize_t pos = 0;
        while (PyDict_Next(d, &pos, &k, &val)) {
            Py_ssize_t w = PyLong_AsSsize_t(k);
            if (w == -1 && PyErr_Occurred()) goto done;
            if (w < 0) w += n;
            if (w < 0 || w >= n) {
                PyErr_SetString(PyExc_IndexError, "list index out of range");
                goto done;
            }
            dst[e++] = w;
            deg[w]++;
        }
    }
    start[n] = e;
    Py_ssize_t sp = 0, left = n;
    for (Py_ssize_t v = 0; v < n; v++)
        if (!deg[v]) stack[sp++] = v;
    while (sp) {
        Py_ssize_t v = stack[--sp];
        removed[v] = 1;
        left--;
        for (Py_ssize_t x = start[v]; x < start[v + 1]; x++)
            if (!--deg[dst[x]]) stack[sp++] = dst[x];
    }
    if (!left) {
        res = Py_None;
        Py_INCREF(res);
        goto done;
    }
    /* backwards over what is left: out-degrees among the present, then peel sinks */
    pstart = calloc(n + 2, sizeof(Py_ssize_t));
    psrc = malloc(sizeof(Py_ssize_t) * (e + 1));
    if (!pstart || !psrc) { PyErr_NoMemory(); goto done; }
    memset(deg, 0, sizeof(Py_ssize_t) * n);
    for (Py_ssize_t v = 0; v < n; v++) {
        if (removed[v]) continue;
        for (Py_ssize_t x = start[v]; x < start[v + 1]; x++)
            if (!removed[dst[x]]) { deg[v]++; pstart[dst[x] + 1]++; }
    }
    for (Py_ssize_t v = 0; v < n; v++) pstart[v + 1] += pstart[v];
    {
        Py_ssize_t *fill = stack;  /* reuse: fill pointers per target */
        for (Py_ssize_t v = 0; v < n; v++) fill[v] = pstart[v];
        for (Py_ssize_t v = 0; v < n; v++) {
            if (removed[v]) continue;
            for (Py_ssize_t x = start[v]; x < start[v + 1]; x++)
                if (!removed[dst[x]]) psrc[fill[dst[x]]++] = v;
        }
    }
    char *gone = calloc(n + 1, 1);
    if (!gone) { PyErr_NoMemory(); goto done; }
    sp = 0;
    for (Py_ssize_t v = 0; v < n; v++)
        if (!removed[v] && !deg[v]) stack[sp++] = v;
    while (sp) {
        Py_ssize_t v = stack[--sp];
        gone[v] = 1;
        for (Py_ssize_t x = pstart[v]; x < pstart[v + 1]; x++)
            if (!--deg[psrc[x]]) stack[sp++] = psrc[x];
    }
    res = PyList_New(0);
    for (Py_ssize_t v = 0; res && v < n; v++) {
        if (removed[v] || gone[v]) continue;
        PyObject *o = PyLong_FromSsize_t(v);
        if (!o || PyList_Append(res, o) < 0) { Py_XDECREF(o); Py_CLEAR(res); }
        else Py_DECREF(o);
    }
    free(gone);
done:
    free(start); free(dst); free(deg); free(stack); free(removed); free(pstart); free(psrc);
    return res;
}

static PyMethodDef methods[] = {
    {"fast_mops", fast_mops, METH_VARARGS, "Well-formed micro-ops as tuples, or None."},
    {"set_txn_type", set_txn_type, METH_VARARGS, "Read Txn attributes from its slots."},
    {"make_txns", make_txns, METH_VARARGS, "Txns from the paired ops."},
    {"pair", pair, METH_VARARGS, "Pair invocations and completions (or None)."},
    {"unique_appends", unique_appends, METH_VARARGS, "First repeated append, or None."},
    {"repeated_key_txns", repeated_key_txns, METH_VARARGS, "Txns touching a key twice."},
    {"self_cases", self_cases, METH_VARARGS, "internal/future/inter/groups of self_cases."},
    {"read_values", read_values, METH_VARARGS, "Distinct reads per key, single appends."},
    {"incompatible_orders", incompatible_orders, METH_VARARGS,
     "Reads that are not prefixes."},
    {"first_duplicate_at", first_duplicate_at, METH_VARARGS, "Where the longest read repeats."},
    {"version_orders", version_orders, METH_VARARGS, "Each key's order from its longest read."},
    {"g1b_from", g1b_from, METH_VARARGS, "G1b cases from the intermediate writes."},
    {"dependency_edges", dependency_edges, METH_VARARGS, "ww/wr/rw edges; returns reads."},
    {"realtime_edges", realtime_edges, METH_VARARGS, "Transitively reduced realtime edges."},
    {"trim", trim, METH_VARARGS, "Vertices on or between cycles, or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_elle", NULL, -1, methods};

#define INTERN(var, s) if (!(var = PyUnicode_InternFromString(s))) return NULL

PyMODINIT_FUNC PyInit__elle(void) {
    INTERN(S_id, "id"); INTERN(S_type, "type"); INTERN(S_mops, "mops"); INTERN(S_index, "index");
    INTERN(S_invoke_pos, "invoke_pos"); INTERN(S_complete_pos, "complete_pos");
    INTERN(S_ok, "ok"); INTERN(S_fail, "fail"); INTERN(S_info, "info"); INTERN(S_invoke, "invoke");
    INTERN(S_r, "r"); INTERN(S_append, "append"); INTERN(S_list, "list");
    INTERN(S_nemesis, "nemesis"); INTERN(S_process, "process"); INTERN(S_value, "value");
    INTERN(S_key, "key");
    INTERN(S_values, "values"); INTERN(S_op, "op");
    INTERN(S_mop, "mop"); INTERN(S_expected, "expected"); INTERN(S_element, "element");
    INTERN(S_writer, "writer"); INTERN(S_dots, "...");
    if (!(EMPTY = PyTuple_New(0))) return NULL;
    return PyModule_Create(&module);
}
