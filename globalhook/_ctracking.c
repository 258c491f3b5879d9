/* The compiled core: the tracking dict's lookup, store and delete in C.
 *
 * It records exactly what the pure-Python core in tracking.py records, in the
 * same tables: per kind, id(code) -> {name: counter}.  The tables for one
 * code object are fetched once through tracking._code_tables and then cached
 * on the code object itself (PEP 523's co_extra), so the hot path is a frame
 * read, one dict lookup and one counter step.  Anything seen for the first
 * time goes through tracking._first, shared by both cores.
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

/* Bumped whenever tracking.py and this file must change together. */
#define GH_API 5

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
#if PY_VERSION_HEX >= 0x030E0000
#include "internal/pycore_interpframe.h" /* 3.14 split the frame header */
#else
#include "internal/pycore_frame.h"
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
#define GH_STORE_U64(v, x) _Py_atomic_store_uint64_release(&(v), (x))
#else
#define GH_FREE_THREADED 0
#define GH_LOCK()
#define GH_UNLOCK()
#define GH_LOAD_PTR(p) (p)
#define GH_STORE_PTR(p, v) ((p) = (v))
#define GH_LOAD_U64(v) (v)
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

enum { KIND_GLOBAL, KIND_BUILTIN, KIND_MISSING, KIND_STORE, KIND_DELETE };

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
tally_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    if ((kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) || PyTuple_GET_SIZE(args) != 0) {
        PyErr_SetString(PyExc_TypeError, "Tally() takes no arguments");
        return NULL;
    }
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
    return PyLong_FromSsize_t(tally_read((TallyObject *)self));
}

static PyGetSetDef tally_getset[] = {
    {"value", tally_get_value, NULL, "How many steps so far.", NULL},
    {NULL},
};

static PyTypeObject Tally_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    "globalhook._ctracking.Tally", /* tp_name */
};

/* Set once by setup(): the shared Python helpers. */
static PyObject *code_tables_func = NULL; /* code -> tuple of inner tables, KINDS order */
static PyObject *first_func = NULL;       /* (kind, code, name, namespace) -> None */
static PyObject *load_sites_func = NULL;  /* code -> frozenset of name-loading offsets */
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

#if GH_FREE_THREADED
/* Free-threaded builds find a counter without the dict: a dict lookup takes
 * a reference to the counter, and threads counting the same name would all
 * write its reference count.  Per code object and kind, an open-addressing
 * table of (interned name, counter), filled from the dict under the lock and
 * read without one.  It holds references, so a counter it hands out is
 * alive; a table that is replaced (grown, or dropped because the dict tables
 * lost entries: Recorder.clear, forget_file, seen by a dict watcher) is kept
 * until the code object goes, as a thread may still be reading it. */
typedef struct {
    PyObject *name;
    PyObject *tally;
} cache_entry_t;

typedef struct cache_s {
    Py_ssize_t mask; /* capacity - 1, capacity a power of two */
    Py_ssize_t used;
    int owns_refs;   /* 0 once grown into a successor that took them over */
    struct cache_s *retired;
    cache_entry_t entries[1];
} cache_t;

/* Bumped when a dict table loses or replaces an entry: every cache is stale. */
static uint64_t tables_epoch;
static int table_watcher = -1;

static int
table_changed(PyDict_WatchEvent event, PyObject *dict, PyObject *key, PyObject *new_value)
{
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
#if GH_FREE_THREADED
    cache_t *cache[KIND_DELETE + 1];
    uint64_t epoch;       /* tables_epoch the caches were filled in */
    cache_t *retired;     /* replaced caches, freed with the code object */
#endif
} code_extra_t;

#if GH_FREE_THREADED
static void
free_cache(cache_t *cache)
{
    if (cache->owns_refs) {
        for (Py_ssize_t i = 0; i <= cache->mask; i++) {
            Py_XDECREF(cache->entries[i].name);
            Py_XDECREF(cache->entries[i].tally);
        }
    }
    PyMem_RawFree(cache);
}

/* The counter for `name`, borrowed, or NULL (not cached: ask the dict). */
static inline PyObject *
cache_find(code_extra_t *extra, int kind, PyObject *name)
{
    if (_Py_atomic_load_uint64_relaxed(&tables_epoch) != _Py_atomic_load_uint64_acquire(&extra->epoch)) {
        return NULL;
    }
    cache_t *cache = (cache_t *)_Py_atomic_load_ptr_acquire(&extra->cache[kind]);
    if (cache == NULL) {
        return NULL;
    }
    Py_ssize_t i = (Py_ssize_t)(((uintptr_t)name >> 4) & (uintptr_t)cache->mask);
    for (Py_ssize_t probes = 0; probes <= cache->mask; probes++) {
        PyObject *key = (PyObject *)_Py_atomic_load_ptr_acquire(&cache->entries[i].name);
        if (key == name) {
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
cache_insert(cache_t *cache, PyObject *name, PyObject *tally)
{
    Py_ssize_t i = (Py_ssize_t)(((uintptr_t)name >> 4) & (uintptr_t)cache->mask);
    while (cache->entries[i].name != NULL) {
        if (cache->entries[i].name == name) {
            return;
        }
        i = (i + 1) & cache->mask;
    }
    cache->entries[i].tally = tally;
    _Py_atomic_store_ptr_release(&cache->entries[i].name, name);
    cache->used++;
}

/* Remember `tally` as the counter of `name` (an interned str) for this kind. */
static void
cache_add(code_extra_t *extra, int kind, PyObject *name, PyObject *tally)
{
    if (!PyUnicode_CheckExact(name) || !PyUnicode_CHECK_INTERNED(name)) {
        return; /* looked up by identity: only names that are always the same object */
    }
    GH_LOCK();
    uint64_t epoch = _Py_atomic_load_uint64_relaxed(&tables_epoch);
    if (extra->epoch != epoch) { /* stale: start again, keep the old ones for readers */
        for (int k = 0; k <= KIND_DELETE; k++) {
            cache_t *old = extra->cache[k];
            if (old != NULL) {
                _Py_atomic_store_ptr_release(&extra->cache[k], NULL);
                old->retired = extra->retired;
                extra->retired = old;
            }
        }
        _Py_atomic_store_uint64_release(&extra->epoch, epoch);
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
                    cache_insert(grown, cache->entries[i].name, cache->entries[i].tally);
                }
            }
            cache->owns_refs = 0;
            cache->retired = extra->retired;
            extra->retired = cache;
        }
        _Py_atomic_store_ptr_release(&extra->cache[kind], grown);
        cache = grown;
    }
    if (cache_find(extra, kind, name) == NULL) {
        Py_INCREF(name);
        Py_INCREF(tally);
        cache_insert(cache, name, tally);
    }
    GH_UNLOCK();
}
#endif

static void
free_extra(void *pointer)
{
    code_extra_t *extra = (code_extra_t *)pointer;
    if (extra == NULL) {
        return;
    }
    Py_XDECREF(extra->tables);
    PyMem_Free(extra->sites);
#if GH_FREE_THREADED
    for (int k = 0; k <= KIND_DELETE; k++) {
        if (extra->cache[k] != NULL) {
            free_cache(extra->cache[k]);
        }
    }
    while (extra->retired != NULL) {
        cache_t *next = extra->retired->retired;
        free_cache(extra->retired);
        extra->retired = next;
    }
#endif
    PyMem_Free(extra);
}

/* Free-threaded builds: a dict watcher on every table, so that the lock-free
 * caches learn when a table loses entries.  Nothing to do elsewhere. */
static int
watch_tables(PyObject *tables)
{
#if GH_FREE_THREADED
    for (int k = 0; k <= KIND_DELETE; k++) {
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
static code_extra_t *
extra_for(PyCodeObject *code)
{
    void *found = NULL;
    if (GH_GET_EXTRA((PyObject *)code, extra_index, &found) < 0) {
        return NULL;
    }
    uint64_t context = GH_LOAD_U64(context_epoch);
    if (found != NULL && GH_LOAD_U64(((code_extra_t *)found)->context) == context) {
        return (code_extra_t *)found;
    }
    PyObject *tables = PyObject_CallFunctionObjArgs(code_tables_func, (PyObject *)code, NULL);
    if (tables == NULL) {
        return NULL;
    }
    if (!PyTuple_Check(tables) || PyTuple_GET_SIZE(tables) <= KIND_DELETE) {
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
#if GH_FREE_THREADED
    extra->epoch = _Py_atomic_load_uint64_relaxed(&tables_epoch);
#endif
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

/* Count one lookup of `name` of one kind for `code`. */
static int
count_one(PyCodeObject *code, code_extra_t *extra, int kind, PyObject *name, PyObject *namespace)
{
    PyObject *table = PyTuple_GET_ITEM((PyObject *)GH_LOAD_PTR(extra->tables), kind);
    PyObject *counter;
#if GH_FREE_THREADED
    counter = cache_find(extra, kind, name);
    if (counter != NULL) {
        tally_step((TallyObject *)counter);
        return 0;
    }
    /* Another thread may empty the table (Recorder.clear): hold the counter. */
    int found = PyDict_GetItemRef(table, name, &counter);
    if (found < 0) {
        return -1;
    }
    if (found && Py_TYPE(counter) == &Tally_Type) {
        cache_add(extra, kind, name, counter);
    }
#else
    counter = PyDict_GetItemWithError(table, name);
    int found = counter != NULL;
    if (!found && PyErr_Occurred()) {
        return -1;
    }
#endif
    if (!found) {
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
#if GH_FREE_THREADED
    Py_DECREF(counter);
#endif
    return status;
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

/* Is the caller's current instruction one that loads a name (so that CPython
 * would go on to the builtins itself after a miss)? */
static int
at_load_site(caller_t *caller, code_extra_t *extra)
{
    load_sites_t *sites = (load_sites_t *)GH_LOAD_PTR(extra->sites);
    if (sites == NULL) {
        load_sites_t *made = make_load_sites(caller->code);
        if (made == NULL) {
            return -1;
        }
        GH_LOCK();
        sites = extra->sites;
        if (sites == NULL) {
            GH_STORE_PTR(extra->sites, made);
            sites = made;
            made = NULL;
        }
        GH_UNLOCK();
        PyMem_Free(made);
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
    code_extra_t *extra = extra_for(caller.code);
    if (extra == NULL) {
        Py_XDECREF(value);
        return NULL;
    }
    if (value == NULL) {
        return not_a_global(self, name, &caller, extra);
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
    "globalhook._ctracking.TrackingDictBase", /* tp_name */
};

static PyObject *
setup(PyObject *module, PyObject *args)
{
    PyObject *code_tables, *first, *load_sites;
    if (!PyArg_ParseTuple(args, "OOO:setup", &code_tables, &first, &load_sites)) {
        return NULL;
    }
    Py_INCREF(code_tables);
    Py_XSETREF(code_tables_func, code_tables);
    Py_INCREF(first);
    Py_XSETREF(first_func, first);
    Py_INCREF(load_sites);
    Py_XSETREF(load_sites_func, load_sites);
    Py_RETURN_NONE;
}

/* tracking.py switched context: every cached per-code table is stale. */
static PyObject *
new_epoch(PyObject *module, PyObject *unused)
{
#if GH_FREE_THREADED
    _Py_atomic_add_uint64(&context_epoch, 1);
    _Py_atomic_add_uint64(&tables_epoch, 1); /* and the lock-free counter caches with them */
#else
    context_epoch++;
#endif
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
    PyObject *module, *namespace;
    if (!PyArg_ParseTuple(args, "OO:set_module_dict", &module, &namespace)) {
        return NULL;
    }
    if (!PyModule_CheckExact(module)) {
        PyErr_Format(PyExc_TypeError, "set_module_dict: expected exactly types.ModuleType, got %.200s",
                     Py_TYPE(module)->tp_name);
        return NULL;
    }
    PyTypeObject *type = Py_TYPE(namespace);
    if (!PyObject_TypeCheck(namespace, &TrackingDictBase_Type) || type->tp_basicsize != PyDict_Type.tp_basicsize ||
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

static PyMethodDef module_methods[] = {
    {"setup", setup, METH_VARARGS, "Connect the compiled core to tracking.py's tables and slow paths."},
    {"new_epoch", new_epoch, METH_NOARGS, "The context changed: cached per-code tables are stale."},
    {"set_module_dict", set_module_dict, METH_VARARGS,
     "set_module_dict(module, namespace): make a tracking dict a fresh module's __dict__."},
    {"retype_dict", retype_dict, METH_VARARGS,
     "retype_dict(d, cls): make the exact dict d an instance of cls (a dict subclass of the same layout), in place."},
    {"unretype_dict", unretype_dict, METH_VARARGS,
     "unretype_dict(d, cls): make d, retyped to cls by retype_dict, an exact dict again."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "globalhook._ctracking",
    "The compiled core of globalhook's tracking dict (optional).",
    -1,
    module_methods,
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
    return module;
}
