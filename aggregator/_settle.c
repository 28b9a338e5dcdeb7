/* The check of every record's numbers (records.Ticker.settle), compiled: the same rules,
 * field by field, reading and writing the record's slots where msgspec keeps them.
 *
 * Optional: without a C compiler the package installs without it and settling.settle is
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
#include <time.h>

#define NFIELDS 10
#define BAD_VALUE 1
#define NONPOSITIVE_PRICE 2
#define NEGATIVE_SIZE 4
#define CROSSED 8

static PyTypeObject *record_type = NULL;
static Py_ssize_t offsets[NFIELDS];
static int is_price[NFIELDS];
static Py_ssize_t bid_at, ask_at, flags_at, kind_at, native_at, seq_at, instance_at;
static Py_ssize_t exchange_at, symbol_at, ts_event_at;
static PyObject *ticker_tag = NULL; /* "ticker": a ticker's key is ("ticker", exchange, symbol) */
static PyObject *key_name = NULL;   /* "key" */
static PyObject *empty = NULL;   /* values.EMPTY: an emptied book side, nulled unflagged */
static PyObject *nothing = NULL; /* the record standing for "no previous record" */
static PyObject *flags = NULL;   /* records.FLAGS: a tuple, indexed by mask */
static PyObject *spot = NULL;    /* "spot" */
static PyObject *derivative_name = NULL; /* "settle_derivative" */
/* Derivative's own fields: mark and index are prices, open interest a size, the funding
 * rate any finite number, the next funding time carried over when not sent */
static PyTypeObject *derivative_type = NULL;
static PyObject *no_derivative = NULL; /* a Derivative with every field None */
static Py_ssize_t mark_at, index_at, oi_at, rate_at, funding_ts_at;

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
    PyObject *cls, *names, *prices, *empty_, *nothing_, *flags_, *dcls, *dnothing;
    if (!PyArg_ParseTuple(args, "O!O!O!OOO!O!O", &PyType_Type, &cls, &PyTuple_Type, &names,
                          &PyTuple_Type, &prices, &empty_, &nothing_, &PyTuple_Type, &flags_,
                          &PyType_Type, &dcls, &dnothing))
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
    /* the other fields' slots: the record's own, then a derivative's */
    static const char *const own[] = {"bid",      "ask",      "flags",    "kind",  "native",
                                      "seq",      "instance", "exchange", "symbol", "ts_event"};
    Py_ssize_t *const own_at[] = {&bid_at,      &ask_at,      &flags_at,    &kind_at,   &native_at,
                                  &seq_at,      &instance_at, &exchange_at, &symbol_at, &ts_event_at};
    static const char *const derived[] = {"mark", "index", "open_interest", "funding_rate",
                                          "funding_ts"};
    Py_ssize_t *const derived_at[] = {&mark_at, &index_at, &oi_at, &rate_at, &funding_ts_at};
    for (size_t i = 0; i < sizeof own / sizeof *own + sizeof derived / sizeof *derived; i++) {
        int mine = i < sizeof own / sizeof *own;
        size_t k = mine ? i : i - sizeof own / sizeof *own;
        PyObject *n = PyUnicode_InternFromString(mine ? own[k] : derived[k]);
        Py_ssize_t *at = mine ? own_at[k] : derived_at[k];
        int failed = n == NULL || offset_of(mine ? cls : dcls, n, at) < 0;
        Py_XDECREF(n);
        if (failed)
            return NULL;
    }
    if (!PyObject_TypeCheck(nothing_, (PyTypeObject *)cls)) {
        PyErr_SetString(PyExc_TypeError, "the empty record is not of the record class");
        return NULL;
    }
    if (!PyType_IsSubtype((PyTypeObject *)dcls, (PyTypeObject *)cls) ||
        !PyObject_TypeCheck(dnothing, (PyTypeObject *)dcls)) {
        PyErr_SetString(PyExc_TypeError, "the derivative class or its empty record is wrong");
        return NULL;
    }
    Py_INCREF(dcls);
    Py_XSETREF(derivative_type, (PyTypeObject *)dcls);
    Py_INCREF(dnothing);
    Py_XSETREF(no_derivative, dnothing);
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

/* one price or size field: carried over when not sent, nulled and flagged when out of
 * range; -1 with an exception set */
static long
check_field(PyObject *rec, PyObject *prev, Py_ssize_t at, int price)
{
    PyObject *v = *SLOT(rec, at);
    if (v == NULL || v == Py_None) {
        set_slot(rec, at, *SLOT(prev, at));
        return 0;
    }
    int ok = in_range(v, price);
    if (ok < 0)
        return -1;
    if (ok)
        return 0;
    long wrong = 0;
    Py_INCREF(v); /* held while the slot lets it go */
    set_slot(rec, at, Py_None);
    if (v != empty) {
        int nan = is_nan(v);
        if (nan < 0) {
            Py_DECREF(v);
            return -1;
        }
        wrong = nan ? BAD_VALUE : (price ? NONPOSITIVE_PRICE : NEGATIVE_SIZE);
    }
    Py_DECREF(v);
    return wrong;
}

static inline int
float_or_none(PyObject *v)
{
    return v == NULL || v == Py_None || PyFloat_CheckExact(v);
}

/* Derivative.settle_derivative: in C for a Derivative whose own values are floats (all of
 * them, from the codecs); the method itself for anything else */
static long
settle_derivative(PyObject *rec, PyObject *prev)
{
    if (!Py_IS_TYPE(rec, derivative_type) || !float_or_none(*SLOT(rec, mark_at)) ||
        !float_or_none(*SLOT(rec, index_at)) || !float_or_none(*SLOT(rec, oi_at)) ||
        !float_or_none(*SLOT(rec, rate_at))) {
        PyObject *r = PyObject_CallMethodOneArg(rec, derivative_name, prev);
        if (r == NULL)
            return -1;
        long more = PyLong_AsLong(r);
        Py_DECREF(r);
        return (more == -1 && PyErr_Occurred()) ? -1 : more;
    }
    if (!PyObject_TypeCheck(prev, derivative_type))
        prev = no_derivative; /* the market's first record */
    long wrong = 0, w;
    if ((w = check_field(rec, prev, mark_at, 1)) < 0)
        return -1;
    wrong |= w;
    if ((w = check_field(rec, prev, index_at, 1)) < 0)
        return -1;
    wrong |= w;
    if ((w = check_field(rec, prev, oi_at, 0)) < 0)
        return -1;
    wrong |= w;
    PyObject *v = *SLOT(rec, rate_at);
    if (v == NULL || v == Py_None)
        set_slot(rec, rate_at, *SLOT(prev, rate_at));
    else if (!isfinite(PyFloat_AS_DOUBLE(v))) {
        if (v != empty)
            wrong |= BAD_VALUE;
        set_slot(rec, rate_at, Py_None);
    }
    v = *SLOT(rec, funding_ts_at);
    if (v == NULL || v == Py_None)
        set_slot(rec, funding_ts_at, *SLOT(prev, funding_ts_at));
    return wrong;
}

/* Ticker.settle on one record: the mask, or -1 with an exception set */
static long
settle_one(PyObject *rec, PyObject *prev)
{
    if (!PyObject_TypeCheck(rec, record_type)) {
        PyErr_Format(PyExc_TypeError, "settle: not a record: %R", Py_TYPE(rec));
        return -1;
    }
    if (prev == NULL || prev == Py_None)
        prev = nothing;
    else if (!PyObject_TypeCheck(prev, record_type)) {
        PyErr_Format(PyExc_TypeError, "settle: not a record: %R", Py_TYPE(prev));
        return -1;
    }
    long wrong = 0;
    for (int i = 0; i < NFIELDS; i++) {
        long w = check_field(rec, prev, offsets[i], is_price[i]);
        if (w < 0)
            return -1;
        wrong |= w;
    }
    PyObject *kind = *SLOT(rec, kind_at);
    if (kind != NULL && kind != spot) {
        int eq = PyUnicode_Check(kind) ? PyUnicode_Compare(kind, spot) : 1;
        if (eq == -1 && PyErr_Occurred())
            return -1;
        if (eq != 0) {
            long more = settle_derivative(rec, prev);
            if (more < 0)
                return -1;
            wrong |= more;
        }
    }
    PyObject *bid = *SLOT(rec, bid_at), *ask = *SLOT(rec, ask_at);
    if (bid != NULL && bid != Py_None && ask != NULL && ask != Py_None) {
        int crossed;
        if (PyFloat_CheckExact(bid) && PyFloat_CheckExact(ask))
            crossed = PyFloat_AS_DOUBLE(bid) > PyFloat_AS_DOUBLE(ask);
        else if ((crossed = PyObject_RichCompareBool(bid, ask, Py_GT)) < 0)
            return -1;
        if (crossed)
            wrong |= CROSSED;
    }
    if (wrong < 0 || wrong > 15) {
        PyErr_Format(PyExc_ValueError, "settle: a flags mask out of range: %ld", wrong);
        return -1;
    }
    set_slot(rec, flags_at, PyTuple_GET_ITEM(flags, wrong));
    return wrong;
}

static int
ready(void)
{
    if (record_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "settle: setup() not called");
        return 0;
    }
    return 1;
}

static PyObject *
settle(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "settle(record, prev)");
        return NULL;
    }
    if (!ready())
        return NULL;
    long wrong = settle_one(args[0], args[1]);
    return wrong < 0 ? NULL : PyLong_FromLong(wrong);
}

/* a == b as Python says it for two slots' values (floats by value, so a NaN is not even
 * itself; anything else by identity first, then ==): 1, 0, or -1 an error */
static int
same_value(PyObject *a, PyObject *b)
{
    if (a != NULL && b != NULL && PyFloat_CheckExact(a) && PyFloat_CheckExact(b))
        return PyFloat_AS_DOUBLE(a) == PyFloat_AS_DOUBLE(b);
    if (a == b)
        return 1;
    if (a == NULL || b == NULL)
        return 0;
    return PyObject_RichCompareBool(a, b, Py_EQ);
}

/* Ticker.same_market_values, on the slots: the event time, the flags, every market field
 * and every derivative field (None on a spot record) equal: 1, 0, or -1 an error */
static int
same_market_values(PyObject *rec, PyObject *prev)
{
    int t = same_value(*SLOT(rec, ts_event_at), *SLOT(prev, ts_event_at));
    if (t <= 0)
        return t;
    if ((t = same_value(*SLOT(rec, flags_at), *SLOT(prev, flags_at))) <= 0)
        return t;
    for (int i = 0; i < NFIELDS; i++)
        if ((t = same_value(*SLOT(rec, offsets[i]), *SLOT(prev, offsets[i]))) <= 0)
            return t;
    int dr = PyObject_TypeCheck(rec, derivative_type), dp = PyObject_TypeCheck(prev, derivative_type);
    if (dr || dp) {
        const Py_ssize_t at[] = {mark_at, index_at, rate_at, funding_ts_at, oi_at};
        for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
            PyObject *a = dr ? *SLOT(rec, at[i]) : Py_None, *b = dp ? *SLOT(prev, at[i]) : Py_None;
            if ((t = same_value(a, b)) <= 0)
                return t;
        }
    }
    return 1;
}

/* settling.python_settle_batch, compiled: (records, last, merge, dedupe, seq, instance, batch) ->
 * (seq, flagged, bad, bad_native) */
static PyObject *
settle_batch(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError,
                        "settle_batch(records, last, merge, dedupe, seq, instance, batch)");
        return NULL;
    }
    if (!ready())
        return NULL;
    PyObject *records = args[0], *last = args[1], *instance = args[5], *batch = args[6];
    if (!PyList_Check(records) || !PyDict_Check(last) || !PyList_Check(batch)) {
        PyErr_SetString(PyExc_TypeError, "settle_batch: records and batch lists, last a dict");
        return NULL;
    }
    int merge = PyObject_IsTrue(args[2]), dedupe = PyObject_IsTrue(args[3]);
    if (merge < 0 || dedupe < 0)
        return NULL;
    long long seq = PyLong_AsLongLong(args[4]);
    if (seq == -1 && PyErr_Occurred())
        return NULL;
    long flagged = 0, bad = 0;
    PyObject *bad_native = NULL; /* borrowed from a record held by last */
    /* the list may not change under us: hold it, index it as it is */
    Py_INCREF(records);
    Py_ssize_t n = PyList_GET_SIZE(records);
    for (Py_ssize_t i = 0; i < n && i < PyList_GET_SIZE(records); i++) {
        PyObject *rec = PyList_GET_ITEM(records, i);
        Py_INCREF(rec);
        if (!PyObject_TypeCheck(rec, record_type)) {
            PyErr_Format(PyExc_TypeError, "settle: not a record: %R", Py_TYPE(rec));
            goto fail_rec;
        }
        PyObject *native = *SLOT(rec, native_at), *symbol = *SLOT(rec, symbol_at);
        if (native == NULL || symbol == NULL) {
            PyErr_SetString(PyExc_TypeError, "settle_batch: a record without its market");
            goto fail_rec;
        }
        PyObject *prev = PyDict_GetItemWithError(last, symbol);
        if (prev == NULL && PyErr_Occurred())
            goto fail_rec;
        Py_XINCREF(prev);
        long wrong = settle_one(rec, merge ? prev : NULL);
        if (wrong < 0) {
            Py_XDECREF(prev);
            goto fail_rec;
        }
        if (dedupe && prev != NULL) {
            int t = same_market_values(rec, prev);
            if (t < 0) {
                Py_DECREF(prev);
                goto fail_rec;
            }
            if (t) {
                Py_DECREF(prev);
                Py_DECREF(rec);
                continue;
            }
        }
        Py_XDECREF(prev);
        if (wrong) {
            flagged++;
            if (wrong & BAD_VALUE) {
                bad++;
                bad_native = native;
            }
        }
        if (PyDict_SetItem(last, symbol, rec) < 0)
            goto fail_rec;
        PyObject *number = PyLong_FromLongLong(++seq);
        if (number == NULL)
            goto fail_rec;
        set_slot(rec, seq_at, number);
        Py_DECREF(number);
        if (instance != Py_None)
            set_slot(rec, instance_at, instance);
        if (PyList_Append(batch, rec) < 0)
            goto fail_rec;
        Py_DECREF(rec);
        continue;
    fail_rec:
        Py_DECREF(rec);
        Py_DECREF(records);
        return NULL;
    }
    Py_DECREF(records);
    if (bad_native == NULL)
        return Py_BuildValue("Llls", seq, flagged, bad, "");
    return Py_BuildValue("LllO", seq, flagged, bad, bad_native);
}

/* remember(by, records): hub.Latest's dicts set from a batch: by[(type, exchange)][id] =
 * record for each (record.key() is (type, exchange, id)), a ticker's made from its slots,
 * the exchange's dict looked up once for a run of its records */
static PyObject *
remember(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "remember(by: dict, records)");
        return NULL;
    }
    if (record_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "setup() first");
        return NULL;
    }
    if (ticker_tag == NULL && (ticker_tag = PyUnicode_InternFromString("ticker")) == NULL)
        return NULL;
    if (key_name == NULL && (key_name = PyUnicode_InternFromString("key")) == NULL)
        return NULL;
    PyObject *by = args[0];
    PyObject *records = PySequence_Fast(args[1], "remember: records is not a sequence");
    if (records == NULL)
        return NULL;
    PyObject *inner = NULL, *inner_ex = NULL; /* borrowed: the dict of the last exchange */
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(records); i++) {
        PyObject *r = PySequence_Fast_GET_ITEM(records, i), *d, *id;
        int rc;
        if (Py_IS_TYPE(r, record_type) || Py_IS_TYPE(r, derivative_type)) {
            PyObject *ex = *SLOT(r, exchange_at);
            id = *SLOT(r, symbol_at);
            if (ex == NULL || id == NULL) {
                PyErr_SetString(PyExc_AttributeError, "a record without exchange or symbol");
                goto fail;
            }
            if (ex != inner_ex) {
                PyObject *group = PyTuple_Pack(2, ticker_tag, ex);
                if (group == NULL)
                    goto fail;
                inner = PyDict_GetItemWithError(by, group);
                if (inner == NULL && !PyErr_Occurred()) {
                    PyObject *fresh = PyDict_New();
                    rc = fresh == NULL ? -1 : PyDict_SetItem(by, group, fresh);
                    Py_XDECREF(fresh); /* (by holds it) */
                    inner = rc < 0 ? NULL : fresh;
                }
                Py_DECREF(group);
                if (inner == NULL)
                    goto fail;
                inner_ex = ex;
            }
            rc = PyDict_SetItem(inner, id, r);
        }
        else {
            PyObject *key = PyObject_CallMethodNoArgs(r, key_name);
            if (key == NULL)
                goto fail;
            if (!PyTuple_Check(key) || PyTuple_GET_SIZE(key) != 3) {
                PyErr_Format(PyExc_TypeError, "a record's key is (type, exchange, id): %R", key);
                Py_DECREF(key);
                goto fail;
            }
            PyObject *group = PyTuple_GetSlice(key, 0, 2);
            d = group == NULL ? NULL : PyDict_GetItemWithError(by, group);
            if (d == NULL && group != NULL && !PyErr_Occurred()) {
                PyObject *fresh = PyDict_New();
                rc = fresh == NULL ? -1 : PyDict_SetItem(by, group, fresh);
                Py_XDECREF(fresh);
                d = rc < 0 ? NULL : fresh;
            }
            Py_XDECREF(group);
            rc = d == NULL ? -1 : PyDict_SetItem(d, PyTuple_GET_ITEM(key, 2), r);
            Py_DECREF(key);
        }
        if (rc < 0)
            goto fail;
    }
    Py_DECREF(records);
    Py_RETURN_NONE;
fail:
    Py_DECREF(records);
    return NULL;
}

/* note_delay(hist, bounds, ts_ns, n): delays.python_note_delay, compiled: n records
 * written now whose first was read at ts_ns (CLOCK_REALTIME ns, time.time_ns's clock; 0:
 * not counted) added to hist, a list of len(bounds) + 3 ints: the count per bucket of
 * bounds (seconds, ascending; the last bucket above them all), the delays' total in ns,
 * and the records counted */
static int
add_to(PyObject *list, Py_ssize_t i, long long v)
{
    PyObject *was = PyList_GET_ITEM(list, i);
    long long now = PyLong_AsLongLong(was);
    if (now == -1 && PyErr_Occurred())
        return -1;
    PyObject *sum = PyLong_FromLongLong(now + v);
    if (sum == NULL)
        return -1;
    PyList_SET_ITEM(list, i, sum);
    Py_DECREF(was);
    return 0;
}

static PyObject *
note_delay(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyList_CheckExact(args[0]) || !PyTuple_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "note_delay(hist: list, bounds: tuple, ts_ns, n)");
        return NULL;
    }
    PyObject *hist = args[0], *bounds = args[1];
    Py_ssize_t nb = PyTuple_GET_SIZE(bounds);
    if (PyList_GET_SIZE(hist) != nb + 3) {
        PyErr_SetString(PyExc_ValueError, "note_delay: hist is len(bounds) + 3 long");
        return NULL;
    }
    long long ts = PyLong_AsLongLong(args[2]), n = PyLong_AsLongLong(args[3]);
    if ((ts == -1 || n == -1) && PyErr_Occurred())
        return NULL;
    if (ts <= 0 || n <= 0)
        Py_RETURN_NONE;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec - ts;
    if (ns < 0) /* the wall clock stepped back */
        ns = 0;
    double seconds = (double)ns / 1e9;
    Py_ssize_t i = 0;
    while (i < nb) { /* bisect_left: the first bound at or above the delay */
        double b = PyFloat_AsDouble(PyTuple_GET_ITEM(bounds, i));
        if (b == -1.0 && PyErr_Occurred())
            return NULL;
        if (b >= seconds)
            break;
        i++;
    }
    if (add_to(hist, i, n) < 0 || add_to(hist, nb + 1, ns * n) < 0 || add_to(hist, nb + 2, n) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", setup, METH_VARARGS, "Bind the record class and the markers (once)."},
    {"settle", (PyCFunction)(void (*)(void))settle, METH_FASTCALL,
     "settle(record, prev) -> mask: records.Ticker.settle, compiled."},
    {"settle_batch", (PyCFunction)(void (*)(void))settle_batch, METH_FASTCALL,
     "settle_batch(records, last, merge, dedupe, seq, instance, batch): "
     "settling.python_settle_batch, compiled."},
    {"remember", (PyCFunction)(void (*)(void))remember, METH_FASTCALL,
     "remember(by, records): by[key[:2]][key[2]] = record for each (hub.Latest's dicts)."},
    {"note_delay", (PyCFunction)(void (*)(void))note_delay, METH_FASTCALL,
     "note_delay(hist, bounds, ts_ns, n): delays.python_note_delay, compiled."},
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
