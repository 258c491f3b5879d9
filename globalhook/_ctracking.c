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
#define GH_API 3

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
#else
#define GH_FREE_THREADED 0
#define GH_LOCK()
#define GH_UNLOCK()
#define GH_LOAD_PTR(p) (p)
#define GH_STORE_PTR(p, v) ((p) = (v))
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
 * threads: a step is atomic on free-threaded builds, and done with the GIL
 * held on the others. */
typedef struct {
    PyObject_HEAD
    Py_ssize_t value;
} TallyObject;

/* Count one; return the value before the step. */
static inline Py_ssize_t
tally_step(TallyObject *tally)
{
#if GH_FREE_THREADED
    return _Py_atomic_add_ssize(&tally->value, 1);
#else
    return tally->value++;
#endif
}

static inline Py_ssize_t
tally_read(TallyObject *tally)
{
#if GH_FREE_THREADED
    return _Py_atomic_load_ssize_relaxed(&tally->value);
#else
    return tally->value;
#endif
}

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
    }
    return (PyObject *)self;
}

static PyObject *
tally_next(PyObject *self)
{
    return PyLong_FromSsize_t(tally_step((TallyObject *)self));
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

/* The offsets of a code object's name-loading instructions (tracking._load_sites),
 * one bit per code unit: a test of the caller's instruction allocates nothing. */
typedef struct {
    Py_ssize_t units; /* bits in `bits` */
    unsigned char bits[1];
} load_sites_t;

typedef struct {
    PyObject *tables;     /* tuple of dicts, shared with tracking.py; set before publishing */
    load_sites_t *sites;  /* NULL until first needed */
} code_extra_t;

static void
free_extra(void *pointer)
{
    code_extra_t *extra = (code_extra_t *)pointer;
    if (extra == NULL) {
        return;
    }
    Py_XDECREF(extra->tables);
    PyMem_Free(extra->sites);
    PyMem_Free(extra);
}

/* The tables of one code object, from its co_extra slot or made on first sight. */
static code_extra_t *
extra_for(PyCodeObject *code)
{
    void *found = NULL;
    if (GH_GET_EXTRA((PyObject *)code, extra_index, &found) < 0) {
        return NULL;
    }
    if (found != NULL) {
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
        goto done;
    }
    extra = (code_extra_t *)PyMem_Calloc(1, sizeof(code_extra_t));
    if (extra == NULL) {
        PyErr_NoMemory();
        goto done;
    }
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
    PyObject *table = PyTuple_GET_ITEM(extra->tables, kind);
    PyObject *counter;
#if GH_FREE_THREADED
    /* Another thread may empty the table (Recorder.clear): hold the counter. */
    int found = PyDict_GetItemRef(table, name, &counter);
    if (found < 0) {
        return -1;
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

/* A name that is not in the namespace: count it as builtin or missing, then
 * hand back the builtin at a name-loading site or raise KeyError. */
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
        int site = at_load_site(caller, extra);
        if (site < 0) {
            Py_DECREF(value);
            return NULL;
        }
        if (site) {
            return value;
        }
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

static PyMethodDef module_methods[] = {
    {"setup", setup, METH_VARARGS, "Connect the compiled core to tracking.py's tables and slow paths."},
    {"set_module_dict", set_module_dict, METH_VARARGS,
     "set_module_dict(module, namespace): make a tracking dict a fresh module's __dict__."},
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
