/* Binance's stream frames to merged ticker records and their JSON lines, in one C call.
 *
 * The daemon's per-message path in Python (orjson.loads, the codec, the merge of the two
 * channels, orjson.dumps) costs about ten times the WebSocket client's own work per frame
 * (bench/README.md). This module does the same for the frames that make up nearly all of
 * Binance's traffic, bookTicker and 24hrTicker, and gives up on anything else: the Python
 * codec stays the reference, and every frame this module does not take goes to it.
 *
 * Per frame it appends to the adapter's batch the record's JSON line, byte for byte the
 * line the Python path writes, and a small Rec (exchange, symbol, native, ts_recv, seq,
 * key()): what the sinks read of a record. The merged Ticker itself, which the adapter's
 * merge state (`last`) and the hub's latest values hold, is made once per market per
 * batch (take_latest, sync), not once per frame.
 *
 * Numbers are copied from the frame's text, normalised the way orjson writes the float
 * they parse to: that is exact for decimals of at most 15 significant digits (any such
 * decimal is the shortest representation of its double); a decimal with more digits is
 * converted as float() does and written by orjson, and an exponent, or anything but plain
 * decimal digits, sends the frame to the Python path. So does a value the record would flag
 * (records.py, settle: a price <= 0, a size < 0, bid > ask once merged): a line made here
 * has "flags":null. tests/test_fastpath.py checks the two paths against each other.
 *
 * BinanceFeed.feed(raw[, ts_recv]) returns 1 (a record made), 0 (a frame of a market not
 * followed: nothing to do) or -1 (not taken: nothing changed; call sync() and give the
 * frame to the Python codec).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#define NFIELDS 10      /* bid, bid_size, ask, ask_size, last, open, high, low, volume, quote_volume */
#define MAXNUM 40       /* the longest number text kept (sign, 15 digits, point, zeros, exponent) */
#define MAXLINE 2048    /* a line longer than this (a huge symbol) goes to the Python path */

static const char *FIELD_NAMES[NFIELDS] = {
    "bid", "bid_size", "ask", "ask_size", "last", "open", "high", "low", "volume", "quote_volume",
};
/* The same as they open each field in the line, in rows of 16 bytes: each is copied whole
 * (a fixed size, inlined) and the line advances by its length. */
#define FIELD_JSON_ROW 16
static const char FIELD_JSON[NFIELDS][FIELD_JSON_ROW + 1] = {
    "\"bid\":", ",\"bid_size\":", ",\"ask\":", ",\"ask_size\":", ",\"last\":", ",\"open\":",
    ",\"high\":", ",\"low\":", ",\"volume\":", ",\"quote_volume\":",
};
static size_t FIELD_JSON_LEN[NFIELDS];
/* The price fields (bit f: FIELD_NAMES[f]): bid, ask, last, open, high, low; the others
 * are sizes. A price must be > 0 and a size >= 0, else the Python path flags the record. */
#define PRICE_FIELDS ((1u << 0) | (1u << 2) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 7))
/* The frame key of each field, in a 24hrTicker (a bookTicker carries the first four). */
static const char FIELD_KEYS[NFIELDS] = {'b', 'B', 'a', 'A', 'c', 'o', 'h', 'l', 'v', 'q'};
#define SLOT_S NFIELDS
#define SLOT_e (NFIELDS + 1)
#define SLOT_E (NFIELDS + 2)
#define NSLOTS (NFIELDS + 3)
/* A one-letter key's slot in Frame.v, or -1: a key we skip. */
static signed char KEY_SLOT[256];
/* Bytes inside a JSON string: 0 ordinary, 1 the closing quote, 2 anything we leave to the
 * Python path (an escape, a control character, a byte of a multi-byte UTF-8 sequence). */
static unsigned char STR_CLASS[256];

static PyObject *s_type, *s_exchange, *s_symbol, *s_native, *s_ts_event, *s_ts_recv, *s_seq,
    *s_instance, *s_ticker, *s_flags, *s_fields[NFIELDS];

/* --- Rec: a record as the sinks see it -------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *key;       /* ("ticker", exchange, symbol) */
    PyObject *exchange;
    PyObject *symbol;
    PyObject *native;
    long long ts_recv;
    long long seq;
} Rec;

static void Rec_dealloc(Rec *self) {
    Py_XDECREF(self->key);
    Py_XDECREF(self->exchange);
    Py_XDECREF(self->symbol);
    Py_XDECREF(self->native);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Rec_key(Rec *self, PyObject *unused) { return Py_NewRef(self->key); }

static PyObject *Rec_get_type(Rec *self, void *closure) { return Py_NewRef(s_ticker); }

static PyObject *Rec_repr(Rec *self) {
    return PyUnicode_FromFormat("Rec(%R, %R, seq=%lld, ts_recv=%lld)", self->exchange,
                                self->symbol, self->seq, self->ts_recv);
}

static PyMemberDef Rec_members[] = {
    {"exchange", T_OBJECT_EX, offsetof(Rec, exchange), READONLY, NULL},
    {"symbol", T_OBJECT_EX, offsetof(Rec, symbol), READONLY, NULL},
    {"native", T_OBJECT_EX, offsetof(Rec, native), READONLY, NULL},
    {"ts_recv", T_LONGLONG, offsetof(Rec, ts_recv), READONLY, NULL},
    {"seq", T_LONGLONG, offsetof(Rec, seq), READONLY, NULL},
    {NULL},
};

static PyGetSetDef Rec_getset[] = {
    {"type", (getter)Rec_get_type, NULL, "always \"ticker\"", NULL},
    {NULL},
};

static PyMethodDef Rec_methods[] = {
    {"key", (PyCFunction)Rec_key, METH_NOARGS, "(\"ticker\", exchange, symbol)"},
    {NULL},
};

static PyTypeObject RecType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aggregator.adapters._fastpath.Rec",
    .tp_basicsize = sizeof(Rec),
    .tp_flags = Py_TPFLAGS_DEFAULT,  /* holds only str, int and a tuple of str: no cycles */
    .tp_doc = "A ticker record as the sinks see it: its line goes with it.",
    .tp_dealloc = (destructor)Rec_dealloc,
    .tp_repr = (reprfunc)Rec_repr,
    .tp_members = Rec_members,
    .tp_getset = Rec_getset,
    .tp_methods = Rec_methods,
};

/* --- one followed market ------------------------------------------------------------ */

typedef struct {
    PyObject *symbol;              /* str, the unified symbol */
    PyObject *native;              /* str, the venue's id as the frames spell it */
    PyObject *prefix;              /* bytes: {"type":"ticker",...,"native":"BTCUSDT", */
    PyObject *key;                 /* ("ticker", venue, symbol) */
    const char *id;                /* native, as bytes (the str's UTF-8: it outlives us) */
    Py_ssize_t idlen;
    int fits;                      /* its longest line fits in MAXLINE (else: Python path) */
    /* the market's latest record: */
    PyObject *rec;                 /* as a Ticker in `last`, unless dirty; or NULL */
    int dirty;                     /* made here since, not in `last` yet */
    int touched;                   /* made here in the current batch */
    char has[NFIELDS];             /* the field is not None */
    double val[NFIELDS];           /* its value, unless vals[] holds the object */
    PyObject *vals[NFIELDS];       /* the value's object, or NULL (made from val[] when needed) */
    char text[NFIELDS][MAXNUM];    /* its JSON text */
    unsigned char len[NFIELDS];
    long long ts_event, ts_recv, seq; /* ts_event < 0: None */
} Market;

typedef struct {
    PyObject_HEAD
    PyObject *venue;     /* str */
    Market *markets;
    Py_ssize_t nmarkets;
    Py_ssize_t *slots;   /* open addressing by the native id's bytes: index into markets, or -1 */
    size_t mask;
    Py_ssize_t *touched; /* the markets made here in the current batch */
    Py_ssize_t ntouched;
    PyObject *last;      /* dict shared with the adapter: native -> the last Ticker */
    PyObject *records;   /* list: records made, for the adapter to publish */
    PyObject *lines;     /* list: their lines */
    PyObject *ticker;    /* the Ticker class */
    PyObject *dumps;     /* orjson.dumps, for values the Python path stored */
    PyObject *instance;  /* None or str */
    PyObject *suffix;    /* bytes: ,"instance":...}\n */
    long long seq;
    int ready;           /* __init__ completed */
} Feed;

static inline Py_ssize_t find_market(Feed *self, const char *p, Py_ssize_t n);

/* --- the frame's flat JSON object ----------------------------------------------------- */

typedef struct {
    const char *p;
    Py_ssize_t n;
    char kind; /* 's' string (p/n: the text between the quotes), 'n' number, 'x' other */
} Value;

typedef struct {
    Value v[NSLOTS]; /* the fields, then s, e, E */
} Frame;

static inline const char *skip_ws(const char *p, const char *end) {
    if (p < end && (unsigned char)*p > ' ') return p; /* compact JSON: nothing to skip */
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* The first byte at or after p that ends a plain JSON string's text (STR_CLASS not 0), or
 * end. Eight bytes at a time while they hold none: a byte below 0x20 or above 0x7f, a quote
 * or a backslash sets the high bit of its lane (an alarm in a lane above a real one is
 * harmless: the bytes from that word on are looked at one by one). */
static inline const char *str_end(const char *p, const char *end) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
        if (((x - ones * 0x20) | x | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs) break;
        p += 8;
    }
    while (p < end && STR_CLASS[(unsigned char)*p] == 0) p++;
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
    for (int i = 0; i < NSLOTS; i++) fr->v[i].kind = 0;
    p = skip_ws(p, end);
    if (p >= end || *p != '{') return -1;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') return (skip_ws(p + 1, end) == end) ? 0 : -1;
    for (;;) {
        if (p >= end || *p != '"') return -1;
        const char *k = ++p;
        p = str_end(p, end);
        if (p >= end || *p != '"') return -1;
        Py_ssize_t klen = p - k;
        p = skip_ws(p + 1, end);
        if (p >= end || *p != ':') return -1;
        p = skip_ws(p + 1, end);
        if (p >= end) return -1;
        Value v;
        if (*p == '"') {
            const char *s = ++p;
            p = str_end(p, end);
            if (p >= end || *p != '"') return -1;
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
            int slot = KEY_SLOT[(unsigned char)*k];
            if (slot >= 0) fr->v[slot] = v;
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
    while (fe - fp >= 8 && memcmp(fe - 8, "00000000", 8) == 0) fe -= 8; /* trailing zeros */
    while (fe > fp && fe[-1] == '0') fe--;        /* of the fraction */
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

static const char DIGIT_PAIRS[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* v in decimal at o, written from its last digit back; the end of it. */
static char *put_i64(char *o, long long v) {
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    if (v < 0) *o++ = '-';
    int n = 1;
    for (unsigned long long x = u; x >= 10; x /= 10) n++;
    char *t = o + n;
    while (u >= 100) {
        unsigned d = (unsigned)(u % 100) * 2;
        u /= 100;
        *--t = DIGIT_PAIRS[d + 1];
        *--t = DIGIT_PAIRS[d];
    }
    if (u >= 10) {
        *--t = DIGIT_PAIRS[u * 2 + 1];
        *--t = DIGIT_PAIRS[u * 2];
    } else {
        *--t = (char)('0' + u);
    }
    return o + n;
}


/* --- the feed ------------------------------------------------------------------------ */

static void clear_values(Market *m) {
    for (int f = 0; f < NFIELDS; f++) {
        Py_CLEAR(m->vals[f]);
        m->has[f] = 0;
        memcpy(m->text[f], "null", 4);
        m->len[f] = 4;
    }
}

static void clear_markets(Feed *self) {
    if (self->markets != NULL) {
        for (Py_ssize_t i = 0; i < self->nmarkets; i++) {
            Market *m = &self->markets[i];
            Py_CLEAR(m->symbol);
            Py_CLEAR(m->native);
            Py_CLEAR(m->prefix);
            Py_CLEAR(m->key);
            Py_CLEAR(m->rec);
            for (int f = 0; f < NFIELDS; f++) Py_CLEAR(m->vals[f]);
        }
    }
    PyMem_Free(self->markets);
    PyMem_Free(self->slots);
    PyMem_Free(self->touched);
    self->markets = NULL;
    self->slots = NULL;
    self->touched = NULL;
    self->nmarkets = self->ntouched = 0;
}

static int Feed_traverse(Feed *self, visitproc visit, void *arg) {
    Py_VISIT(self->venue);
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

static uint64_t hash_id(const char *p, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

/* BinanceFeed(venue, markets, last, records, lines, ticker, dumps, instance)
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
    if (!PyType_Check(ticker)) {
        PyErr_SetString(PyExc_TypeError, "ticker must be a class");
        return -1;
    }
    Feed_clear(self);
    self->ready = 0;
    PyObject *suffix_obj = PyObject_CallOneArg(dumps, instance);
    if (suffix_obj == NULL) return -1;
    if (!PyBytes_Check(suffix_obj)) {
        Py_DECREF(suffix_obj);
        PyErr_SetString(PyExc_TypeError, "dumps must return bytes");
        return -1;
    }
    self->suffix = PyBytes_FromFormat(",\"instance\":%s}\n", PyBytes_AS_STRING(suffix_obj));
    Py_DECREF(suffix_obj);
    if (self->suffix == NULL) return -1;
    Py_ssize_t n = PyDict_GET_SIZE(markets);
    size_t nslots = 8;
    while (nslots < (size_t)n * 2) nslots *= 2;
    self->markets = PyMem_Calloc(n ? (size_t)n : 1, sizeof(Market));
    self->touched = PyMem_Calloc(n ? (size_t)n : 1, sizeof(Py_ssize_t));
    self->slots = PyMem_Malloc(nslots * sizeof(Py_ssize_t));
    if (self->markets == NULL || self->slots == NULL || self->touched == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->mask = nslots - 1;
    for (size_t k = 0; k < nslots; k++) self->slots[k] = -1;
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
        m->fits = PyBytes_GET_SIZE(prefix) + PyBytes_GET_SIZE(self->suffix) +
                      NFIELDS * (MAXNUM + 16) + 13 + 128 <= MAXLINE;
        self->nmarkets = ++i;
        clear_values(m);
        m->key = PyTuple_Pack(3, s_ticker, venue, symbol);
        m->id = PyUnicode_AsUTF8AndSize(key, &m->idlen);
        if (m->key == NULL || m->id == NULL) return -1;
        size_t slot = (size_t)hash_id(m->id, m->idlen) & self->mask;
        while (self->slots[slot] >= 0) slot = (slot + 1) & self->mask;
        self->slots[slot] = i - 1;
    }
    self->venue = Py_NewRef(venue);
    self->last = Py_NewRef(last);
    self->records = Py_NewRef(records);
    self->lines = Py_NewRef(lines);
    self->ticker = Py_NewRef(ticker);
    self->dumps = Py_NewRef(dumps);
    self->instance = Py_NewRef(instance);
    self->ready = 1;
    return 0;
}

/* The market fields of a record the Python path made: its values, their text by orjson.
 * 0, or -1 with an exception set. */
static int load_prev(Feed *self, Market *m, PyObject *prev) {
    PyObject *vals[NFIELDS] = {NULL};
    char text[NFIELDS][MAXNUM];
    unsigned char len[NFIELDS];
    double dv[NFIELDS]; /* the values, for the crossed check */
    for (int f = 0; f < NFIELDS; f++) {
        vals[f] = PyObject_GetAttr(prev, s_fields[f]);
        if (vals[f] == NULL) goto fail;
        if (vals[f] != Py_None && (dv[f] = PyFloat_AsDouble(vals[f])) == -1.0 && PyErr_Occurred())
            goto fail;
        PyObject *t = PyObject_CallOneArg(self->dumps, vals[f]);
        if (t == NULL) goto fail;
        Py_ssize_t n = PyBytes_GET_SIZE(t);
        if (n >= MAXNUM) {
            Py_DECREF(t);
            PyErr_SetString(PyExc_ValueError, "a stored value too long to render");
            goto fail;
        }
        memcpy(text[f], PyBytes_AS_STRING(t), (size_t)n);
        len[f] = (unsigned char)n;
        Py_DECREF(t);
    }
    for (int f = 0; f < NFIELDS; f++) {
        m->has[f] = vals[f] != Py_None;
        if (m->has[f]) {
            m->val[f] = dv[f];
            Py_XSETREF(m->vals[f], vals[f]);
        } else {
            Py_CLEAR(m->vals[f]);
            Py_DECREF(vals[f]);
        }
        memcpy(m->text[f], text[f], len[f]);
        m->len[f] = len[f];
    }
    Py_XSETREF(m->rec, Py_NewRef(prev));
    return 0;
fail:
    for (int f = 0; f < NFIELDS; f++) Py_XDECREF(vals[f]);
    return -1;
}

/* A valid decimal with many digits: its double (as float() has it) and orjson's text.
 * 0, 1 (not taken: too long, or not finite) or -1 with an exception set. */
static int long_decimal(PyObject *dumps, const char *p, Py_ssize_t n, char *out,
                        unsigned char *outlen, double *value) {
    char buf[400];
    if (n >= (Py_ssize_t)sizeof(buf)) return 1;
    memcpy(buf, p, (size_t)n);
    buf[n] = 0;
    double v = PyOS_string_to_double(buf, NULL, NULL);
    if (v == -1.0 && PyErr_Occurred()) return -1;
    if (!isfinite(v)) return 1;
    PyObject *f = PyFloat_FromDouble(v);
    if (f == NULL) return -1;
    PyObject *text = PyObject_CallOneArg(dumps, f);
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

/* The market's latest record as a Ticker, put in `last`. 0, or -1 with an exception. */
static int materialise(Feed *self, Market *m) {
    /* Ticker's positional arguments: exchange, symbol, native, the ten market fields,
     * ts_event, ts_recv, seq, instance (and flags, last, None: this path makes only records
     * with nothing to flag) */
    PyObject *args[17], *ev = NULL, *recv = NULL, *seq = NULL, *rec = NULL;
    args[0] = self->venue;
    args[1] = m->symbol;
    args[2] = m->native;
    for (int f = 0; f < NFIELDS; f++) {
        args[3 + f] = Py_None;
        if (m->has[f]) {
            if (m->vals[f] == NULL && (m->vals[f] = PyFloat_FromDouble(m->val[f])) == NULL)
                return -1;
            args[3 + f] = m->vals[f];
        }
    }
    ev = m->ts_event >= 0 ? PyLong_FromLongLong(m->ts_event) : Py_NewRef(Py_None);
    recv = PyLong_FromLongLong(m->ts_recv);
    seq = PyLong_FromLongLong(m->seq);
    if (ev == NULL || recv == NULL || seq == NULL) goto done;
    args[13] = ev;
    args[14] = recv;
    args[15] = seq;
    args[16] = self->instance;
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
    /* 3.11: the instance dict built here (type first, as Ticker.__init__ leaves it) and set
     * on an instance allocated without inline values: a third of the cost of the call */
    if (((PyTypeObject *)self->ticker)->tp_alloc == PyType_GenericAlloc) {
        PyObject *dict = PyDict_New();
        if (dict == NULL) goto done;
        int bad = PyDict_SetItem(dict, s_type, s_ticker) < 0;
        PyObject *names[18] = {s_exchange, s_symbol, s_native}, *values[18];
        for (int i = 0; i < 13; i++) values[i] = args[i];
        for (int f = 0; f < NFIELDS; f++) names[3 + f] = s_fields[f];
        names[13] = s_flags; /* declared after the market fields */
        values[13] = Py_None;
        names[14] = s_ts_event;
        names[15] = s_ts_recv;
        names[16] = s_seq;
        names[17] = s_instance;
        for (int i = 14; i < 18; i++) values[i] = args[i - 1];
        for (int i = 0; i < 18 && !bad; i++) bad = PyDict_SetItem(dict, names[i], values[i]) < 0;
        if (!bad && (rec = PyType_GenericAlloc((PyTypeObject *)self->ticker, 0)) != NULL &&
            PyObject_GenericSetDict(rec, dict, NULL) < 0)
            Py_CLEAR(rec);
        Py_DECREF(dict);
    } else
#endif
    rec = PyObject_Vectorcall(self->ticker, args, 17, NULL);
    if (rec != NULL && PyDict_SetItem(self->last, m->native, rec) < 0) Py_CLEAR(rec);
    if (rec != NULL) {
        Py_XSETREF(m->rec, rec);
        m->dirty = 0;
    }
done:
    Py_XDECREF(ev);
    Py_XDECREF(recv);
    Py_XDECREF(seq);
    return rec != NULL ? 0 : -1;
}

/* The market of a native id as the frame spells it: its index, or -1. */
static inline Py_ssize_t find_market(Feed *self, const char *p, Py_ssize_t n) {
    for (size_t slot = (size_t)hash_id(p, n) & self->mask;; slot = (slot + 1) & self->mask) {
        Py_ssize_t i = self->slots[slot];
        if (i < 0) return -1;
        Market *m = &self->markets[i];
        if (m->idlen == n && memcmp(m->id, p, (size_t)n) == 0) return i;
    }
}

/* One frame's text: 1, a record and its line appended; 0, a market not followed; -1, not
 * taken (nothing changed); -2, an error (set). */
static int feed_text(Feed *self, const char *raw, Py_ssize_t rawlen, long long recv) {
    Frame fr;
    if (scan(raw, raw + rawlen, &fr) < 0) return -1;
    Value *sym = &fr.v[SLOT_S], *ev = &fr.v[SLOT_e], *ms = &fr.v[SLOT_E];
    if (sym->kind != 's') return -1;
    int book;
    if (ev->kind == 0) {
        book = 1;
        for (int f = 0; f < 4; f++)
            if (fr.v[f].kind != 's') return -1;
    } else if (ev->kind == 's' && ((ev->n == 10 && memcmp(ev->p, "24hrTicker", 10) == 0) ||
                                   (ev->n == 14 && memcmp(ev->p, "24hrMiniTicker", 14) == 0))) {
        book = 0;
    } else {
        return -1;
    }
    /* the numbers, before anything changes */
    char text[NFIELDS][MAXNUM];
    unsigned char len[NFIELDS];
    double value[NFIELDS];
    int have[NFIELDS] = {0};
    for (int f = 0; f < (book ? 4 : NFIELDS); f++) {
        Value *v = &fr.v[f];
        if (v->kind == 0) continue; /* not sent: carried over from the previous record */
        if (v->kind != 's') return -1;
        int r = decimal(v->p, v->n, text[f], &len[f], &value[f]);
        if (r < 0) return -1;
        if (r > 0) { /* many digits: the correctly rounded double, written by orjson */
            r = long_decimal(self->dumps, v->p, v->n, text[f], &len[f], &value[f]);
            if (r < 0) return -2;
            if (r > 0) return -1;
        }
        /* a negative zero: the Python path's declared decoding decides its sign ("-0" is
         * 0.0 there, "-0.0" is -0.0), so such a frame is its to write */
        if (value[f] == 0.0 && signbit(value[f])) return -1;
        /* a price <= 0 or a size < 0: the Python path nulls and flags it (records.py) */
        if ((PRICE_FIELDS >> f) & 1 ? !(value[f] > 0.0) : !(value[f] >= 0.0)) return -1;
        have[f] = 1;
    }
    long long event = -1;
    if (!book && ms->kind != 0) {
        /* integer milliseconds that fit in int64 nanoseconds (the Python path: None) */
        if (ms->kind != 'n' || ms->n > 13) return -1;
        event = 0;
        for (Py_ssize_t i = 0; i < ms->n; i++) {
            char c = ms->p[i];
            if (c < '0' || c > '9') return -1;
            event = event * 10 + (c - '0');
        }
        if (event > 9223372036854LL) return -1;
        event *= 1000000;
    }
    Py_ssize_t mi = find_market(self, sym->p, sym->n);
    if (mi < 0) return 0; /* a market we do not follow */
    Market *m = &self->markets[mi];
    if (!m->fits) return -1;
    Py_ssize_t plen = PyBytes_GET_SIZE(m->prefix), slen = PyBytes_GET_SIZE(self->suffix);

    /* What the merge starts from: this market's state when the latest record is ours;
     * else the record in `last` (the Python path's), or nothing. */
    if (!m->dirty) {
        PyObject *prev = PyDict_GetItemWithError(self->last, m->native);
        if (prev == NULL) {
            if (PyErr_Occurred()) return -2;
            clear_values(m);
            Py_CLEAR(m->rec);
        } else if (prev != m->rec) {
            if (load_prev(self, m, prev) < 0) return -2;
        }
    }
    /* bid > ask in the merged record: flagged, by the Python path (nothing changed here but
     * the market's copy of the record in `last`) */
    if ((have[0] || m->has[0]) && (have[2] || m->has[2]) &&
        (have[0] ? value[0] : m->val[0]) > (have[2] ? value[2] : m->val[2]))
        return -1;
    long long seq = self->seq + 1;

    /* the line: the pieces of a field are copied in whole rows (fixed sizes, no calls),
     * over what comes next; the slack takes the last row's overhang */
    char buf[MAXLINE + MAXNUM];
    char *o = buf;
    memcpy(o, PyBytes_AS_STRING(m->prefix), (size_t)plen);
    o += plen;
    for (int f = 0; f < NFIELDS; f++) {
        memcpy(o, FIELD_JSON[f], FIELD_JSON_ROW);
        o += FIELD_JSON_LEN[f];
        if (have[f]) { memcpy(o, text[f], MAXNUM); o += len[f]; }
        else { memcpy(o, m->text[f], MAXNUM); o += m->len[f]; }
    }
    memcpy(o, ",\"flags\":null", 13); o += 13; /* a record this path makes has none */
    memcpy(o, ",\"ts_event\":", 12); o += 12;
    if (event >= 0) o = put_i64(o, event);
    else { memcpy(o, "null", 4); o += 4; }
    memcpy(o, ",\"ts_recv\":", 11); o += 11;
    o = put_i64(o, recv);
    memcpy(o, ",\"seq\":", 7); o += 7;
    o = put_i64(o, seq);
    memcpy(o, PyBytes_AS_STRING(self->suffix), (size_t)slen);
    o += slen;
    PyObject *line = PyBytes_FromStringAndSize(buf, o - buf);
    if (line == NULL) return -2;
    Rec *rec = PyObject_New(Rec, &RecType);
    if (rec == NULL) {
        Py_DECREF(line);
        return -2;
    }
    rec->key = Py_NewRef(m->key);
    rec->exchange = Py_NewRef(self->venue);
    rec->symbol = Py_NewRef(m->symbol);
    rec->native = Py_NewRef(m->native);
    rec->ts_recv = recv;
    rec->seq = seq;
    if (PyList_Append(self->records, (PyObject *)rec) < 0) goto fail;
    if (PyList_Append(self->lines, line) < 0) {
        /* keep the lists in step */
        PySequence_DelItem(self->records, PyList_GET_SIZE(self->records) - 1);
        goto fail;
    }
    Py_DECREF(rec);
    Py_DECREF(line);

    /* the market's state is this record's */
    self->seq = seq;
    for (int f = 0; f < NFIELDS; f++) {
        if (!have[f]) continue;
        Py_CLEAR(m->vals[f]);
        m->has[f] = 1;
        m->val[f] = value[f];
        memcpy(m->text[f], text[f], MAXNUM); /* (a whole row: a fixed size) */
        m->len[f] = len[f];
    }
    m->ts_event = event;
    m->ts_recv = recv;
    m->seq = seq;
    m->dirty = 1;
    if (!m->touched) {
        m->touched = 1;
        self->touched[self->ntouched++] = mi;
    }
    return 1;
fail:
    Py_DECREF(rec);
    Py_DECREF(line);
    return -2;
}


/* time.time_ns(), without the call */
static inline long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static PyObject *Feed_feed(Feed *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 2 || !PyBytes_Check(args[0]) ||
        (nargs == 2 && !PyLong_Check(args[1]))) {
        PyErr_SetString(PyExc_TypeError, "feed(raw: bytes, ts_recv: int = now)");
        return NULL;
    }
    if (!self->ready) {
        PyErr_SetString(PyExc_RuntimeError, "BinanceFeed not initialised");
        return NULL;
    }
    long long recv;
    if (nargs == 2) {
        recv = PyLong_AsLong(args[1]); /* (long: 64 bits here; AsLongLong is slower) */
        if (recv == -1 && PyErr_Occurred()) return NULL;
    } else {
        recv = now_ns();
    }
    int r = feed_text(self, PyBytes_AS_STRING(args[0]), PyBytes_GET_SIZE(args[0]), recv);
    return r < -1 ? NULL : PyLong_FromLong(r);
}


/* Put the latest record of every market made here into `last`. */
static int sync_all(Feed *self) {
    for (Py_ssize_t i = 0; i < self->ntouched; i++) {
        Market *m = &self->markets[self->touched[i]];
        if (m->dirty && materialise(self, m) < 0) return -1;
    }
    return 0;
}

static PyObject *Feed_sync(Feed *self, PyObject *unused) {
    if (!self->ready || sync_all(self) < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "BinanceFeed not initialised");
        return NULL;
    }
    Py_RETURN_NONE;
}

static int by_seq(const void *a, const void *b) {
    long long x = ((Market *const *)a)[0]->seq, y = ((Market *const *)b)[0]->seq;
    return (x > y) - (x < y);
}

/* The latest Ticker of every market made here in this batch, oldest first; a new batch
 * starts. */
static PyObject *Feed_take_latest(Feed *self, PyObject *unused) {
    if (!self->ready) {
        PyErr_SetString(PyExc_RuntimeError, "BinanceFeed not initialised");
        return NULL;
    }
    if (sync_all(self) < 0) return NULL;
    Py_ssize_t n = self->ntouched;
    Market **ms = PyMem_Malloc((n ? (size_t)n : 1) * sizeof(Market *));
    if (ms == NULL) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) ms[i] = &self->markets[self->touched[i]];
    qsort(ms, (size_t)n, sizeof(Market *), by_seq);
    PyObject *out = PyList_New(n);
    if (out == NULL) {
        PyMem_Free(ms);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyList_SET_ITEM(out, i, Py_NewRef(ms[i]->rec));
        ms[i]->touched = 0;
    }
    self->ntouched = 0;
    PyMem_Free(ms);
    return out;
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
     "feed(raw, ts_recv=now) -> 1 (a record made), 0 (a market not followed), -1 (not taken)"},
    {"sync", (PyCFunction)Feed_sync, METH_NOARGS,
     "put the latest record of each market made here into `last` (before the Python path)"},
    {"take_latest", (PyCFunction)Feed_take_latest, METH_NOARGS,
     "sync; the latest Ticker of each market made here since the last call, oldest first"},
    {NULL},
};

static PyTypeObject FeedType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aggregator.adapters._fastpath.BinanceFeed",
    .tp_basicsize = sizeof(Feed),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Binance bookTicker and 24hrTicker frames to merged records and their lines.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Feed_init,
    .tp_dealloc = (destructor)Feed_dealloc,
    .tp_traverse = (traverseproc)Feed_traverse,
    .tp_clear = (inquiry)Feed_clear,
    .tp_methods = Feed_methods,
    .tp_getset = Feed_getset,
};

/* --- picows frames, read in C --------------------------------------------------------- */

/* picows's WSFrame as its picows.pxd declares it (a Cython extension type with cpdef
 * methods: the object header, its vtable pointer, then the fields in their order). Nothing
 * here relies on it until check_frame_layout() has compared it, on test frames, with what
 * the type's own attributes say. */
typedef struct {
    PyObject_HEAD
    void *vtab;
    PyObject *payload_obj;
    char *payload_ptr;
    Py_ssize_t payload_size;
    Py_ssize_t tail_size;
    int msg_type; /* WSMsgType, a C enum */
    uint8_t fin, rsv1, rsv2, rsv3, last_in_buffer;
} PicowsFrame;

static PyTypeObject *frame_type = NULL; /* WSFrame, while its layout is the one checked */
enum { WS_TEXT = 0x1, WS_BINARY = 0x2 };  /* the opcodes (RFC 6455), WSMsgType's values */

/* 1: the test frame's fields are where PicowsFrame says, by its own attributes, and hold
 * what it was made with (a test frame points into its payload object); 0: not; -1: error.
 * The struct is only compared, never followed: nothing is read through its pointers. */
static int frame_matches(PyObject *frame, PyObject *payload, int msg_type, int fin, int rsv1) {
    PicowsFrame *f = (PicowsFrame *)frame;
    PyObject *size = PyObject_GetAttrString(frame, "payload_size");
    PyObject *kind = PyObject_GetAttrString(frame, "msg_type");
    PyObject *fin_attr = PyObject_GetAttrString(frame, "fin");
    PyObject *rsv1_attr = PyObject_GetAttrString(frame, "rsv1");
    int ok = size && kind && fin_attr && rsv1_attr &&
             PyLong_AsSsize_t(size) == f->payload_size && PyLong_AsLong(kind) == f->msg_type &&
             PyLong_AsLong(fin_attr) == f->fin && PyLong_AsLong(rsv1_attr) == f->rsv1 &&
             f->msg_type == msg_type && f->fin == fin && f->rsv1 == rsv1 &&
             f->payload_size == PyBytes_GET_SIZE(payload) &&
             f->payload_ptr == PyBytes_AS_STRING(payload);
    Py_XDECREF(size);
    Py_XDECREF(kind);
    Py_XDECREF(fin_attr);
    Py_XDECREF(rsv1_attr);
    return PyErr_Occurred() ? -1 : ok;
}

/* check_frame_layout(WSFrame, make_test_frame, TEXT, BINARY) -> bool: whether WSFrame's
 * fields are where PicowsFrame says, on two test frames made with TEXT and BINARY (which
 * must be the opcodes 1 and 2). True: FrameReader reads frames of that type directly;
 * False: it reads none (every frame goes to its fallback), whatever an earlier check said. */
static PyObject *check_frame_layout(PyObject *module, PyObject *args) {
    PyObject *type, *make, *text, *binary;
    if (!PyArg_ParseTuple(args, "O!OOO", &PyType_Type, &type, &make, &text, &binary)) return NULL;
    Py_CLEAR(frame_type);
    if (((PyTypeObject *)type)->tp_basicsize != (Py_ssize_t)sizeof(PicowsFrame)) Py_RETURN_FALSE;
    static const char *payloads[2] = {"{\"s\":\"BTCUSDT\",\"b\":\"1.5\"}", "\x01\x02\x03"};
    for (int i = 0; i < 2; i++) {
        PyObject *payload = PyBytes_FromString(payloads[i]);
        if (payload == NULL) return NULL;
        PyObject *frame = PyObject_CallFunction(make, "OOii", i ? binary : text, payload, !i, i);
        int ok = frame == NULL ? -1
                 : Py_TYPE(frame) != (PyTypeObject *)type
                     ? 0
                     : frame_matches(frame, payload, i ? WS_BINARY : WS_TEXT, !i, i);
        Py_XDECREF(frame);
        Py_DECREF(payload);
        if (ok < 0) return NULL;
        if (!ok) Py_RETURN_FALSE;
    }
    frame_type = (PyTypeObject *)Py_NewRef(type);
    Py_RETURN_TRUE;
}

/* A WebSocket session's frame callback (picows's on_ws_frame) for a BinanceFeed: a whole
 * text frame goes from picows's read buffer straight into the feed, with no Python call.
 * `fallback(transport, frame)` (the listener's Python handler) gets every other frame, and
 * the ones the feed does not take (it sees them again: they are rare), and any frame marked
 * compressed (RSV1: nothing is negotiated, the listener ends the session for it).
 * `on_made()` is called when a record begins a batch, fills one, or is the session's first;
 * `fail(transport, error)` gets an error raised here. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    Feed *feed;
    PyObject *fallback, *on_made, *fail;
    Py_ssize_t flush_at;
    long long records; /* made by this reader */
    int held;          /* a fragmented message is open: every frame to the fallback */
    int live;          /* on_made was called once */
} Reader;

static PyObject *Reader_call(Reader *self, PyObject *const *args, size_t nargsf,
                             PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 2 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "FrameReader(transport, frame)");
        return NULL;
    }
    PicowsFrame *f = (PicowsFrame *)args[1];
    if (self->held || !self->feed->ready || frame_type == NULL ||
        Py_TYPE(args[1]) != frame_type || f->msg_type != WS_TEXT || !f->fin || f->rsv1)
        return PyObject_Vectorcall(self->fallback, args, 2, NULL);
    int r = feed_text(self->feed, f->payload_ptr, f->payload_size, now_ns());
    if (r == -1) return PyObject_Vectorcall(self->fallback, args, 2, NULL);
    if (r == 1) {
        self->records++;
        Py_ssize_t n = PyList_GET_SIZE(self->feed->records);
        if (n == 1 || n >= self->flush_at || !self->live) {
            self->live = 1;
            PyObject *res = PyObject_CallNoArgs(self->on_made);
            if (res == NULL) r = -2;
            Py_XDECREF(res);
        }
    }
    if (r == -2) { /* to the listener, as an error of its own handler would go */
#if PY_VERSION_HEX >= 0x030C0000
        PyObject *error = PyErr_GetRaisedException();
#else
        PyObject *type, *error, *tb;
        PyErr_Fetch(&type, &error, &tb);
        PyErr_NormalizeException(&type, &error, &tb);
        if (tb != NULL) PyException_SetTraceback(error, tb);
        Py_XDECREF(type);
        Py_XDECREF(tb);
#endif
        PyObject *res = PyObject_CallFunctionObjArgs(self->fail, args[0], error, NULL);
        Py_XDECREF(error);
        return res;
    }
    Py_RETURN_NONE;
}

static int Reader_init(Reader *self, PyObject *args, PyObject *kwds) {
    PyObject *feed, *fallback, *on_made, *fail;
    Py_ssize_t flush_at;
    static char *kwlist[] = {"feed", "fallback", "on_made", "fail", "flush_at", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OOOn", kwlist, &FeedType, &feed, &fallback,
                                     &on_made, &fail, &flush_at))
        return -1;
    if (!((Feed *)feed)->ready) {
        PyErr_SetString(PyExc_RuntimeError, "BinanceFeed not initialised");
        return -1;
    }
    if (frame_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "check_frame_layout() has not accepted WSFrame");
        return -1;
    }
    Py_XSETREF(self->feed, (Feed *)Py_NewRef(feed));
    Py_XSETREF(self->fallback, Py_NewRef(fallback));
    Py_XSETREF(self->on_made, Py_NewRef(on_made));
    Py_XSETREF(self->fail, Py_NewRef(fail));
    self->flush_at = flush_at < 1 ? 1 : flush_at;
    self->vectorcall = (vectorcallfunc)Reader_call;
    return 0;
}

static int Reader_traverse(Reader *self, visitproc visit, void *arg) {
    Py_VISIT(self->feed);
    Py_VISIT(self->fallback);
    Py_VISIT(self->on_made);
    Py_VISIT(self->fail);
    return 0;
}

static int Reader_clear(Reader *self) {
    self->vectorcall = NULL; /* cleared: calls raise instead of reaching NULL pointers */
    Py_CLEAR(self->feed);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->on_made);
    Py_CLEAR(self->fail);
    return 0;
}

static void Reader_dealloc(Reader *self) {
    PyObject_GC_UnTrack(self);
    Reader_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Reader_tp_call(Reader *self, PyObject *args, PyObject *kwargs) {
    if (self->feed == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "FrameReader not initialised");
        return NULL;
    }
    return PyVectorcall_Call((PyObject *)self, args, kwargs);
}

static PyMemberDef Reader_members[] = {
    {"records", T_LONGLONG, offsetof(Reader, records), READONLY, "records made by this reader"},
    {"held", T_BOOL, offsetof(Reader, held), 0,
     "a fragmented message is open: every frame goes to the fallback"},
    {NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aggregator.adapters._fastpath.FrameReader",
    .tp_basicsize = sizeof(Reader),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "picows's on_ws_frame for a BinanceFeed: whole text frames read in C.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Reader_init,
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_traverse = (traverseproc)Reader_traverse,
    .tp_clear = (inquiry)Reader_clear,
    .tp_call = (ternaryfunc)Reader_tp_call,
    .tp_vectorcall_offset = offsetof(Reader, vectorcall),
    .tp_members = Reader_members,
};

/* --- fan-out by reference ----------------------------------------------------------- */

/* splice_fanout(data, src_r, src_w, null_fd, targets) -> [bytes delivered per target]
 *
 * The same bytes to many sockets with one copy: each chunk of `data` is written once into
 * the pipe src (src_r, src_w), duplicated into each target's own pipe by tee(2) (page
 * references, no copy) and moved from there into the target's socket by splice(2). A
 * target is a tuple (socket fd, pipe read fd, pipe write fd), all non-blocking, the pipes
 * empty and of at least FANOUT_CHUNK bytes. A target whose socket takes less than a chunk
 * (its buffer is full, or it failed) gets nothing more here: its pipe is emptied and the
 * count says where its bytes stopped, for the caller to write the rest the usual way. The
 * pipes are empty again on return. The GIL is released while the bytes move. */
#define FANOUT_CHUNK 65536

static void drain_pipe(int fd, int null_fd) {
    for (;;) {
        ssize_t n = splice(fd, NULL, null_fd, NULL, FANOUT_CHUNK, SPLICE_F_NONBLOCK);
        if (n > 0 || (n < 0 && errno == EINTR)) continue;
        return;
    }
}

static PyObject *splice_fanout(PyObject *module, PyObject *args) {
    Py_buffer data;
    int src_r, src_w, null_fd;
    PyObject *targets;
    if (!PyArg_ParseTuple(args, "y*iiiO!", &data, &src_r, &src_w, &null_fd, &PyList_Type,
                          &targets))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(targets);
    int *fds = PyMem_Calloc((size_t)(n ? n : 1) * 3, sizeof(int));
    Py_ssize_t *done = PyMem_Calloc((size_t)(n ? n : 1), sizeof(Py_ssize_t));
    char *live = PyMem_Calloc((size_t)(n ? n : 1), 1);
    PyObject *out = NULL;
    if (fds == NULL || done == NULL || live == NULL) {
        PyErr_NoMemory();
        goto end;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PyList_GET_ITEM(targets, i);
        if (!PyTuple_Check(t) ||
            !PyArg_ParseTuple(t, "iii", &fds[3 * i], &fds[3 * i + 1], &fds[3 * i + 2])) {
            if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_Clear();
                PyErr_SetString(PyExc_TypeError, "targets: a list of (socket, pipe_r, pipe_w)");
            }
            goto end;
        }
        live[i] = 1;
    }
    Py_BEGIN_ALLOW_THREADS
    const char *buf = data.buf;
    for (Py_ssize_t off = 0; off < data.len;) {
        size_t chunk = (size_t)(data.len - off) < FANOUT_CHUNK ? (size_t)(data.len - off)
                                                                 : FANOUT_CHUNK;
        size_t put = 0; /* the chunk into the source pipe: its one copy */
        while (put < chunk) {
            ssize_t w = write(src_w, buf + off + put, chunk - put);
            if (w > 0) put += (size_t)w;
            else if (w < 0 && errno == EINTR) continue;
            else break;
        }
        int any = 0;
        for (Py_ssize_t i = 0; i < n && put == chunk; i++) {
            if (!live[i]) continue;
            int sock = fds[3 * i], qr = fds[3 * i + 1], qw = fds[3 * i + 2];
            ssize_t t;
            do t = tee(src_r, qw, chunk, SPLICE_F_NONBLOCK); while (t < 0 && errno == EINTR);
            size_t sent = 0;
            if (t == (ssize_t)chunk) {
                while (sent < chunk) {
                    ssize_t m = splice(qr, NULL, sock, NULL, chunk - sent,
                                       SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
                    if (m > 0) sent += (size_t)m;
                    else if (m < 0 && errno == EINTR) continue;
                    else break;
                }
            }
            done[i] += (Py_ssize_t)sent;
            if (sent < chunk) {
                live[i] = 0;
                if (t > 0) drain_pipe(qr, null_fd);
            } else {
                any = 1;
            }
        }
        drain_pipe(src_r, null_fd);
        if (!any) break; /* (or the source pipe failed: every target stops here) */
        off += (Py_ssize_t)chunk;
    }
    Py_END_ALLOW_THREADS
    out = PyList_New(n);
    if (out == NULL) goto end;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyLong_FromSsize_t(done[i]);
        if (v == NULL) {
            Py_CLEAR(out);
            goto end;
        }
        PyList_SET_ITEM(out, i, v);
    }
end:
    PyMem_Free(fds);
    PyMem_Free(done);
    PyMem_Free(live);
    PyBuffer_Release(&data);
    return out;
}

static PyMethodDef module_methods[] = {
    {"check_frame_layout", check_frame_layout, METH_VARARGS,
     "check_frame_layout(WSFrame, make_test_frame, TEXT, BINARY) -> whether frames are read in C"},
    {"splice_fanout", splice_fanout, METH_VARARGS,
     "splice_fanout(data, src_r, src_w, null_fd, targets) -> bytes delivered per target"},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastpath", "Compiled per-message paths of the busiest venues.", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__fastpath(void) {
    if (PyType_Ready(&FeedType) < 0 || PyType_Ready(&RecType) < 0 || PyType_Ready(&ReaderType) < 0)
        return NULL;
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL
    INTERN(s_type, "type");
    INTERN(s_exchange, "exchange");
    INTERN(s_symbol, "symbol");
    INTERN(s_native, "native");
    INTERN(s_ts_event, "ts_event");
    INTERN(s_ts_recv, "ts_recv");
    INTERN(s_seq, "seq");
    INTERN(s_instance, "instance");
    INTERN(s_flags, "flags");
    INTERN(s_ticker, "ticker");
    for (int f = 0; f < NFIELDS; f++) INTERN(s_fields[f], FIELD_NAMES[f]);
#undef INTERN
    for (int f = 0; f < NFIELDS; f++) FIELD_JSON_LEN[f] = strlen(FIELD_JSON[f]);
    for (int c = 0; c < 256; c++) {
        KEY_SLOT[c] = -1;
        STR_CLASS[c] = (c < 0x20 || c >= 0x80 || c == '\\') ? 2 : 0;
    }
    STR_CLASS['"'] = 1;
    for (int f = 0; f < NFIELDS; f++) KEY_SLOT[(unsigned char)FIELD_KEYS[f]] = (signed char)f;
    KEY_SLOT['s'] = SLOT_S;
    KEY_SLOT['e'] = SLOT_e;
    KEY_SLOT['E'] = SLOT_E;
    PyObject *mod = PyModule_Create(&module);
    if (mod == NULL) return NULL;
    if (PyModule_AddObjectRef(mod, "BinanceFeed", (PyObject *)&FeedType) < 0 ||
        PyModule_AddObjectRef(mod, "Rec", (PyObject *)&RecType) < 0 ||
        PyModule_AddObjectRef(mod, "FrameReader", (PyObject *)&ReaderType) < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
