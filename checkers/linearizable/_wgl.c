/* Native core of the linearizability search (same algorithm as search.py, for models whose state
 * is a small integer: register and cas-register with values interned to ints).
 *
 * search(calls, rets, codes, as, bs, twins, init, timeout_s, max_bytes)
 *   twins: per op the id of the info twin it must follow (search.twin_before), or -1;
 *   calls/rets: history positions (ret -1: the op completed info, it may never happen);
 *   codes/as/bs: the op as (code, a, b), codes as in models.py (C_READ, C_READ_ANY, C_WRITE, C_CAS).
 * Returns (valid, configurations, blocked_op, final_states, paths, cause):
 *   valid 1 / 0 / -1 (unknown, cause "timeout" or "memory");
 *   paths: up to MAX_PATHS lists of op ids (a longest real-time consistent order, oldest first).
 *
 * The memo is an open-addressing hash set of (bitset of linearized ops, state); the bitset's hash
 * is kept incrementally (xor of per-op random words), so a lookup costs one probe sequence and
 * one memcmp. Frames live in an arena and are never freed, so a recorded path stays valid.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define C_READ 0
#define C_READ_ANY 1
#define C_WRITE 2
#define C_CAS 3
#define C_CALLBACK 4   /* any model: callback(state, op) -> (ok, new state), cached */
#define RET_MARK (-2)
#define NO_RET (-1)
#define END (-1)
#define MAX_PATHS 10
#define CLOCK_EVERY 4096

typedef struct { int32_t entry; int32_t prev; int64_t state; } frame_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

typedef struct {
    int W;               /* 64-bit words per bitset */
    uint64_t *keys;      /* arena: (W + 1) words per entry: bitset then state */
    size_t n, cap_keys;
    uint32_t *table;     /* slots: entry index + 1, 0 = empty */
    size_t mask;
} memo_t;

static int memo_grow_table(memo_t *m) {
    size_t nslots = (m->mask + 1) * 2;
    uint32_t *t = calloc(nslots, sizeof(uint32_t));
    if (!t) return -1;
    /* rehash: hashes are recomputed from the stored keys */
    for (size_t i = 0; i < m->n; i++) {
        uint64_t *k = m->keys + i * (m->W + 1);
        uint64_t h = 1469598103934665603ULL;
        for (int w = 0; w <= m->W; w++) { h ^= k[w]; h *= 1099511628211ULL; h ^= h >> 29; }
        size_t s = h & (nslots - 1);
        while (t[s]) s = (s + 1) & (nslots - 1);
        t[s] = (uint32_t)(i + 1);
    }
    free(m->table);
    m->table = t;
    m->mask = nslots - 1;
    return 0;
}

static inline uint64_t key_hash(const uint64_t *bits, int W, int64_t state) {
    uint64_t h = 1469598103934665603ULL;
    for (int w = 0; w < W; w++) { h ^= bits[w]; h *= 1099511628211ULL; h ^= h >> 29; }
    h ^= (uint64_t)state; h *= 1099511628211ULL; h ^= h >> 29;
    return h;
}

/* 1: inserted (new), 0: present, -1: out of memory */
static int memo_add(memo_t *m, const uint64_t *bits, int64_t state) {
    uint64_t h = key_hash(bits, m->W, state);
    size_t s = h & m->mask;
    size_t stride = m->W + 1;
    for (;;) {
        uint32_t e = m->table[s];
        if (!e) break;
        uint64_t *k = m->keys + (size_t)(e - 1) * stride;
        if (k[m->W] == (uint64_t)state && memcmp(k, bits, m->W * 8) == 0) return 0;
        s = (s + 1) & m->mask;
    }
    if (m->n == m->cap_keys) {
        size_t nc = m->cap_keys ? m->cap_keys * 2 : 1024;
        uint64_t *nk = realloc(m->keys, nc * stride * 8);
        if (!nk) return -1;
        m->keys = nk;
        m->cap_keys = nc;
    }
    uint64_t *k = m->keys + m->n * stride;
    memcpy(k, bits, m->W * 8);
    k[m->W] = (uint64_t)state;
    m->n++;
    m->table[s] = (uint32_t)m->n;
    if (m->n * 2 > m->mask + 1) {
        if (memo_grow_table(m)) return -1;
    }
    return 1;
}

/* Transition cache for C_CALLBACK ops: (state, op) -> (new state << 1 | ok). */
typedef struct { int64_t *ks; int32_t *ko; int64_t *vs; size_t n, mask; } trans_t;

static int trans_init(trans_t *t) {
    t->n = 0; t->mask = 1023;
    t->ks = malloc(1024 * 8); t->ko = malloc(1024 * 4); t->vs = malloc(1024 * 8);
    if (!t->ks || !t->ko || !t->vs) return -1;
    for (size_t i = 0; i < 1024; i++) t->ko[i] = -1;
    return 0;
}

static inline size_t trans_slot(const trans_t *t, int64_t st, int32_t op) {
    uint64_t h = (uint64_t)st * 0x9e3779b97f4a7c15ULL ^ (uint64_t)op * 0xc2b2ae3d27d4eb4fULL;
    h ^= h >> 31;
    return h & t->mask;
}

static int trans_get(const trans_t *t, int64_t st, int32_t op, int64_t *out) {
    size_t s = trans_slot(t, st, op);
    while (t->ko[s] >= 0) {
        if (t->ko[s] == op && t->ks[s] == st) { *out = t->vs[s]; return 1; }
        s = (s + 1) & t->mask;
    }
    return 0;
}

static int trans_put(trans_t *t, int64_t st, int32_t op, int64_t v) {
    if ((t->n + 1) * 2 > t->mask + 1) {
        trans_t nt;
        size_t ns = (t->mask + 1) * 2;
        nt.n = 0; nt.mask = ns - 1;
        nt.ks = malloc(ns * 8); nt.ko = malloc(ns * 4); nt.vs = malloc(ns * 8);
        if (!nt.ks || !nt.ko || !nt.vs) { free(nt.ks); free(nt.ko); free(nt.vs); return -1; }
        for (size_t i = 0; i < ns; i++) nt.ko[i] = -1;
        for (size_t i = 0; i <= t->mask; i++) if (t->ko[i] >= 0) {
            size_t s = trans_slot(&nt, t->ks[i], t->ko[i]);
            while (nt.ko[s] >= 0) s = (s + 1) & nt.mask;
            nt.ks[s] = t->ks[i]; nt.ko[s] = t->ko[i]; nt.vs[s] = t->vs[i]; nt.n++;
        }
        free(t->ks); free(t->ko); free(t->vs);
        *t = nt;
    }
    size_t s = trans_slot(t, st, op);
    while (t->ko[s] >= 0) s = (s + 1) & t->mask;
    t->ks[s] = st; t->ko[s] = op; t->vs[s] = v; t->n++;
    return 0;
}

static int64_t *list_to_i64(PyObject *seq, Py_ssize_t *len) {
    PyObject *fast = PySequence_Fast(seq, "expected a sequence");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    int64_t *out = malloc((n ? n : 1) * sizeof(int64_t));
    if (!out) { Py_DECREF(fast); PyErr_NoMemory(); return NULL; }
    for (Py_ssize_t i = 0; i < n; i++) {
        out[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(fast, i));
        if (out[i] == -1 && PyErr_Occurred()) { free(out); Py_DECREF(fast); return NULL; }
    }
    Py_DECREF(fast);
    *len = n;
    return out;
}

static PyObject *path_list(frame_t *frames, int32_t fr, int32_t *eop) {
    Py_ssize_t depth = 0;
    for (int32_t f = fr; f >= 0; f = frames[f].prev) depth++;
    PyObject *l = PyList_New(depth);
    if (!l) return NULL;
    for (int32_t f = fr; f >= 0; f = frames[f].prev)
        PyList_SET_ITEM(l, --depth, PyLong_FromLong(eop[frames[f].entry]));
    return l;
}

typedef struct { int64_t pos; int kind; int32_t op; } event_t;

static int event_cmp(const void *a, const void *b) {
    const event_t *x = a, *y = b;
    if (x->pos != y->pos) return x->pos < y->pos ? -1 : 1;
    if (x->kind != y->kind) return x->kind - y->kind;
    return x->op - y->op;
}

static PyObject *wgl_search(PyObject *self, PyObject *args) {
    PyObject *ocalls, *orets, *ocodes, *oas, *obs, *otwins, *callback = Py_None;
    long long init;
    double timeout_s;
    double max_bytes;
    if (!PyArg_ParseTuple(args, "OOOOOOLdd|O", &ocalls, &orets, &ocodes, &oas, &obs, &otwins, &init,
                          &timeout_s, &max_bytes, &callback))
        return NULL;
    trans_t trans = {0};
    Py_ssize_t n = 0, n2, n3, n4, n5, n6;
    int64_t *calls = NULL, *rets = NULL, *codes = NULL, *as = NULL, *bs = NULL, *twins = NULL;
    PyObject *result = NULL;
    if (!(calls = list_to_i64(ocalls, &n)) || !(rets = list_to_i64(orets, &n2)) ||
        !(codes = list_to_i64(ocodes, &n3)) || !(as = list_to_i64(oas, &n4)) ||
        !(bs = list_to_i64(obs, &n5)) || !(twins = list_to_i64(otwins, &n6)))
        goto done_early;
    if (n2 != n || n3 != n || n4 != n || n5 != n || n6 != n || n >= (1 << 30)) {
        PyErr_SetString(PyExc_ValueError, "op arrays must have the same length");
        goto done_early;
    }

    /* entries: 0 is the head sentinel */
    Py_ssize_t m = 0;
    event_t *ev = malloc((2 * n + 1) * sizeof(event_t));
    for (Py_ssize_t i = 0; i < n; i++) {
        ev[m++] = (event_t){calls[i], 0, (int32_t)i};
        if (rets[i] >= 0) ev[m++] = (event_t){rets[i], 1, (int32_t)i};
    }
    qsort(ev, m, sizeof(event_t), event_cmp);
    int32_t *nxt = malloc((m + 2) * sizeof(int32_t)), *prv = malloc((m + 2) * sizeof(int32_t));
    int32_t *match = malloc((m + 1) * sizeof(int32_t)), *eop = malloc((m + 1) * sizeof(int32_t));
    int64_t *pos = malloc((m + 1) * sizeof(int64_t));
    int32_t *call_entry = malloc((n + 1) * sizeof(int32_t));
    for (Py_ssize_t e = 0; e <= m; e++) { nxt[e] = (int32_t)e + 1; prv[e] = (int32_t)e - 1; match[e] = NO_RET; eop[e] = -1; pos[e] = -1; }
    nxt[m] = END;
    for (Py_ssize_t e = 1; e <= m; e++) {
        event_t *x = &ev[e - 1];
        eop[e] = x->op; pos[e] = x->pos;
        if (x->kind == 0) call_entry[x->op] = (int32_t)e;
        else { match[e] = RET_MARK; match[call_entry[x->op]] = (int32_t)e; }
    }
    free(ev);

    int W = (int)((n + 63) / 64);
    if (W == 0) W = 1;
    uint64_t *lin = calloc(W, 8);
    memo_t memo = {W, NULL, 0, 0, NULL, 1023};
    memo.table = calloc(1024, sizeof(uint32_t));
    size_t frames_cap = 1024, nframes = 0;
    frame_t *frames = malloc(frames_cap * sizeof(frame_t));
    (void)splitmix;

    Py_ssize_t remaining = 0;
    for (Py_ssize_t i = 0; i < n; i++) if (rets[i] >= 0) remaining++;
    int64_t state = init;
    int32_t frame = -1;
    int valid = 1;
    const char *cause = NULL;
    int64_t best_pos = -1;
    int32_t blocked_op = -1;
    int64_t *finals = NULL; size_t nfinals = 0, cap_finals = 0;
    int32_t paths[MAX_PATHS]; int npaths = 0;
    unsigned long iterations = 0;
    double deadline = timeout_s > 0 ? now_s() + timeout_s : 0;
    size_t stride_bytes = (W + 1) * 8;

    int failed_cb = 0;
    if (callback != Py_None && trans_init(&trans)) { valid = -1; cause = "memory"; }
    /* Without a callback the search touches no Python object: let other threads run. */
    PyThreadState *released = callback == Py_None ? PyEval_SaveThread() : NULL;
    int32_t entry = nxt[0];
    while (remaining && valid == 1) {
        iterations++;
        if (!(iterations & (CLOCK_EVERY - 1))) {
            if (deadline > 0 && now_s() > deadline) { valid = -1; cause = "timeout"; break; }
            double used = (double)memo.cap_keys * stride_bytes + (memo.mask + 1) * 4.0 +
                          (double)frames_cap * sizeof(frame_t) + (trans.mask + 1) * 20.0;
            if (max_bytes > 0 && used > max_bytes) { valid = -1; cause = "memory"; break; }
        }
        int32_t r = match[entry];
        if (r != RET_MARK) {
            int32_t oid = eop[entry];
            int ok;
            int64_t ns = state;
            int64_t tw = twins[oid];
            if (tw >= 0 && !(lin[tw >> 6] & (1ULL << (tw & 63)))) ok = 0;
            else switch (codes[oid]) {
            case C_READ: ok = (state == as[oid]); break;
            case C_READ_ANY: ok = 1; break;
            case C_WRITE: ok = 1; ns = as[oid]; break;
            case C_CAS: ok = (state == as[oid]); ns = bs[oid]; break;
            case C_CALLBACK: {
                int64_t v;
                if (!trans_get(&trans, state, oid, &v)) {
                    PyObject *res = PyObject_CallFunction(callback, "Li", (long long)state, (int)oid);
                    if (!res) { failed_cb = 1; break; }
                    int cok; long long cns;
                    if (!PyArg_ParseTuple(res, "iL", &cok, &cns)) { Py_DECREF(res); failed_cb = 1; break; }
                    Py_DECREF(res);
                    v = ((int64_t)cns << 1) | (cok ? 1 : 0);
                    if (trans_put(&trans, state, oid, v)) { valid = -1; cause = "memory"; failed_cb = 2; break; }
                }
                ok = (int)(v & 1); ns = v >> 1;
                break;
            }
            default: ok = 0;
            }
            if (failed_cb) break;
            if (ok) {
                lin[oid >> 6] |= 1ULL << (oid & 63);
                int added = memo_add(&memo, lin, ns);
                if (added < 0) { valid = -1; cause = "memory"; break; }
                if (added) {
                    if (nframes == frames_cap) {
                        frame_t *nf = realloc(frames, frames_cap * 2 * sizeof(frame_t));
                        if (!nf) { valid = -1; cause = "memory"; break; }
                        frames = nf; frames_cap *= 2;
                    }
                    frames[nframes] = (frame_t){entry, frame, state};
                    frame = (int32_t)nframes++;
                    state = ns;
                    int32_t p = prv[entry], q = nxt[entry];
                    nxt[p] = q; if (q != END) prv[q] = p;
                    if (r != NO_RET) {
                        p = prv[r]; q = nxt[r];
                        nxt[p] = q; if (q != END) prv[q] = p;
                        remaining--;
                    }
                    entry = nxt[0];
                    continue;
                }
                lin[oid >> 6] &= ~(1ULL << (oid & 63));
            }
            entry = nxt[entry];
            if (entry == END) break;
        } else {
            int64_t bp = pos[entry];
            if (bp >= best_pos) {
                if (bp > best_pos) { best_pos = bp; blocked_op = eop[entry]; nfinals = 0; npaths = 0; }
                int seen = 0;
                for (size_t i = 0; i < nfinals; i++) if (finals[i] == state) { seen = 1; break; }
                if (!seen) {
                    if (nfinals == cap_finals) {
                        cap_finals = cap_finals ? cap_finals * 2 : 16;
                        finals = realloc(finals, cap_finals * sizeof(int64_t));
                    }
                    finals[nfinals++] = state;
                }
                if (npaths < MAX_PATHS) paths[npaths++] = frame;
            }
            if (frame < 0) { valid = 0; break; }
            frame_t *f = &frames[frame];
            entry = f->entry; state = f->state; frame = f->prev;
            /* frames are kept (paths refer to them), so the arena only grows */
            int32_t oid = eop[entry];
            lin[oid >> 6] &= ~(1ULL << (oid & 63));
            r = match[entry];
            if (r != NO_RET) {
                int32_t p = prv[r], q = nxt[r];
                nxt[p] = r; if (q != END) prv[q] = r;
                remaining++;
            }
            int32_t p = prv[entry], q = nxt[entry];
            nxt[p] = entry; if (q != END) prv[q] = entry;
            entry = nxt[entry];
        }
    }
    if (released) PyEval_RestoreThread(released);
    if (failed_cb == 1) {
        free(nxt); free(prv); free(match); free(eop); free(pos); free(call_entry);
        free(lin); free(memo.keys); free(memo.table); free(frames); free(finals);
        free(trans.ks); free(trans.ko); free(trans.vs);
        goto done_early;
    }

    {
        PyObject *fl = PyList_New(0), *pl = PyList_New(0);
        for (size_t i = 0; i < nfinals; i++) {
            PyObject *v = PyLong_FromLongLong(finals[i]);
            PyList_Append(fl, v); Py_DECREF(v);
        }
        if (valid == 1) {
            PyObject *p = path_list(frames, frame, eop);
            PyList_Append(pl, p); Py_DECREF(p);
        } else {
            for (int i = 0; i < npaths; i++) {
                PyObject *p = path_list(frames, paths[i], eop);
                PyList_Append(pl, p); Py_DECREF(p);
            }
        }
        result = Py_BuildValue("inlNNz", valid, (Py_ssize_t)memo.n, (long)blocked_op, fl, pl,
                               cause);
    }
    free(nxt); free(prv); free(match); free(eop); free(pos); free(call_entry);
    free(lin); free(memo.keys); free(memo.table); free(frames); free(finals);
    free(trans.ks); free(trans.ko); free(trans.vs);
done_early:
    free(calls); free(rets); free(codes); free(as); free(bs); free(twins);
    return result;
}

static PyMethodDef methods[] = {
    {"search", wgl_search, METH_VARARGS, "Linearizability search over integer-state ops."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_wgl", NULL, -1, methods};

PyMODINIT_FUNC PyInit__wgl(void) { return PyModule_Create(&module); }
