/* The check of every record's numbers (records.Ticker.settle), compiled: the same rules,
 * field by field, reading and writing the record's slots where msgspec keeps them.
 *
 * Optional: without a C compiler the package installs without it and records.settle is
 * Ticker.settle itself. Both are run on the same values by the tests (test_values.py).
 *
 * setup() is given the record class, its market fields in settle's order with whether each
 * is a price (> 0) or a size (>= 0), the EMPTY and BAD markers' common value, the record
 * that stands for "no previous record", and the flags tuple of each mask; it finds each
 * field's slot offset from the class's member descriptors, once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>

#define NFIELDS 10
#define BAD_VALUE 1
#define NONPOSITIVE_PRICE 2
#define NEGATIVE_SIZE 4
#define CROSSED 8

static PyTypeObject *record_type = NULL;
static Py_ssize_t offsets[NFIELDS];
static int is_price[NFIELDS];
static Py_ssize_t bid_at, ask_at, flags_at, kind_at;
static PyObject *empty = NULL;   /* values.EMPTY: an emptied book side, nulled unflagged */
static PyObject *nothing = NULL; /* the record standing for "no previous record" */
static PyObject *flags = NULL;   /* records.FLAGS: a tuple, indexed by mask */
static PyObject *spot = NULL;    /* "spot" */
static PyObject *derivative_name = NULL; /* "settle_derivative" */

#define SLOT(obj, at) ((PyObject **)((char *)(obj) + (at)))

static int
offset_of(PyObject *cls, PyObject *name, Py_ssize_t *at)
{
    PyObject *d = PyObject_GetAttr(cls, name);
    if (d == NULL)
        return -1;
    if (!Py_IS_TYPE(d, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "%R is not a slot of the record class", name);
        Py_DECREF(d);
        return -1;
    }
    PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
    if (m->type != T_OBJECT_EX && m->type != T_OBJECT) {
        PyErr_Format(PyExc_TypeError, "%R is not an object slot", name);
        Py_DECREF(d);
        return -1;
    }
    *at = m->offset;
    Py_DECREF(d);
    return 0;
}

static PyObject *
setup(PyObject *self, PyObject *args)
{
    PyObject *cls, *names, *prices, *empty_, *nothing_, *flags_;
    if (!PyArg_ParseTuple(args, "O!O!O!OOO!", &PyType_Type, &cls, &PyTuple_Type, &names,
                          &PyTuple_Type, &prices, &empty_, &nothing_, &PyTuple_Type, &flags_))
        return NULL;
    if (PyTuple_GET_SIZE(names) != NFIELDS || PyTuple_GET_SIZE(prices) != NFIELDS) {
        PyErr_SetString(PyExc_ValueError, "expected the 10 market fields");
        return NULL;
    }
    if (PyTuple_GET_SIZE(flags_) != 16) {
        PyErr_SetString(PyExc_ValueError, "expected the flags of 16 masks");
        return NULL;
    }
    for (int i = 0; i < NFIELDS; i++) {
        if (offset_of(cls, PyTuple_GET_ITEM(names, i), &offsets[i]) < 0)
            return NULL;
        int p = PyObject_IsTrue(PyTuple_GET_ITEM(prices, i));
        if (p < 0)
            return NULL;
        is_price[i] = p;
    }
    PyObject *n;
#define OFFSET(field, at)                                   \
    n = PyUnicode_InternFromString(field);                  \
    if (n == NULL || offset_of(cls, n, &at) < 0) {          \
        Py_XDECREF(n);                                      \
        return NULL;                                        \
    }                                                       \
    Py_DECREF(n);
    OFFSET("bid", bid_at)
    OFFSET("ask", ask_at)
    OFFSET("flags", flags_at)
    OFFSET("kind", kind_at)
#undef OFFSET
    if (!PyObject_TypeCheck(nothing_, (PyTypeObject *)cls)) {
        PyErr_SetString(PyExc_TypeError, "the empty record is not of the record class");
        return NULL;
    }
    Py_INCREF(cls);
    Py_XSETREF(record_type, (PyTypeObject *)cls);
    Py_INCREF(empty_);
    Py_XSETREF(empty, empty_);
    Py_INCREF(nothing_);
    Py_XSETREF(nothing, nothing_);
    Py_INCREF(flags_);
    Py_XSETREF(flags, flags_);
    Py_RETURN_NONE;
}

/* v > 0 (a price) or v >= 0 (a size): 1 true, 0 false (a NaN too), -1 an error */
static int
in_range(PyObject *v, int price)
{
    if (PyFloat_CheckExact(v)) {
        double d = PyFloat_AS_DOUBLE(v);
        return price ? d > 0.0 : d >= 0.0;
    }
    PyObject *zero = PyFloat_FromDouble(0.0);
    if (zero == NULL)
        return -1;
    int r = PyObject_RichCompareBool(v, zero, price ? Py_GT : Py_GE);
    Py_DECREF(zero);
    return r;
}

/* v != v, as Python has it (no identity shortcut): 1 a NaN, 0 not, -1 an error */
static int
is_nan(PyObject *v)
{
    if (PyFloat_CheckExact(v))
        return isnan(PyFloat_AS_DOUBLE(v));
    PyObject *r = PyObject_RichCompare(v, v, Py_NE);
    if (r == NULL)
        return -1;
    int t = PyObject_IsTrue(r);
    Py_DECREF(r);
    return t;
}

static void
set_slot(PyObject *obj, Py_ssize_t at, PyObject *value)
{
    PyObject **slot = SLOT(obj, at);
    PyObject *old = *slot;
    Py_XINCREF(value);
    *slot = value;
    Py_XDECREF(old);
}

static PyObject *
settle(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "settle(record, prev)");
        return NULL;
    }
    if (record_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "settle: setup() not called");
        return NULL;
    }
    PyObject *rec = args[0], *prev = args[1];
    if (!PyObject_TypeCheck(rec, record_type)) {
        PyErr_Format(PyExc_TypeError, "settle: not a record: %R", Py_TYPE(rec));
        return NULL;
    }
    if (prev == Py_None)
        prev = nothing;
    else if (!PyObject_TypeCheck(prev, record_type)) {
        PyErr_Format(PyExc_TypeError, "settle: not a record: %R", Py_TYPE(prev));
        return NULL;
    }
    long wrong = 0;
    for (int i = 0; i < NFIELDS; i++) {
        Py_ssize_t at = offsets[i];
        PyObject *v = *SLOT(rec, at);
        if (v == NULL || v == Py_None) {
            set_slot(rec, at, *SLOT(prev, at));
            continue;
        }
        int ok = in_range(v, is_price[i]);
        if (ok < 0)
            return NULL;
        if (ok)
            continue;
        Py_INCREF(v); /* held while the slot lets it go */
        set_slot(rec, at, Py_None);
        if (v != empty) {
            int nan = is_nan(v);
            if (nan < 0) {
                Py_DECREF(v);
                return NULL;
            }
            wrong |= nan ? BAD_VALUE : (is_price[i] ? NONPOSITIVE_PRICE : NEGATIVE_SIZE);
        }
        Py_DECREF(v);
    }
    PyObject *kind = *SLOT(rec, kind_at);
    if (kind != NULL && kind != spot) {
        int eq = PyUnicode_Check(kind) ? PyUnicode_Compare(kind, spot) : 1;
        if (eq == -1 && PyErr_Occurred())
            return NULL;
        if (eq != 0) {
            PyObject *r = PyObject_CallMethodOneArg(rec, derivative_name, prev);
            if (r == NULL)
                return NULL;
            long more = PyLong_AsLong(r);
            Py_DECREF(r);
            if (more == -1 && PyErr_Occurred())
                return NULL;
            wrong |= more;
        }
    }
    PyObject *bid = *SLOT(rec, bid_at), *ask = *SLOT(rec, ask_at);
    if (bid != NULL && bid != Py_None && ask != NULL && ask != Py_None) {
        int crossed;
        if (PyFloat_CheckExact(bid) && PyFloat_CheckExact(ask))
            crossed = PyFloat_AS_DOUBLE(bid) > PyFloat_AS_DOUBLE(ask);
        else if ((crossed = PyObject_RichCompareBool(bid, ask, Py_GT)) < 0)
            return NULL;
        if (crossed)
            wrong |= CROSSED;
    }
    if (wrong < 0 || wrong > 15) {
        PyErr_Format(PyExc_ValueError, "settle: a flags mask out of range: %ld", wrong);
        return NULL;
    }
    set_slot(rec, flags_at, PyTuple_GET_ITEM(flags, wrong));
    return PyLong_FromLong(wrong);
}

static PyMethodDef methods[] = {
    {"setup", setup, METH_VARARGS, "Bind the record class and the markers (once)."},
    {"settle", (PyCFunction)(void (*)(void))settle, METH_FASTCALL,
     "settle(record, prev) -> mask: records.Ticker.settle, compiled."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_settle", "The check of every record's numbers, compiled.", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__settle(void)
{
    spot = PyUnicode_InternFromString("spot");
    derivative_name = PyUnicode_InternFromString("settle_derivative");
    if (spot == NULL || derivative_name == NULL)
        return NULL;
    return PyModule_Create(&module);
}
