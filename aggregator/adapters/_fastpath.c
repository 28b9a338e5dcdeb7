/* Binance's stream frames to merged ticker records and their JSON lines, in one C call.
 *
 * The daemon's per-message path in Python (orjson.loads, the codec, the merge of the two
 * channels, orjson.dumps) costs about ten times the WebSocket client's own work per frame
 * (bench/README.md). This module does the same for the frames that make up nearly all of
 * Binance's traffic, bookTicker and 24hrTicker, and gives up on anything else: the Python
 * codec stays the reference, and every frame this module does not take goes to it.
 *
 * What it produces must be what the Python path produces, to the byte: a Ticker instance
 * (a real aggregator.records.Ticker, its __dict__ in field order) and the line orjson
 * writes for it. Numbers are copied from the frame's text, normalised the way orjson
 * writes the float they parse to: that is exact for decimals of at most 15 significant
 * digits (any such decimal is the shortest representation of its double); a decimal with
 * more digits is converted as float() does and written by orjson, and an exponent, or
 * anything but plain decimal digits, sends the frame to the Python path. tests/test_fastpath.py checks the two paths against each other.
 *
 * Feed.feed(raw, ts_recv) returns 1 (a record and its line appended to the lists given
 * at construction, `last[native]` updated, `seq` advanced), 0 (a frame of a market not
 * followed: nothing to do) or -1 (not handled: nothing changed; use the Python codec).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#define NFIELDS 10      /* bid, bid_size, ask, ask_size, last, open, high, low, volume, quote_volume */
#define MAXNUM 40       /* the longest number text kept (sign, 15 digits, point, zeros, exponent) */
#define MAXLINE 2048    /* a line longer than this (a huge symbol) goes to the Python path */

static const char *FIELD_NAMES[NFIELDS] = {
    "bid", "bid_size", "ask", "ask_size", "last", "open", "high", "low", "volume", "quote_volume",
};
/* The frame key of each field, in a 24hrTicker (a bookTicker carries the first four). */
static const char FIELD_KEYS[NFIELDS] = {'b', 'B', 'a', 'A', 'c', 'o', 'h', 'l', 'v', 'q'};

static PyObject *s_type, *s_exchange, *s_symbol, *s_native, *s_ts_event, *s_ts_recv, *s_seq,
    *s_instance, *s_ticker, *s_fields[NFIELDS], *s_empty_tuple;

/* --- one followed market ------------------------------------------------------------ */

typedef struct {
    PyObject *symbol;              /* str, the unified symbol */
    PyObject *native;              /* str, the venue's id as the frames spell it */
    PyObject *prefix;              /* bytes: {"type":"ticker",...,"native":"BTCUSDT", */
    PyObject *rec;                 /* the last record this module made for it, or NULL */
    PyObject *vals[NFIELDS];       /* that record's market fields (strong refs) */
    char text[NFIELDS][MAXNUM];    /* and their JSON text */
    unsigned char len[NFIELDS];
} Market;

typedef struct {
    PyObject_HEAD
    PyObject *venue;     /* str */
    PyObject *index;     /* dict: native str -> int index into markets */
    Market *markets;
    Py_ssize_t nmarkets;
    PyObject *last;      /* dict shared with the adapter: native -> the last Ticker */
    PyObject *records;   /* list: records made, for the adapter to publish */
    PyObject *lines;     /* list: their lines */
    PyObject *ticker;    /* the Ticker class */
    PyObject *dumps;     /* orjson.dumps, for values the Python path stored */
    PyObject *instance;  /* None or str */
    PyObject *suffix;    /* bytes: ,"instance":...}\n */
    long long seq;
} Feed;

/* --- the frame's flat JSON object ----------------------------------------------------- */

typedef struct {
    const char *p;
    Py_ssize_t n;
    char kind; /* 's' string (p/n: the text between the quotes), 'n' number, 'x' other */
} Value;

typedef struct {
    Value s, e, E, f[NFIELDS];
} Frame;

static inline const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* The end of the JSON number at p (-?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?), or NULL. */
static const char *json_number(const char *p, const char *end) {
    if (p < end && *p == '-') p++;
    if (p >= end) return NULL;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (p < end && *p >= '0' && *p <= '9') p++;
    else return NULL;
    if (p < end && *p == '.') {
        const char *d = ++p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == d) return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        const char *d = p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == d) return NULL;
    }
    return p;
}

/* Scan {"k":v,...} with scalar values. 0: scanned; -1: anything else (nested values,
 * escapes, malformed text): the Python path decides what it is. */
static int scan(const char *p, const char *end, Frame *fr) {
    memset(fr, 0, sizeof(*fr));
    p = skip_ws(p, end);
    if (p >= end || *p != '{') return -1;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') return (skip_ws(p + 1, end) == end) ? 0 : -1;
    for (;;) {
        if (p >= end || *p != '"') return -1;
        const char *k = ++p;
        while (p < end && *p != '"') {
            if (*p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p >= 0x80) return -1;
            p++;
        }
        if (p >= end) return -1;
        Py_ssize_t klen = p - k;
        p = skip_ws(p + 1, end);
        if (p >= end || *p != ':') return -1;
        p = skip_ws(p + 1, end);
        if (p >= end) return -1;
        Value v;
        if (*p == '"') {
            const char *s = ++p;
            while (p < end && *p != '"') {
                if (*p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p >= 0x80) return -1;
                p++;
            }
            if (p >= end) return -1;
            v.p = s; v.n = p - s; v.kind = 's';
            p++;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            const char *s = p;
            if ((p = json_number(p, end)) == NULL) return -1;
            v.p = s; v.n = p - s; v.kind = 'n';
        } else if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
            v.p = p; v.n = 4; v.kind = 'x'; p += 4;
        } else if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
            v.p = p; v.n = 4; v.kind = 'x'; p += 4;
        } else if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
            v.p = p; v.n = 5; v.kind = 'x'; p += 5;
        } else {
            return -1; /* an object or a list: not a frame of ours */
        }
        if (klen == 1) { /* later duplicates win, as in orjson.loads */
            char c = *k;
            if (c == 's') fr->s = v;
            else if (c == 'e') fr->e = v;
            else if (c == 'E') fr->E = v;
            else
                for (int i = 0; i < NFIELDS; i++)
                    if (FIELD_KEYS[i] == c) { fr->f[i] = v; break; }
        }
        p = skip_ws(p, end);
        if (p >= end) return -1;
        if (*p == '}') return (skip_ws(p + 1, end) == end) ? 0 : -1;
        if (*p != ',') return -1;
        p = skip_ws(p + 1, end);
    }
}

/* --- numbers ------------------------------------------------------------------------ */

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A decimal string "-?d+(.d+)?" as orjson writes the float it parses to, and that float.
 * 0 on success; 1 for a decimal with more than 15 significant digits (or 22 decimals),
 * which the caller converts the slow way; -1 when the text is not such a decimal. */
static int decimal(const char *p, Py_ssize_t n, char *out, unsigned char *outlen, double *value) {
    const char *end = p + n;
    int neg = 0;
    if (p < end && *p == '-') { neg = 1; p++; }
    const char *ip = p;
    while (p < end && *p >= '0' && *p <= '9') p++;
    const char *ie = p;
    if (ie == ip) return -1;
    const char *fp = ie, *fe = ie;
    if (p < end && *p == '.') {
        fp = ++p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        fe = p;
        if (fe == fp) return -1;
    }
    if (p != end) return -1;
    while (ie - ip > 1 && *ip == '0') ip++;       /* leading zeros of the integer part */
    while (fe > fp && fe[-1] == '0') fe--;        /* trailing zeros of the fraction */
    int izero = (ie - ip == 1 && *ip == '0');
    Py_ssize_t ilen = ie - ip, flen = fe - fp;
    /* significant digits, and the mantissa */
    uint64_t m = 0;
    int sig = 0, slow = (flen > 22);
    Py_ssize_t lz = 0; /* leading zeros of the fraction when the integer part is 0 */
    if (!izero) {
        if (ilen > 15) slow = 1;
        else for (const char *q = ip; q < ie; q++) m = m * 10 + (uint64_t)(*q - '0');
        sig = (int)ilen;
    } else {
        while (lz < flen && fp[lz] == '0') lz++;
    }
    for (const char *q = fp + (izero ? lz : 0); q < fe && !slow; q++) {
        if (++sig > 15) slow = 1;
        else m = m * 10 + (uint64_t)(*q - '0');
    }
    if (slow) return 1;
    double v = (double)m / POW10[flen]; /* both exact: the quotient is correctly rounded */
    *value = neg ? -v : v;
    char *o = out;
    if (neg) *o++ = '-';
    if (izero && m != 0 && lz >= 5) { /* below 1e-5: orjson writes 1.23e-6 */
        const char *d = fp + lz;
        *o++ = *d++;
        if (d < fe) {
            *o++ = '.';
            while (d < fe) *o++ = *d++;
        }
        o += sprintf(o, "e-%d", (int)(lz + 1));
    } else {
        memcpy(o, ip, (size_t)ilen); o += ilen;
        *o++ = '.';
        if (flen) { memcpy(o, fp, (size_t)flen); o += flen; }
        else *o++ = '0';
    }
    *outlen = (unsigned char)(o - out);
    return 0;
}

static char *put_i64(char *o, long long v) {
    char tmp[24];
    int i = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do { tmp[i++] = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) *o++ = '-';
    while (i) *o++ = tmp[--i];
    return o;
}

/* --- the type ----------------------------------------------------------------------- */

static void clear_markets(Feed *self) {
    if (self->markets == NULL) return;
    for (Py_ssize_t i = 0; i < self->nmarkets; i++) {
        Market *m = &self->markets[i];
        Py_CLEAR(m->symbol);
        Py_CLEAR(m->native);
        Py_CLEAR(m->prefix);
        Py_CLEAR(m->rec);
        for (int f = 0; f < NFIELDS; f++) Py_CLEAR(m->vals[f]);
    }
    PyMem_Free(self->markets);
    self->markets = NULL;
    self->nmarkets = 0;
}

static int Feed_traverse(Feed *self, visitproc visit, void *arg) {
    Py_VISIT(self->venue);
    Py_VISIT(self->index);
    Py_VISIT(self->last);
    Py_VISIT(self->records);
    Py_VISIT(self->lines);
    Py_VISIT(self->ticker);
    Py_VISIT(self->dumps);
    Py_VISIT(self->instance);
    Py_VISIT(self->suffix);
    for (Py_ssize_t i = 0; i < self->nmarkets; i++) {
        Py_VISIT(self->markets[i].rec);
        for (int f = 0; f < NFIELDS; f++) Py_VISIT(self->markets[i].vals[f]);
    }
    return 0;
}

static int Feed_clear(Feed *self) {
    Py_CLEAR(self->venue);
    Py_CLEAR(self->index);
    Py_CLEAR(self->last);
    Py_CLEAR(self->records);
    Py_CLEAR(self->lines);
    Py_CLEAR(self->ticker);
    Py_CLEAR(self->dumps);
    Py_CLEAR(self->instance);
    Py_CLEAR(self->suffix);
    clear_markets(self);
    return 0;
}

static void Feed_dealloc(Feed *self) {
    PyObject_GC_UnTrack(self);
    Feed_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Feed(venue, markets, last, records, lines, ticker, dumps, instance)
 * markets: {native: (symbol, prefix)}, prefix the line's start up to the native's comma. */
static int Feed_init(Feed *self, PyObject *args, PyObject *kwds) {
    PyObject *venue, *markets, *last, *records, *lines, *ticker, *dumps, *instance;
    static char *kwlist[] = {"venue", "markets", "last", "records", "lines",
                             "ticker", "dumps", "instance", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "UO!O!O!O!OOO", kwlist, &venue, &PyDict_Type,
                                     &markets, &PyDict_Type, &last, &PyList_Type, &records,
                                     &PyList_Type, &lines, &ticker, &dumps, &instance))
        return -1;
    if (instance != Py_None && !PyUnicode_Check(instance)) {
        PyErr_SetString(PyExc_TypeError, "instance must be a str or None");
        return -1;
    }
    Feed_clear(self);
    PyObject *suffix_obj = PyObject_CallOneArg(dumps, instance);
    if (suffix_obj == NULL) return -1;
    PyObject *suffix = PyBytes_FromFormat(",\"instance\":%s}\n", PyBytes_AS_STRING(suffix_obj));
    Py_DECREF(suffix_obj);
    if (suffix == NULL) return -1;
    self->suffix = suffix;
    Py_ssize_t n = PyDict_GET_SIZE(markets);
    self->markets = PyMem_Calloc(n ? (size_t)n : 1, sizeof(Market));
    self->index = PyDict_New();
    if (self->markets == NULL || self->index == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t pos = 0, i = 0;
    PyObject *key, *value;
    while (PyDict_Next(markets, &pos, &key, &value)) {
        PyObject *symbol, *prefix;
        if (!PyUnicode_Check(key) || !PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 2 ||
            !PyUnicode_Check(symbol = PyTuple_GET_ITEM(value, 0)) ||
            !PyBytes_Check(prefix = PyTuple_GET_ITEM(value, 1))) {
            PyErr_SetString(PyExc_TypeError, "markets: expected {native: (symbol, prefix)}");
            return -1;
        }
        Market *m = &self->markets[i];
        m->native = Py_NewRef(key);
        m->symbol = Py_NewRef(symbol);
        m->prefix = Py_NewRef(prefix);
        self->nmarkets = ++i;
        PyObject *idx = PyLong_FromSsize_t(i - 1);
        if (idx == NULL || PyDict_SetItem(self->index, key, idx) < 0) {
            Py_XDECREF(idx);
            return -1;
        }
        Py_DECREF(idx);
    }
    self->venue = Py_NewRef(venue);
    self->last = Py_NewRef(last);
    self->records = Py_NewRef(records);
    self->lines = Py_NewRef(lines);
    self->ticker = Py_NewRef(ticker);
    self->dumps = Py_NewRef(dumps);
    self->instance = Py_NewRef(instance);
    return 0;
}

/* The market fields of a record this module did not make (the Python path's): values
 * by attribute, text by orjson. 0, or -1 with an exception set. */
static int load_prev(Feed *self, Market *m, PyObject *prev) {
    PyObject *vals[NFIELDS] = {NULL};
    for (int f = 0; f < NFIELDS; f++) {
        vals[f] = PyObject_GetAttr(prev, s_fields[f]);
        if (vals[f] == NULL) goto fail;
        PyObject *text = PyObject_CallOneArg(self->dumps, vals[f]);
        if (text == NULL) goto fail;
        Py_ssize_t n = PyBytes_GET_SIZE(text);
        if (n >= MAXNUM) {
            Py_DECREF(text);
            PyErr_SetString(PyExc_ValueError, "a stored value too long to render");
            goto fail;
        }
        memcpy(m->text[f], PyBytes_AS_STRING(text), (size_t)n);
        m->len[f] = (unsigned char)n;
        Py_DECREF(text);
    }
    for (int f = 0; f < NFIELDS; f++) Py_XSETREF(m->vals[f], vals[f]);
    Py_XSETREF(m->rec, Py_NewRef(prev));
    return 0;
fail:
    for (int f = 0; f < NFIELDS; f++) Py_XDECREF(vals[f]);
    return -1;
}

static void reset_prev(Market *m) {
    for (int f = 0; f < NFIELDS; f++) {
        Py_XSETREF(m->vals[f], Py_NewRef(Py_None));
        memcpy(m->text[f], "null", 4);
        m->len[f] = 4;
    }
    Py_CLEAR(m->rec);
}

/* A valid decimal with many digits: its double (as float() has it) and orjson's text.
 * 0, 1 (not taken: too long, or not finite) or -1 with an exception set. */
static int long_decimal(Feed *self, const char *p, Py_ssize_t n, char *out, unsigned char *outlen,
                        double *value) {
    char buf[400];
    if (n >= (Py_ssize_t)sizeof(buf)) return 1;
    memcpy(buf, p, (size_t)n);
    buf[n] = 0;
    double v = PyOS_string_to_double(buf, NULL, NULL);
    if (v == -1.0 && PyErr_Occurred()) return -1;
    if (!isfinite(v)) return 1;
    PyObject *f = PyFloat_FromDouble(v);
    if (f == NULL) return -1;
    PyObject *text = PyObject_CallOneArg(self->dumps, f);
    Py_DECREF(f);
    if (text == NULL) return -1;
    Py_ssize_t tn = PyBytes_GET_SIZE(text);
    if (tn >= MAXNUM) {
        Py_DECREF(text);
        return 1;
    }
    memcpy(out, PyBytes_AS_STRING(text), (size_t)tn);
    *outlen = (unsigned char)tn;
    *value = v;
    Py_DECREF(text);
    return 0;
}

static PyObject *Feed_feed(Feed *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyBytes_Check(args[0]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "feed(raw: bytes, ts_recv: int)");
        return NULL;
    }
    if (self->markets == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Feed not initialised");
        return NULL;
    }
    const char *raw = PyBytes_AS_STRING(args[0]);
    Py_ssize_t rawlen = PyBytes_GET_SIZE(args[0]);
    PyObject *ts_recv = args[1];
    long long recv = PyLong_AsLongLong(ts_recv);
    if (recv == -1 && PyErr_Occurred()) return NULL;

    Frame fr;
    if (scan(raw, raw + rawlen, &fr) < 0 || fr.s.kind != 's') return PyLong_FromLong(-1);
    int book;
    if (fr.e.kind == 0) {
        book = 1;
        for (int f = 0; f < 4; f++)
            if (fr.f[f].kind != 's') return PyLong_FromLong(-1);
    } else if (fr.e.kind == 's' && ((fr.e.n == 10 && memcmp(fr.e.p, "24hrTicker", 10) == 0) ||
                                    (fr.e.n == 14 && memcmp(fr.e.p, "24hrMiniTicker", 14) == 0))) {
        book = 0;
    } else {
        return PyLong_FromLong(-1);
    }
    /* the numbers, before anything changes */
    char text[NFIELDS][MAXNUM];
    unsigned char len[NFIELDS];
    double value[NFIELDS];
    int have[NFIELDS] = {0};
    for (int f = 0; f < (book ? 4 : NFIELDS); f++) {
        Value *v = &fr.f[f];
        if (v->kind == 0) continue; /* not sent: carried over from the previous record */
        if (v->kind != 's') return PyLong_FromLong(-1);
        int r = decimal(v->p, v->n, text[f], &len[f], &value[f]);
        if (r < 0) return PyLong_FromLong(-1);
        if (r > 0) { /* many digits: the correctly rounded double, written by orjson */
            r = long_decimal(self, v->p, v->n, text[f], &len[f], &value[f]);
            if (r < 0) return NULL;
            if (r > 0) return PyLong_FromLong(-1);
        }
        have[f] = 1;
    }
    long long event = -1;
    if (!book && fr.E.kind != 0) {
        /* integer milliseconds that fit in int64 nanoseconds (the Python path: None) */
        if (fr.E.kind != 'n' || fr.E.n > 13) return PyLong_FromLong(-1);
        event = 0;
        for (Py_ssize_t i = 0; i < fr.E.n; i++) {
            char c = fr.E.p[i];
            if (c < '0' || c > '9') return PyLong_FromLong(-1);
            event = event * 10 + (c - '0');
        }
        if (event > 9223372036854LL) return PyLong_FromLong(-1);
        event *= 1000000;
    }
    PyObject *native = PyUnicode_DecodeASCII(fr.s.p, fr.s.n, NULL);
    if (native == NULL) {
        PyErr_Clear();
        return PyLong_FromLong(-1);
    }
    PyObject *idx = PyDict_GetItemWithError(self->index, native);
    Py_DECREF(native);
    if (idx == NULL) {
        if (PyErr_Occurred()) return NULL;
        return PyLong_FromLong(0); /* a market we do not follow */
    }
    Market *m = &self->markets[PyLong_AsSsize_t(idx)];
    if (PyBytes_GET_SIZE(m->prefix) > MAXLINE / 2) return PyLong_FromLong(-1);

    /* the previous record of this market: ours (cached), another one, or none */
    PyObject *prev = PyDict_GetItemWithError(self->last, m->native);
    if (prev == NULL) {
        if (PyErr_Occurred()) return NULL;
        reset_prev(m);
    } else if (prev != m->rec) {
        if (load_prev(self, m, prev) < 0) return NULL;
    }

    /* the record's values; numbers the frame sent replace the carried ones */
    PyObject *vals[NFIELDS] = {NULL};
    for (int f = 0; f < NFIELDS; f++) {
        if (have[f]) {
            vals[f] = PyFloat_FromDouble(value[f]);
            if (vals[f] == NULL) goto fail;
        } else {
            vals[f] = Py_NewRef(m->vals[f]);
        }
    }
    PyObject *seq = PyLong_FromLongLong(self->seq + 1);
    PyObject *ev = event >= 0 ? PyLong_FromLongLong(event) : Py_NewRef(Py_None);
    PyObject *dict = PyDict_New();
    PyObject *rec = NULL, *line = NULL;
    if (seq == NULL || ev == NULL || dict == NULL) goto fail_rec;
    if (PyDict_SetItem(dict, s_type, s_ticker) < 0 ||
        PyDict_SetItem(dict, s_exchange, self->venue) < 0 ||
        PyDict_SetItem(dict, s_symbol, m->symbol) < 0 ||
        PyDict_SetItem(dict, s_native, m->native) < 0)
        goto fail_rec;
    for (int f = 0; f < NFIELDS; f++)
        if (PyDict_SetItem(dict, s_fields[f], vals[f]) < 0) goto fail_rec;
    if (PyDict_SetItem(dict, s_ts_event, ev) < 0 || PyDict_SetItem(dict, s_ts_recv, ts_recv) < 0 ||
        PyDict_SetItem(dict, s_seq, seq) < 0 || PyDict_SetItem(dict, s_instance, self->instance) < 0)
        goto fail_rec;
    rec = PyBaseObject_Type.tp_new((PyTypeObject *)self->ticker, s_empty_tuple, NULL);
    if (rec == NULL || PyObject_GenericSetDict(rec, dict, NULL) < 0) goto fail_rec;

    /* the line */
    char buf[MAXLINE];
    char *o = buf;
    Py_ssize_t plen = PyBytes_GET_SIZE(m->prefix);
    memcpy(o, PyBytes_AS_STRING(m->prefix), (size_t)plen);
    o += plen;
    for (int f = 0; f < NFIELDS; f++) {
        const char *name = FIELD_NAMES[f];
        size_t nl = strlen(name);
        if (f) *o++ = ',';
        *o++ = '"';
        memcpy(o, name, nl); o += nl;
        *o++ = '"'; *o++ = ':';
        if (have[f]) { memcpy(o, text[f], len[f]); o += len[f]; }
        else { memcpy(o, m->text[f], m->len[f]); o += m->len[f]; }
    }
    memcpy(o, ",\"ts_event\":", 12); o += 12;
    if (event >= 0) o = put_i64(o, event);
    else { memcpy(o, "null", 4); o += 4; }
    memcpy(o, ",\"ts_recv\":", 11); o += 11;
    o = put_i64(o, recv);
    memcpy(o, ",\"seq\":", 7); o += 7;
    o = put_i64(o, self->seq + 1);
    Py_ssize_t slen = PyBytes_GET_SIZE(self->suffix);
    if ((o - buf) + slen > MAXLINE) goto fail_rec_unhandled;
    memcpy(o, PyBytes_AS_STRING(self->suffix), (size_t)slen);
    o += slen;
    line = PyBytes_FromStringAndSize(buf, o - buf);
    if (line == NULL) goto fail_rec;

    /* publish: the lists, the merge state, the cache of this market */
    if (PyList_Append(self->records, rec) < 0) goto fail_rec;
    if (PyList_Append(self->lines, line) < 0) {
        /* keep the lists in step */
        PySequence_DelItem(self->records, PyList_GET_SIZE(self->records) - 1);
        goto fail_rec;
    }
    if (PyDict_SetItem(self->last, m->native, rec) < 0) goto fail_rec;
    self->seq += 1;
    for (int f = 0; f < NFIELDS; f++) {
        Py_XSETREF(m->vals[f], vals[f]); /* the reference moves to the cache */
        if (have[f]) { memcpy(m->text[f], text[f], len[f]); m->len[f] = len[f]; }
    }
    Py_XSETREF(m->rec, rec);
    Py_DECREF(line);
    Py_DECREF(dict);
    Py_DECREF(seq);
    Py_DECREF(ev);
    return PyLong_FromLong(1);

fail_rec_unhandled:
    Py_XDECREF(rec);
    Py_XDECREF(dict);
    Py_XDECREF(seq);
    Py_XDECREF(ev);
    for (int f = 0; f < NFIELDS; f++) Py_XDECREF(vals[f]);
    return PyLong_FromLong(-1);
fail_rec:
    Py_XDECREF(line);
    Py_XDECREF(rec);
    Py_XDECREF(dict);
    Py_XDECREF(seq);
    Py_XDECREF(ev);
fail:
    for (int f = 0; f < NFIELDS; f++) Py_XDECREF(vals[f]);
    return NULL;
}

static PyObject *Feed_get_seq(Feed *self, void *closure) {
    return PyLong_FromLongLong(self->seq);
}

static int Feed_set_seq(Feed *self, PyObject *value, void *closure) {
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete seq");
        return -1;
    }
    long long v = PyLong_AsLongLong(value);
    if (v == -1 && PyErr_Occurred()) return -1;
    self->seq = v;
    return 0;
}

static PyGetSetDef Feed_getset[] = {
    {"seq", (getter)Feed_get_seq, (setter)Feed_set_seq, "the last sequence number given", NULL},
    {NULL},
};

static PyMethodDef Feed_methods[] = {
    {"feed", (PyCFunction)(void (*)(void))Feed_feed, METH_FASTCALL,
     "feed(raw, ts_recv) -> 1 (a record made), 0 (a market not followed), -1 (not handled)"},
    {NULL},
};

static PyTypeObject FeedType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aggregator.adapters._fastpath.BinanceFeed",
    .tp_basicsize = sizeof(Feed),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Binance bookTicker and 24hrTicker frames to merged Ticker records and lines.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Feed_init,
    .tp_dealloc = (destructor)Feed_dealloc,
    .tp_traverse = (traverseproc)Feed_traverse,
    .tp_clear = (inquiry)Feed_clear,
    .tp_methods = Feed_methods,
    .tp_getset = Feed_getset,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastpath", "Compiled per-message paths of the busiest venues.", -1,
};

PyMODINIT_FUNC PyInit__fastpath(void) {
    if (PyType_Ready(&FeedType) < 0) return NULL;
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL
    INTERN(s_type, "type");
    INTERN(s_exchange, "exchange");
    INTERN(s_symbol, "symbol");
    INTERN(s_native, "native");
    INTERN(s_ts_event, "ts_event");
    INTERN(s_ts_recv, "ts_recv");
    INTERN(s_seq, "seq");
    INTERN(s_instance, "instance");
    INTERN(s_ticker, "ticker");
    for (int f = 0; f < NFIELDS; f++) INTERN(s_fields[f], FIELD_NAMES[f]);
#undef INTERN
    if ((s_empty_tuple = PyTuple_New(0)) == NULL) return NULL;
    PyObject *mod = PyModule_Create(&module);
    if (mod == NULL) return NULL;
    if (PyModule_AddObjectRef(mod, "BinanceFeed", (PyObject *)&FeedType) < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
