/* Native core of the linearizability search (same algorithm as search.py, with states as ints:
 * register values interned to ints, kv states as interned vectors of interned strings, or any
 * model's states interned by a callback).
 *
 * search(calls, rets, codes, as, bs, twins, init, timeout_s, max_bytes[, callback[, keyed[, cpu_s]]])
 *   twins: per op the id of the info twin it must follow (search.twin_before), or -1;
 *   calls/rets: history positions (ret -1: the op completed info, it may never happen);
 *   codes/as/bs: the op as (code, a, b), codes as in models.py (C_READ, C_READ_ANY, C_WRITE, C_CAS).
 *   callback: for C_CALLBACK ops, callback(state, op) -> (ok, new state); answers are cached.
 *   keyed: (nkeys, strings, initial) for the keyed-string ops (C_KV_*: Porcupine's kv model, with
 *     or without partitioning): a state is a vector of nkeys string ids (interned, so equal
 *     strings have equal ids and equal vectors equal state ids); strings are the initial string
 *     table (bytes, distinct), initial the initial vector. a = key index, b = string id.
 *     The final states then come back as tuples of str instead of ints.
 *   cpu_s: when > 0, also stop with "timeout" after this much CPU time of the calling thread
 *     (the checker's time slices; timeout_s is wall-clock).
 * Returns (valid, configurations, blocked_op, final_states, paths, cause):
 *   valid 1 / 0 / -1 (unknown, cause "timeout" or "memory");
 *   paths: up to MAX_PATHS lists of op ids (a longest real-time consistent order, oldest first);
 *   final_states and paths are empty for an unknown verdict (only a failure reports them).
 *
 * The memo is an open-addressing hash set of (bitset of linearized ops, state); the bitset's hash
 * is kept incrementally (xor of per-op random words), and each slot carries a tag of the entry's
 * hash, so a lookup costs one probe sequence over the table and, mostly, one memcmp.
 * Frames live in an arena and are never freed, so a recorded path stays valid.
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
#define C_KV_GET 5     /* keyed strings: the value of key a must be string b */
#define C_KV_PUT 6     /* key a := string b */
#define C_KV_APPEND 7  /* key a := key a + string b */
#define RET_MARK (-2)
#define NO_RET (-1)
#define END (-1)
#define MAX_PATHS 10
#define CLOCK_EVERY 4096

typedef struct { int32_t entry; int32_t prev; int64_t state; } frame_t;

static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

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
    uint64_t *keys;      /* arena: W + 2 words per entry: bitset, state, hash */
    size_t n, cap_keys;
    uint64_t *table;     /* slots: (hash >> 32) << 32 | (entry index + 1), 0 = empty */
    size_t mask;
} memo_t;

static inline uint64_t mix64(uint64_t h) {
    h ^= h >> 33; h *= 0xff51afd7ed558ccdULL; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

static int memo_grow_table(memo_t *m) {
    size_t nslots = (m->mask + 1) * 2, stride = m->W + 2;
    uint64_t *t = calloc(nslots, sizeof(uint64_t));
    if (!t) return -1;
    for (size_t i = 0; i < m->n; i++) {  /* the stored hashes place the entries again */
        uint64_t h = m->keys[i * stride + m->W + 1];
        size_t s = h & (nslots - 1);
        while (t[s]) s = (s + 1) & (nslots - 1);
        t[s] = (h & 0xffffffff00000000ULL) | (uint64_t)(i + 1);
    }
    free(m->table);
    m->table = t;
    m->mask = nslots - 1;
    return 0;
}

/* Is (bits, state) new? lin_hash: the bitset's incremental hash (xor of its ops' random words).
 * The slot's tag (the hash's high half) is compared before the entry is read, so a probe past
 * another entry rarely touches the arena. 1: inserted (new), 0: present, -1: out of memory. */
static int memo_add(memo_t *m, const uint64_t *bits, int64_t state, uint64_t lin_hash) {
    uint64_t h = mix64(lin_hash ^ mix64((uint64_t)state + 0x9e3779b97f4a7c15ULL));
    uint64_t tag = h & 0xffffffff00000000ULL;
    size_t s = h & m->mask;
    size_t stride = m->W + 2;
    for (;;) {
        uint64_t e = m->table[s];
        if (!e) break;
        if ((e & 0xffffffff00000000ULL) == tag) {
            uint64_t *k = m->keys + (size_t)((e & 0xffffffffULL) - 1) * stride;
            if (k[m->W] == (uint64_t)state && memcmp(k, bits, m->W * 8) == 0) return 0;
        }
        s = (s + 1) & m->mask;
    }
    if (m->n == m->cap_keys) {
        size_t nc = m->cap_keys ? m->cap_keys * 2 : 1024;
        uint64_t *nk = realloc(m->keys, nc * stride * 8);
        if (!nk) return -1;
        m->keys = nk;
        m->cap_keys = nc;
    }
    if (m->n >= 0xfffffffeULL) return -1;  /* entry indexes are 32 bits */
    uint64_t *k = m->keys + m->n * stride;
    memcpy(k, bits, m->W * 8);
    k[m->W] = (uint64_t)state;
    k[m->W + 1] = h;
    m->n++;
    m->table[s] = tag | (uint64_t)m->n;
    if (m->n * 2 > m->mask + 1) {
        if (memo_grow_table(m)) return -1;
    }
    return 1;
}

/* Transition cache for C_CALLBACK ops: (state, op) -> (new state << 1 | ok). */
/* One slot: the key (state, op) and the answer side by side, so a lookup reads one cache line. */
typedef struct { int64_t st; int64_t v; int32_t op; } trans_slot_t;
typedef struct { trans_slot_t *slots; size_t n, mask; } trans_t;

static int trans_alloc(trans_t *t, size_t nslots) {
    t->slots = malloc(nslots * sizeof(trans_slot_t));
    if (!t->slots) return -1;
    for (size_t i = 0; i < nslots; i++) t->slots[i].op = -1;
    t->n = 0; t->mask = nslots - 1;
    return 0;
}

static int trans_init(trans_t *t) { return trans_alloc(t, 1024); }

static inline size_t trans_slot(const trans_t *t, int64_t st, int32_t op) {
    uint64_t h = (uint64_t)st * 0x9e3779b97f4a7c15ULL ^ (uint64_t)op * 0xc2b2ae3d27d4eb4fULL;
    h ^= h >> 31;
    return h & t->mask;
}

static int trans_get(const trans_t *t, int64_t st, int32_t op, int64_t *out) {
    size_t s = trans_slot(t, st, op);
    while (t->slots[s].op >= 0) {
        if (t->slots[s].op == op && t->slots[s].st == st) { *out = t->slots[s].v; return 1; }
        s = (s + 1) & t->mask;
    }
    return 0;
}

static int trans_put(trans_t *t, int64_t st, int32_t op, int64_t v) {
    if ((t->n + 1) * 2 > t->mask + 1) {
        trans_t nt;
        if (trans_alloc(&nt, (t->mask + 1) * 2)) return -1;
        for (size_t i = 0; i <= t->mask; i++) if (t->slots[i].op >= 0) {
            size_t s = trans_slot(&nt, t->slots[i].st, t->slots[i].op);
            while (nt.slots[s].op >= 0) s = (s + 1) & nt.mask;
            nt.slots[s] = t->slots[i]; nt.n++;
        }
        free(t->slots);
        *t = nt;
    }
    size_t s = trans_slot(t, st, op);
    while (t->slots[s].op >= 0) s = (s + 1) & t->mask;
    t->slots[s] = (trans_slot_t){st, v, op};
    t->n++;
    return 0;
}

/* Keyed-string states (C_KV_*): interned strings and interned vectors of string ids. A state id
 * indexes the vector table, so the memo and the transition cache stay integer-keyed. */
typedef struct {
    char *buf; size_t used, cap;          /* string bytes, back to back */
    size_t *off; uint32_t *len; uint64_t *hash; size_t ns, cap_s;
    uint32_t *stab; size_t smask;         /* string hash set: id + 1, 0 = empty */
    int K;
    int32_t *vec; size_t nv, cap_v;       /* K string ids per state */
    uint32_t *vtab; size_t vmask;         /* vector hash set */
    int32_t *scratch_vec;                 /* K ids */
} keyed_t;

static void keyed_free(keyed_t *k) {
    free(k->buf); free(k->off); free(k->len); free(k->hash); free(k->stab);
    free(k->vec); free(k->vtab); free(k->scratch_vec);
}

static double keyed_bytes(const keyed_t *k) {
    return (double)k->cap + k->cap_s * 20.0 + (k->smask + 1) * 4.0 +
           (double)k->cap_v * k->K * 4.0 + (k->vmask + 1) * 4.0;
}

/* FNV-1a, kept unfinished per string so the hash of a + b continues from a's over b's bytes:
 * an append hashes only the appended part. */
static inline uint64_t fnv_more(uint64_t h, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)p[i]; h *= 1099511628211ULL; }
    return h;
}
#define FNV_START 1469598103934665603ULL

static inline size_t hash_slot(uint64_t h, size_t mask) {
    h ^= h >> 31; h *= 0x9e3779b97f4a7c15ULL; h ^= h >> 29;
    return h & mask;
}

static inline uint64_t vec_hash(const int32_t *v, int K) {
    uint64_t h = FNV_START;
    for (int i = 0; i < K; i++) { h ^= (uint32_t)v[i]; h *= 1099511628211ULL; h ^= h >> 29; }
    return h;
}

static int keyed_rehash(uint32_t **tab, size_t *mask, size_t n, keyed_t *k, int strings) {
    size_t nslots = (*mask + 1) * 2;
    uint32_t *t = calloc(nslots, sizeof(uint32_t));
    if (!t) return -1;
    for (size_t i = 0; i < n; i++) {
        uint64_t h = strings ? k->hash[i] : vec_hash(k->vec + i * k->K, k->K);
        size_t s = hash_slot(h, nslots - 1);
        while (t[s]) s = (s + 1) & (nslots - 1);
        t[s] = (uint32_t)(i + 1);
    }
    free(*tab);
    *tab = t;
    *mask = nslots - 1;
    return 0;
}

/* Look up the string p1[0:n1] + p2[0:n2] (hash h): its id, or -(slot + 1) when absent. */
static inline int64_t keyed_lookup(const keyed_t *k, uint64_t h, const char *p1, size_t n1,
                                   const char *p2, size_t n2) {
    size_t s = hash_slot(h, k->smask);
    for (;;) {
        uint32_t e = k->stab[s];
        if (!e) return -(int64_t)s - 1;
        size_t i = e - 1;
        if (k->hash[i] == h && k->len[i] == n1 + n2) {
            const char *q = k->buf + k->off[i];
            if (memcmp(q, p1, n1) == 0 && memcmp(q + n1, p2, n2) == 0) return (int64_t)i;
        }
        s = (s + 1) & k->smask;
    }
}

/* Room for one more string of n bytes; -1: out of memory. */
static int keyed_reserve(keyed_t *k, size_t n) {
    if (k->used + n > k->cap) {
        size_t nc = k->cap ? k->cap : 4096;
        while (nc < k->used + n) nc *= 2;
        char *nb = realloc(k->buf, nc);
        if (!nb) return -1;
        k->buf = nb; k->cap = nc;
    }
    if (k->ns == k->cap_s) {
        size_t nc = k->cap_s ? k->cap_s * 2 : 256;
        size_t *no = realloc(k->off, nc * sizeof(size_t));
        if (!no) return -1;
        k->off = no;
        uint32_t *nl = realloc(k->len, nc * sizeof(uint32_t));
        if (!nl) return -1;
        k->len = nl;
        uint64_t *nh = realloc(k->hash, nc * sizeof(uint64_t));
        if (!nh) return -1;
        k->hash = nh; k->cap_s = nc;
    }
    return 0;
}

/* Record the string just written at buf[used:used + n] in slot s; its id, or -1. */
static int32_t keyed_commit(keyed_t *k, size_t s, size_t n, uint64_t h) {
    k->off[k->ns] = k->used; k->len[k->ns] = (uint32_t)n; k->hash[k->ns] = h;
    k->used += n;
    k->stab[s] = (uint32_t)++k->ns;
    if (k->ns * 2 > k->smask + 1 && keyed_rehash(&k->stab, &k->smask, k->ns, k, 1)) return -1;
    return (int32_t)(k->ns - 1);
}

/* The id of string p[0:n] (p outside the table), added when new; -1: out of memory. */
static int32_t keyed_string(keyed_t *k, const char *p, size_t n) {
    uint64_t h = fnv_more(FNV_START, p, n);
    int64_t r = keyed_lookup(k, h, p, n, "", 0);
    if (r >= 0) return (int32_t)r;
    if (keyed_reserve(k, n)) return -1;
    memcpy(k->buf + k->used, p, n);
    return keyed_commit(k, (size_t)(-r - 1), n, h);
}

/* The id of string a + string b, added when new; -1: out of memory. */
static int32_t keyed_concat(keyed_t *k, int32_t a, int32_t b) {
    size_t la = k->len[a], lb = k->len[b];
    uint64_t h = fnv_more(k->hash[a], k->buf + k->off[b], lb);
    int64_t r = keyed_lookup(k, h, k->buf + k->off[a], la, k->buf + k->off[b], lb);
    if (r >= 0) return (int32_t)r;
    if (keyed_reserve(k, la + lb)) return -1;  /* may move buf: offsets only from here */
    memcpy(k->buf + k->used, k->buf + k->off[a], la);
    memcpy(k->buf + k->used + la, k->buf + k->off[b], lb);
    return keyed_commit(k, (size_t)(-r - 1), la + lb, h);
}

/* The state id of vector v (K string ids), added when new; -1: out of memory. */
static int64_t keyed_state(keyed_t *k, const int32_t *v) {
    int K = k->K;
    size_t s = hash_slot(vec_hash(v, K), k->vmask);
    for (;;) {
        uint32_t e = k->vtab[s];
        if (!e) break;
        if (memcmp(k->vec + (size_t)(e - 1) * K, v, K * sizeof(int32_t)) == 0) return e - 1;
        s = (s + 1) & k->vmask;
    }
    if (k->nv == k->cap_v) {
        size_t nc = k->cap_v ? k->cap_v * 2 : 256;
        int32_t *nv = realloc(k->vec, nc * K * sizeof(int32_t));
        if (!nv) return -1;
        k->vec = nv; k->cap_v = nc;
    }
    memcpy(k->vec + k->nv * K, v, K * sizeof(int32_t));
    k->vtab[s] = (uint32_t)++k->nv;
    if (k->nv * 2 > k->vmask + 1 && keyed_rehash(&k->vtab, &k->vmask, k->nv, k, 0)) return -1;
    return (int64_t)(k->nv - 1);
}

/* The state after op (code, key, b) from state st; -1: out of memory. */
static int64_t keyed_step(keyed_t *k, int64_t st, int code, int key, int32_t b) {
    int K = k->K;
    int32_t cur = k->vec[st * K + key], nid = b;
    if (code == C_KV_APPEND) {
        if (k->len[b] == 0) return st;
        nid = keyed_concat(k, cur, b);
        if (nid < 0) return -1;
    }
    if (nid == cur) return st;
    int32_t *v = k->scratch_vec;
    memcpy(v, k->vec + st * K, K * sizeof(int32_t));
    v[key] = nid;
    return keyed_state(k, v);
}

/* The distinct states seen at the furthest return entry (for the report): an array plus a hash
 * set whose slots carry a generation, so moving to a further entry empties it in O(1). */
typedef struct {
    int64_t *vals; size_t n, cap;            /* the states, in the order met */
    int64_t *slot_val; uint32_t *slot_gen;   /* hash set: a slot is used when its gen is current */
    size_t mask; uint32_t gen;
} finals_t;

static inline size_t finals_slot(int64_t v, size_t mask) {
    uint64_t h = (uint64_t)v * 0x9e3779b97f4a7c15ULL;
    return (h ^ (h >> 29)) & mask;
}

static void finals_clear(finals_t *f) { f->n = 0; f->gen++; }

/* 0: added or present; -1: out of memory */
static int finals_add(finals_t *f, int64_t v) {
    if (!f->slot_gen) {
        f->mask = 63; f->gen = 1;
        f->slot_val = malloc(64 * sizeof(int64_t));
        f->slot_gen = calloc(64, sizeof(uint32_t));
        if (!f->slot_val || !f->slot_gen) return -1;
    }
    size_t s = finals_slot(v, f->mask);
    while (f->slot_gen[s] == f->gen) {
        if (f->slot_val[s] == v) return 0;
        s = (s + 1) & f->mask;
    }
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 16;
        int64_t *nv = realloc(f->vals, nc * sizeof(int64_t));
        if (!nv) return -1;
        f->vals = nv; f->cap = nc;
    }
    f->vals[f->n++] = v;
    f->slot_val[s] = v; f->slot_gen[s] = f->gen;
    if (f->n * 2 > f->mask + 1) {
        size_t ns = (f->mask + 1) * 2;
        int64_t *sv = malloc(ns * sizeof(int64_t));
        uint32_t *sg = calloc(ns, sizeof(uint32_t));
        if (!sv || !sg) { free(sv); free(sg); return -1; }
        for (size_t i = 0; i < f->n; i++) {
            size_t t = finals_slot(f->vals[i], ns - 1);
            while (sg[t] == f->gen) t = (t + 1) & (ns - 1);
            sv[t] = f->vals[i]; sg[t] = f->gen;
        }
        free(f->slot_val); free(f->slot_gen);
        f->slot_val = sv; f->slot_gen = sg; f->mask = ns - 1;
    }
    return 0;
}

static void finals_free(finals_t *f) { free(f->vals); free(f->slot_val); free(f->slot_gen); }

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

/* Fill k from (nkeys, strings, initial); returns the initial state id, -1 with an exception set. */
static int64_t keyed_init(keyed_t *k, PyObject *spec) {
    PyObject *strings, *initial;
    int K;
    if (!PyArg_ParseTuple(spec, "iOO", &K, &strings, &initial)) return -1;
    if (K < 1) { PyErr_SetString(PyExc_ValueError, "keyed: nkeys must be >= 1"); return -1; }
    k->K = K;
    k->smask = 1023; k->vmask = 1023;
    k->stab = calloc(1024, sizeof(uint32_t));
    k->vtab = calloc(1024, sizeof(uint32_t));
    k->scratch_vec = malloc(K * sizeof(int32_t));
    if (!k->stab || !k->vtab || !k->scratch_vec) { PyErr_NoMemory(); return -1; }
    PyObject *fs = PySequence_Fast(strings, "keyed: strings must be a sequence of bytes");
    if (!fs) return -1;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(fs); i++) {
        char *p; Py_ssize_t n;
        if (PyBytes_AsStringAndSize(PySequence_Fast_GET_ITEM(fs, i), &p, &n) < 0) { Py_DECREF(fs); return -1; }
        int32_t id = keyed_string(k, p, (size_t)n);
        if (id < 0) { Py_DECREF(fs); PyErr_NoMemory(); return -1; }
        if (id != i) { Py_DECREF(fs); PyErr_SetString(PyExc_ValueError, "keyed: strings must be distinct"); return -1; }
    }
    Py_ssize_t nstr = PySequence_Fast_GET_SIZE(fs);
    Py_DECREF(fs);
    Py_ssize_t n;
    int64_t *iv = list_to_i64(initial, &n);
    if (!iv) return -1;
    if (n != K) { free(iv); PyErr_SetString(PyExc_ValueError, "keyed: initial needs nkeys ids"); return -1; }
    for (int i = 0; i < K; i++) {
        if (iv[i] < 0 || iv[i] >= nstr) { free(iv); PyErr_SetString(PyExc_ValueError, "keyed: bad string id"); return -1; }
        k->scratch_vec[i] = (int32_t)iv[i];
    }
    free(iv);
    int64_t st = keyed_state(k, k->scratch_vec);
    if (st < 0) PyErr_NoMemory();
    return st;
}

/* Final state st as a tuple of str. */
static PyObject *keyed_tuple(const keyed_t *k, int64_t st) {
    PyObject *t = PyTuple_New(k->K);
    if (!t) return NULL;
    for (int i = 0; i < k->K; i++) {
        int32_t id = k->vec[st * k->K + i];
        PyObject *u = PyUnicode_DecodeUTF8(k->buf + k->off[id], k->len[id], "surrogatepass");
        if (!u) { Py_DECREF(t); return NULL; }
        PyTuple_SET_ITEM(t, i, u);
    }
    return t;
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
    PyObject *ocalls, *orets, *ocodes, *oas, *obs, *otwins, *callback = Py_None, *okeyed = Py_None;
    long long init;
    double timeout_s;
    double max_bytes;
    double cpu_s = 0;
    if (!PyArg_ParseTuple(args, "OOOOOOLdd|OOd", &ocalls, &orets, &ocodes, &oas, &obs, &otwins, &init,
                          &timeout_s, &max_bytes, &callback, &okeyed, &cpu_s))
        return NULL;
    trans_t trans = {0};
    keyed_t kd = {0};
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
    if (okeyed != Py_None) {
        init = keyed_init(&kd, okeyed);
        if (init < 0) goto done_early;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (codes[i] >= C_KV_GET && codes[i] <= C_KV_APPEND &&
                (as[i] < 0 || as[i] >= kd.K || bs[i] < 0 || bs[i] >= (int64_t)kd.ns)) {
                PyErr_Format(PyExc_ValueError, "keyed: op %zd has a bad key or string id", i);
                goto done_early;
            }
        }
    } else {
        for (Py_ssize_t i = 0; i < n; i++) {
            if (codes[i] >= C_KV_GET && codes[i] <= C_KV_APPEND) {
                PyErr_SetString(PyExc_ValueError, "keyed ops need the keyed argument");
                goto done_early;
            }
        }
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
    memo.table = calloc(1024, sizeof(uint64_t));
    /* a random word per op: the linearized set's hash is the xor of its ops' words */
    uint64_t *op_word = malloc((n ? n : 1) * sizeof(uint64_t)), seed = 0x5eed, lin_hash = 0;
    for (Py_ssize_t i = 0; i < n; i++) op_word[i] = splitmix(&seed);
    size_t frames_cap = 1024, nframes = 0;
    frame_t *frames = malloc(frames_cap * sizeof(frame_t));

    Py_ssize_t remaining = 0;
    for (Py_ssize_t i = 0; i < n; i++) if (rets[i] >= 0) remaining++;
    int64_t state = init;
    int32_t frame = -1;
    int valid = 1;
    const char *cause = NULL;
    int64_t best_pos = -1;
    int32_t blocked_op = -1;
    finals_t finals = {0};
    int32_t paths[MAX_PATHS]; int npaths = 0;
    unsigned long iterations = 0;
    double deadline = timeout_s > 0 ? now_s() + timeout_s : 0;
    double cpu_end = cpu_s > 0 ? thread_cpu_s() + cpu_s : 0;
    size_t stride_bytes = (W + 2) * 8;

    int failed_cb = 0;
    if ((callback != Py_None || okeyed != Py_None) && trans_init(&trans)) { valid = -1; cause = "memory"; }
    /* Without a callback the search touches no Python object: let other threads run. */
    PyThreadState *released = callback == Py_None ? PyEval_SaveThread() : NULL;
    int32_t entry = nxt[0];
    while (remaining && valid == 1) {
        iterations++;
        if (!(iterations & (CLOCK_EVERY - 1))) {
            if ((deadline > 0 && now_s() > deadline) || (cpu_end > 0 && thread_cpu_s() > cpu_end)) {
                valid = -1; cause = "timeout"; break;
            }
            double used = (double)memo.cap_keys * stride_bytes + (memo.mask + 1) * 8.0 +
                          (double)frames_cap * sizeof(frame_t) + (trans.mask + 1) * (double)sizeof(trans_slot_t) +
                          keyed_bytes(&kd);
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
            case C_KV_GET: ok = (kd.vec[state * kd.K + as[oid]] == bs[oid]); break;
            case C_KV_PUT:
            case C_KV_APPEND: {
                int64_t v;
                ok = 1;
                if (!trans_get(&trans, state, oid, &v)) {
                    v = keyed_step(&kd, state, (int)codes[oid], (int)as[oid], (int32_t)bs[oid]);
                    if (v < 0 || trans_put(&trans, state, oid, v << 1 | 1)) {
                        valid = -1; cause = "memory"; failed_cb = 2; break;
                    }
                } else v >>= 1;
                ns = v;
                break;
            }
            default: ok = 0;
            }
            if (failed_cb) break;
            if (ok) {
                lin[oid >> 6] |= 1ULL << (oid & 63);
                lin_hash ^= op_word[oid];
                int added = memo_add(&memo, lin, ns, lin_hash);
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
                lin_hash ^= op_word[oid];
            }
            entry = nxt[entry];
            if (entry == END) break;
        } else {
            int64_t bp = pos[entry];
            if (bp >= best_pos) {
                if (bp > best_pos) { best_pos = bp; blocked_op = eop[entry]; finals_clear(&finals); npaths = 0; }
                if (finals_add(&finals, state)) { valid = -1; cause = "memory"; break; }
                if (npaths < MAX_PATHS) paths[npaths++] = frame;
            }
            if (frame < 0) { valid = 0; break; }
            frame_t *f = &frames[frame];
            entry = f->entry; state = f->state; frame = f->prev;
            /* frames are kept (paths refer to them), so the arena only grows */
            int32_t oid = eop[entry];
            lin[oid >> 6] &= ~(1ULL << (oid & 63));
            lin_hash ^= op_word[oid];
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
        free(lin); free(op_word); free(memo.keys); free(memo.table); free(frames); finals_free(&finals);
        free(trans.slots);
        trans.slots = NULL;
        goto done_early;
    }

    {
        PyObject *fl = PyList_New(0), *pl = PyList_New(0);
        /* the final states and paths make the counterexample: only a failure needs them */
        for (size_t i = 0; valid == 0 && i < finals.n; i++) {
            PyObject *v = okeyed != Py_None ? keyed_tuple(&kd, finals.vals[i])
                                            : PyLong_FromLongLong(finals.vals[i]);
            PyList_Append(fl, v); Py_DECREF(v);
        }
        if (valid == 1) {
            PyObject *p = path_list(frames, frame, eop);
            PyList_Append(pl, p); Py_DECREF(p);
        } else {
            for (int i = 0; valid == 0 && i < npaths; i++) {
                PyObject *p = path_list(frames, paths[i], eop);
                PyList_Append(pl, p); Py_DECREF(p);
            }
        }
        result = Py_BuildValue("inlNNz", valid, (Py_ssize_t)memo.n, (long)blocked_op, fl, pl,
                               cause);
    }
    free(nxt); free(prv); free(match); free(eop); free(pos); free(call_entry);
    free(lin); free(op_word); free(memo.keys); free(memo.table); free(frames); finals_free(&finals);
    free(trans.slots);
done_early:
    keyed_free(&kd);
    free(calls); free(rets); free(codes); free(as); free(bs); free(twins);
    return result;
}

static PyMethodDef methods[] = {
    {"search", wgl_search, METH_VARARGS, "Linearizability search over integer-state ops."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_wgl", NULL, -1, methods};

PyMODINIT_FUNC PyInit__wgl(void) { return PyModule_Create(&module); }
