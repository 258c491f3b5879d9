/* The compiled core: the tracking dict's lookup, store and delete in C.
 *
 * It records exactly what the pure-Python core in tracking.py records, in the
 * same tables: per kind, id(code) -> {name: counter}.  The tables for one
 * code object are fetched once through tracking._code_tables and then cached
 * on the code object itself (PEP 523's co_extra), and each counter found is
 * remembered there by the name's address, so the hot path is a frame read,
 * the namespace's own lookup, a probe of that small table and one counter
 * step.  Anything seen for the first time goes through tracking._first,
 * shared by both cores.
 *
 * Known CPythons: 3.9 to 3.14, with the GIL or free-threaded (3.14t).  Any
 * other version stops the build here, and setup.py says so in one line:
 * tracking.py then uses the pure-Python core and `globalhook run` warns.
 *
 * Free-threaded builds: counters step atomically, tables are created and
 * cached under a lock, and no borrowed reference outlives a lookup.  The
 * module declares that it does not need the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX < 0x03090000 || PY_VERSION_HEX >= 0x030F0000
#error "globalhook: the compiled core knows CPython 3.9 to 3.14 only"
#endif
#if defined(Py_GIL_DISABLED) && PY_VERSION_HEX < 0x030E0000
#error "globalhook: the compiled core supports free-threaded CPython from 3.14 on"
#endif

#if defined(__GNUC__) || defined(__clang__)
#define GH_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define GH_NOINLINE __declspec(noinline)
#else
#define GH_NOINLINE
#endif

/* Bumped whenever tracking.py and this file must change together. */
#define GH_API 7

/* ---- The caller's frame: every version difference lives in this block ----
 *
 * What the hot path needs from the innermost complete Python frame (the one
 * PyEval_GetFrame() and sys._getframe() see): its code, globals, builtins and
 * the byte offset of its current instruction.
 *
 * 3.9, 3.10   frame objects are the frames: PyEval_GetFrame() allocates nothing.
 * 3.11-3.14   frame records (_PyInterpreterFrame) read through CPython's internal
 *             header: PyEval_GetFrame() would allocate a frame object for every
 *             new call, which costs more than the lookup.
 * 3.12+ with GH_PUBLIC_FRAMES defined: the unstable public API only
 *             (PyUnstable_InterpreterFrame_GetCode/GetLasti, PyEval_GetGlobals/
 *             GetBuiltins); measured slower (README, "Cores"), kept to compare.
 */
#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h>
#define GH_FRAMES "frame objects"
typedef PyFrameObject gh_frame;

static inline gh_frame *
gh_current_frame(void)
{
    return PyEval_GetFrame();
}
#define GH_CODE(f) ((f)->f_code)
#define GH_GLOBALS(f) ((f)->f_globals)
#define GH_BUILTINS(f) ((f)->f_builtins)
#if PY_VERSION_HEX >= 0x030A0000
#define GH_LASTI(f) ((f)->f_lasti < 0 ? -1 : (f)->f_lasti * 2) /* 3.10 counts code units */
#else
#define GH_LASTI(f) ((f)->f_lasti)
#endif

#elif defined(GH_PUBLIC_FRAMES)
#if PY_VERSION_HEX < 0x030C0000
#error "GH_PUBLIC_FRAMES needs CPython 3.12 or newer"
#endif
#define GH_FRAMES "public unstable API"
typedef struct _PyInterpreterFrame gh_frame;

/* NULL when no Python code runs, or when the innermost frame is not a
 * Python function's (an entry frame while a dying frame is cleared): the
 * caller then asks PyEval_GetFrame(), which knows how to skip those. */
static inline gh_frame *
gh_current_frame(void)
{
    PyThreadState *tstate = PyThreadState_Get();
#if PY_VERSION_HEX >= 0x030D0000
    return tstate->current_frame;
#else
    return tstate->cframe->current_frame;
#endif
}
#define GH_FRAME_NEEDS_CHECK 1

#else
#ifndef Py_BUILD_CORE
#define Py_BUILD_CORE 1
#endif
/* CPython's internal headers are not -Wextra clean (3.14: unused parameters of
 * inline helpers); their warnings are not ours to fix, ours stay on. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#endif
#if PY_VERSION_HEX >= 0x030E0000
#include "internal/pycore_interpframe.h" /* 3.14 split the frame header */
#include "internal/pycore_frame.h"      /* the frame object's f_frame */
#else
#include "internal/pycore_frame.h"
#endif
#ifndef Py_GIL_DISABLED
/* The collector's state, for its allocation count (see young_count).  Python.h
 * was read without Py_BUILD_CORE, so its _PyGC_FINALIZED macro would rename
 * pycore_gc.h's inline function of that name (3.12). */
#undef _PyGC_FINALIZED
#include "internal/pycore_interp.h"
#define GH_YOUNG_COUNT 1
#endif
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#define GH_FRAMES "interpreter frames"
typedef _PyInterpreterFrame gh_frame;

static inline gh_frame *
gh_current_frame(void)
{
    PyThreadState *tstate = PyThreadState_Get();
#if PY_VERSION_HEX >= 0x030D0000
    gh_frame *frame = tstate->current_frame;
#else
    gh_frame *frame = tstate->cframe->current_frame;
#endif
    while (frame != NULL && _PyFrame_IsIncomplete(frame)) {
        frame = frame->previous;
    }
    return frame;
}
#if PY_VERSION_HEX >= 0x030D0000
#define GH_CODE(f) _PyFrame_GetCode(f)
#else
#define GH_CODE(f) ((f)->f_code)
#endif
#define GH_GLOBALS(f) ((f)->f_globals)
#define GH_BUILTINS(f) ((f)->f_builtins)
/* 3.14t: relative to the thread's own copy of the bytecode (handled by the macro). */
#define GH_LASTI(f) (_PyInterpreterFrame_LASTI(f) < 0 ? -1 : _PyInterpreterFrame_LASTI(f) * (int)sizeof(_Py_CODEUNIT))
#endif

#if PY_VERSION_HEX >= 0x030C0000
#define GH_GET_EXTRA PyUnstable_Code_GetExtra
#define GH_SET_EXTRA PyUnstable_Code_SetExtra
#define GH_REQUEST_INDEX PyUnstable_Eval_RequestCodeExtraIndex
#else
#define GH_GET_EXTRA _PyCode_GetExtra
#define GH_SET_EXTRA _PyCode_SetExtra
#define GH_REQUEST_INDEX _PyEval_RequestCodeExtraIndex
#endif

/* ---- Threads: free-threaded builds need atomics and a lock ---------------- */
#ifdef Py_GIL_DISABLED
#define GH_FREE_THREADED 1
/* First sight only (never the hot path): creating and caching a code
 * object's tables, and its load sites.  No Python code runs while held. */
static PyMutex first_sight_lock;
#define GH_LOCK() PyMutex_Lock(&first_sight_lock)
#define GH_UNLOCK() PyMutex_Unlock(&first_sight_lock)
#define GH_LOAD_PTR(p) _Py_atomic_load_ptr_acquire(&(p))
#define GH_STORE_PTR(p, v) _Py_atomic_store_ptr_release(&(p), (v))
#define GH_LOAD_U64(v) _Py_atomic_load_uint64_acquire(&(v))
#define GH_LOAD_U64_RELAXED(v) _Py_atomic_load_uint64_relaxed(&(v))
#define GH_STORE_U64(v, x) _Py_atomic_store_uint64_release(&(v), (x))
#else
#define GH_FREE_THREADED 0
#define GH_LOCK()
#define GH_UNLOCK()
#define GH_LOAD_PTR(p) (p)
#define GH_STORE_PTR(p, v) ((p) = (v))
#define GH_LOAD_U64(v) (v)
#define GH_LOAD_U64_RELAXED(v) (v)
#define GH_STORE_U64(v, x) ((v) = (x))
#endif

/* A new reference to d[key] in *result: 1 found, 0 absent, -1 error. */
static inline int
gh_dict_get_ref(PyObject *d, PyObject *key, PyObject **result)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyDict_GetItemRef(d, key, result);
#else
    *result = PyDict_GetItemWithError(d, key);
    if (*result == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    Py_INCREF(*result);
    return 1;
#endif
}

enum { KIND_GLOBAL, KIND_BUILTIN, KIND_MISSING, KIND_STORE, KIND_DELETE, KIND_ATTRIBUTE };
/* The per-code tables tuple: one per kind, then the attribute misses
 * (tracking.ATTRIBUTE_MISSING); the last two are {owner: {name: counter}}. */
#define TABLE_ATTRIBUTE_MISSING (KIND_ATTRIBUTE + 1)
static int gh_is_attribute_module(PyObject *module); /* issue 11 section, below */
static PyTypeObject FloorDict_Type, FloorModule_Type;  /* benchmarks only, below */

/* A counter that steps without allocating: itertools.count hands back a new
 * int on every step.  next() works on it like on itertools.count, so the
 * shared slow path in tracking.py can create and step it too.  Exact under
 * threads: with the GIL every step happens with it held; free-threaded, the
 * thread that made the counter steps `value` atomically, and every other
 * thread steps its own stripe (one cache line each, made when a second
 * thread first counts), so threads counting the same name do not fight over
 * one cache line.  The count is `value` plus the stripes. */
#if GH_FREE_THREADED
#define GH_STRIPES 8
#define GH_CACHE_LINE 64
typedef struct {
    Py_ssize_t steps;
    char pad[GH_CACHE_LINE - sizeof(Py_ssize_t)];
} stripe_t;

/* Which stripe this thread steps: threads take 1, 2, ... in the order they first count. */
#ifdef _MSC_VER
#define GH_THREAD_LOCAL __declspec(thread)
#else
#define GH_THREAD_LOCAL _Thread_local
#endif
static GH_THREAD_LOCAL int gh_stripe_plus_one;
static int gh_next_stripe;

static inline int
gh_stripe(void)
{
    int index = gh_stripe_plus_one;
    if (index == 0) {
        index = gh_stripe_plus_one = _Py_atomic_add_int(&gh_next_stripe, 1) % GH_STRIPES + 1;
    }
    return index - 1;
}
#endif

typedef struct {
    PyObject_HEAD
#if GH_FREE_THREADED
    uintptr_t owner;      /* _Py_ThreadId() of the thread that made it */
    stripe_t *stripes;    /* GH_STRIPES lines, aligned; NULL until another thread counts */
    void *stripes_block;  /* what to free */
    /* The fields above are read by every thread at every step; `value` is
     * written by the owner: keep them a cache line apart, or the owner's
     * steps would keep taking that line away from the other threads. */
    char apart[GH_CACHE_LINE];
#endif
    Py_ssize_t value;
} TallyObject;

#if GH_FREE_THREADED
static stripe_t *
tally_stripes(TallyObject *tally)
{
    stripe_t *stripes = (stripe_t *)_Py_atomic_load_ptr_acquire(&tally->stripes);
    if (stripes != NULL) {
        return stripes;
    }
    void *block = PyMem_RawCalloc(1, GH_STRIPES * sizeof(stripe_t) + GH_CACHE_LINE);
    if (block == NULL) {
        return NULL; /* the caller steps `value` instead: still exact, only slower */
    }
    stripe_t *made = (stripe_t *)(((uintptr_t)block + GH_CACHE_LINE - 1) & ~(uintptr_t)(GH_CACHE_LINE - 1));
    void *expected = NULL;
    if (!_Py_atomic_compare_exchange_ptr(&tally->stripes_block, &expected, block)) {
        PyMem_RawFree(block); /* another thread made them first */
        while ((stripes = (stripe_t *)_Py_atomic_load_ptr_acquire(&tally->stripes)) == NULL) {
        }
        return stripes;
    }
    _Py_atomic_store_ptr_release(&tally->stripes, made);
    return made;
}
#endif

/* Count one; with the GIL, return the count before the step (next()). */
static inline Py_ssize_t
tally_step(TallyObject *tally)
{
#if GH_FREE_THREADED
    if (_Py_atomic_load_uintptr_relaxed(&tally->owner) != _Py_ThreadId()) {
        stripe_t *stripes = tally_stripes(tally);
        if (stripes != NULL) {
            _Py_atomic_add_ssize(&stripes[gh_stripe()].steps, 1);
            return 0;
        }
    }
    _Py_atomic_add_ssize(&tally->value, 1);
    return 0;
#else
    return tally->value++;
#endif
}

static inline Py_ssize_t
tally_read(TallyObject *tally)
{
#if GH_FREE_THREADED
    Py_ssize_t total = _Py_atomic_load_ssize_relaxed(&tally->value);
    stripe_t *stripes = (stripe_t *)_Py_atomic_load_ptr_acquire(&tally->stripes);
    if (stripes != NULL) {
        for (int i = 0; i < GH_STRIPES; i++) {
            total += _Py_atomic_load_ssize_relaxed(&stripes[i].steps);
        }
    }
    return total;
#else
    return tally->value;
#endif
}

#if GH_FREE_THREADED
static void
tally_dealloc(PyObject *self)
{
    PyMem_RawFree(((TallyObject *)self)->stripes_block);
    Py_TYPE(self)->tp_free(self);
}
#endif

static PyObject *
tally_make(PyTypeObject *type)
{
    TallyObject *self = (TallyObject *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->value = 0;
#if GH_FREE_THREADED
        self->owner = _Py_ThreadId();
        self->stripes = NULL;
        self->stripes_block = NULL;
#endif
    }
    return (PyObject *)self;
}

static PyObject *
tally_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    if ((kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) || PyTuple_GET_SIZE(args) != 0) {
        PyErr_SetString(PyExc_TypeError, "Tally() takes no arguments");
        return NULL;
    }
    return tally_make(type);
}

static PyObject *
tally_next(PyObject *self)
{
#if GH_FREE_THREADED
    /* Not atomic with the step (only the slow path and tests call next()). */
    Py_ssize_t before = tally_read((TallyObject *)self);
    tally_step((TallyObject *)self);
    return PyLong_FromSsize_t(before);
#else
    return PyLong_FromSsize_t(tally_step((TallyObject *)self));
#endif
}

static PyObject *
tally_repr(PyObject *self)
{
    return PyUnicode_FromFormat("count(%zd)", tally_read((TallyObject *)self));
}

static PyObject *
tally_get_value(PyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(tally_read((TallyObject *)self));
}

static PyGetSetDef tally_getset[] = {
    {"value", tally_get_value, NULL, "How many steps so far.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Tally_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "globalhook._ctracking.Tally",
};

/* Set once by setup(): the shared Python helpers. */
static PyObject *code_tables_func = NULL; /* code -> tuple of inner tables, KINDS order */
static PyObject *first_func = NULL;       /* (kind, code, name, namespace) -> None */
static PyObject *code_owners_func = NULL; /* code -> its record's {name: module} */
static PyObject *load_sites_func = NULL;  /* code -> frozenset of name-loading offsets */
/* Set once by setup_reads(). */
static PyObject *probe_func = NULL;       /* (code, name, lasti) -> bool: the interpreter's own lookup */
static PyObject *foreign_func = NULL;     /* (code, name, found, namespace, reader globals, lasti) -> None */
static PyObject *str_builtins = NULL;     /* interned "__builtins__" */
static PyObject *str_annotations = NULL;  /* interned "__annotations__" */
static Py_ssize_t extra_index = -1;
/* Bumped by new_epoch() whenever tracking.py switches context (globalhook.context):
 * per-code tables cached under an older epoch belong to another context. */
static uint64_t context_epoch;

/* The offsets of a code object's name-loading instructions (tracking._load_sites),
 * one bit per code unit: a test of the caller's instruction allocates nothing. */
typedef struct {
    Py_ssize_t units; /* bits in `bits` */
    unsigned char bits[1];
} load_sites_t;

/* The hot path finds a counter without the dict: per code object and kind,
 * an open-addressing table of (interned name, counter) looked up by the
 * name's address, a few instructions where a dict lookup costs a hundred.
 * Free-threaded builds gain more: a dict lookup takes a reference to the
 * counter, and threads counting the same name would all write its reference
 * count.  Filled from the dict (under the lock when free-threaded) and read
 * without one.  It holds references, so a counter it hands out is alive.
 * It is dropped whenever the dict tables may have lost an entry
 * (tables_epoch: Recorder.clear and forget_file empty them through
 * clear_counts(), a context switch calls new_epoch(); free-threaded builds
 * also watch the tables).  A table that
 * is replaced is freed at once with the GIL (no other thread can be reading
 * it), and kept until the code object goes on free-threaded builds, as a
 * thread may still be reading it. */
typedef struct {
    PyObject *name;
    PyObject *owner; /* attribute reads: the module's __name__; NULL for the other kinds */
    PyObject *tally;
} cache_entry_t;

/* One cache per kind, and one per table of attribute reads ({owner: {name: counter}}). */
#define GH_CACHES (TABLE_ATTRIBUTE_MISSING + 1)

typedef struct cache_s {
    Py_ssize_t mask; /* capacity - 1, capacity a power of two */
    Py_ssize_t used;
    int owns_refs;   /* 0 once grown into a successor that took them over */
    struct cache_s *retired;
    cache_entry_t entries[1];
} cache_t;

/* Bumped when a dict table loses or replaces an entry: every cache is stale. */
static uint64_t tables_epoch;

#if GH_FREE_THREADED
static int table_watcher = -1;

static int
table_changed(PyDict_WatchEvent event, PyObject *dict, PyObject *key, PyObject *new_value)
{
    (void)dict;
    (void)key;
    (void)new_value;
    if (event != PyDict_EVENT_ADDED) {
        _Py_atomic_add_uint64(&tables_epoch, 1);
    }
    return 0;
}
#endif

typedef struct {
    PyObject *tables;     /* tuple of dicts, shared with tracking.py; set before publishing */
    load_sites_t *sites;  /* NULL until first needed */
    uint64_t context;     /* context_epoch the tables belong to */
    PyObject *owners;     /* the code's record's {name: module}, every context's; NULL until first needed */
    cache_t *cache[GH_CACHES];
    uint64_t epoch;       /* tables_epoch the caches were filled in */
    cache_t *retired;     /* free-threaded: replaced caches, freed with the code object */
} code_extra_t;

#if !GH_FREE_THREADED
/* With the GIL: the code object asked last and its extra (a loop's reads),
 * then a few more slots picked by address (functions that call each other:
 * deepcopy and its helpers, recursion), so that a read skips the co_extra
 * call.  free_extra() forgets an extra with its code. */
static PyCodeObject *last_code;
static code_extra_t *last_extra;
#define GH_LAST_CODES 8
typedef struct {
    PyCodeObject *code;
    code_extra_t *extra;
} last_code_t;
static last_code_t last_codes[GH_LAST_CODES];

static inline last_code_t *
last_code_slot(PyCodeObject *code)
{
    uintptr_t bits = (uintptr_t)code;
    return &last_codes[((bits >> 4) ^ (bits >> 10)) % GH_LAST_CODES];
}
#else
/* Free-threaded: each thread remembers the code objects it asked last (a few
 * slots by address, as above) and their extras, with the number of extras
 * freed so far.  A code found there is the one the thread is running, so it
 * lives; a code object freed in any thread (after which a new one could take
 * its address) bumps extras_freed first, and an entry made before that is
 * never used again.  Borrowed pointers only: a thread that ends leaves
 * nothing behind. */
typedef struct {
    PyCodeObject *code;
    code_extra_t *extra;
    uint64_t freed;
} thread_last_t;
static uint64_t extras_freed;
#define GH_LAST_CODES 8
static GH_THREAD_LOCAL thread_last_t thread_last[GH_LAST_CODES];

static inline thread_last_t *
last_code_slot(PyCodeObject *code)
{
    uintptr_t bits = (uintptr_t)code;
    return &thread_last[((bits >> 4) ^ (bits >> 10)) % GH_LAST_CODES];
}
#endif

static void
free_cache(cache_t *cache)
{
    if (cache->owns_refs) {
        for (Py_ssize_t i = 0; i <= cache->mask; i++) {
            Py_XDECREF(cache->entries[i].name);
            Py_XDECREF(cache->entries[i].owner);
            Py_XDECREF(cache->entries[i].tally);
        }
    }
    PyMem_RawFree(cache);
}

/* A cache no longer published: freed now with the GIL, with the code object when free-threaded. */
static inline void
retire_cache(code_extra_t *extra, cache_t *cache)
{
#if GH_FREE_THREADED
    cache->retired = extra->retired;
    extra->retired = cache;
#else
    (void)extra;
    free_cache(cache);
#endif
}

static inline Py_ssize_t
cache_hash(PyObject *name, PyObject *owner, Py_ssize_t mask)
{
    return (Py_ssize_t)((((uintptr_t)name >> 4) ^ ((uintptr_t)owner >> 3)) & (uintptr_t)mask);
}

/* The counter for `name` (of `owner`, or NULL), borrowed, or NULL (not cached: ask the dict). */
static inline PyObject *
cache_find(code_extra_t *extra, int kind, PyObject *name, PyObject *owner)
{
    if (GH_LOAD_U64_RELAXED(tables_epoch) != GH_LOAD_U64(extra->epoch)) {
        return NULL;
    }
    cache_t *cache = (cache_t *)GH_LOAD_PTR(extra->cache[kind]);
    if (cache == NULL) {
        return NULL;
    }
    Py_ssize_t i = cache_hash(name, owner, cache->mask);
    for (Py_ssize_t probes = 0; probes <= cache->mask; probes++) {
        PyObject *key = (PyObject *)GH_LOAD_PTR(cache->entries[i].name);
        if (key == name && cache->entries[i].owner == owner) {
            return cache->entries[i].tally; /* written before the name was published */
        }
        if (key == NULL) {
            return NULL;
        }
        i = (i + 1) & cache->mask;
    }
    return NULL;
}

static void
cache_insert(cache_t *cache, PyObject *name, PyObject *owner, PyObject *tally)
{
    Py_ssize_t i = cache_hash(name, owner, cache->mask);
    while (cache->entries[i].name != NULL) {
        if (cache->entries[i].name == name && cache->entries[i].owner == owner) {
            return;
        }
        i = (i + 1) & cache->mask;
    }
    cache->entries[i].tally = tally;
    cache->entries[i].owner = owner;
    GH_STORE_PTR(cache->entries[i].name, name);
    cache->used++;
}

/* Remember `tally` as the counter of `name` (an interned str; of `owner`, an
 * exact str the cache keeps alive, or NULL) for this kind. */
static void
cache_add(code_extra_t *extra, int kind, PyObject *name, PyObject *owner, PyObject *tally)
{
    if (!PyUnicode_CheckExact(name) || !PyUnicode_CHECK_INTERNED(name)) {
        return; /* looked up by identity: only names that are always the same object */
    }
    GH_LOCK();
    uint64_t epoch = GH_LOAD_U64_RELAXED(tables_epoch);
    if (extra->epoch != epoch) { /* stale: start again (free-threaded: keep the old ones for readers) */
        for (int k = 0; k < GH_CACHES; k++) {
            cache_t *old = extra->cache[k];
            if (old != NULL) {
                GH_STORE_PTR(extra->cache[k], NULL);
                retire_cache(extra, old);
            }
        }
        GH_STORE_U64(extra->epoch, epoch);
    }
    cache_t *cache = extra->cache[kind];
    if (cache == NULL || (cache->used + 1) * 2 > cache->mask + 1) {
        Py_ssize_t capacity = cache == NULL ? 8 : (cache->mask + 1) * 2;
        cache_t *grown = (cache_t *)PyMem_RawCalloc(1, sizeof(cache_t) + (size_t)(capacity - 1) * sizeof(cache_entry_t));
        if (grown == NULL) {
            GH_UNLOCK();
            return; /* the dict still answers */
        }
        grown->mask = capacity - 1;
        grown->owns_refs = 1;
        if (cache != NULL) {
            for (Py_ssize_t i = 0; i <= cache->mask; i++) {
                if (cache->entries[i].name != NULL) {
                    cache_insert(grown, cache->entries[i].name, cache->entries[i].owner, cache->entries[i].tally);
                }
            }
            cache->owns_refs = 0;
        }
        GH_STORE_PTR(extra->cache[kind], grown);
        if (cache != NULL) {
            retire_cache(extra, cache);
        }
        cache = grown;
    }
    if (cache_find(extra, kind, name, owner) == NULL) {
        Py_INCREF(name);
        Py_XINCREF(owner);
        Py_INCREF(tally);
        cache_insert(cache, name, owner, tally);
    }
    GH_UNLOCK();
}

static void
free_extra(void *pointer)
{
    code_extra_t *extra = (code_extra_t *)pointer;
    if (extra == NULL) {
        return;
    }
#if GH_FREE_THREADED
    (void)_Py_atomic_add_uint64(&extras_freed, 1); /* before the memory goes */
#else
    if (last_extra == extra) {
        last_code = NULL;
        last_extra = NULL;
    }
    for (int i = 0; i < GH_LAST_CODES; i++) {
        if (last_codes[i].extra == extra) {
            last_codes[i].code = NULL;
            last_codes[i].extra = NULL;
        }
    }
#endif
    Py_XDECREF(extra->tables);
    Py_XDECREF(extra->owners);
    PyMem_Free(extra->sites);
    for (int k = 0; k < GH_CACHES; k++) {
        if (extra->cache[k] != NULL) {
            free_cache(extra->cache[k]);
        }
    }
    while (extra->retired != NULL) {
        cache_t *next = extra->retired->retired;
        free_cache(extra->retired);
        extra->retired = next;
    }
    PyMem_Free(extra);
}

/* Free-threaded builds: a dict watcher on every table, so that the lock-free
 * caches learn when a table loses entries.  Nothing to do elsewhere. */
static int
watch_tables(PyObject *tables)
{
#if GH_FREE_THREADED
    for (int k = 0; k < GH_CACHES; k++) {
        if (PyDict_Check(PyTuple_GET_ITEM(tables, k)) && PyDict_Watch(table_watcher, PyTuple_GET_ITEM(tables, k)) < 0) {
            return -1;
        }
    }
#else
    (void)tables;
#endif
    return 0;
}

/* The tables of one code object for the current context, from its co_extra
 * slot, made on first sight, or fetched again after a context switch. */
static code_extra_t *extra_for_slow(PyCodeObject *code);

static inline code_extra_t *
extra_for(PyCodeObject *code)
{
#if !GH_FREE_THREADED
    if (code == last_code && last_extra->context == context_epoch) {
        return last_extra;
    }
#else
    thread_last_t *last = last_code_slot(code);
    if (code == last->code && last->freed == GH_LOAD_U64(extras_freed) &&
        GH_LOAD_U64(last->extra->context) == GH_LOAD_U64(context_epoch)) {
        return last->extra;
    }
#endif
    return extra_for_slow(code);
}

static code_extra_t *
extra_for_slow(PyCodeObject *code)
{
#if !GH_FREE_THREADED
    last_code_t *slot = last_code_slot(code);
    if (code == slot->code && slot->extra->context == context_epoch) {
        last_code = code;
        last_extra = slot->extra;
        return last_extra;
    }
#endif
    void *found = NULL;
#if GH_FREE_THREADED
    uint64_t freed = GH_LOAD_U64(extras_freed);
#endif
    if (GH_GET_EXTRA((PyObject *)code, extra_index, &found) < 0) {
        return NULL;
    }
    uint64_t context = GH_LOAD_U64(context_epoch);
    if (found != NULL && GH_LOAD_U64(((code_extra_t *)found)->context) == context) {
#if !GH_FREE_THREADED
        last_code = slot->code = code;
        last_extra = slot->extra = (code_extra_t *)found;
#else
        thread_last_t *last = last_code_slot(code);
        last->code = code;
        last->extra = (code_extra_t *)found;
        last->freed = freed;
#endif
        return (code_extra_t *)found;
    }
    PyObject *tables = PyObject_CallFunctionObjArgs(code_tables_func, (PyObject *)code, NULL);
    if (tables == NULL) {
        return NULL;
    }
    if (!PyTuple_Check(tables) || PyTuple_GET_SIZE(tables) <= TABLE_ATTRIBUTE_MISSING) {
        Py_DECREF(tables);
        PyErr_SetString(PyExc_SystemError, "globalhook: _code_tables returned a bad value");
        return NULL;
    }
    /* The call ran Python code, and other threads run anyway on free-threaded
     * builds: look again, and publish under the lock (SetExtra would free a
     * value another thread already holds). */
    code_extra_t *extra = NULL;
    GH_LOCK();
    if (GH_GET_EXTRA((PyObject *)code, extra_index, &found) < 0) {
        goto done;
    }
    if (found != NULL) {
        extra = (code_extra_t *)found;
        if (extra->context != context && watch_tables(tables) == 0) {
            /* Another context's tables: tracking.py's record of the code keeps
             * the old tuple alive, so a thread still reading it is safe. */
            PyObject *old = extra->tables;
            GH_STORE_PTR(extra->tables, tables);
            GH_STORE_U64(extra->context, context);
            tables = old;
        }
        goto done;
    }
    extra = (code_extra_t *)PyMem_Calloc(1, sizeof(code_extra_t));
    if (extra == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (watch_tables(tables) < 0) {
        PyMem_Free(extra);
        extra = NULL;
        goto done;
    }
    extra->epoch = GH_LOAD_U64_RELAXED(tables_epoch);
    extra->context = context;
    extra->tables = tables;
    tables = NULL;
    if (GH_SET_EXTRA((PyObject *)code, extra_index, extra) < 0) {
        free_extra(extra);
        extra = NULL;
    }
done:
    GH_UNLOCK();
    Py_XDECREF(tables);
    return extra;
}

/* The first lookup of `name` of one kind by `code` in this context, when
 * `code` has looked `name` up before (in another context, or of another
 * kind): its module is noted already, so all tracking._first would do is make
 * the counter and step it.  Done here, since each test phase of a labelled
 * pytest run (a new context) sees every name again.  Returns 1 when counted,
 * 0 when tracking._first must see it, -1 on error. */
static int
count_known_first(PyCodeObject *code, code_extra_t *extra, PyObject *table, int kind, PyObject *name)
{
    if (code_owners_func == NULL || !PyUnicode_CheckExact(name) || !PyUnicode_CHECK_INTERNED(name)
        || !PyDict_CheckExact(table)) {
        return 0;
    }
    PyObject *owners = (PyObject *)GH_LOAD_PTR(extra->owners);
    if (owners == NULL) {
        PyObject *found = PyObject_CallOneArg(code_owners_func, (PyObject *)code);
        if (found == NULL) {
            return -1;
        }
        if (!PyDict_CheckExact(found)) {
            Py_DECREF(found);
            return 0;
        }
        GH_LOCK(); /* set once: readers hold no reference of their own */
        if (extra->owners == NULL) {
            GH_STORE_PTR(extra->owners, found);
            found = NULL;
        }
        GH_UNLOCK();
        Py_XDECREF(found);
        owners = (PyObject *)GH_LOAD_PTR(extra->owners);
    }
    int known = PyDict_Contains(owners, name);
    if (known <= 0) {
        return known; /* not seen yet: _first notes its module */
    }
    if (!PyUnicode_IsIdentifier(name)) {
        return 0; /* recorded under a placeholder by _first */
    }
    PyObject *fresh = tally_make(&Tally_Type);
    if (fresh == NULL) {
        return -1;
    }
    PyObject *counter;
#if PY_VERSION_HEX >= 0x030D0000
    int had = PyDict_SetDefaultRef(table, name, fresh, &counter);
    Py_DECREF(fresh);
    if (had < 0) {
        return -1;
    }
#else
    counter = PyDict_SetDefault(table, name, fresh);
    Py_DECREF(fresh);
    if (counter == NULL) {
        return -1;
    }
    Py_INCREF(counter);
#endif
    int status = 1;
    if (Py_TYPE(counter) == &Tally_Type) {
        tally_step((TallyObject *)counter);
        cache_add(extra, kind, name, NULL, counter);
    }
    else {
        PyObject *step = Py_TYPE(counter)->tp_iternext(counter);
        status = step == NULL ? -1 : 1;
        Py_XDECREF(step);
    }
    Py_DECREF(counter);
    return status;
}

/* Count one lookup of `name` of one kind for `code`: a counter not cached yet. */
static GH_NOINLINE int
count_one_slow(PyCodeObject *code, code_extra_t *extra, int kind, PyObject *name, PyObject *namespace)
{
    PyObject *counter;
    PyObject *table = PyTuple_GET_ITEM((PyObject *)GH_LOAD_PTR(extra->tables), kind);
    /* Another thread may empty the table (Recorder.clear): hold the counter. */
    int found = gh_dict_get_ref(table, name, &counter);
    if (found < 0) {
        return -1;
    }
    if (found && Py_TYPE(counter) == &Tally_Type) {
        cache_add(extra, kind, name, NULL, counter);
    }
    if (!found) {
        int counted = count_known_first(code, extra, table, kind, name);
        if (counted != 0) {
            return counted < 0 ? -1 : 0;
        }
        PyObject *result = PyObject_CallFunction(first_func, "iOOO", kind, (PyObject *)code, name, namespace);
        if (result == NULL) {
            return -1;
        }
        Py_DECREF(result);
        return 0;
    }
    int status = 0;
    if (Py_TYPE(counter) == &Tally_Type) {
        tally_step((TallyObject *)counter);
    }
    else {
        PyObject *step = Py_TYPE(counter)->tp_iternext(counter);
        if (step == NULL) {
            status = -1;
        }
        Py_XDECREF(step);
    }
    Py_DECREF(counter);
    return status;
}

/* Count one lookup of `name` of one kind for `code`.  The cached case is
 * inlined into the callers: a call frame costs as much as the step. */
static inline int
count_one(PyCodeObject *code, code_extra_t *extra, int kind, PyObject *name, PyObject *namespace)
{
    PyObject *counter = cache_find(extra, kind, name, NULL);
    if (counter != NULL) {
        tally_step((TallyObject *)counter);
        return 0;
    }
    return count_one_slow(code, extra, kind, name, namespace);
}

/* What the hot path needs to know about the code that asked (borrowed). */
typedef struct {
    PyCodeObject *code;
#ifdef GH_FRAME_NEEDS_CHECK
    gh_frame *frame;      /* NULL when found through a frame object */
    PyFrameObject *object;
#else
    gh_frame *frame;
#endif
} caller_t;

/* The innermost complete Python frame, as PyEval_GetFrame() and
 * sys._getframe() see it.  Returns 0 when no Python code is running. */
static int
find_caller(caller_t *caller)
{
#ifdef GH_FRAME_NEEDS_CHECK
    gh_frame *frame = gh_current_frame();
    caller->frame = frame;
    caller->object = NULL;
    if (frame != NULL) {
        PyObject *code = PyUnstable_InterpreterFrame_GetCode(frame);
        Py_XDECREF(code); /* the running frame keeps it alive */
        if (code != NULL && PyCode_Check(code)) {
            caller->code = (PyCodeObject *)code;
            return 1;
        }
    }
    caller->frame = NULL;
    caller->object = PyEval_GetFrame(); /* borrowed; skips frames that are not Python's */
    if (caller->object == NULL) {
        return 0;
    }
    PyCodeObject *code = PyFrame_GetCode(caller->object);
    Py_DECREF(code);
    caller->code = code;
    return 1;
#else
    gh_frame *frame = gh_current_frame();
    if (frame == NULL) {
        return 0;
    }
    caller->code = GH_CODE(frame);
    caller->frame = frame;
    return 1;
#endif
}

#ifdef GH_FRAME_NEEDS_CHECK
/* Borrowed references, like the other routes. */
static PyObject *
caller_globals(caller_t *caller)
{
    if (caller->object != NULL) {
        PyObject *globals = PyFrame_GetGlobals(caller->object);
        Py_DECREF(globals);
        return globals;
    }
    return PyEval_GetGlobals();
}

static PyObject *
caller_builtins(caller_t *caller)
{
    if (caller->object != NULL) {
        PyObject *builtins = PyFrame_GetBuiltins(caller->object);
        Py_DECREF(builtins);
        return builtins;
    }
    return PyEval_GetBuiltins();
}

static int
caller_lasti(caller_t *caller)
{
    if (caller->object != NULL) {
        return PyFrame_GetLasti(caller->object);
    }
    return PyUnstable_InterpreterFrame_GetLasti(caller->frame);
}
#else
#define caller_globals(c) GH_GLOBALS((c)->frame)
#define caller_builtins(c) GH_BUILTINS((c)->frame)
#define caller_lasti(c) GH_LASTI((c)->frame)
#endif

/* The bitmap of tracking._load_sites(code) (a set of byte offsets). */
static load_sites_t *
make_load_sites(PyCodeObject *code)
{
    PyObject *offsets = PyObject_CallFunctionObjArgs(load_sites_func, (PyObject *)code, NULL);
    if (offsets == NULL) {
        return NULL;
    }
    load_sites_t *sites = NULL;
    PyObject *iterator = PyObject_GetIter(offsets);
    PyObject *item;
    Py_ssize_t units = 0;
    if (iterator == NULL) {
        goto done;
    }
    while ((item = PyIter_Next(iterator)) != NULL) { /* first pass: the largest offset */
        Py_ssize_t offset = PyLong_AsSsize_t(item);
        Py_DECREF(item);
        if (offset < 0) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_SystemError, "globalhook: _load_sites returned a negative offset");
            }
            goto done;
        }
        if (offset / 2 + 1 > units) {
            units = offset / 2 + 1;
        }
    }
    if (PyErr_Occurred()) {
        goto done;
    }
    sites = (load_sites_t *)PyMem_Calloc(1, sizeof(load_sites_t) + (size_t)(units / 8 + 1));
    if (sites == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    sites->units = units;
    Py_CLEAR(iterator);
    iterator = PyObject_GetIter(offsets);
    if (iterator == NULL) {
        goto fail;
    }
    while ((item = PyIter_Next(iterator)) != NULL) {
        Py_ssize_t unit = PyLong_AsSsize_t(item) / 2;
        Py_DECREF(item);
        if (unit < 0 || unit >= units) {
            PyErr_SetString(PyExc_SystemError, "globalhook: _load_sites changed while read");
            goto fail;
        }
        sites->bits[unit / 8] |= (unsigned char)(1u << (unit % 8));
    }
    if (PyErr_Occurred()) {
        goto fail;
    }
    goto done;
fail:
    PyMem_Free(sites);
    sites = NULL;
done:
    Py_XDECREF(iterator);
    Py_DECREF(offsets);
    return sites;
}

/* The code's load sites, made on first need (NULL with an exception set on failure). */
static GH_NOINLINE load_sites_t *
first_load_sites(caller_t *caller, code_extra_t *extra)
{
    load_sites_t *made = make_load_sites(caller->code);
    if (made == NULL) {
        return NULL;
    }
    GH_LOCK();
    load_sites_t *sites = extra->sites;
    if (sites == NULL) {
        GH_STORE_PTR(extra->sites, made);
        sites = made;
        made = NULL;
    }
    GH_UNLOCK();
    PyMem_Free(made);
    return sites;
}

/* Is the caller's current instruction one that loads a name (so that CPython
 * would go on to the builtins itself after a miss)? */
static inline int
at_load_site(caller_t *caller, code_extra_t *extra)
{
    load_sites_t *sites = (load_sites_t *)GH_LOAD_PTR(extra->sites);
    if (sites == NULL) {
        sites = first_load_sites(caller, extra);
        if (sites == NULL) {
            return -1;
        }
    }
    int lasti = caller_lasti(caller);
    if (lasti < 0 || lasti % 2 != 0 || lasti / 2 >= sites->units) {
        return 0;
    }
    Py_ssize_t unit = lasti / 2;
    return (sites->bits[unit / 8] >> (unit % 8)) & 1;
}

static void
set_key_error(PyObject *name)
{
    PyObject *error = PyObject_CallFunctionObjArgs(PyExc_KeyError, name, NULL);
    if (error != NULL) {
        PyErr_SetObject(PyExc_KeyError, error);
        Py_DECREF(error);
    }
}

/* A name that is not in the namespace.  At a name-loading instruction CPython
 * goes on to the builtins: count a builtin (handing it back when this dict is
 * the frame's globals) or a missing name.  Anywhere else (globals()[name]) the
 * program gets KeyError: count a missing name. */
static PyObject *
not_a_global(PyObject *self, PyObject *name, caller_t *caller, code_extra_t *extra)
{
    PyObject *builtins = caller_builtins(caller);
    PyObject *value = NULL;
    int exact = 0;
    if (PyDict_Check(builtins)) {
        exact = PyDict_CheckExact(builtins);
        if (gh_dict_get_ref(builtins, name, &value) < 0) {
            return NULL;
        }
    }
    else {
        value = Py_None; /* not a dict: CPython will ask it; we cannot without running its code */
        Py_INCREF(value);
    }
    if (value != NULL) {
        int site = at_load_site(caller, extra);
        if (site < 0) {
            Py_DECREF(value);
            return NULL;
        }
        if (!site) {
            Py_CLEAR(value);
        }
    }
    if (value == NULL) {
        if (count_one(caller->code, extra, KIND_MISSING, name, self) == 0) {
            set_key_error(name);
        }
        return NULL;
    }
    /* Counting may run Python code (first sight): compare globals before. */
    int own_frame = exact && caller_globals(caller) == self;
    if (count_one(caller->code, extra, KIND_BUILTIN, name, self) < 0) {
        Py_DECREF(value);
        return NULL;
    }
    if (own_frame) {
        return value;
    }
    Py_DECREF(value);
    set_key_error(name);
    return NULL;
}

/* Is this lookup one the interpreter makes for itself (tracking._interpreter_probe)?
 * Asked only for the two names it probes: "__builtins__" by identity on the
 * hot path (CPython's own string is the interned one where it probes it,
 * 3.12+), "__annotations__" by value on the path of a miss. */
static int
interpreter_probe(PyObject *name, caller_t *caller)
{
    PyObject *result = PyObject_CallFunction(probe_func, "OOi", (PyObject *)caller->code, name, caller_lasti(caller));
    if (result == NULL) {
        return -1;
    }
    int probe = PyObject_IsTrue(result);
    Py_DECREF(result);
    return probe;
}

/* Code whose globals are another namespace read this one through the mapping
 * (frame.f_globals["x"] in a tool, vars(module)["x"]): counted for that code,
 * with this namespace's module as the owner (tracking._foreign_read).  A miss
 * raises KeyError as a dict would. */
static PyObject *
foreign_read(PyObject *self, PyObject *name, PyObject *value, caller_t *caller, PyObject *globals)
{
    PyObject *result = PyObject_CallFunction(
        foreign_func, "OOOOOi", (PyObject *)caller->code, name, value != NULL ? Py_True : Py_False, self,
        globals != NULL ? globals : Py_None, caller_lasti(caller));
    if (result == NULL) {
        Py_XDECREF(value);
        return NULL;
    }
    Py_DECREF(result);
    if (value == NULL) {
        set_key_error(name);
    }
    return value;
}

static PyObject *
tracking_subscript(PyObject *self, PyObject *name)
{
    caller_t caller;
    PyObject *value;
    if (gh_dict_get_ref(self, name, &value) < 0) {
        return NULL;
    }
    if (!find_caller(&caller)) {
        Py_XDECREF(value);
        return PyDict_Type.tp_as_mapping->mp_subscript(self, name);
    }
    PyObject *globals = caller_globals(&caller);
    if (globals != self && foreign_func != NULL) {
        return foreign_read(self, name, value, &caller, globals);
    }
    code_extra_t *extra = extra_for(caller.code);
    if (extra == NULL) {
        Py_XDECREF(value);
        return NULL;
    }
    if (value == NULL) {
        /* A miss (every builtin read): "__annotations__" compared by value only when the length matches
         * (3.11's own string is not the interned one). */
        if (probe_func != NULL && PyUnicode_CheckExact(name) &&
            (name == str_annotations || (PyUnicode_GET_LENGTH(name) == PyUnicode_GET_LENGTH(str_annotations) &&
                                         PyUnicode_Compare(name, str_annotations) == 0))) {
            int probe = interpreter_probe(name, &caller);
            if (probe < 0) {
                return NULL;
            }
            if (probe) {
                set_key_error(name);
                return NULL;
            }
        }
        return not_a_global(self, name, &caller, extra);
    }
    if (name == str_builtins && probe_func != NULL) {
        int probe = interpreter_probe(name, &caller);
        if (probe != 0) {
            if (probe < 0) {
                Py_DECREF(value);
                return NULL;
            }
            return value;
        }
    }
    if (count_one(caller.code, extra, KIND_GLOBAL, name, self) < 0) {
        Py_DECREF(value);
        return NULL;
    }
    return value;
}

static int
tracking_ass_subscript(PyObject *self, PyObject *name, PyObject *value)
{
    caller_t caller;
    if (PyDict_Type.tp_as_mapping->mp_ass_subscript(self, name, value) < 0) {
        return -1;
    }
    if (!find_caller(&caller)) {
        return 0;
    }
    code_extra_t *extra = extra_for(caller.code);
    if (extra == NULL) {
        return -1;
    }
    return count_one(caller.code, extra, value == NULL ? KIND_DELETE : KIND_STORE, name, self);
}

static PyMappingMethods tracking_as_mapping = {
    NULL, /* mp_length: inherited from dict */
    tracking_subscript,
    tracking_ass_subscript,
};

static PyTypeObject TrackingDictBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "globalhook._ctracking.TrackingDictBase",
};

static PyObject *
setup(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *code_tables, *first, *load_sites, *code_owners;
    if (!PyArg_ParseTuple(args, "OOOO:setup", &code_tables, &first, &load_sites, &code_owners)) {
        return NULL;
    }
    Py_INCREF(code_owners);
    Py_XSETREF(code_owners_func, code_owners);
    Py_INCREF(code_tables);
    Py_XSETREF(code_tables_func, code_tables);
    Py_INCREF(first);
    Py_XSETREF(first_func, first);
    Py_INCREF(load_sites);
    Py_XSETREF(load_sites_func, load_sites);
    Py_RETURN_NONE;
}

static PyObject *
setup_reads(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *probe, *foreign;
    if (!PyArg_ParseTuple(args, "OO:setup_reads", &probe, &foreign)) {
        return NULL;
    }
    if (str_builtins == NULL) {
        str_builtins = PyUnicode_InternFromString("__builtins__");
        str_annotations = PyUnicode_InternFromString("__annotations__");
        if (str_builtins == NULL || str_annotations == NULL) {
            return NULL;
        }
    }
    Py_INCREF(probe);
    Py_XSETREF(probe_func, probe);
    Py_INCREF(foreign);
    Py_XSETREF(foreign_func, foreign);
    Py_RETURN_NONE;
}

/* tracking.py switched context: every cached per-code table is stale. */
static PyObject *
new_epoch(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
#if GH_FREE_THREADED
    _Py_atomic_add_uint64(&context_epoch, 1);
    _Py_atomic_add_uint64(&tables_epoch, 1); /* and the counter caches with them */
#else
    context_epoch++;
    tables_epoch++;
#endif
    Py_RETURN_NONE;
}

/* clear_counts(table): empty one inner table, and drop every cached counter
 * first, with no Python code in between (with the GIL nothing can step a
 * dropped counter after; free-threaded builds' watcher bumps again). */
static PyObject *
clear_counts(PyObject *module, PyObject *table)
{
    (void)module;
    if (!PyDict_Check(table)) {
        PyErr_Format(PyExc_TypeError, "clear_counts: expected a dict, got %.200s", Py_TYPE(table)->tp_name);
        return NULL;
    }
#if GH_FREE_THREADED
    _Py_atomic_add_uint64(&tables_epoch, 1);
#else
    tables_epoch++;
#endif
    PyDict_Clear(table);
    Py_RETURN_NONE;
}

/* What types.ModuleType(name) holds before any code has run in it. */
static int
is_fresh_namespace(PyObject *namespace)
{
    static const char *const fresh[] = {"__name__", "__doc__", "__package__", "__loader__", "__spec__"};
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    if (!PyDict_CheckExact(namespace) || PyDict_GET_SIZE(namespace) > 5) {
        return 0;
    }
    while (PyDict_Next(namespace, &pos, &key, &value)) {
        int known = 0;
        for (size_t i = 0; i < sizeof(fresh) / sizeof(fresh[0]); i++) {
            if (PyUnicode_Check(key) && PyUnicode_CompareWithASCIIString(key, fresh[i]) == 0) {
                known = 1;
                break;
            }
        }
        if (!known) {
            return 0;
        }
    }
    return 1;
}

/* The native strategy's one unsafe step, done here so that the runner needs
 * no ctypes: make `namespace` the module's one and only __dict__. */
static PyObject *
set_module_dict(PyObject *module_, PyObject *args)
{
    (void)module_;
    PyObject *module, *namespace;
    if (!PyArg_ParseTuple(args, "OO:set_module_dict", &module, &namespace)) {
        return NULL;
    }
    /* The floor types: benchmarks/stdlib.py's floor arm imports whole modules into them. */
    if (!PyModule_CheckExact(module) && !gh_is_attribute_module(module) && !Py_IS_TYPE(module, &FloorModule_Type)) {
        PyErr_Format(PyExc_TypeError,
                     "set_module_dict: expected exactly types.ModuleType or AttributeModule, got %.200s",
                     Py_TYPE(module)->tp_name);
        return NULL;
    }
    PyTypeObject *type = Py_TYPE(namespace);
    if (!(PyObject_TypeCheck(namespace, &TrackingDictBase_Type) || type == &FloorDict_Type) || type->tp_basicsize != PyDict_Type.tp_basicsize ||
        type->tp_dictoffset != 0 || type->tp_weaklistoffset != PyDict_Type.tp_weaklistoffset) {
        PyErr_Format(PyExc_TypeError, "set_module_dict: expected a tracking dict with the layout of dict, got %.200s",
                     type->tp_name);
        return NULL;
    }
    /* md_dict's offset, as the type itself publishes it (ModuleType.__dictoffset__). */
    Py_ssize_t offset = PyModule_Type.tp_dictoffset;
    if (offset <= 0 || offset + (Py_ssize_t)sizeof(PyObject *) > PyModule_Type.tp_basicsize) {
        PyErr_SetString(PyExc_SystemError, "set_module_dict: ModuleType has no usable __dictoffset__");
        return NULL;
    }
    PyObject **slot = (PyObject **)((char *)module + offset);
    PyObject *old = *slot;
    if (old == NULL || old != PyModule_GetDict(module)) {
        PyErr_SetString(PyExc_SystemError, "set_module_dict: the module's dict is not where __dictoffset__ says");
        return NULL;
    }
    if (old == namespace || !is_fresh_namespace(old)) {
        PyErr_SetString(PyExc_ValueError, "set_module_dict: the module is not fresh (code has run in it)");
        return NULL;
    }
    Py_INCREF(namespace);
    *slot = namespace;
    Py_DECREF(old); /* 3.14t: the old dict is deferred-refcounted; the GC frees it */
    Py_RETURN_NONE;
}

/* The owner of a module's attributes is its __name__, read from its dict at
 * every read (it can be rebound).  With the GIL a small table remembers
 * dict -> __name__, valid while the dict is unchanged:
 * - up to 3.13, per dict version tag: a dict's version is globally unique and
 *   changes with every change of the dict, so an equal pair means the same
 *   dict, unchanged; any write to the module's globals only sends the next
 *   read back to the dict;
 * - 3.14 has no version tag: only dicts the writes watcher watches are
 *   remembered, and its callback forgets a dict when its __name__ (or any key
 *   that is not an exact str) changes, when it is cleared or freed, and
 *   unwatch_writes() when it stops watching.
 * Free-threaded, each thread remembers a few dict -> __name__ pairs of its
 * own, with owner_epoch at the time, a number the writes watcher bumps on
 * every such change of any watched dict.  The watcher runs before the write,
 * so a pair read freely could join the old name with the new number; but on
 * free-threaded builds every change of a dict, its watcher call included,
 * happens inside the dict's critical section, and a pair is read inside it
 * too: it is either the old name with the old number, or the new with the
 * new.  A remembered name is only compared with the counters' owners (each
 * held by its counter cache), never dereferenced, so no reference is kept:
 * a thread that ends leaves nothing behind. */
static PyObject *str_dunder_name = NULL;      /* "__name__", interned */
#if !GH_FREE_THREADED
#define GH_OWNER_SLOTS 16
#if PY_VERSION_HEX >= 0x030E0000
#define GH_OWNER_WATCHED 1
#endif
typedef struct {
    PyObject *namespace; /* compared only, never dereferenced */
    uint64_t version;
    PyObject *owner;     /* strong */
} owner_slot_t;
static owner_slot_t owner_slots[GH_OWNER_SLOTS];

static inline owner_slot_t *
owner_slot(PyObject *namespace)
{
    uintptr_t bits = (uintptr_t)namespace;
    return &owner_slots[((bits >> 4) ^ (bits >> 9)) % GH_OWNER_SLOTS];
}

#ifdef GH_OWNER_WATCHED
static int writes_watcher = -1;
/* 0 when the dict is not watched by the writes watcher (never remembered then). */
static inline uint64_t
gh_dict_version(PyObject *namespace)
{
    return writes_watcher >= 0 ? (((PyDictObject *)namespace)->_ma_watcher_tag >> writes_watcher) & 1 : 0;
}

static void
forget_owner(PyObject *namespace)
{
    owner_slot_t *slot = owner_slot(namespace);
    if (slot->namespace == namespace) {
        PyObject *old = slot->owner;
        slot->namespace = NULL;
        slot->owner = NULL;
        Py_XDECREF(old);
    }
}
#else
static inline uint64_t
gh_dict_version(PyObject *namespace)
{
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    return ((PyDictObject *)namespace)->ma_version_tag; /* deprecated (not removed) in 3.12 and 3.13 */
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
}
#endif
#endif

#if GH_FREE_THREADED
#define GH_THREAD_OWNERS 4
typedef struct {
    PyObject *namespace; /* compared only */
    PyObject *owner;     /* compared only: borrowed, and maybe gone once owner_epoch moved */
    uint64_t epoch;
} thread_owner_t;
static uint64_t owner_epoch = 1; /* 0 in a slot: never filled */
static GH_THREAD_LOCAL thread_owner_t thread_owners[GH_THREAD_OWNERS];

static inline thread_owner_t *
thread_owner_slot(PyObject *namespace)
{
    uintptr_t bits = (uintptr_t)namespace;
    return &thread_owners[((bits >> 4) ^ (bits >> 9)) % GH_THREAD_OWNERS];
}

static void
forget_owner(PyObject *namespace)
{
    (void)namespace;
    (void)_Py_atomic_add_uint64(&owner_epoch, 1);
}
#endif

/* ---- issue 11: global writes ----
 *
 * STORE_GLOBAL and DELETE_GLOBAL write the globals dict with PyDict_SetItem /
 * PyDict_Pop: a dict subclass's __setitem__/__delitem__ never hear of them.
 * From 3.12 a dict watcher does.  Every tracking dict is watched from its
 * creation (watch_writes(), called by modules.py); the callback counts a
 * store or delete for the code object running at that moment, but only when
 * that code's current instruction is STORE_GLOBAL/DELETE_GLOBAL on its own
 * globals.  Module-level STORE_NAME/DELETE_NAME and globals()[k] = v also
 * change the dict, and are already counted by tracking_ass_subscript: the
 * instruction test keeps them from being counted twice.
 *
 * The instruction is read from the code's deoptimised bytecode (PyCode_GetCode,
 * a bitmap of write sites made once per code object and kept in a co_extra
 * slot of its own), so specialised and instrumented (sys.monitoring,
 * settrace) forms need no table of their own; the EXTENDED_ARG prefixes of a
 * write site are marked too.  Loads never reach the watcher: it runs only when
 * a watched dict changes.
 *
 * The callback runs in the middle of CPython's dict update, after the entry
 * was looked up and before it is written: it must not run Python code (which
 * could switch threads, or collect garbage, and change the dict under it) nor
 * block (free-threaded: parking would release the dict's critical section).
 * So it counts only when everything is already there (the code's tables for
 * this context and the name's counter: one C step, the usual case); a first
 * sight is parked in a small table of pending counts, (code, name, kind) ->
 * n, made into counts by flush_writes(): from a pending call soon after (GIL
 * builds), and before anything reads or resets the counts or switches context
 * (tracking.py).  It never raises: an exception already set on entry stays.
 * 3.9-3.11 have no dict watchers: globalwrites.py reports what a scan of the
 * bytecode finds instead. */
#if PY_VERSION_HEX >= 0x030C0000
#define GH_WATCHES_WRITES 1
#include "opcode.h"

#ifndef GH_OWNER_WATCHED
static int writes_watcher = -1;
#endif
static Py_ssize_t writes_extra_index = -1;

/* One bit per code unit: STORE_GLOBAL / DELETE_GLOBAL, and their EXTENDED_ARGs;
 * and, per such unit, the index in co_names of the name it writes, so that a
 * write made by other code during the instruction (a C destructor of the old
 * value writing the same dict) is never taken for it. */
typedef struct {
    int unit;
    int name;
} write_site_t;

typedef struct {
    Py_ssize_t units;
    Py_ssize_t count;      /* entries in `sites`, by unit */
    write_site_t *sites;   /* points into the same block, after `bits` */
    unsigned char bits[1];
} write_sites_t;

static void
free_write_sites(void *pointer)
{
    PyMem_RawFree(pointer);
}

/* NULL with an exception set on failure.  Allocates; runs no Python code. */
static write_sites_t *
make_write_sites(PyCodeObject *code)
{
    PyObject *raw = PyCode_GetCode(code); /* deoptimised: no specialised or instrumented opcodes */
    if (raw == NULL) {
        return NULL;
    }
    if (!PyBytes_Check(raw)) {
        Py_DECREF(raw);
        PyErr_SetString(PyExc_SystemError, "globalhook: co_code is not bytes");
        return NULL;
    }
    const unsigned char *bytes = (const unsigned char *)PyBytes_AS_STRING(raw);
    Py_ssize_t units = PyBytes_GET_SIZE(raw) / 2;
    Py_ssize_t count = 0; /* write sites, with their EXTENDED_ARG units */
    Py_ssize_t first = -1;
    for (Py_ssize_t unit = 0; unit < units; unit++) {
        int op = bytes[unit * 2];
        if (op == EXTENDED_ARG) {
            if (first < 0) {
                first = unit;
            }
            continue;
        }
        if (op == STORE_GLOBAL || op == DELETE_GLOBAL) {
            count += unit - (first < 0 ? unit : first) + 1;
        }
        first = -1; /* inline caches are opcode 0 (CACHE) in co_code */
    }
    size_t bits_size = (size_t)(units / 8 + 1);
    size_t align = sizeof(write_site_t) - 1;
    size_t head = (offsetof(write_sites_t, bits) + bits_size + align) & ~align;
    write_sites_t *sites = (write_sites_t *)PyMem_RawCalloc(1, head + (size_t)(count + 1) * sizeof(write_site_t));
    if (sites == NULL) {
        Py_DECREF(raw);
        PyErr_NoMemory();
        return NULL;
    }
    sites->units = units;
    sites->sites = (write_site_t *)((char *)sites + head);
    Py_ssize_t prefix = -1;
    int arg = 0;
    for (Py_ssize_t unit = 0; unit < units; unit++) {
        int op = bytes[unit * 2];
        if (op == EXTENDED_ARG) {
            if (prefix < 0) {
                prefix = unit;
                arg = 0;
            }
            arg = (arg << 8) | bytes[unit * 2 + 1];
            continue;
        }
        if (op == STORE_GLOBAL || op == DELETE_GLOBAL) {
            int name = (prefix < 0 ? 0 : arg << 8) | bytes[unit * 2 + 1];
            for (Py_ssize_t u = prefix < 0 ? unit : prefix; u <= unit; u++) {
                sites->bits[u / 8] |= (unsigned char)(1u << (u % 8));
                sites->sites[sites->count++] = (write_site_t){(int)u, name};
            }
        }
        prefix = -1;
    }
    Py_DECREF(raw);
    return sites;
}

/* Does the instruction at `lasti` write `key` (a global of this code)? */
static inline int
is_write_site(PyCodeObject *code, write_sites_t *sites, int lasti, PyObject *key)
{
    if (lasti < 0 || lasti % 2 != 0 || lasti / 2 >= sites->units) {
        return 0;
    }
    Py_ssize_t unit = lasti / 2;
    if (!((sites->bits[unit / 8] >> (unit % 8)) & 1)) {
        return 0;
    }
    Py_ssize_t low = 0, high = sites->count;
    while (low < high) { /* sites are in unit order */
        Py_ssize_t middle = (low + high) / 2;
        if (sites->sites[middle].unit < unit) {
            low = middle + 1;
        }
        else {
            high = middle;
        }
    }
    if (low >= sites->count || sites->sites[low].unit != unit) {
        return 0;
    }
    int name = sites->sites[low].name;
    PyObject *names = code->co_names;
    return name < PyTuple_GET_SIZE(names) && PyTuple_GET_ITEM(names, name) == key;
}

/* The code's write sites, made on first need.  `may_wait` 0 (inside the
 * callback): never wait for the lock; NULL without an error when it is busy. */
static write_sites_t *
write_sites_of(PyCodeObject *code, int may_wait)
{
    void *found = NULL;
    if (GH_GET_EXTRA((PyObject *)code, writes_extra_index, &found) < 0) {
        return NULL;
    }
    if (found != NULL) {
        return (write_sites_t *)found;
    }
    write_sites_t *made = make_write_sites(code);
    if (made == NULL) {
        return NULL;
    }
#if GH_FREE_THREADED
    if (may_wait) {
        PyMutex_Lock(&first_sight_lock);
    }
    else if (!PyMutex_LockFast(&first_sight_lock)) {
        PyMem_RawFree(made);
        return NULL;
    }
#else
    (void)may_wait;
#endif
    write_sites_t *sites = made;
    if (GH_GET_EXTRA((PyObject *)code, writes_extra_index, &found) < 0) {
        sites = NULL;
    }
    else if (found != NULL) {
        sites = (write_sites_t *)found;
    }
    else if (GH_SET_EXTRA((PyObject *)code, writes_extra_index, made) < 0) {
        sites = NULL;
    }
    else {
        made = NULL;
    }
    GH_UNLOCK();
    PyMem_RawFree(made);
    return sites;
}

/* ---- pending counts: (code, name, kind, lasti) -> n, open addressing ----
 * lasti is -1 once the instruction is known to write a global, else the
 * offset to check when flushed (the code's write sites were not made yet). */
typedef struct {
    PyObject *code;      /* strong references, NULL in a free slot */
    PyObject *name;
    PyObject *namespace;
    int kind;
    int lasti;
    Py_ssize_t count;
} pending_t;

static pending_t *pending;
static Py_ssize_t pending_capacity;
static Py_ssize_t pending_used;
/* Counts the callback could not keep (no memory): never silent, see lost_writes(). */
static Py_ssize_t writes_lost;

#if GH_FREE_THREADED
/* A spin lock: the callback must never park (that would release the dict's critical section). */
static int pending_spin;
static inline void
pending_lock(void)
{
    for (;;) {
        int expected = 0;
        if (_Py_atomic_compare_exchange_int(&pending_spin, &expected, 1)) {
            return;
        }
    }
}
#define PENDING_LOCK() pending_lock()
#define PENDING_UNLOCK() _Py_atomic_store_int_release(&pending_spin, 0)
#else
#define PENDING_LOCK()
#define PENDING_UNLOCK()
#endif

static inline Py_ssize_t
pending_slot(pending_t *table, Py_ssize_t capacity, PyObject *code, PyObject *name, int kind, int lasti)
{
    uintptr_t hash = ((uintptr_t)code >> 4) * 31u + ((uintptr_t)name >> 4) * 7u + (uintptr_t)kind + (uintptr_t)(lasti + 1) * 131u;
    Py_ssize_t i = (Py_ssize_t)(hash & (uintptr_t)(capacity - 1));
    while (table[i].code != NULL &&
           !(table[i].code == code && table[i].name == name && table[i].kind == kind && table[i].lasti == lasti)) {
        i = (i + 1) & (capacity - 1);
    }
    return i;
}

/* Count one write for later.  1: the table was empty before; 0: not; -1: no memory. */
static int
pending_add(PyObject *code, PyObject *name, PyObject *namespace, int kind, int lasti)
{
    PENDING_LOCK();
    if ((pending_used + 1) * 2 > pending_capacity) {
        Py_ssize_t capacity = pending_capacity ? pending_capacity * 2 : 16;
        pending_t *grown = (pending_t *)PyMem_RawCalloc((size_t)capacity, sizeof(pending_t));
        if (grown == NULL) {
            writes_lost++;
            PENDING_UNLOCK();
            return -1;
        }
        for (Py_ssize_t i = 0; i < pending_capacity; i++) {
            if (pending[i].code != NULL) {
                pending_t *entry = &pending[i];
                grown[pending_slot(grown, capacity, entry->code, entry->name, entry->kind, entry->lasti)] = *entry;
            }
        }
        PyMem_RawFree(pending);
        pending = grown;
        pending_capacity = capacity;
    }
    Py_ssize_t i = pending_slot(pending, pending_capacity, code, name, kind, lasti);
    int was_empty = 0;
    if (pending[i].code != NULL) {
        pending[i].count++;
    }
    else {
        Py_INCREF(code);
        Py_INCREF(name);
        Py_INCREF(namespace);
        pending[i] = (pending_t){code, name, namespace, kind, lasti, 1};
        was_empty = pending_used++ == 0;
    }
    PENDING_UNLOCK();
    return was_empty;
}

static inline void
tally_add(TallyObject *tally, Py_ssize_t n)
{
#if GH_FREE_THREADED
    _Py_atomic_add_ssize(&tally->value, n);
#else
    tally->value += n;
#endif
}

/* Make the pending counts real (may run Python code: never from the callback).
 * -1 with an exception set if one could not be counted; all are released. */
static int
flush_pending(void)
{
    PENDING_LOCK();
    pending_t *taken = pending;
    Py_ssize_t capacity = pending_capacity;
    pending = NULL;
    pending_capacity = pending_used = 0;
    PENDING_UNLOCK();
    int status = 0;
    for (Py_ssize_t i = 0; i < capacity; i++) {
        pending_t *entry = &taken[i];
        if (entry->code == NULL) {
            continue;
        }
        PyCodeObject *code = (PyCodeObject *)entry->code;
        int wanted = status == 0;
        if (wanted && entry->lasti >= 0) {
            write_sites_t *sites = write_sites_of(code, 1);
            if (sites == NULL) {
                status = -1;
                wanted = 0;
            }
            else {
                wanted = is_write_site(code, sites, entry->lasti, entry->name);
            }
        }
        if (wanted) {
            code_extra_t *extra = extra_for(code);
            if (extra == NULL || count_one(code, extra, entry->kind, entry->name, entry->namespace) < 0) {
                status = -1;
            }
            else if (entry->count > 1) {
                PyObject *table = PyTuple_GET_ITEM((PyObject *)GH_LOAD_PTR(extra->tables), entry->kind);
                PyObject *counter;
                int found = gh_dict_get_ref(table, entry->name, &counter);
                if (found < 0) {
                    status = -1;
                }
                else if (found) {
                    if (Py_TYPE(counter) == &Tally_Type) {
                        tally_add((TallyObject *)counter, entry->count - 1);
                    }
                    else {
                        for (Py_ssize_t n = 1; n < entry->count && status == 0; n++) {
                            status = count_one(code, extra, entry->kind, entry->name, entry->namespace);
                        }
                    }
                    Py_DECREF(counter);
                }
            }
        }
        Py_DECREF(entry->code);
        Py_DECREF(entry->name);
        Py_DECREF(entry->namespace);
    }
    PyMem_RawFree(taken);
    return status;
}

#if !GH_FREE_THREADED
/* Run by the interpreter between bytecodes (main thread): never raises into the program. */
static int
flush_pending_call(void *unused)
{
    (void)unused;
    if (flush_pending() < 0) {
        PyErr_WriteUnraisable(NULL);
    }
    return 0;
}
#endif

/* The counter of an already-seen write, without running Python code: NULL if not there yet. */
static inline PyObject *
known_counter(PyCodeObject *code, int kind, PyObject *name)
{
    void *found = NULL;
    if (GH_GET_EXTRA((PyObject *)code, extra_index, &found) < 0 || found == NULL) {
        return NULL;
    }
    code_extra_t *extra = (code_extra_t *)found;
    if (GH_LOAD_U64(extra->context) != GH_LOAD_U64(context_epoch)) {
        return NULL; /* another context's tables: fetching ours runs Python code */
    }
#if GH_FREE_THREADED
    return cache_find(extra, kind, name, NULL);
#else
    PyObject *table = PyTuple_GET_ITEM(extra->tables, kind);
    PyObject *counter = PyDict_GetItemWithError(table, name); /* an exact str key: no Python code */
    return counter != NULL && Py_TYPE(counter) == &Tally_Type ? counter : NULL;
#endif
}

/* Bumped by every change of a watched namespace (any writer: STORE_GLOBAL,
 * STORE_NAME, setattr on the module, globals()[k] = v, clear): a reader that
 * saw the same number twice knows no watched namespace changed in between
 * (globalhook.cache revalidates its immutable reads in O(1) that way). */
static Py_ssize_t namespaces_version;

static int
global_written(PyDict_WatchEvent event, PyObject *dict, PyObject *key, PyObject *new_value)
{
    (void)new_value;
#if defined(GH_OWNER_WATCHED) || GH_FREE_THREADED
    if (key == NULL || !PyUnicode_CheckExact(key) || key == str_dunder_name ||
        PyUnicode_Compare(key, str_dunder_name) == 0) {
        forget_owner(dict); /* __name__ may change, or the dict go: runs no Python code */
    }
#endif
    int kind;
    if (event != PyDict_EVENT_DEALLOCATED) {
#if GH_FREE_THREADED
        (void)_Py_atomic_add_ssize(&namespaces_version, 1);
#else
        namespaces_version++;
#endif
    }
    if (event == PyDict_EVENT_ADDED || event == PyDict_EVENT_MODIFIED) {
        kind = KIND_STORE;
    }
    else if (event == PyDict_EVENT_DELETED) {
        kind = KIND_DELETE;
    }
    else {
        return 0; /* cleared, cloned, deallocated: no instruction of the program's wrote a name */
    }
    if (code_tables_func == NULL || key == NULL || !PyUnicode_CheckExact(key)) {
        return 0; /* STORE_GLOBAL/DELETE_GLOBAL names are exact strs */
    }
    caller_t caller;
    if (!find_caller(&caller) || caller_globals(&caller) != dict) {
        return 0; /* no Python code running, or not a write to the running code's own globals */
    }
    /* An exception may be set already (a write in a finally block, or by C code): keep it. */
    PyObject *pending_exc = PyErr_Occurred() ? PyErr_GetRaisedException() : NULL;
    int lasti = caller_lasti(&caller);
    write_sites_t *sites = write_sites_of(caller.code, 0);
    if (sites != NULL && !is_write_site(caller.code, sites, lasti, key)) {
        goto done; /* STORE_NAME, globals()[k] = v, setattr(module, ...): not a global statement */
    }
    PyObject *counter = sites != NULL ? known_counter(caller.code, kind, key) : NULL;
    if (counter != NULL) {
        tally_step((TallyObject *)counter);
        goto done;
    }
    PyErr_Clear(); /* making the write sites may have failed: the flush tries again */
    int added = pending_add((PyObject *)caller.code, key, dict, kind, sites != NULL ? -1 : lasti);
#if !GH_FREE_THREADED
    if (added == 1) {
        /* Soon, between bytecodes of the main thread, where Python code may run.  If the
         * queue of pending calls is full the counts wait for the next read (flush_writes). */
        (void)Py_AddPendingCall(flush_pending_call, NULL);
    }
#else
    (void)added;
#endif
done:
    if (pending_exc != NULL) {
        PyErr_SetRaisedException(pending_exc);
    }
    return 0;
}
#endif

/* flush_writes(): count the global writes still pending (before reading or resetting counts). */
static PyObject *
flush_writes(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
#ifdef GH_WATCHES_WRITES
    if (flush_pending() < 0) {
        return NULL;
    }
#endif
    Py_RETURN_NONE;
}

/* writes_after_fork(): in a forked child of a free-threaded build, free the lock another
 * thread may have held at fork(), dropping the pending writes it guarded. */
static PyObject *
writes_after_fork(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
#if defined(GH_WATCHES_WRITES) && GH_FREE_THREADED
    /* Another thread may have been updating the table: leave it (and its
     * references) behind rather than read it half-made. */
    pending = NULL;
    pending_capacity = pending_used = 0;
    _Py_atomic_store_int_release(&pending_spin, 0);
#endif
    Py_RETURN_NONE;
}

/* namespace_version(): the number bumped by every change of a watched namespace (None before 3.12). */
static PyObject *
namespace_version(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
#ifdef GH_WATCHES_WRITES
#if GH_FREE_THREADED
    return PyLong_FromSsize_t(_Py_atomic_load_ssize(&namespaces_version));
#else
    return PyLong_FromSsize_t(namespaces_version);
#endif
#else
    Py_RETURN_NONE;
#endif
}

/* lost_writes(): how many global writes could not be counted (no memory). */
static PyObject *
lost_writes(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
#ifdef GH_WATCHES_WRITES
    return PyLong_FromSsize_t(writes_lost);
#else
    return PyLong_FromLong(0);
#endif
}

/* watch_writes(namespace): count STORE_GLOBAL/DELETE_GLOBAL into this dict
 * (3.12+; returns True).  False where dict watchers do not exist. */
static PyObject *
watch_writes(PyObject *module, PyObject *namespace)
{
    (void)module;
#ifdef GH_WATCHES_WRITES
    if (!PyDict_Check(namespace)) {
        PyErr_Format(PyExc_TypeError, "watch_writes: expected a dict, got %.200s", Py_TYPE(namespace)->tp_name);
        return NULL;
    }
    if (PyDict_Watch(writes_watcher, namespace) < 0) {
        return NULL;
    }
    Py_RETURN_TRUE;
#else
    (void)namespace;
    Py_RETURN_FALSE;
#endif
}

/* unwatch_writes(namespace): stop counting its global writes (tracking stops). */
static PyObject *
unwatch_writes(PyObject *module, PyObject *namespace)
{
    (void)module;
    (void)namespace;
#ifdef GH_WATCHES_WRITES
    if (!PyDict_Check(namespace)) {
        PyErr_Format(PyExc_TypeError, "unwatch_writes: expected a dict, got %.200s", Py_TYPE(namespace)->tp_name);
        return NULL;
    }
    if (PyDict_Unwatch(writes_watcher, namespace) < 0) {
        return NULL;
    }
#if defined(GH_OWNER_WATCHED) || GH_FREE_THREADED
    forget_owner(namespace);
#endif
#endif
    Py_RETURN_NONE;
}

/* ---- issue 11: class bodies ----
 *
 * A class body's LOAD_NAME reads the class namespace, then the module globals
 * with a direct dict read, then the builtins.  While tracking is on,
 * builtins.__build_class__ is class_bodies()'s function: for a class whose
 * body runs with a tracked module's globals it calls the original with
 * metaclass=<shim> (see classbodies.py for the whole design).  The shim
 * computes the real metaclass as CPython does, calls its __prepare__, and for
 * the body's duration retypes an exact dict namespace to ObservedDict (dict's
 * layout, one slot changed), whose misses are counted when the running frame's
 * locals is that namespace and its instruction loads a name.  Namespaces of
 * Python classes are retyped by classbodies._observe; others stay unobserved.
 * The shim's __call__ restores the namespace, then calls the real metaclass;
 * the namespace is restored when the original returns, whatever happened.
 *
 * With GH_PUBLIC_FRAMES a frame's locals cannot be read without side effects
 * (PyFrame_GetLocals maps cells into the namespace before 3.13): such a build
 * leaves class bodies unobserved (CLASS_BODIES = 0).
 */
#ifdef GH_FRAME_NEEDS_CHECK
#define GH_CLASS_BODIES 0
#else
#define GH_CLASS_BODIES 1
#define GH_LOCALS(f) ((f)->f_locals)
#endif

static PyObject *original_build_class = NULL; /* what builtins held before */
static PyObject *observe_func = NULL;         /* classbodies._observe(ns, code) -> token or None */
static PyObject *restore_func = NULL;         /* classbodies._restore(ns, token) */
static PyObject *implicit_func = NULL;        /* classbodies._implicit_module_read(code) -> offset */
static PyObject *str_name = NULL;
static PyObject *str_metaclass = NULL;
static PyObject *str_prepare = NULL;

/* Count a miss in a class namespace: when the running frame executes in it (its
 * locals is this namespace), with tracked globals, at a name-loading instruction. */
static int
count_class_body_miss(PyObject *namespace, PyObject *name)
{
#if GH_CLASS_BODIES
    caller_t caller;
    if (!find_caller(&caller) || GH_LOCALS(caller.frame) != namespace) {
        return 0;
    }
    PyObject *globals = caller_globals(&caller);
    if (globals == NULL || !PyObject_TypeCheck(globals, &TrackingDictBase_Type)) {
        return 0;
    }
    code_extra_t *extra = extra_for(caller.code);
    if (extra == NULL) {
        return -1;
    }
    int site = at_load_site(&caller, extra);
    if (site <= 0) {
        return site;
    }
    if (PyUnicode_Check(name) && PyUnicode_Compare(name, str_name) == 0) {
        /* Not the body's own read: the one that sets __module__ (once per class). */
        int lasti = caller_lasti(&caller);
        PyObject *offset = PyObject_CallFunctionObjArgs(implicit_func, (PyObject *)caller.code, NULL);
        if (offset == NULL) {
            return -1;
        }
        long implicit = PyLong_AsLong(offset);
        Py_DECREF(offset);
        if (implicit == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (implicit == lasti) {
            return 0;
        }
    }
    Py_INCREF(globals); /* counting may run Python code */
    PyObject *value = NULL;
    int kind;
    int found = gh_dict_get_ref(globals, name, &value); /* the direct read CPython makes */
    if (found == 0) {
        PyObject *builtins = caller_builtins(&caller);
        if (PyDict_Check(builtins)) {
            found = gh_dict_get_ref(builtins, name, &value);
            kind = found > 0 ? KIND_BUILTIN : KIND_MISSING;
        }
        else {
            kind = KIND_BUILTIN; /* CPython asks it; we cannot without running its code */
        }
    }
    else {
        kind = KIND_GLOBAL;
    }
    Py_XDECREF(value);
    int status = found < 0 ? -1 : count_one(caller.code, extra, kind, name, globals);
    Py_DECREF(globals);
    return status;
#else
    (void)namespace;
    (void)name;
    return 0;
#endif
}

static PyObject *
observed_subscript(PyObject *self, PyObject *name)
{
    PyObject *value;
    int found = gh_dict_get_ref(self, name, &value);
    if (found != 0) {
        return found > 0 ? value : NULL;
    }
    if (count_class_body_miss(self, name) < 0) {
        return NULL;
    }
    set_key_error(name);
    return NULL;
}

static PyMappingMethods observed_as_mapping = {
    NULL, /* mp_length: inherited from dict */
    observed_subscript,
    NULL, /* mp_ass_subscript: inherited from dict */
};

/* Named "dict": repr(type(ns)) in a class body, and pickling, look as untracked. */
static PyTypeObject ObservedDict_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "dict",
};

typedef struct {
    PyObject_HEAD
    PyObject *explicit_meta; /* the metaclass keyword, or NULL */
    PyObject *code;          /* the class body's code */
    PyObject *meta;          /* the real metaclass, once __prepare__ ran */
    PyObject *ns;            /* what the real __prepare__ returned */
    PyObject *token;         /* classbodies._observe's token, or NULL */
    int retyped;             /* ns is an exact dict retyped to ObservedDict */
} ShimObject;

static PyTypeObject Shim_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "globalhook._ctracking.ClassBodyShim",
};

/* CPython's _PyType_CalculateMetaclass (not exported from 3.13 on). */
static PyTypeObject *
calculate_metaclass(PyTypeObject *metatype, PyObject *bases)
{
    PyTypeObject *winner = metatype;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(bases); i++) {
        PyTypeObject *candidate = Py_TYPE(PyTuple_GET_ITEM(bases, i));
        if (PyType_IsSubtype(winner, candidate)) {
            continue;
        }
        if (PyType_IsSubtype(candidate, winner)) {
            winner = candidate;
            continue;
        }
        PyErr_SetString(PyExc_TypeError, "metaclass conflict: the metaclass of a derived class must be a "
                                         "(non-strict) subclass of the metaclasses of all its bases");
        return NULL;
    }
    return winner;
}

static int
gh_lookup_attr(PyObject *obj, PyObject *name, PyObject **result)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyObject_GetOptionalAttr(obj, name, result);
#else
    return _PyObject_LookupAttr(obj, name, result);
#endif
}

/* Make the namespace exactly what __prepare__ returned again (idempotent). */
static int
shim_restore(ShimObject *self)
{
    if (self->retyped) {
        self->retyped = 0;
        if (Py_TYPE(self->ns) == &ObservedDict_Type) {
            Py_SET_TYPE(self->ns, &PyDict_Type);
        }
    }
    if (self->token != NULL) {
        PyObject *token = self->token;
        self->token = NULL;
        PyObject *done = PyObject_CallFunctionObjArgs(restore_func, self->ns, token, NULL);
        Py_DECREF(token);
        if (done == NULL) {
            return -1;
        }
        Py_DECREF(done);
    }
    return 0;
}

static PyObject *
shim_prepare(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    ShimObject *self = (ShimObject *)op;
    if (nargs != 2 || !PyTuple_Check(args[1]) || self->ns != NULL) {
        PyErr_SetString(PyExc_TypeError, "globalhook: the class body shim is for __build_class__ only");
        return NULL;
    }
    PyObject *bases = args[1];
    PyObject *meta;
    int is_class;
    if (self->explicit_meta != NULL) {
        meta = self->explicit_meta;
        is_class = PyType_Check(meta);
    }
    else {
        meta = PyTuple_GET_SIZE(bases) == 0 ? (PyObject *)&PyType_Type : (PyObject *)Py_TYPE(PyTuple_GET_ITEM(bases, 0));
        is_class = 1;
    }
    if (is_class) {
        meta = (PyObject *)calculate_metaclass((PyTypeObject *)meta, bases);
        if (meta == NULL) {
            return NULL;
        }
    }
    Py_INCREF(meta);
    PyObject *prepare, *ns;
    if (gh_lookup_attr(meta, str_prepare, &prepare) < 0) {
        ns = NULL;
    }
    else if (prepare == NULL) {
        ns = PyDict_New();
    }
    else {
        ns = PyObject_Vectorcall(prepare, args, 2, kwnames);
        Py_DECREF(prepare);
    }
    if (ns == NULL) {
        Py_DECREF(meta);
        return NULL;
    }
    if (!PyMapping_Check(ns)) {
        PyErr_Format(PyExc_TypeError, "%.200s.__prepare__() must return a mapping, not %.200s",
                     is_class ? ((PyTypeObject *)meta)->tp_name : "<metaclass>", Py_TYPE(ns)->tp_name);
        Py_DECREF(meta);
        Py_DECREF(ns);
        return NULL;
    }
    self->meta = meta;
    self->ns = ns;
    if (PyDict_CheckExact(ns)) {
        Py_SET_TYPE(ns, &ObservedDict_Type);
        self->retyped = 1;
    }
    else if ((Py_TYPE(ns)->tp_flags & Py_TPFLAGS_HEAPTYPE) && observe_func != NULL) {
        PyObject *token = PyObject_CallFunctionObjArgs(observe_func, ns, self->code, NULL);
        if (token == NULL) {
            return NULL;
        }
        if (token == Py_None) {
            Py_DECREF(token);
        }
        else {
            self->token = token;
        }
    }
    Py_INCREF(ns);
    return ns;
}

static PyObject *
shim_call(PyObject *op, PyObject *args, PyObject *kwargs)
{
    ShimObject *self = (ShimObject *)op;
    if (self->meta == NULL) {
        PyErr_SetString(PyExc_TypeError, "globalhook: the class body shim is for __build_class__ only");
        return NULL;
    }
    if (shim_restore(self) < 0) {
        return NULL;
    }
    return PyObject_Call(self->meta, args, kwargs);
}

static void
shim_dealloc(PyObject *op)
{
    ShimObject *self = (ShimObject *)op;
    if (self->retyped && Py_TYPE(self->ns) == &ObservedDict_Type) {
        Py_SET_TYPE(self->ns, &PyDict_Type); /* never left retyped, whatever happened */
    }
    Py_XDECREF(self->explicit_meta);
    Py_XDECREF(self->code);
    Py_XDECREF(self->meta);
    Py_XDECREF(self->ns);
    Py_XDECREF(self->token);
    Py_TYPE(op)->tp_free(op);
}

static PyMethodDef shim_methods[] = {
    {"__prepare__", (PyCFunction)(void (*)(void))shim_prepare, METH_FASTCALL | METH_KEYWORDS, NULL},
    {NULL, NULL, 0, NULL},
};

/* builtins.__build_class__ while tracking is on.  Untracked globals: the
 * original, called untouched.  Tracked: the original with metaclass=<shim>. */
static PyObject *
gh_build_class(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)module;
    PyObject *original = original_build_class;
    if (nargs < 2 || !PyFunction_Check(args[0]) ||
        !PyObject_TypeCheck(PyFunction_GET_GLOBALS(args[0]), &TrackingDictBase_Type)) {
        return PyObject_Vectorcall(original, args, nargs, kwnames);
    }
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    Py_ssize_t meta_at = -1;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, i);
        if (key == str_metaclass || (PyUnicode_Check(key) && PyUnicode_Compare(key, str_metaclass) == 0)) {
            meta_at = i;
            break;
        }
    }
    ShimObject *shim = PyObject_New(ShimObject, &Shim_Type);
    if (shim == NULL) {
        return NULL;
    }
    shim->explicit_meta = meta_at >= 0 ? args[nargs + meta_at] : NULL;
    Py_XINCREF(shim->explicit_meta);
    shim->code = PyFunction_GET_CODE(args[0]);
    Py_INCREF(shim->code);
    shim->meta = shim->ns = shim->token = NULL;
    shim->retyped = 0;

    Py_ssize_t total = nargs + nkw + (meta_at >= 0 ? 0 : 1);
    PyObject **call_args = PyMem_Malloc((size_t)total * sizeof(PyObject *));
    PyObject *call_kwnames = NULL;
    PyObject *result = NULL;
    if (call_args == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(call_args, args, (size_t)(nargs + nkw) * sizeof(PyObject *));
    if (meta_at >= 0) {
        call_args[nargs + meta_at] = (PyObject *)shim;
        call_kwnames = kwnames;
        Py_INCREF(call_kwnames);
    }
    else {
        call_args[nargs + nkw] = (PyObject *)shim;
        call_kwnames = PyTuple_New(nkw + 1);
        if (call_kwnames == NULL) {
            goto done;
        }
        for (Py_ssize_t i = 0; i < nkw; i++) {
            PyObject *key = PyTuple_GET_ITEM(kwnames, i);
            Py_INCREF(key);
            PyTuple_SET_ITEM(call_kwnames, i, key);
        }
        Py_INCREF(str_metaclass);
        PyTuple_SET_ITEM(call_kwnames, nkw, str_metaclass);
    }
    result = PyObject_Vectorcall(original, call_args, nargs, call_kwnames);
    if (result == NULL) {
        /* The body (or the metaclass) raised: restore, keep its exception. */
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        if (shim_restore(shim) < 0) {
            PyErr_Clear();
        }
        PyErr_Restore(type, value, traceback);
    }
    else if (shim_restore(shim) < 0) {
        Py_CLEAR(result);
    }
done:
    PyMem_Free(call_args);
    Py_XDECREF(call_kwnames);
    Py_DECREF(shim);
    return result;
}

static PyMethodDef build_class_def = {
    "__build_class__", (PyCFunction)(void (*)(void))gh_build_class, METH_FASTCALL | METH_KEYWORDS, NULL,
};

/* class_bodies(original, observe, restore, implicit) -> the __build_class__ to put in
 * builtins: it looks like the original (name, qualname, module, __self__,
 * doc, repr); only its identity differs. */
static PyObject *
class_bodies(PyObject *module_, PyObject *args)
{
    (void)module_;
    PyObject *original, *observe, *restore, *implicit;
    if (!PyArg_ParseTuple(args, "OOOO:class_bodies", &original, &observe, &restore, &implicit)) {
        return NULL;
    }
    if (!PyCallable_Check(original)) {
        PyErr_SetString(PyExc_TypeError, "class_bodies: the original __build_class__ must be callable");
        return NULL;
    }
    PyObject *self = NULL, *owner = NULL;
    if (PyCFunction_Check(original)) {
        PyCFunctionObject *builtin = (PyCFunctionObject *)original;
        self = builtin->m_self;
        owner = builtin->m_module;
        if (build_class_def.ml_doc == NULL) {
            build_class_def.ml_doc = builtin->m_ml->ml_doc; /* static in CPython: lives as long */
        }
    }
    Py_INCREF(original);
    Py_XSETREF(original_build_class, original);
    Py_INCREF(observe);
    Py_XSETREF(observe_func, observe);
    Py_INCREF(restore);
    Py_XSETREF(restore_func, restore);
    Py_INCREF(implicit);
    Py_XSETREF(implicit_func, implicit);
    return PyCFunction_NewEx(&build_class_def, self, owner);
}

static int
class_bodies_init(PyObject *module)
{
    str_metaclass = PyUnicode_InternFromString("metaclass");
    str_prepare = PyUnicode_InternFromString("__prepare__");
    str_name = PyUnicode_InternFromString("__name__");
    if (str_metaclass == NULL || str_prepare == NULL || str_name == NULL) {
        return -1;
    }
    ObservedDict_Type.tp_base = &PyDict_Type;
    ObservedDict_Type.tp_basicsize = PyDict_Type.tp_basicsize;
    ObservedDict_Type.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
    ObservedDict_Type.tp_traverse = PyDict_Type.tp_traverse;
    ObservedDict_Type.tp_clear = PyDict_Type.tp_clear;
    ObservedDict_Type.tp_as_mapping = &observed_as_mapping;
    ObservedDict_Type.tp_doc = PyDict_Type.tp_doc;
    if (PyType_Ready(&ObservedDict_Type) < 0) {
        return -1;
    }
    Shim_Type.tp_basicsize = sizeof(ShimObject);
    Shim_Type.tp_flags = Py_TPFLAGS_DEFAULT;
    Shim_Type.tp_dealloc = shim_dealloc;
    Shim_Type.tp_call = shim_call;
    Shim_Type.tp_methods = shim_methods;
    Shim_Type.tp_doc = "The metaclass= a tracked class body's __build_class__ call is given.";
    if (PyType_Ready(&Shim_Type) < 0) {
        return -1;
    }
    return PyModule_AddIntConstant(module, "CLASS_BODIES", GH_CLASS_BODIES);
}

/* ---- issue 11: reads of a tracked module's attributes ----
 *
 * types.ModuleType reads its dict in C (module_getattro), and 3.12+ specialises
 * LOAD_ATTR for exact modules (LOAD_ATTR_MODULE reads the dict's keys with no
 * call at all).  So a tracked module whose attribute reads are recorded is of
 * AttributeModule: a static subtype of ModuleType with the same layout (same
 * basicsize, dict and weakref offsets, deallocator), so that __class__
 * assignment to and from module subclasses keeps working, named "module" so
 * that repr(type(m)) and pickle's "cannot pickle 'module' object" read as for
 * any module.  Its tp_getattro is ModuleType's (PEP 562 __getattr__ included)
 * plus counting: per reading code object, tables[KIND_ATTRIBUTE] (found) or
 * tables[TABLE_ATTRIBUTE_MISSING] (AttributeError), each {owner: {name: counter}}
 * with owner the module's __name__.  Dunder names are not counted (the import
 * system reads __spec__, __path__, __name__... all the time), nor reads with no
 * Python frame to attribute them to.  The first read of a (code, owner, name)
 * goes through tracking._first_attribute. */

static PyObject *first_attribute_func = NULL; /* (missing, code, owner, name, globals) -> None */

static PyTypeObject AttributeModule_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "module", /* as types.ModuleType's (see above) */
};

static int
gh_is_attribute_module(PyObject *module)
{
    return Py_TYPE(module) == &AttributeModule_Type;
}

static inline int
gh_is_dunder(PyObject *name)
{
    if (!PyUnicode_CheckExact(name)) {
        return 0; /* the slow path labels str subclasses */
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(name);
    if (length <= 4) {
        return 0;
    }
    int kind = PyUnicode_KIND(name);
    const void *data = PyUnicode_DATA(name);
    return PyUnicode_READ(kind, data, 0) == '_' && PyUnicode_READ(kind, data, 1) == '_' &&
           PyUnicode_READ(kind, data, length - 1) == '_' && PyUnicode_READ(kind, data, length - 2) == '_';
}

#if GH_FREE_THREADED
static inline int
gh_watched_by_writes(PyObject *namespace)
{
    return writes_watcher >= 0 && ((((PyDictObject *)namespace)->_ma_watcher_tag >> writes_watcher) & 1);
}

/* The module's __name__ as this thread last read it, if no watched dict's
 * __name__ changed since (borrowed, to compare only), or NULL. */
static inline PyObject *
known_owner(PyObject *module)
{
    PyObject *namespace = *(PyObject **)((char *)module + PyModule_Type.tp_dictoffset);
    thread_owner_t *slot = thread_owner_slot(namespace);
    if (namespace != NULL && slot->namespace == namespace && slot->epoch == GH_LOAD_U64(owner_epoch)) {
        return slot->owner;
    }
    return NULL;
}
#endif

/* A module's __name__ (new reference), as PyModule_GetNameObject, without its
 * subtype check (an AttributeModule is a module). */
static inline PyObject *
module_name(PyObject *module)
{
    PyObject *namespace = *(PyObject **)((char *)module + PyModule_Type.tp_dictoffset);
    PyObject *name = NULL;
    if (namespace != NULL && PyDict_Check(namespace)) {
#ifdef GH_OWNER_SLOTS
        owner_slot_t *slot = owner_slot(namespace);
        uint64_t version = gh_dict_version(namespace);
        if (slot->namespace == namespace && slot->version == version && slot->owner != NULL
#ifdef GH_OWNER_WATCHED
            && version != 0
#endif
        ) {
            Py_INCREF(slot->owner);
            return slot->owner;
        }
#endif
#if GH_FREE_THREADED
        int found;
        if (gh_watched_by_writes(namespace)) {
            Py_BEGIN_CRITICAL_SECTION(namespace);
            uint64_t epoch = GH_LOAD_U64(owner_epoch);
            found = gh_dict_get_ref(namespace, str_dunder_name, &name);
            if (found > 0 && PyUnicode_CheckExact(name)) {
                thread_owner_t *slot = thread_owner_slot(namespace);
                slot->namespace = namespace;
                slot->owner = name;
                slot->epoch = epoch;
            }
            Py_END_CRITICAL_SECTION();
        }
        else {
            found = gh_dict_get_ref(namespace, str_dunder_name, &name);
        }
#else
        int found = gh_dict_get_ref(namespace, str_dunder_name, &name);
#endif
        if (found < 0) {
            return NULL;
        }
        if (found > 0) {
            if (PyUnicode_Check(name)) {
#ifdef GH_OWNER_SLOTS
                if (gh_dict_version(namespace) == version /* the lookup changed nothing */
#ifdef GH_OWNER_WATCHED
                    && version != 0
#endif
                ) {
                    Py_INCREF(name);
                    PyObject *old = slot->owner;
                    slot->namespace = namespace;
                    slot->version = version;
                    slot->owner = name;
                    Py_XDECREF(old);
                }
#endif
                return name;
            }
            Py_DECREF(name);
        }
    }
    return PyModule_GetNameObject(module); /* its error, as before */
}

/* Count one read of `name` of `module` for the innermost Python frame's code. */
static int
count_attribute(PyObject *module, PyObject *name, int missing)
{
    caller_t caller;
    if (first_attribute_func == NULL || !find_caller(&caller)) {
        return 0;
    }
    code_extra_t *extra = extra_for(caller.code);
    if (extra == NULL) {
        return -1;
    }
    int kind = missing ? TABLE_ATTRIBUTE_MISSING : KIND_ATTRIBUTE;
#if GH_FREE_THREADED
    PyObject *known = PyUnicode_CheckExact(name) ? known_owner(module) : NULL;
    PyObject *cached = known != NULL ? cache_find(extra, kind, name, known) : NULL;
    if (cached != NULL) {
        tally_step((TallyObject *)cached);
        return 0;
    }
#endif
    PyObject *owner = module_name(module); /* new reference */
    if (owner == NULL) {
        PyErr_Clear(); /* a module without a usable __name__: count it under "<unknown>" */
        owner = PyUnicode_FromString("<unknown>");
        if (owner == NULL) {
            return -1;
        }
    }
    int exact = PyUnicode_CheckExact(name) && PyUnicode_CheckExact(owner);
    PyObject *counter = exact ? cache_find(extra, kind, name, owner) : NULL;
    if (counter != NULL) {
        tally_step((TallyObject *)counter);
        Py_DECREF(owner);
        return 0;
    }
    PyObject *table = PyTuple_GET_ITEM((PyObject *)GH_LOAD_PTR(extra->tables), kind);
    PyObject *inner = NULL;
    int found = 0;
    if (exact) {
        found = gh_dict_get_ref(table, owner, &inner);
        if (found > 0) {
            found = PyDict_Check(inner) ? gh_dict_get_ref(inner, name, &counter) : 0;
            Py_DECREF(inner);
        }
        if (found < 0) {
            Py_DECREF(owner);
            return -1;
        }
    }
    int result = 0;
    if (found && Py_TYPE(counter) == &Tally_Type) {
        cache_add(extra, kind, name, owner, counter);
        tally_step((TallyObject *)counter);
    }
    else {
        PyObject *globals = caller_globals(&caller);
        PyObject *done = PyObject_CallFunction(first_attribute_func, "OOOOO", missing ? Py_True : Py_False,
                                               (PyObject *)caller.code, owner, name,
                                               globals != NULL ? globals : Py_None);
        if (done == NULL) {
            result = -1;
        }
        Py_XDECREF(done);
    }
    Py_XDECREF(counter);
    Py_DECREF(owner);
    return result;
}

static PyObject *
attribute_module_getattro(PyObject *self, PyObject *name)
{
    PyObject *value = PyModule_Type.tp_getattro(self, name);
    if (gh_is_dunder(name)) {
        return value;
    }
    if (value != NULL) {
        if (count_attribute(self, name, 0) < 0) {
            Py_DECREF(value);
            return NULL;
        }
        return value;
    }
    if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
        return NULL;
    }
    /* Count the miss with the AttributeError put aside; it is what the caller gets. */
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *error = PyErr_GetRaisedException();
    if (count_attribute(self, name, 1) < 0) {
        PyErr_Clear();
    }
    PyErr_SetRaisedException(error);
#else
    PyObject *type, *error, *traceback;
    PyErr_Fetch(&type, &error, &traceback);
    if (count_attribute(self, name, 1) < 0) {
        PyErr_Clear();
    }
    PyErr_Restore(type, error, traceback);
#endif
    return NULL;
}

static PyObject *
setup_attributes(PyObject *module, PyObject *first_attribute)
{
    (void)module;
    Py_INCREF(first_attribute);
    Py_XSETREF(first_attribute_func, first_attribute);
    Py_RETURN_NONE;
}

static int
attribute_module_ready(PyObject *module)
{
    str_dunder_name = PyUnicode_InternFromString("__name__");
    if (str_dunder_name == NULL) {
        return -1;
    }
    AttributeModule_Type.tp_base = &PyModule_Type;
    AttributeModule_Type.tp_basicsize = PyModule_Type.tp_basicsize;
    AttributeModule_Type.tp_itemsize = PyModule_Type.tp_itemsize;
    AttributeModule_Type.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC;
    AttributeModule_Type.tp_getattro = attribute_module_getattro;
    AttributeModule_Type.tp_traverse = PyModule_Type.tp_traverse;
    AttributeModule_Type.tp_clear = PyModule_Type.tp_clear;
    AttributeModule_Type.tp_dealloc = PyModule_Type.tp_dealloc;
    AttributeModule_Type.tp_free = PyModule_Type.tp_free;
    AttributeModule_Type.tp_dictoffset = PyModule_Type.tp_dictoffset;
    AttributeModule_Type.tp_weaklistoffset = PyModule_Type.tp_weaklistoffset;
    AttributeModule_Type.tp_doc = "A module whose attribute reads globalhook records (tracked modules).";
    if (PyType_Ready(&AttributeModule_Type) < 0) {
        return -1;
    }
    /* AttributeModule.__getattribute__ is ModuleType's own (the type's slot
     * stays ours): importlib.util._LazyModule (3.13+) calls
     * `original_class.__getattribute__(self, name)` with a module of another
     * ModuleType subclass, which only ModuleType's wrapper accepts. */
    PyObject *wrapper = PyObject_GetAttrString((PyObject *)&PyModule_Type, "__getattribute__");
    if (wrapper == NULL || AttributeModule_Type.tp_dict == NULL ||
        PyDict_SetItemString(AttributeModule_Type.tp_dict, "__getattribute__", wrapper) < 0) {
        Py_XDECREF(wrapper);
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_SystemError, "globalhook: AttributeModule has no type dict");
        }
        return -1;
    }
    Py_DECREF(wrapper);
    PyType_Modified(&AttributeModule_Type);
    Py_INCREF(&AttributeModule_Type);
    if (PyModule_AddObject(module, "AttributeModule", (PyObject *)&AttributeModule_Type) < 0) {
        Py_DECREF(&AttributeModule_Type);
        return -1;
    }
    return 0;
}

/* ---- benchmarks/floor.py: what the generic paths cost when nothing is recorded ----
 *
 * Private, for measurement only (nothing in globalhook uses them): _FloorDict
 * is a dict subclass like TrackingDictBase whose lookup only looks up (a miss
 * goes on to the frame's builtins and hands the builtin back, as the tracking
 * dict does, without an exception); _FloorModule is a ModuleType subtype like
 * AttributeModule whose attribute lookup is ModuleType's own, called through a
 * slot of its own.  The distance from these to the tracking types is what
 * recording costs. */

static PyObject *
floor_subscript(PyObject *self, PyObject *name)
{
    PyObject *value;
    int found = gh_dict_get_ref(self, name, &value);
    if (found != 0) {
        return found > 0 ? value : NULL;
    }
    PyObject *builtins = PyEval_GetBuiltins();
    if (builtins != NULL && PyDict_Check(builtins)) {
        found = gh_dict_get_ref(builtins, name, &value);
        if (found != 0) {
            return found > 0 ? value : NULL;
        }
    }
    set_key_error(name);
    return NULL;
}

static PyMappingMethods floor_as_mapping = {
    NULL, /* mp_length: inherited from dict */
    floor_subscript,
    NULL, /* mp_ass_subscript: inherited from dict */
};

static PyTypeObject FloorDict_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "globalhook._ctracking._FloorDict",
};

static PyObject *
floor_module_getattro(PyObject *self, PyObject *name)
{
    return PyModule_Type.tp_getattro(self, name);
}

static PyTypeObject FloorModule_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "globalhook._ctracking._FloorModule",
};

static int
floor_types_ready(PyObject *module)
{
    FloorDict_Type.tp_base = &PyDict_Type;
    FloorDict_Type.tp_basicsize = PyDict_Type.tp_basicsize;
    FloorDict_Type.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
    FloorDict_Type.tp_traverse = PyDict_Type.tp_traverse;
    FloorDict_Type.tp_clear = PyDict_Type.tp_clear;
    FloorDict_Type.tp_as_mapping = &floor_as_mapping;
    FloorDict_Type.tp_doc = "benchmarks/floor.py only: a dict subclass whose lookup records nothing.";
    FloorModule_Type.tp_base = &PyModule_Type;
    FloorModule_Type.tp_basicsize = PyModule_Type.tp_basicsize;
    FloorModule_Type.tp_itemsize = PyModule_Type.tp_itemsize;
    FloorModule_Type.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
    FloorModule_Type.tp_getattro = floor_module_getattro;
    FloorModule_Type.tp_traverse = PyModule_Type.tp_traverse;
    FloorModule_Type.tp_clear = PyModule_Type.tp_clear;
    FloorModule_Type.tp_dealloc = PyModule_Type.tp_dealloc;
    FloorModule_Type.tp_free = PyModule_Type.tp_free;
    FloorModule_Type.tp_dictoffset = PyModule_Type.tp_dictoffset;
    FloorModule_Type.tp_weaklistoffset = PyModule_Type.tp_weaklistoffset;
    FloorModule_Type.tp_doc = "benchmarks/floor.py only: a module subtype whose attribute lookup records nothing.";
    if (PyType_Ready(&FloorDict_Type) < 0 || PyType_Ready(&FloorModule_Type) < 0) {
        return -1;
    }
    Py_INCREF(&FloorDict_Type);
    if (PyModule_AddObject(module, "_FloorDict", (PyObject *)&FloorDict_Type) < 0) {
        Py_DECREF(&FloorDict_Type);
        return -1;
    }
    Py_INCREF(&FloorModule_Type);
    if (PyModule_AddObject(module, "_FloorModule", (PyObject *)&FloorModule_Type) < 0) {
        Py_DECREF(&FloorModule_Type);
        return -1;
    }
    return 0;
}

/* ---- issue 11: live modules (retype a live dict in place) ---- */

/* A module imported before tracking started has an exact dict as its one
   namespace, and every function defined in it holds that same object as
   __globals__.  Changing the dict's ob_type to the tracking dict type (a heap
   subclass with __slots__ = (): the same layout, no managed dict or weakref
   slot) makes all of them tracked at once.  Instances of a heap type own a
   reference to it (subtype_dealloc drops one when the dict dies), so the type
   is INCREF'd once per retyped dict; a missing INCREF frees the type after
   enough retyped dicts die, and then crashes.  dict_dealloc's free list takes
   exact dicts only, so a retyped dict is never recycled as a plain one; GC
   tracking is the dict's own (subtype_traverse visits the type, which the
   INCREF accounts for).  Free-threaded builds stop the world around the store,
   as CPython's own __class__ assignment does. */

#if GH_FREE_THREADED
PyAPI_FUNC(void) _PyEval_StopTheWorld(PyInterpreterState *interp);
PyAPI_FUNC(void) _PyEval_StartTheWorld(PyInterpreterState *interp);
#endif

static int
retype_check_type(PyTypeObject *cls)
{
    unsigned long unsafe = 0;
#ifdef Py_TPFLAGS_MANAGED_DICT
    unsafe |= Py_TPFLAGS_MANAGED_DICT;
#endif
#ifdef Py_TPFLAGS_MANAGED_WEAKREF
    unsafe |= Py_TPFLAGS_MANAGED_WEAKREF;
#endif
#ifdef Py_TPFLAGS_INLINE_VALUES
    unsafe |= Py_TPFLAGS_INLINE_VALUES;
#endif
    if (!PyType_IsSubtype(cls, &PyDict_Type) || cls == &PyDict_Type ||
        !(cls->tp_flags & Py_TPFLAGS_HEAPTYPE) || (cls->tp_flags & unsafe) ||
        cls->tp_basicsize != PyDict_Type.tp_basicsize || cls->tp_itemsize != 0 ||
        cls->tp_dictoffset != 0 || cls->tp_weaklistoffset != 0 || cls->tp_free != PyDict_Type.tp_free) {
        PyErr_Format(PyExc_TypeError, "retype_dict: %.200s does not have the layout of dict", cls->tp_name);
        return -1;
    }
    return 0;
}

static void
retype_store(PyObject *obj, PyTypeObject *cls)
{
#if GH_FREE_THREADED
    PyInterpreterState *interp = PyInterpreterState_Get();
    _PyEval_StopTheWorld(interp);
    Py_SET_TYPE(obj, cls);
    _PyEval_StartTheWorld(interp);
#else
    Py_SET_TYPE(obj, cls);
#endif
}

static PyObject *
retype_dict(PyObject *module_, PyObject *args)
{
    (void)module_;
    PyObject *namespace;
    PyTypeObject *cls;
    if (!PyArg_ParseTuple(args, "OO!:retype_dict", &namespace, &PyType_Type, &cls)) {
        return NULL;
    }
    if (!PyDict_CheckExact(namespace)) {
        PyErr_Format(PyExc_TypeError, "retype_dict: expected an exact dict, got %.200s", Py_TYPE(namespace)->tp_name);
        return NULL;
    }
    if (retype_check_type(cls) < 0) {
        return NULL;
    }
    if (((PyDictObject *)namespace)->ma_values != NULL) {
        PyErr_SetString(PyExc_ValueError, "retype_dict: a split-table dict (an object's attribute dict)");
        return NULL;
    }
    Py_INCREF(cls); /* owned by the dict from now on: subtype_dealloc drops it */
    retype_store(namespace, cls);
    Py_RETURN_NONE;
}

static PyObject *
unretype_dict(PyObject *module_, PyObject *args)
{
    (void)module_;
    PyObject *namespace;
    PyTypeObject *cls;
    if (!PyArg_ParseTuple(args, "OO!:unretype_dict", &namespace, &PyType_Type, &cls)) {
        return NULL;
    }
    if (Py_TYPE(namespace) != cls || retype_check_type(cls) < 0) {
        PyErr_Format(PyExc_TypeError, "unretype_dict: expected a %.200s", cls->tp_name);
        return NULL;
    }
    retype_store(namespace, &PyDict_Type);
    Py_DECREF(cls); /* the reference retype_dict gave the dict */
    Py_RETURN_NONE;
}

/* The recorder's own containers are never garbage (nothing of the program's
 * points back into them), so the collector need not know of them, and then
 * gc.get_objects() does not list them either: a program that counts the
 * objects in its heap counts the same with and without tracking. */
/* Out of the collector's lists (a GC object only). */
static void
untrack(PyObject *obj)
{
#ifdef Py_GIL_DISABLED
    Py_BEGIN_CRITICAL_SECTION(obj);  /* the same lock a dict's own insertions take */
#endif
    if (PyObject_GC_IsTracked(obj)) {
        PyObject_GC_UnTrack(obj);
    }
#ifdef Py_GIL_DISABLED
    Py_END_CRITICAL_SECTION();
#endif
}

static PyObject *
hide_from_gc(PyObject *self, PyObject *obj)
{
    (void)self;
    if (PyObject_IS_GC(obj)) {
        untrack(obj);
    }
    Py_RETURN_NONE;
}

/* The slow path of a code object's first lookup in a new context (each test
 * phase of a labelled pytest run is one): tracking._new_tables and
 * tracking._file_tables in C, since a suite makes tens of thousands of them. */
static PyObject *new_tables_counted(Py_ssize_t n);

/* The collector's count of container allocations since its last pass over
 * the youngest generation (it runs a pass when the count passes a threshold),
 * or NULL where it cannot be reached (3.9, 3.10, the public frame API, free-
 * threaded builds, whose counts are per thread). */
static inline int *
young_count(void)
{
#ifdef GH_YOUNG_COUNT
    return &PyInterpreterState_Get()->gc.generations[0].count;
#else
    return NULL;
#endif
}

static PyObject *
new_tables(PyObject *self, PyObject *count)
{
    (void)self;
    Py_ssize_t n = PyLong_AsSsize_t(count);
    if (n < 0) {
        return n == -1 && PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "new_tables: bad count");
    }
    /* These containers are untracked, so no collection can ever find them:
     * they are not counted towards the next one.  A pytest run makes ten per
     * code object and test phase; counted, they ran the collector over the
     * program's whole heap far more often than the program alone would
     * (click's suite: 807 passes instead of 422), at the program's expense
     * and at other moments (finalizers of its cyclic garbage). */
    int *young = young_count();
    int before = young != NULL ? *young : 0;
    PyObject *tables = new_tables_counted(n);
    if (young != NULL && *young >= before) { /* else a pass ran meanwhile: it reset the count */
        *young = before;
    }
    return tables;
}

static PyObject *
new_tables_counted(Py_ssize_t n)
{
    PyObject *tables = PyTuple_New(n);
    if (tables == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *table = PyDict_New();
        if (table == NULL) {
            Py_DECREF(tables);
            return NULL;
        }
        untrack(table); /* fresh, seen by no other thread yet */
        PyTuple_SET_ITEM(tables, i, table);
    }
    untrack(tables);
    return tables;
}

static PyObject *
file_tables(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *outer, *key, *inner;
    if (!PyArg_ParseTuple(args, "O!OO!:file_tables", &PyTuple_Type, &outer, &key, &PyTuple_Type, &inner)) {
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(outer);
    if (PyTuple_GET_SIZE(inner) < n) {
        PyErr_SetString(PyExc_ValueError, "file_tables: fewer inner tables than outer ones");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *table = PyTuple_GET_ITEM(outer, i);
        if (!PyDict_Check(table)) {
            PyErr_SetString(PyExc_TypeError, "file_tables: an outer table is not a dict");
            return NULL;
        }
#if PY_VERSION_HEX >= 0x030D0000
        if (PyDict_SetDefaultRef(table, key, PyTuple_GET_ITEM(inner, i), NULL) < 0) {
            return NULL;
        }
#else
        if (PyDict_SetDefault(table, key, PyTuple_GET_ITEM(inner, i)) == NULL) {
            return NULL;
        }
#endif
        untrack(table);
    }
    Py_RETURN_NONE;
}

/* Runners that exec a script in a __main__ of their own (globalhook/runmain.py):
 * an audit hook in C, so that the program's other audited events (every
 * sys._getframe among them) cost a string compare, not a call into Python. */
static PyObject *runner_exec_callback = NULL;
static int runner_hook_added = 0;

static int
runner_audit_hook(const char *event, PyObject *args, void *user_data)
{
    (void)user_data;
    if (event[0] != 'e' || strcmp(event, "exec") != 0) {
        return 0;
    }
    PyObject *callback = runner_exec_callback;
    if (callback == NULL || !PyTuple_Check(args) || PyTuple_GET_SIZE(args) < 1
            || !PyCode_Check(PyTuple_GET_ITEM(args, 0))) {
        return 0;
    }
    Py_INCREF(callback);
    PyObject *result = PyObject_CallOneArg(callback, PyTuple_GET_ITEM(args, 0));
    Py_DECREF(callback);
    if (result == NULL) {
        PyErr_Clear();  /* never into the program's exec */
    }
    else {
        Py_DECREF(result);
    }
    return 0;
}

static PyObject *
watch_runner_execs(PyObject *self, PyObject *callback)
{
    (void)self;
    if (callback == Py_None) {
        Py_CLEAR(runner_exec_callback);
        Py_RETURN_NONE;
    }
    if (!runner_hook_added) {
        if (PySys_AddAuditHook(runner_audit_hook, NULL) < 0) {
            return NULL;
        }
        runner_hook_added = 1;
    }
    Py_INCREF(callback);
    Py_XSETREF(runner_exec_callback, callback);
    Py_RETURN_NONE;
}

/* ---- Configuration reads: which tracked code a read is charged to ----
 *
 * tracking.count_config walks from the reading frame up to the first frame
 * whose globals are a TrackingDict, and stops at the import system and at
 * globalhook's own files.  In Python that walk costs f_back (3.11+: a frame
 * object made for every frame passed), f_globals, f_code and co_filename per
 * frame, and pytest's stacks are deep: click's suite spent more on it than on
 * every recorded read.  The same walk here reads the frames in place.
 * config_caller(frame) -> (code, globals) of the frame found, None when the
 * walk stops or runs out of frames, NotImplemented when it cannot walk (the
 * caller then walks in Python). */
#if !defined(GH_PUBLIC_FRAMES)
#define GH_WALKS_CONFIG 1
static PyObject *walk_tracking_type = NULL; /* tracking.TrackingDict, held for good */
static PyObject *walk_stop_files = NULL;    /* a tuple of str: the import system's files */
static PyObject *walk_own_prefix = NULL;    /* globalhook's own folder */

static PyObject *
setup_config_walk(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *type, *stop_files, *own_prefix;
    if (!PyArg_ParseTuple(args, "O!O!U:setup_config_walk", &PyType_Type, &type, &PyTuple_Type, &stop_files,
                          &own_prefix)) {
        return NULL;
    }
    Py_INCREF(type);
    Py_XSETREF(walk_tracking_type, type);
    Py_INCREF(stop_files);
    Py_XSETREF(walk_stop_files, stop_files);
    Py_INCREF(own_prefix);
    Py_XSETREF(walk_own_prefix, own_prefix);
    Py_RETURN_NONE;
}

/* 1: charge this frame's code; 0: go on up; -1: stop (None); -2: error. */
static int
config_frame(PyObject *code, PyObject *globals)
{
    if (globals != NULL && (PyObject *)Py_TYPE(globals) == walk_tracking_type) {
        return 1;
    }
    if (code == NULL || !PyCode_Check(code)) {
        return 0;
    }
    PyObject *filename = ((PyCodeObject *)code)->co_filename;
    if (!PyUnicode_Check(filename)) {
        return 0;
    }
    int found = PySequence_Contains(walk_stop_files, filename);
    if (found != 0) {
        return found < 0 ? -2 : -1;
    }
    Py_ssize_t own = PyUnicode_Tailmatch(filename, walk_own_prefix, 0, PY_SSIZE_T_MAX, -1);
    if (own != 0) {
        return own < 0 ? -2 : -1;
    }
    return 0;
}

static PyObject *
config_caller(PyObject *module, PyObject *start)
{
    (void)module;
    if (walk_tracking_type == NULL || !PyFrame_Check(start)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
#if PY_VERSION_HEX < 0x030B0000
    for (PyFrameObject *frame = (PyFrameObject *)start; frame != NULL; frame = frame->f_back) {
        PyObject *code = (PyObject *)frame->f_code;
        int verdict = config_frame(code, frame->f_globals);
        if (verdict == 1) {
            return Py_BuildValue("(OO)", code, frame->f_globals);
        }
        if (verdict == -2) {
            return NULL;
        }
        if (verdict == -1) {
            break;
        }
    }
#else
    PyFrameObject *object = (PyFrameObject *)start;
    if (object->f_back != NULL || object->f_frame == NULL) {
        Py_RETURN_NOTIMPLEMENTED; /* not a running frame: f_back knows */
    }
    for (gh_frame *frame = object->f_frame; frame != NULL; frame = frame->previous) {
        if (_PyFrame_IsIncomplete(frame)) {
            continue; /* as f_back: entry frames and frames not started are skipped */
        }
        PyObject *code = (PyObject *)GH_CODE(frame);
        PyObject *globals = GH_GLOBALS(frame);
        int verdict = config_frame(code, globals);
        if (verdict == 1) {
            return Py_BuildValue("(OO)", code, globals);
        }
        if (verdict == -2) {
            return NULL;
        }
        if (verdict == -1) {
            break;
        }
    }
#endif
    Py_RETURN_NONE;
}
#endif

/* ---- The save: the recorder's rows read in C (tracking.Recorder.rows) ----
 *
 * At exit, a recording run turns every counter into a row (module, file,
 * line, function, name, kind, context, owner, count): tens of thousands per
 * test suite, which a Python generator makes several times slower.  These
 * functions build the same tuples; the caller pauses the cyclic collector
 * (no Python code runs in between, so a table cannot change under us on GIL
 * builds), and free-threaded builds hold each table's own lock while reading it. */

/* One inner table {name: Tally} as rows.  `module` NULL: each name's module
 * from `owners` (`unknown` when absent). 1 done, 0 a counter not a Tally, -1 error. */
static int
save_rows_of_inner(PyObject *rows, PyObject *inner, PyObject *owners, PyObject *module, PyObject *file,
                   PyObject *line, PyObject *function, PyObject *kind, PyObject *label, PyObject *owner,
                   PyObject *unknown)
{
    int result = 1;
#if GH_FREE_THREADED
    Py_BEGIN_CRITICAL_SECTION(inner);
#endif
    Py_ssize_t pos = 0;
    PyObject *name, *counter;
    while (PyDict_Next(inner, &pos, &name, &counter)) {
        if (Py_TYPE(counter) != &Tally_Type) {
            result = 0;
            break;
        }
        Py_ssize_t count = tally_read((TallyObject *)counter);
        if (count <= 0) {
            continue;
        }
        Py_INCREF(name);
        PyObject *of = module;
        if (of == NULL) {
            int found = gh_dict_get_ref(owners, name, &of);
            if (found < 0) {
                Py_DECREF(name);
                result = -1;
                break;
            }
            if (found == 0) {
                Py_INCREF(unknown);
                of = unknown;
            }
        }
        else {
            Py_INCREF(of);
        }
        PyObject *number = PyLong_FromSsize_t(count);
        PyObject *row = number == NULL ? NULL : PyTuple_Pack(9, of, file, line, function, name, kind, label, owner, number);
        Py_XDECREF(number);
        Py_DECREF(of);
        Py_DECREF(name);
        if (row == NULL || PyList_Append(rows, row) < 0) {
            Py_XDECREF(row);
            result = -1;
            break;
        }
        Py_DECREF(row);
    }
#if GH_FREE_THREADED
    Py_END_CRITICAL_SECTION();
#endif
    return result;
}

/* The tables of one record under one context label.  Same returns. */
static int
save_rows_of_tables(PyObject *rows, PyObject *tables, PyObject *label, PyObject *owners, PyObject *reader,
                    PyObject *file, PyObject *line, PyObject *function, PyObject *own_kinds,
                    PyObject *by_owner, PyObject *empty, PyObject *unknown)
{
    if (!PyTuple_Check(tables)) {
        return 0;
    }
    Py_ssize_t size = PyTuple_GET_SIZE(tables);
    for (Py_ssize_t at = 0; at < PyTuple_GET_SIZE(own_kinds) && at < size; at++) {
        PyObject *inner = PyTuple_GET_ITEM(tables, at);
        if (!PyDict_Check(inner)) {
            return 0;
        }
        if (PyDict_GET_SIZE(inner)) {
            int done = save_rows_of_inner(rows, inner, owners, NULL, file, line, function,
                                          PyTuple_GET_ITEM(own_kinds, at), label, empty, unknown);
            if (done <= 0) {
                return done;
            }
        }
    }
    for (Py_ssize_t at = 0; at < PyTuple_GET_SIZE(by_owner); at++) {
        PyObject *pair = PyTuple_GET_ITEM(by_owner, at);  /* (kind, index of its table) */
        Py_ssize_t index = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 1));
        if (index < 0 || index >= size) {
            return PyErr_Occurred() ? -1 : 0;
        }
        PyObject *outer = PyTuple_GET_ITEM(tables, index);
        if (!PyDict_Check(outer)) {
            return 0;
        }
        if (!PyDict_GET_SIZE(outer)) {
            continue;
        }
        PyObject *items = PyDict_Items(outer);  /* a snapshot, as list(by_owner.items()) */
        if (items == NULL) {
            return -1;
        }
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
            PyObject *item = PyList_GET_ITEM(items, i);
            PyObject *inner = PyTuple_GET_ITEM(item, 1);
            if (!PyDict_Check(inner)) {
                Py_DECREF(items);
                return 0;
            }
            int done = save_rows_of_inner(rows, inner, owners, reader, file, line, function,
                                          PyTuple_GET_ITEM(pair, 0), label, PyTuple_GET_ITEM(item, 0), unknown);
            if (done <= 0) {
                Py_DECREF(items);
                return done;
            }
        }
        Py_DECREF(items);
    }
    return 1;
}

/* save_rows(records, rows, own_kinds, by_owner, unknown) -> bool: append the rows of every
 * record to `rows`; False (rows left partly filled) when a table holds what this
 * does not read (the pure-Python core's counters): the caller takes the Python way. */
static PyObject *
save_rows(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *records, *rows, *own_kinds, *by_owner, *unknown;
    if (!PyArg_ParseTuple(args, "O!O!O!O!U:save_rows", &PyList_Type, &records, &PyList_Type, &rows,
                          &PyTuple_Type, &own_kinds, &PyTuple_Type, &by_owner, &unknown)) {
        return NULL;
    }
    for (Py_ssize_t at = 0; at < PyTuple_GET_SIZE(by_owner); at++) {
        PyObject *pair = PyTuple_GET_ITEM(by_owner, at);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 || !PyLong_Check(PyTuple_GET_ITEM(pair, 1))) {
            PyErr_SetString(PyExc_TypeError, "save_rows: by_owner holds (kind, table index) pairs");
            return NULL;
        }
    }
    PyObject *empty = PyUnicode_FromStringAndSize("", 0);
    if (empty == NULL) {
        return NULL;
    }
    int done = 1;
    Py_ssize_t count = PyList_GET_SIZE(records);
    for (Py_ssize_t at = 0; at < count && done > 0; at++) {
        PyObject *record = PyList_GET_ITEM(records, at);
        PyObject *owners = NULL, *reader = NULL, *file = NULL, *line = NULL, *function = NULL;
        PyObject *tables = NULL, *contexts = NULL, *labelled = NULL;
        done = -1;
        if ((owners = PyObject_GetAttrString(record, "owners")) == NULL
                || (reader = PyObject_GetAttrString(record, "reader")) == NULL
                || (file = PyObject_GetAttrString(record, "file")) == NULL
                || (line = PyObject_GetAttrString(record, "line")) == NULL
                || (function = PyObject_GetAttrString(record, "function")) == NULL
                || (tables = PyObject_GetAttrString(record, "tables")) == NULL
                || (contexts = PyObject_GetAttrString(record, "contexts")) == NULL) {
            goto next;
        }
        if (!PyDict_Check(owners)) {
            done = 0;
            goto next;
        }
        int truthy = PyObject_IsTrue(reader);  /* record.reader or "<unknown>" */
        if (truthy < 0) {
            goto next;
        }
        if (!truthy) {
            Py_INCREF(unknown);
            Py_SETREF(reader, unknown);
        }
        done = save_rows_of_tables(rows, tables, empty, owners, reader, file, line, function, own_kinds,
                                   by_owner, empty, unknown);
        if (done <= 0) {
            goto next;
        }
        truthy = PyObject_IsTrue(contexts);
        if (truthy < 0) {
            done = -1;
            goto next;
        }
        if (truthy) {
            if (!PyDict_Check(contexts)) {
                done = 0;
                goto next;
            }
            labelled = PyDict_Items(contexts);
            if (labelled == NULL) {
                done = -1;
                goto next;
            }
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(labelled) && done > 0; i++) {
                PyObject *item = PyList_GET_ITEM(labelled, i);
                done = save_rows_of_tables(rows, PyTuple_GET_ITEM(item, 1), PyTuple_GET_ITEM(item, 0), owners, reader,
                                           file, line, function, own_kinds, by_owner, empty, unknown);
            }
        }
    next:
        Py_XDECREF(owners);
        Py_XDECREF(reader);
        Py_XDECREF(file);
        Py_XDECREF(line);
        Py_XDECREF(function);
        Py_XDECREF(tables);
        Py_XDECREF(contexts);
        Py_XDECREF(labelled);
    }
    Py_DECREF(empty);
    if (done < 0) {
        return NULL;
    }
    return PyBool_FromLong(done);
}

/* ---- end of the save's block ---- */

static PyMethodDef module_methods[] = {
    {"save_rows", save_rows, METH_VARARGS,
     "save_rows(records, rows, own_kinds, by_owner, unknown): append the recorder's rows of these records (the save)."},
    {"setup", setup, METH_VARARGS, "Connect the compiled core to tracking.py's tables and slow paths."},
    {"setup_reads", setup_reads, METH_VARARGS,
     "Connect the interpreter's probes and reads of another module's namespace to tracking.py."},
    {"watch_runner_execs", watch_runner_execs, METH_O,
     "watch_runner_execs(callback): call callback(code) before every exec of a code object (None: stop)."},
    {"hide_from_gc", hide_from_gc, METH_O,
     "hide_from_gc(obj): untrack one of the recorder's own containers, which cannot be part of a cycle."},
    {"new_tables", new_tables, METH_O, "new_tables(n): a tuple of n new empty dicts, all hidden from the collector."},
    {"file_tables", file_tables, METH_VARARGS,
     "file_tables(outer, key, inner): outer[i].setdefault(key, inner[i]) for each outer table, hidden again."},
    {"new_epoch", new_epoch, METH_NOARGS, "The context changed: cached per-code tables are stale."},
#ifdef GH_WALKS_CONFIG
    {"setup_config_walk", setup_config_walk, METH_VARARGS, "What config_caller looks for and where it stops."},
    {"config_caller", config_caller, METH_O, "The tracked code a configuration read is charged to, and its globals."},
#endif
    {"clear_counts", clear_counts, METH_O, "clear_counts(table): empty an inner table and every cached counter."},
    {"set_module_dict", set_module_dict, METH_VARARGS,
     "set_module_dict(module, namespace): make a tracking dict a fresh module's __dict__."},
    {"watch_writes", watch_writes, METH_O,
     "watch_writes(namespace): count its global writes (STORE_GLOBAL/DELETE_GLOBAL); False before 3.12."},
    {"unwatch_writes", unwatch_writes, METH_O, "unwatch_writes(namespace): stop counting its global writes."},
    {"flush_writes", flush_writes, METH_NOARGS, "Count the global writes still pending (first sights)."},
    {"namespace_version", namespace_version, METH_NOARGS,
     "A number that changes whenever a watched namespace changes (3.12+; None before)."},
    {"lost_writes", lost_writes, METH_NOARGS, "How many global writes could not be counted (no memory)."},
    {"writes_after_fork", writes_after_fork, METH_NOARGS, "In a forked child (free-threaded): free the pending writes' lock."},
    {"class_bodies", class_bodies, METH_VARARGS,
     "class_bodies(original, observe, restore, implicit): the __build_class__ that observes tracked class bodies."},
    {"setup_attributes", setup_attributes, METH_O, "Connect the attribute reads to tracking._first_attribute."},
    {"retype_dict", retype_dict, METH_VARARGS,
     "retype_dict(d, cls): make the exact dict d an instance of cls (a dict subclass of the same layout), in place."},
    {"unretype_dict", unretype_dict, METH_VARARGS,
     "unretype_dict(d, cls): make d, retyped to cls by retype_dict, an exact dict again."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "globalhook._ctracking",
    .m_doc = "The compiled core of globalhook's tracking dict (optional).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__ctracking(void)
{
#if GH_FREE_THREADED
    table_watcher = PyDict_AddWatcher(table_changed);
    if (table_watcher < 0) {
        return NULL;
    }
#endif
    extra_index = GH_REQUEST_INDEX(free_extra);
    if (extra_index < 0) {
        PyErr_SetString(PyExc_ImportError, "globalhook._ctracking: no free co_extra index");
        return NULL;
    }
    Tally_Type.tp_basicsize = sizeof(TallyObject);
    Tally_Type.tp_flags = Py_TPFLAGS_DEFAULT;
    Tally_Type.tp_new = tally_new;
    Tally_Type.tp_iter = PyObject_SelfIter;
    Tally_Type.tp_iternext = tally_next;
    Tally_Type.tp_repr = tally_repr;
    Tally_Type.tp_getset = tally_getset;
#if GH_FREE_THREADED
    Tally_Type.tp_dealloc = tally_dealloc;
#endif
    Tally_Type.tp_doc = "A step counter read like itertools.count (repr and next).";
    if (PyType_Ready(&Tally_Type) < 0) {
        return NULL;
    }
    TrackingDictBase_Type.tp_base = &PyDict_Type;
    TrackingDictBase_Type.tp_basicsize = PyDict_Type.tp_basicsize;
    TrackingDictBase_Type.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC;
    TrackingDictBase_Type.tp_traverse = PyDict_Type.tp_traverse;
    TrackingDictBase_Type.tp_clear = PyDict_Type.tp_clear;
    TrackingDictBase_Type.tp_as_mapping = &tracking_as_mapping;
    TrackingDictBase_Type.tp_doc = "A dict whose lookups, stores and deletes are counted per calling code object.";
    if (PyType_Ready(&TrackingDictBase_Type) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
#if GH_FREE_THREADED
    if (PyUnstable_Module_SetGIL(module, Py_MOD_GIL_NOT_USED) < 0) {
        Py_DECREF(module);
        return NULL;
    }
#endif
    Py_INCREF(&TrackingDictBase_Type);
    if (PyModule_AddObject(module, "TrackingDictBase", (PyObject *)&TrackingDictBase_Type) < 0) {
        Py_DECREF(&TrackingDictBase_Type);
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddIntConstant(module, "API", GH_API) < 0 ||
        PyModule_AddStringConstant(module, "FRAMES", GH_FRAMES) < 0 ||
        PyModule_AddIntConstant(module, "FREE_THREADED", GH_FREE_THREADED) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    Py_INCREF(&Tally_Type);
    if (PyModule_AddObject(module, "Tally", (PyObject *)&Tally_Type) < 0) {
        Py_DECREF(&Tally_Type);
        Py_DECREF(module);
        return NULL;
    }
    /* issue 11: global writes (3.12+: a dict watcher of their own, apart from the tables') */
#ifdef GH_WATCHES_WRITES
    writes_extra_index = GH_REQUEST_INDEX(free_write_sites);
    if (writes_extra_index < 0) {
        PyErr_SetString(PyExc_ImportError, "globalhook._ctracking: no free co_extra index");
        Py_DECREF(module);
        return NULL;
    }
    writes_watcher = PyDict_AddWatcher(global_written);
    if (writes_watcher < 0) {
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddIntConstant(module, "WATCHES_WRITES", 1) < 0) {
#else
    if (PyModule_AddIntConstant(module, "WATCHES_WRITES", 0) < 0) {
#endif
        Py_DECREF(module);
        return NULL;
    }
    if (class_bodies_init(module) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    if (attribute_module_ready(module) < 0 || floor_types_ready(module) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
