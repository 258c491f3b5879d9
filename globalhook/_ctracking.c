/* The compiled core: the tracking dict's lookup, store and delete in C.
 *
 * It records exactly what the pure-Python core in tracking.py records, in the
 * same tables: per kind, id(code) -> {name: itertools.count}.  The tables for
 * one code object are fetched once through tracking._code_tables and then
 * cached on the code object itself (PEP 523's co_extra), so the hot path is a
 * frame read, one dict lookup and one counter step.  Anything seen for the
 * first time goes through tracking._first, shared by both cores.
 *
 * Built when a compiler is present; tracking.py falls back to Python without
 * it, and GLOBALHOOK_CORE=python forces the fallback.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

/* On 3.11-3.13 the caller's code, globals, builtins and instruction are read
 * from the interpreter's own frame record: PyEval_GetFrame() would allocate
 * a frame object for every new call, which costs more than the lookup. */
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030E0000 && !defined(GH_PUBLIC_API_ONLY)
#define GH_INTERNAL_FRAMES 1
#ifndef Py_BUILD_CORE
#define Py_BUILD_CORE 1
#endif
#include "internal/pycore_frame.h"
#else
#define GH_INTERNAL_FRAMES 0
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

/* Bumped whenever tracking.py and this file must change together. */
#define GH_API 3

enum { KIND_GLOBAL, KIND_BUILTIN, KIND_MISSING, KIND_STORE, KIND_DELETE };

/* A counter that steps without allocating: itertools.count hands back a new
 * int on every step.  next() works on it like on itertools.count, so the
 * shared slow path in tracking.py can create and step it too; exact under
 * threads because every step happens with the GIL held. */
typedef struct {
    PyObject_HEAD
    Py_ssize_t value;
} TallyObject;

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
    return PyLong_FromSsize_t(((TallyObject *)self)->value++);
}

static PyObject *
tally_repr(PyObject *self)
{
    return PyUnicode_FromFormat("count(%zd)", ((TallyObject *)self)->value);
}

static PyObject *
tally_get_value(PyObject *self, void *closure)
{
    return PyLong_FromSsize_t(((TallyObject *)self)->value);
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
/* Bumped by new_epoch() whenever tracking.py switches context: tables cached
 * under an older epoch belong to another context and are fetched again. */
static Py_ssize_t context_epoch = 0;

typedef struct {
    PyObject *tables; /* tuple of dicts, shared with tracking.py */
    PyObject *sites;  /* frozenset of ints, or NULL until first needed */
    Py_ssize_t epoch; /* context_epoch when tables was fetched */
} code_extra_t;

static void
free_extra(void *pointer)
{
    code_extra_t *extra = (code_extra_t *)pointer;
    if (extra == NULL) {
        return;
    }
    Py_XDECREF(extra->tables);
    Py_XDECREF(extra->sites);
    PyMem_Free(extra);
}

/* The tables of one code object for the current context, from its co_extra
 * slot or made on first sight (and again after a context switch). */
static code_extra_t *
extra_for(PyCodeObject *code)
{
    void *found = NULL;
    if (GH_GET_EXTRA((PyObject *)code, extra_index, &found) < 0) {
        return NULL;
    }
    if (found != NULL && ((code_extra_t *)found)->epoch == context_epoch) {
        return (code_extra_t *)found;
    }
    Py_ssize_t epoch = context_epoch;
    PyObject *tables = PyObject_CallFunctionObjArgs(code_tables_func, (PyObject *)code, NULL);
    if (tables == NULL) {
        return NULL;
    }
    if (!PyTuple_Check(tables) || PyTuple_GET_SIZE(tables) <= KIND_DELETE) {
        Py_DECREF(tables);
        PyErr_SetString(PyExc_SystemError, "globalhook: _code_tables returned a bad value");
        return NULL;
    }
    /* The call ran Python code: another thread may have got here first. */
    if (GH_GET_EXTRA((PyObject *)code, extra_index, &found) < 0) {
        Py_DECREF(tables);
        return NULL;
    }
    if (found != NULL) {
        code_extra_t *extra = (code_extra_t *)found;
        if (extra->epoch != epoch) {
            Py_SETREF(extra->tables, tables);
            extra->epoch = epoch;
        }
        else {
            Py_DECREF(tables);
        }
        return extra;
    }
    code_extra_t *extra = (code_extra_t *)PyMem_Calloc(1, sizeof(code_extra_t));
    if (extra == NULL) {
        Py_DECREF(tables);
        PyErr_NoMemory();
        return NULL;
    }
    extra->tables = tables;
    extra->epoch = epoch;
    if (GH_SET_EXTRA((PyObject *)code, extra_index, extra) < 0) {
        free_extra(extra);
        return NULL;
    }
    return extra;
}

/* Count one lookup of `name` of one kind for `code`. */
static int
count_one(PyCodeObject *code, code_extra_t *extra, int kind, PyObject *name, PyObject *namespace)
{
    PyObject *table = PyTuple_GET_ITEM(extra->tables, kind);
    PyObject *counter = PyDict_GetItemWithError(table, name);
    if (counter == NULL) {
        if (PyErr_Occurred()) {
            return -1;
        }
        PyObject *result = PyObject_CallFunction(first_func, "iOOO", kind, (PyObject *)code, name, namespace);
        if (result == NULL) {
            return -1;
        }
        Py_DECREF(result);
        return 0;
    }
    if (Py_TYPE(counter) == &Tally_Type) {
        ((TallyObject *)counter)->value++;
        return 0;
    }
    PyObject *step = Py_TYPE(counter)->tp_iternext(counter);
    if (step == NULL) {
        return -1;
    }
    Py_DECREF(step);
    return 0;
}

/* What the hot path needs to know about the code that asked (borrowed). */
typedef struct {
    PyCodeObject *code;
    PyObject *globals;
    PyObject *builtins;
#if GH_INTERNAL_FRAMES
    _PyInterpreterFrame *frame;
#else
    PyFrameObject *frame;
#endif
} caller_t;

/* The innermost complete Python frame, as PyEval_GetFrame() and
 * sys._getframe() see it.  Returns 0 when no Python code is running. */
static int
find_caller(caller_t *caller)
{
#if GH_INTERNAL_FRAMES
    PyThreadState *tstate = PyThreadState_Get();
#if PY_VERSION_HEX >= 0x030D0000
    _PyInterpreterFrame *frame = tstate->current_frame;
#else
    _PyInterpreterFrame *frame = tstate->cframe->current_frame;
#endif
    while (frame != NULL && _PyFrame_IsIncomplete(frame)) {
        frame = frame->previous;
    }
    if (frame == NULL) {
        return 0;
    }
#if PY_VERSION_HEX >= 0x030D0000
    caller->code = _PyFrame_GetCode(frame);
#else
    caller->code = frame->f_code;
#endif
    caller->globals = frame->f_globals;
    caller->builtins = frame->f_builtins;
    caller->frame = frame;
#else
    PyFrameObject *frame = PyEval_GetFrame();
    if (frame == NULL) {
        return 0;
    }
    caller->code = frame->f_code;
    caller->globals = frame->f_globals;
    caller->builtins = frame->f_builtins;
    caller->frame = frame;
#endif
    return 1;
}

/* The offset of the caller's current instruction, as frame.f_lasti gives it. */
static int
caller_lasti(caller_t *caller)
{
#if GH_INTERNAL_FRAMES
    int lasti = _PyInterpreterFrame_LASTI(caller->frame);
    return lasti < 0 ? -1 : lasti * (int)sizeof(_Py_CODEUNIT);
#elif PY_VERSION_HEX >= 0x030A0000
    return caller->frame->f_lasti < 0 ? -1 : caller->frame->f_lasti * (int)sizeof(_Py_CODEUNIT);
#else
    return caller->frame->f_lasti;
#endif
}

/* Is the caller's current instruction one that loads a name (so that CPython
 * would go on to the builtins itself after a miss)? */
static int
at_load_site(caller_t *caller, code_extra_t *extra)
{
    if (extra->sites == NULL) {
        PyObject *sites = PyObject_CallFunctionObjArgs(load_sites_func, (PyObject *)caller->code, NULL);
        if (sites == NULL) {
            return -1;
        }
        if (extra->sites == NULL) {
            extra->sites = sites;
        }
        else {
            Py_DECREF(sites);
        }
    }
    PyObject *offset = PyLong_FromLong(caller_lasti(caller));
    if (offset == NULL) {
        return -1;
    }
    int found = PySet_Contains(extra->sites, offset);
    Py_DECREF(offset);
    return found;
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
    PyObject *builtins = caller->builtins;
    PyObject *value = NULL;
    int exact = 0;
    Py_INCREF(builtins); /* counting may run Python code */
    if (PyDict_Check(builtins)) {
        exact = PyDict_CheckExact(builtins);
        value = PyDict_GetItemWithError(builtins, name);
        if (value == NULL && PyErr_Occurred()) {
            goto fail;
        }
    }
    else {
        value = Py_None; /* not a dict: CPython will ask it; we cannot without running its code */
    }
    int site = 0;
    if (value != NULL) {
        Py_INCREF(value);
        site = at_load_site(caller, extra);
        if (site < 0) {
            Py_DECREF(value);
            goto fail;
        }
        if (!site) {
            Py_CLEAR(value);
        }
    }
    if (value == NULL) {
        if (count_one(caller->code, extra, KIND_MISSING, name, self) == 0) {
            set_key_error(name);
        }
        goto fail;
    }
    Py_DECREF(builtins);
    if (count_one(caller->code, extra, KIND_BUILTIN, name, self) < 0) {
        Py_DECREF(value);
        return NULL;
    }
    if (exact && caller->globals == self) {
        return value;
    }
    Py_DECREF(value);
    set_key_error(name);
    return NULL;
fail:
    Py_DECREF(builtins);
    return NULL;
}

static PyObject *
tracking_subscript(PyObject *self, PyObject *name)
{
    caller_t caller;
    PyObject *value = PyDict_GetItemWithError(self, name);
    if (value == NULL && PyErr_Occurred()) {
        return NULL;
    }
    if (!find_caller(&caller)) {
        return PyDict_Type.tp_as_mapping->mp_subscript(self, name);
    }
    code_extra_t *extra = extra_for(caller.code);
    if (extra == NULL) {
        return NULL;
    }
    if (value == NULL) {
        return not_a_global(self, name, &caller, extra);
    }
    Py_INCREF(value);
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

static PyObject *
new_epoch(PyObject *module, PyObject *unused)
{
    context_epoch++;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"setup", setup, METH_VARARGS, "Connect the compiled core to tracking.py's tables and slow paths."},
    {"new_epoch", new_epoch, METH_NOARGS, "The context changed: cached per-code tables are stale."},
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
    Py_INCREF(&TrackingDictBase_Type);
    if (PyModule_AddObject(module, "TrackingDictBase", (PyObject *)&TrackingDictBase_Type) < 0) {
        Py_DECREF(&TrackingDictBase_Type);
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddIntConstant(module, "API", GH_API) < 0) {
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
