/* A venue's frames read by declaration (adapters/routes.py), compiled: one C call takes a
 * frame's bytes to its records, for every codec that declares its hot messages as routes.
 *
 * A frame is tokenized once (a strict JSON scanner: what it accepts, msgspec accepts); a
 * route matches when each of its conditions holds (a string at a path equals a constant,
 * or a path is absent); its items (the root, or the elements of arrays at paths, nested)
 * each make one record, read from paths by the route's slots. Anything a route does not
 * describe exactly (a value of another type, a missing field, escapes in a string the route
 * reads, a number out of range, a frame over MAX_TOKENS) makes the frame "not mine": the
 * reader hands it to the codec's Python path, which says what is wrong with it. So the
 * records made here are the Python path's, value for value (tests/test_frames.py).
 *
 * Optional, like _settle: without a C compiler every frame takes the Python path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <ctype.h>
#include <math.h>
#include <string.h>
#include <time.h>

#define MAX_TOKENS 512
#define MAX_DEPTH 32
#define MAX_SLOTS 32
#define MAX_ITEMS 64
#define ONLY (-2)

enum { T_OBJ = 1, T_ARR, T_STR, T_NUM, T_TRUE, T_FALSE, T_NULL };

typedef struct {
    int type;
    int start, end;   /* content: a string's inside its quotes; a container's brackets */
    int next;         /* the token after this one's subtree */
    int count;        /* elements of an array, pairs of an object */
    int escaped;      /* a string with a backslash */
} Tok;

typedef struct {
    const char *s;
    int len, pos, n;
    Tok t[MAX_TOKENS];
} Scan;

/* --- the scanner --------------------------------------------------------------------- */

static inline void
skip_ws(Scan *sc)
{
    while (sc->pos < sc->len) {
        char c = sc->s[sc->pos];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            sc->pos++;
        else
            break;
    }
}

static int scan_value(Scan *sc, int depth);

static int
scan_string(Scan *sc)
{
    /* at the opening quote */
    int i = sc->pos + 1, esc = 0;
    const unsigned char *s = (const unsigned char *)sc->s;
    while (i < sc->len) {
        unsigned char c = s[i];
        if (c == '"')
            break;
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            esc = 1;
            i++;
            if (i >= sc->len)
                return -1;
            c = s[i];
            if (c == 'u') {
                if (i + 4 >= sc->len)
                    return -1;
                for (int k = 1; k <= 4; k++)
                    if (!isxdigit(s[i + k]))
                        return -1;
                i += 4;
            }
            else if (!strchr("\"\\/bfnrt", c))
                return -1;
        }
        i++;
    }
    if (i >= sc->len || sc->n >= MAX_TOKENS)
        return -1;
    Tok *t = &sc->t[sc->n++];
    t->type = T_STR;
    t->start = sc->pos + 1;
    t->end = i;
    t->escaped = esc;
    t->count = 0;
    t->next = sc->n;
    sc->pos = i + 1;
    return 0;
}

/* JSON's number grammar over s[i..len): the end, or -1 */
static int
number_end(const char *s, int i, int len)
{
    if (i < len && s[i] == '-')
        i++;
    if (i >= len)
        return -1;
    if (s[i] == '0')
        i++;
    else if (s[i] >= '1' && s[i] <= '9')
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return -1;
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return -1;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return -1;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return i;
}

static int
scan_container(Scan *sc, int depth, int type)
{
    if (depth > MAX_DEPTH || sc->n >= MAX_TOKENS)
        return -1;
    int me = sc->n++;
    Tok *t = &sc->t[me];
    t->type = type;
    t->start = sc->pos;
    t->escaped = 0;
    char close = type == T_OBJ ? '}' : ']';
    int count = 0;
    sc->pos++;
    skip_ws(sc);
    if (sc->pos < sc->len && sc->s[sc->pos] == close) {
        sc->pos++;
    }
    else {
        for (;;) {
            if (type == T_OBJ) {
                if (sc->pos >= sc->len || sc->s[sc->pos] != '"' || scan_string(sc) < 0)
                    return -1;
                skip_ws(sc);
                if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
                    return -1;
                sc->pos++;
                skip_ws(sc);
            }
            if (scan_value(sc, depth + 1) < 0)
                return -1;
            count++;
            skip_ws(sc);
            if (sc->pos >= sc->len)
                return -1;
            char c = sc->s[sc->pos++];
            if (c == close)
                break;
            if (c != ',')
                return -1;
            skip_ws(sc);
        }
    }
    t = &sc->t[me];
    t->end = sc->pos;
    t->count = count;
    t->next = sc->n;
    return 0;
}

static int
scan_literal(Scan *sc, const char *word, int type)
{
    int n = (int)strlen(word);
    if (sc->pos + n > sc->len || memcmp(sc->s + sc->pos, word, n) != 0 || sc->n >= MAX_TOKENS)
        return -1;
    Tok *t = &sc->t[sc->n++];
    t->type = type;
    t->start = sc->pos;
    t->end = sc->pos + n;
    t->next = sc->n;
    t->count = 0;
    t->escaped = 0;
    sc->pos += n;
    return 0;
}

static int
scan_value(Scan *sc, int depth)
{
    if (sc->pos >= sc->len)
        return -1;
    char c = sc->s[sc->pos];
    switch (c) {
    case '{':
        return scan_container(sc, depth, T_OBJ);
    case '[':
        return scan_container(sc, depth, T_ARR);
    case '"':
        return scan_string(sc);
    case 't':
        return scan_literal(sc, "true", T_TRUE);
    case 'f':
        return scan_literal(sc, "false", T_FALSE);
    case 'n':
        return scan_literal(sc, "null", T_NULL);
    default: {
        int end = number_end(sc->s, sc->pos, sc->len);
        if (end < 0 || sc->n >= MAX_TOKENS)
            return -1;
        Tok *t = &sc->t[sc->n++];
        t->type = T_NUM;
        t->start = sc->pos;
        t->end = end;
        t->next = sc->n;
        t->count = 0;
        t->escaped = 0;
        sc->pos = end;
        return 0;
    }
    }
}

static int
scan(Scan *sc, const char *s, Py_ssize_t len)
{
    if (len > (1 << 30))
        return -1;
    sc->s = s;
    sc->len = (int)len;
    sc->pos = 0;
    sc->n = 0;
    skip_ws(sc);
    if (scan_value(sc, 0) < 0)
        return -1;
    skip_ws(sc);
    return sc->pos == sc->len ? 0 : -1; /* trailing bytes: not JSON */
}

/* --- paths -------------------------------------------------------------------------- */

/* A path is a tuple of steps: bytes (an object's key) or int (an array's index). Steps
 * are kept as C arrays, made once from the program. */
typedef struct {
    int n;
    const char *key[8];
    int keylen[8];
    int index[8]; /* -1: a key; ONLY: an array's one element */
} Path;

/* the token at path from token `at`, or -1 (absent, or a container of another kind) */
static int
follow(const Scan *sc, int at, const Path *p)
{
    for (int k = 0; k < p->n; k++) {
        const Tok *t = &sc->t[at];
        if (p->index[k] == ONLY) {
            if (t->type != T_ARR || t->count != 1)
                return -1;
            at = at + 1;
        }
        else if (p->index[k] >= 0) {
            if (t->type != T_ARR || p->index[k] >= t->count)
                return -1;
            int i = at + 1;
            for (int e = 0; e < p->index[k]; e++)
                i = sc->t[i].next;
            at = i;
        }
        else {
            if (t->type != T_OBJ)
                return -1;
            int found = -1, i = at + 1;
            for (int e = 0; e < t->count; e++) {
                const Tok *key = &sc->t[i];
                if (!key->escaped && key->end - key->start == p->keylen[k] &&
                    memcmp(sc->s + key->start, p->key[k], p->keylen[k]) == 0)
                    found = i + 1; /* the last of duplicates, as msgspec takes */
                i = sc->t[i + 1].next;
            }
            if (found < 0)
                return -1;
            at = found;
        }
    }
    return at;
}

static int
path_from(PyObject *steps, Path *p)
{
    if (!PyTuple_Check(steps) || PyTuple_GET_SIZE(steps) > 8) {
        PyErr_SetString(PyExc_TypeError, "a path is a tuple of at most 8 steps");
        return -1;
    }
    p->n = (int)PyTuple_GET_SIZE(steps);
    for (int k = 0; k < p->n; k++) {
        PyObject *s = PyTuple_GET_ITEM(steps, k);
        if (PyBytes_Check(s)) {
            p->key[k] = PyBytes_AS_STRING(s); /* the program keeps the bytes alive */
            p->keylen[k] = (int)PyBytes_GET_SIZE(s);
            p->index[k] = -1;
        }
        else if (PyLong_Check(s)) {
            long v = PyLong_AsLong(s);
            if ((v < 0 && v != ONLY) || v > 1000000) {
                PyErr_SetString(PyExc_ValueError, "an index step out of range");
                return -1;
            }
            p->index[k] = (int)v;
            p->key[k] = NULL;
            p->keylen[k] = 0;
        }
        else {
            PyErr_SetString(PyExc_TypeError, "a path step is bytes or int");
            return -1;
        }
    }
    return 0;
}

/* --- values ------------------------------------------------------------------------- */

#define NOT_MINE ((PyObject *)1) /* a value the route does not describe: the Python path */

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* s[0..len) in JSON's number grammar (checked) to the nearest double: exactly where the
 * digits (trailing zeros dropped) fit 53 bits and the power of ten is at most 22, since
 * then one IEEE multiplication or division of two exact values rounds correctly; else by
 * Python's own correctly rounded conversion. Returns 0, or -1 if not a finite number. */
static int
decimal_to_double(const char *s, int len, double *out)
{
    int i = 0, neg = 0, nd = 0, exp10 = 0;
    unsigned long long m = 0;
    if (s[0] == '-') {
        neg = 1;
        i++;
    }
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (m == 0 && s[i] == '0')
            continue; /* leading zeros */
        if (nd < 19)
            m = m * 10 + (s[i] - '0');
        else
            exp10++; /* a digit past 19: Python's conversion below */
        nd++;
    }
    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (m == 0 && s[i] == '0') {
                exp10--;
                continue;
            }
            if (nd < 19) {
                m = m * 10 + (s[i] - '0');
                exp10--;
            }
            nd++;
        }
    }
    int e = 0, eneg = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (e < 100000)
                e = e * 10 + (s[i] - '0');
    }
    exp10 += eneg ? -e : e;
    if (m == 0) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    if (nd <= 19) {
        while (m % 10 == 0) {
            m /= 10;
            exp10++;
        }
        if (m < (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
            double v = (double)m;
            v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
            *out = neg ? -v : v;
            return 0;
        }
    }
    char buf[64];
    if (len >= (int)sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    double v = PyOS_string_to_double(buf, &end, NULL);
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    if (end != buf + len || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* The token a value is read from: NULL with *out NOT_MINE (absent, or not a string or,
 * with numbers_too, a number, or a string with escapes) or None (null); else the token. */
static const Tok *
value_token(const Scan *sc, int at, int numbers_too, PyObject **out)
{
    *out = NOT_MINE;
    if (at < 0)
        return NULL;
    const Tok *t = &sc->t[at];
    if (t->type == T_NULL) {
        *out = Py_NewRef(Py_None);
        return NULL;
    }
    if ((t->type == T_STR && !t->escaped) || (numbers_too && t->type == T_NUM))
        return t;
    return NULL;
}

/* a number (JSON, or a string of JSON's number grammar), or None for null */
static PyObject *
number_at(const Scan *sc, int at)
{
    PyObject *none_or_not;
    const Tok *t = value_token(sc, at, 1, &none_or_not);
    if (t == NULL)
        return none_or_not;
    int len = t->end - t->start;
    if (len <= 0 || len >= 64)
        return NOT_MINE;
    if (t->type == T_STR && number_end(sc->s, t->start, t->end) != t->end)
        return NOT_MINE;
    double v;
    if (decimal_to_double(sc->s + t->start, len, &v) < 0)
        return NOT_MINE;
    if (v == 0.0 && !memchr(sc->s + t->start, '.', len) &&
        !memchr(sc->s + t->start, 'e', len) && !memchr(sc->s + t->start, 'E', len))
        v = 0.0; /* -0 (or "-0") is read as a whole number: 0.0, where -0.0 is -0.0 */
    return PyFloat_FromDouble(v);
}

#define NS_MAX 9223372036854775807LL
#define UNIT_BY_MAGNITUDE (-1) /* a time's unit inferred from its size (epoch_to_ns) */

/* a whole number (JSON, or a string of digits) of `unit` ns since the epoch, or None for
 * null or out of the record's range (timestamps.to_ns) */
static PyObject *
time_at(const Scan *sc, int at, long long unit)
{
    PyObject *none_or_not;
    const Tok *t = value_token(sc, at, 1, &none_or_not);
    if (t == NULL)
        return none_or_not;
    int len = t->end - t->start;
    if (len <= 0 || len > 19) /* (19 digits: a time in ns) */
        return NOT_MINE;
    const char *s = sc->s + t->start;
    unsigned long long u = 0;
    for (int i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return NOT_MINE; /* negative, a fraction: the Python path's */
        u = u * 10 + (unsigned long long)(s[i] - '0'); /* < 10^19 < 2^64 */
    }
    if (u > (unsigned long long)NS_MAX)
        Py_RETURN_NONE; /* past the record's range */
    long long v = (long long)u;
    if (t->type == T_NUM && len > 1 && s[0] == '0')
        return NOT_MINE;
    if (v == 0)
        return NOT_MINE; /* a codec's `or` takes the next time: the Python path's */
    if (unit == UNIT_BY_MAGNITUDE) /* timestamps.epoch_to_ns: the unit from the size */
        unit = v >= 100000000000000LL ? (v >= 100000000000000000LL ? 1 : 1000)
                                      : (v >= 100000000000LL ? 1000000 : 1000000000);
    if (v > NS_MAX / unit)
        Py_RETURN_NONE;
    return PyLong_FromLongLong(v * unit);
}

/* a JSON whole number >= 0 of at most 18 digits: 1 and its value, else 0 */
static int
whole_at(const Scan *sc, int at, long long *out)
{
    if (at < 0 || sc->t[at].type != T_NUM)
        return 0;
    const Tok *t = &sc->t[at];
    int len = t->end - t->start;
    if (len <= 0 || len > 18)
        return 0;
    long long v = 0;
    for (int i = t->start; i < t->end; i++) {
        char c = sc->s[i];
        if (c < '0' || c > '9')
            return 0;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 1;
}

/* a string as sent (no escapes), or None for null */
static PyObject *
text_at(const Scan *sc, int at)
{
    PyObject *none_or_not;
    const Tok *t = value_token(sc, at, 0, &none_or_not);
    if (t == NULL)
        return none_or_not;
    PyObject *v = PyUnicode_DecodeUTF8(sc->s + t->start, t->end - t->start, NULL);
    if (v == NULL) {
        PyErr_Clear();
        return NOT_MINE;
    }
    return v;
}

static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static int
digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" to ns (timestamps.iso_to_ns); other forms: NOT_MINE */
static PyObject *
iso_at(const Scan *sc, int at)
{
    PyObject *none_or_not;
    const Tok *t = value_token(sc, at, 0, &none_or_not);
    if (t == NULL)
        return none_or_not;
    const char *s = sc->s + t->start;
    int len = t->end - t->start;
    if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[len - 1] != 'Z')
        return NOT_MINE;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        se < 0 || se > 59)
        return NOT_MINE;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return NOT_MINE;
    long long frac = 0;
    if (len > 20) {
        int nd = len - 21;
        if (s[19] != '.' || nd < 1 || nd > 9)
            return NOT_MINE;
        int f = digits(s + 20, nd);
        if (f < 0)
            return NOT_MINE;
        frac = f;
        for (int k = nd; k < 9; k++)
            frac *= 10;
    }
    long long days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    long long secs = days * 86400 + h * 3600 + mi * 60 + se;
    if (y > 2262)
        return NOT_MINE;
    long long ns = secs * 1000000000LL + frac;
    if (ns < 0)
        return NOT_MINE;
    return PyLong_FromLongLong(ns);
}

/* --- the program -------------------------------------------------------------------- */

enum {
    S_CONST = 0, S_MARKET, S_TS_RECV, S_NUM, S_TIME, S_ISO, S_CALL, S_SELF, S_MINUS, S_TIMES,
    S_TEXT, S_IN_BASE
};

typedef struct {
    int root;       /* read from the frame's root, not the item */
    int optional;   /* a path absent from the frame: None (else the frame is not mine) */
    long long unit; /* S_TIME: ns per unit; S_NUM: 1 where null is not this route's */
    Path path;
} Alt;

typedef struct Slot Slot;
struct Slot {
    int kind;
    PyObject *obj;   /* S_CONST: the value; S_MARKET: the attribute's name; S_CALL: callable */
    int nalt;        /* S_NUM, S_TIME, S_ISO: alternatives, the first not null (TIME: truthy) */
    Alt *alt;        /* nalt of them, allocated */
    int nargs;       /* S_CALL */
    Slot *args;
};

typedef struct {
    Path path;
    PyObject *value; /* bytes; NULL: the path is absent */
    int prefix;      /* the string there starts with value (else equals it) */
} Cond;

#define EACH_ELEMENT 1
#define EACH_MEMBER 2
typedef struct {
    Path path;
    int each; /* EACH_ELEMENT: an array's elements; EACH_MEMBER: an object's values; else
               * the one object */
} Segment;

typedef struct {
    int ncond;
    Cond *cond;        /* ncond of them, allocated */
    int nseg;
    Segment seg[3];
    int nmarket;       /* alternatives: the first present, not null and not "" */
    int market_root[2];
    Path market[2];
    int market_int; /* the id is an integer (a channel number), else a string */
    int market_is_key; /* the id is the key of the member the item is */
    int item_type;     /* T_OBJ or T_ARR: what each item must be */
    PyObject *part_sep; /* bytes: the id is the part_index-th part of the string split there */
    int part_index;
    PyObject *lookup; /* dict: id -> market */
    int skip_unknown; /* an id not in it: no record (else the frame is not mine) */
    int has_seq;
    Path seq;
    PyObject *seq_state; /* dict: None -> the number the next frame must carry */
    PyObject *cls;
    int nslots;
    Slot *slots;       /* nslots of them, allocated */
    PyObject *quiet;   /* a message that makes no record: the keys its object may have
                        * (a tuple of bytes), or NULL: a route of records */
} Route;

typedef struct {
    PyObject_HEAD
    PyObject *program; /* kept: the bytes the paths point into */
    int nroutes;
    Route *routes;
    PyObject *fallback;  /* the codec's Python path: fallback(raw) -> replies */
    PyObject *inflate;   /* inflate(raw) -> bytes, for a frame that starts as gzip */
    PyObject *conn;      /* its `pending` list takes the records */
    PyObject *on_first;  /* on_first(conn): the first records of a read */
    PyObject *on_full;   /* on_full(): FLUSH_AT records wait */
    Py_ssize_t flush_at;
    unsigned long long handled, passed; /* frames read here, frames handed to the fallback */
    Scan *sc;
} Reader;

static PyObject *pending_name, *none_key;

static int slot_from(PyObject *spec, Slot *s);

static void
slot_clear(Slot *s)
{
    Py_CLEAR(s->obj);
    if (s->alt) {
        PyMem_Free(s->alt);
        s->alt = NULL;
    }
    if (s->args) {
        for (int i = 0; i < s->nargs; i++)
            slot_clear(&s->args[i]);
        PyMem_Free(s->args);
        s->args = NULL;
    }
}

/* (kind, ...) as routes.py makes it */
static int
slot_from(PyObject *spec, Slot *s)
{
    memset(s, 0, sizeof(*s));
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) < 1) {
        PyErr_SetString(PyExc_TypeError, "a slot is a tuple (kind, ...)");
        return -1;
    }
    s->kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 0));
    Py_ssize_t n = PyTuple_GET_SIZE(spec);
    switch (s->kind) {
    case S_CONST:
    case S_MARKET:
        if (n != 2)
            goto bad;
        s->obj = Py_NewRef(PyTuple_GET_ITEM(spec, 1));
        return 0;
    case S_TS_RECV:
    case S_SELF:
        return 0;
    case S_NUM:
    case S_TIME:
    case S_ISO:
    case S_TEXT: {
        /* (kind, ((root, path, unit, optional), ...)) */
        if (n != 2 || !PyTuple_Check(PyTuple_GET_ITEM(spec, 1)))
            goto bad;
        PyObject *alts = PyTuple_GET_ITEM(spec, 1);
        s->nalt = (int)PyTuple_GET_SIZE(alts);
        if (s->nalt < 1 || s->nalt > 4)
            goto bad;
        s->alt = PyMem_Calloc(s->nalt, sizeof(Alt));
        if (s->alt == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (int i = 0; i < s->nalt; i++) {
            PyObject *a = PyTuple_GET_ITEM(alts, i);
            if (!PyTuple_Check(a) || PyTuple_GET_SIZE(a) != 4)
                goto bad;
            s->alt[i].optional = PyObject_IsTrue(PyTuple_GET_ITEM(a, 3));
            s->alt[i].root = PyObject_IsTrue(PyTuple_GET_ITEM(a, 0));
            if (path_from(PyTuple_GET_ITEM(a, 1), &s->alt[i].path) < 0)
                return -1;
            s->alt[i].unit = PyLong_AsLongLong(PyTuple_GET_ITEM(a, 2));
            if (s->kind == S_TIME && s->alt[i].unit <= 0 && s->alt[i].unit != UNIT_BY_MAGNITUDE)
                goto bad;
        }
        return 0;
    }
    case S_CALL:
    case S_MINUS: /* values.minus, done here where the decimals allow (else the call) */
    case S_TIMES: /* values.times, likewise */
    case S_IN_BASE: { /* contracts.in_base, likewise */
        /* (kind, callable, (slot, ...)) */
        if (n != 3 || !PyTuple_Check(PyTuple_GET_ITEM(spec, 2)))
            goto bad;
        s->obj = Py_NewRef(PyTuple_GET_ITEM(spec, 1));
        PyObject *args = PyTuple_GET_ITEM(spec, 2);
        s->nargs = (int)PyTuple_GET_SIZE(args);
        if (s->nargs > 8)
            goto bad;
        s->args = PyMem_Calloc(s->nargs ? s->nargs : 1, sizeof(Slot));
        if (!s->args)
            return -1;
        for (int i = 0; i < s->nargs; i++)
            if (slot_from(PyTuple_GET_ITEM(args, i), &s->args[i]) < 0)
                return -1;
        return 0;
    }
    }
bad:
    PyErr_Format(PyExc_ValueError, "bad slot %R", spec);
    return -1;
}

static int
route_from(PyObject *spec, Route *r)
{
    /* (conds, segments, (((root, path), ...), market_int, lookup, part), seq, cls, slots,
     *  skip_unknown, item_is_array, quiet: None or the keys a quiet message's object may
     *  have) */
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) != 9) {
        PyErr_SetString(PyExc_TypeError, "a route is a 9-tuple");
        return -1;
    }
    PyObject *quiet = PyTuple_GET_ITEM(spec, 8);
    if (quiet != Py_None) {
        if (!PyTuple_Check(quiet) || PyTuple_GET_SIZE(quiet) > MAX_ITEMS) {
            PyErr_SetString(PyExc_TypeError, "a quiet route's keys are a tuple of bytes");
            return -1;
        }
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(quiet); i++)
            if (!PyBytes_Check(PyTuple_GET_ITEM(quiet, i))) {
                PyErr_SetString(PyExc_TypeError, "a quiet route's keys are a tuple of bytes");
                return -1;
            }
        r->quiet = Py_NewRef(quiet);
    }
    PyObject *conds = PyTuple_GET_ITEM(spec, 0), *segs = PyTuple_GET_ITEM(spec, 1);
    PyObject *market = PyTuple_GET_ITEM(spec, 2), *seq = PyTuple_GET_ITEM(spec, 3);
    PyObject *slots = PyTuple_GET_ITEM(spec, 5);
    if (!PyTuple_Check(conds) || PyTuple_GET_SIZE(conds) > 8 || !PyTuple_Check(segs) ||
        PyTuple_GET_SIZE(segs) > 3 || !PyTuple_Check(market) || PyTuple_GET_SIZE(market) != 4 ||
        !PyTuple_Check(slots) || PyTuple_GET_SIZE(slots) > MAX_SLOTS) {
        PyErr_SetString(PyExc_ValueError, "a malformed route");
        return -1;
    }
    r->cond = PyMem_Calloc(PyTuple_GET_SIZE(conds) + 1, sizeof(Cond));
    if (r->cond == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    r->ncond = (int)PyTuple_GET_SIZE(conds);
    for (int i = 0; i < r->ncond; i++) {
        PyObject *c = PyTuple_GET_ITEM(conds, i);
        if (!PyTuple_Check(c) || PyTuple_GET_SIZE(c) != 3 ||
            path_from(PyTuple_GET_ITEM(c, 0), &r->cond[i].path) < 0)
            return -1;
        r->cond[i].prefix = PyObject_IsTrue(PyTuple_GET_ITEM(c, 2));
        PyObject *v = PyTuple_GET_ITEM(c, 1);
        r->cond[i].value = v == Py_None ? NULL : Py_NewRef(v);
        if (v != Py_None && !PyBytes_Check(v)) {
            PyErr_SetString(PyExc_TypeError, "a condition's value is bytes or None");
            return -1;
        }
    }
    r->nseg = (int)PyTuple_GET_SIZE(segs);
    for (int i = 0; i < r->nseg; i++) {
        PyObject *g = PyTuple_GET_ITEM(segs, i);
        if (!PyTuple_Check(g) || PyTuple_GET_SIZE(g) != 2 ||
            path_from(PyTuple_GET_ITEM(g, 0), &r->seg[i].path) < 0)
            return -1;
        r->seg[i].each = (int)PyLong_AsLong(PyTuple_GET_ITEM(g, 1));
    }
    r->skip_unknown = PyObject_IsTrue(PyTuple_GET_ITEM(spec, 6));
    r->item_type = PyObject_IsTrue(PyTuple_GET_ITEM(spec, 7)) ? T_ARR : T_OBJ;
    PyObject *alts = PyTuple_GET_ITEM(market, 0);
    if (!PyTuple_Check(alts) || PyTuple_GET_SIZE(alts) < 1 || PyTuple_GET_SIZE(alts) > 2) {
        PyErr_SetString(PyExc_TypeError, "a market is one or two (root, path) alternatives");
        return -1;
    }
    r->nmarket = (int)PyTuple_GET_SIZE(alts);
    for (int i = 0; i < r->nmarket; i++) {
        PyObject *a = PyTuple_GET_ITEM(alts, i);
        if (!PyTuple_Check(a) || PyTuple_GET_SIZE(a) != 2) {
            PyErr_SetString(PyExc_TypeError, "a market alternative is (root, path)");
            return -1;
        }
        r->market_root[i] = (int)PyLong_AsLong(PyTuple_GET_ITEM(a, 0)); /* 2: the key */
        if (path_from(PyTuple_GET_ITEM(a, 1), &r->market[i]) < 0)
            return -1;
    }
    r->market_int = PyObject_IsTrue(PyTuple_GET_ITEM(market, 1));
    r->market_is_key = r->nmarket == 1 && r->market[0].n == 0 && r->market_root[0] == 2;
    r->lookup = PyTuple_GET_ITEM(market, 2);
    PyObject *part = PyTuple_GET_ITEM(market, 3);
    if (part != Py_None) {
        if (!PyTuple_Check(part) || PyTuple_GET_SIZE(part) != 2 ||
            !PyBytes_Check(PyTuple_GET_ITEM(part, 0)) ||
            PyBytes_GET_SIZE(PyTuple_GET_ITEM(part, 0)) < 1) {
            PyErr_SetString(PyExc_TypeError, "a market part is (separator bytes, index)");
            return -1;
        }
        r->part_sep = Py_NewRef(PyTuple_GET_ITEM(part, 0));
        r->part_index = (int)PyLong_AsLong(PyTuple_GET_ITEM(part, 1));
    }
    if (!PyDict_Check(r->lookup)) {
        PyErr_SetString(PyExc_TypeError, "a route's lookup is a dict");
        return -1;
    }
    Py_INCREF(r->lookup);
    if (seq != Py_None) {
        if (!PyTuple_Check(seq) || PyTuple_GET_SIZE(seq) != 2 ||
            path_from(PyTuple_GET_ITEM(seq, 0), &r->seq) < 0 ||
            !PyDict_Check(PyTuple_GET_ITEM(seq, 1))) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "a route's sequence is (path, dict)");
            return -1;
        }
        r->has_seq = 1;
        r->seq_state = Py_NewRef(PyTuple_GET_ITEM(seq, 1));
    }
    r->cls = Py_NewRef(PyTuple_GET_ITEM(spec, 4));
    r->slots = PyMem_Calloc(PyTuple_GET_SIZE(slots) + 1, sizeof(Slot));
    if (r->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    r->nslots = (int)PyTuple_GET_SIZE(slots);
    for (int i = 0; i < r->nslots; i++)
        if (slot_from(PyTuple_GET_ITEM(slots, i), &r->slots[i]) < 0)
            return -1;
    return 0;
}

static void
route_clear(Route *r)
{
    for (int i = 0; i < r->ncond; i++)
        Py_CLEAR(r->cond[i].value);
    Py_CLEAR(r->lookup);
    Py_CLEAR(r->part_sep);
    Py_CLEAR(r->seq_state);
    Py_CLEAR(r->cls);
    Py_CLEAR(r->quiet);
    for (int i = 0; i < r->nslots; i++)
        slot_clear(&r->slots[i]);
    PyMem_Free(r->cond);
    PyMem_Free(r->slots);
    r->cond = NULL;
    r->slots = NULL;
    r->ncond = r->nslots = 0;
}

/* --- reading ------------------------------------------------------------------------ */

static int
holds(const Scan *sc, const Route *r)
{
    for (int i = 0; i < r->ncond; i++) {
        int at = follow(sc, 0, &r->cond[i].path);
        PyObject *v = r->cond[i].value;
        if (v == NULL) {
            if (at >= 0)
                return 0;
            continue;
        }
        if (at < 0)
            return 0;
        const Tok *t = &sc->t[at];
        Py_ssize_t n = PyBytes_GET_SIZE(v);
        Py_ssize_t len = t->end - t->start;
        if (t->type != T_STR || t->escaped || (r->cond[i].prefix ? len < n : len != n) ||
            memcmp(sc->s + t->start, PyBytes_AS_STRING(v), n) != 0)
            return 0;
    }
    return 1;
}

/* the items a route's records are read from: token indices, or -1 if the frame is not
 * the route's shape */
/* an object at `at` sends one of its keys twice (or a key with escapes: not compared) */
static int
has_duplicate_key(const Scan *sc, int at)
{
    int keys[MAX_ITEMS], n = 0, i = at + 1;
    for (int e = 0; e < sc->t[at].count; e++) {
        const Tok *k = &sc->t[i];
        if (k->escaped || n >= MAX_ITEMS)
            return 1;
        for (int j = 0; j < n; j++) {
            const Tok *o = &sc->t[keys[j]];
            if (o->end - o->start == k->end - k->start &&
                memcmp(sc->s + o->start, sc->s + k->start, k->end - k->start) == 0)
                return 1;
        }
        keys[n++] = i;
        i = sc->t[i + 1].next;
    }
    return 0;
}

static int
items_of(const Scan *sc, const Route *r, int seg, int at, int key, int *out, int *keys, int *n)
{
    if (seg == r->nseg) {
        if (sc->t[at].type != r->item_type) /* an object read by keys, an array by index */
            return -1;
        if (*n >= MAX_ITEMS)
            return -1;
        keys[*n] = key;
        out[(*n)++] = at;
        return 0;
    }
    int to = follow(sc, at, &r->seg[seg].path);
    if (to < 0)
        return -1;
    if (!r->seg[seg].each)
        return items_of(sc, r, seg + 1, to, key, out, keys, n);
    const Tok *t = &sc->t[to];
    int members = r->seg[seg].each == EACH_MEMBER;
    if (t->type != (members ? T_OBJ : T_ARR))
        return -1;
    int i = to + 1;
    if (members && has_duplicate_key(sc, to))
        return -1; /* a dict keeps the last of a key's values: the Python path's */
    for (int e = 0; e < t->count; e++) {
        if (members) { /* the member's value, its key kept for a market id */
            if (items_of(sc, r, seg + 1, i + 1, i, out, keys, n) < 0)
                return -1;
            i = sc->t[i + 1].next;
        }
        else {
            if (items_of(sc, r, seg + 1, i, key, out, keys, n) < 0)
                return -1;
            i = sc->t[i].next;
        }
    }
    return 0;
}

static PyObject *slot_value(const Scan *sc, const Slot *s, int item, PyObject *market,
                            PyObject *ts_recv);

#define CALL_IT ((PyObject *)2) /* arithmetic left to the Python function */

/* the exact decimal of a number's text: mantissa (<= 15 significant digits) and decimals
 * (>= 0); 0 if it has more digits or is not plain */
static int
exact_decimal(const char *s, int len, long long *mantissa, int *decimals)
{
    int i = 0, neg = 0, nd = 0, frac = 0;
    unsigned long long m = 0;
    if (i < len && s[i] == '-') {
        neg = 1;
        i++;
    }
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (m == 0 && s[i] == '0')
            continue;
        if (++nd > 15)
            return 0;
        m = m * 10 + (s[i] - '0');
    }
    if (i < len && s[i] == '.')
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            frac++;
            if (m == 0 && s[i] == '0')
                continue;
            if (++nd > 15)
                return 0;
            m = m * 10 + (s[i] - '0');
        }
    if (i != len) /* an exponent: the Python function's */
        return 0;
    while (frac > 0 && m % 10 == 0 && m != 0) {
        m /= 10;
        frac--;
    }
    if (m == 0)
        frac = 0;
    *mantissa = neg ? -(long long)m : (long long)m;
    *decimals = frac;
    return 1;
}

/* the token a single-path number slot reads, or -1 */
static int
token_of(const Scan *sc, const Slot *s, int item)
{
    if (s->kind != S_NUM || s->nalt != 1)
        return -1;
    return follow(sc, s->alt[0].root ? 0 : item, &s->alt[0].path);
}

/* values.minus and values.times where C gives the same float: a - b rounded to the
 * decimals the venue used is the double nearest the exact decimal difference when both
 * are exact decimals scaled below 2^46 (the float difference is then within a fraction of
 * a unit of the last decimal, which Python's round() takes back to that decimal); a * b
 * when finite. Otherwise CALL_IT. */
static PyObject *
arithmetic(const Scan *sc, const Slot *s, int item, PyObject *market, PyObject *ts_recv)
{
    PyObject *a = slot_value(sc, &s->args[0], item, market, ts_recv);
    if (a == NULL || a == NOT_MINE)
        return a;
    PyObject *b = slot_value(sc, &s->args[1], item, market, ts_recv);
    if (b == NULL || b == NOT_MINE) {
        Py_DECREF(a);
        return b;
    }
    PyObject *out = CALL_IT;
    if (a == Py_None || b == Py_None) {
        out = Py_NewRef(Py_None);
    }
    else if (PyFloat_CheckExact(a) && PyFloat_CheckExact(b)) {
        double x = PyFloat_AS_DOUBLE(a), y = PyFloat_AS_DOUBLE(b);
        if (s->kind == S_TIMES) {
            double p = x * y;
            if (isfinite(p))
                out = PyFloat_FromDouble(p);
        }
        else {
            int ta = token_of(sc, &s->args[0], item), tb = token_of(sc, &s->args[1], item);
            long long ma, mb;
            int pa, pb;
            if (ta >= 0 && tb >= 0 &&
                exact_decimal(sc->s + sc->t[ta].start, sc->t[ta].end - sc->t[ta].start, &ma,
                              &pa) &&
                exact_decimal(sc->s + sc->t[tb].start, sc->t[tb].end - sc->t[tb].start, &mb,
                              &pb)) {
                int m = pa > pb ? pa : pb;
                const long long limit = 1LL << 46;
                long long sa = ma, sb = mb;
                int ok = m <= 22;
                for (int k = pa; ok && k < m; k++)
                    ok = (sa = sa * 10) < limit && sa > -limit;
                for (int k = pb; ok && k < m; k++)
                    ok = (sb = sb * 10) < limit && sb > -limit;
                ok = ok && sa < limit && sa > -limit && sb < limit && sb > -limit;
                long long d = sa - sb;
                if (ok && d != 0) {
                    double v = (double)(d < 0 ? -d : d) / pow10_exact[m];
                    out = PyFloat_FromDouble(d < 0 ? -v : v);
                }
            }
        }
    }
    if (out == CALL_IT) {
        PyObject *args[2] = {a, b};
        out = PyObject_Vectorcall(s->obj, args, 2, NULL);
    }
    Py_DECREF(a);
    Py_DECREF(b);
    return out;
}

static PyObject *inverse_name, *contract_size_name;
/* the market class whose inverse and contract_size slots are at these offsets (found once
 * from its member descriptors: a market is a msgspec Struct); another class: by name */
static PyTypeObject *market_type = NULL;
static Py_ssize_t inverse_at = -1, contract_size_at = -1;

static Py_ssize_t
slot_offset(PyTypeObject *cls, PyObject *name)
{
    PyObject *d = PyObject_GetAttr((PyObject *)cls, name);
    if (d == NULL) {
        PyErr_Clear();
        return -1;
    }
    Py_ssize_t at = -1;
    if (Py_IS_TYPE(d, &PyMemberDescr_Type)) {
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        if (m->type == T_OBJECT_EX || m->type == T_OBJECT)
            at = m->offset;
    }
    Py_DECREF(d);
    return at;
}

/* market.<name> as a new reference (the slot where the class is the one found first) */
static PyObject *
market_attr(PyObject *market, PyObject *name, Py_ssize_t at)
{
    if (Py_TYPE(market) == market_type && at >= 0) {
        PyObject *v = *(PyObject **)((char *)market + at);
        if (v != NULL)
            return Py_NewRef(v);
    }
    return PyObject_GetAttr(market, name);
}

/* contracts.in_base(contracts, market, ...) for a linear contract where C gives the same
 * float as round(contracts * contract_size, 12): the product itself where its spacing is
 * over 1e-12 (|p| >= 8192: the rounding lands back on it); the nearest double to the exact
 * decimal product where the contracts are an exact decimal, the contract size the nearest
 * double to a decimal of few digits, their decimals 12 at most and |p| < 1000 (the float
 * product is then within 4e-13 of it). Otherwise CALL_IT. */
#ifdef __SIZEOF_INT128__
/* round(p, 12) as Python makes it (the decimal nearest p with 12 decimals, ties to even,
 * then the double nearest that), for |p| < 8192: p is M / 2^sh exactly (M < 2^53), so
 * p * 10^12 = M * 10^12 / 2^sh (under 2^93) is rounded to a whole N in 128 bits, and N
 * (under 2^53) / 10^12 is one correctly rounded division of exact values */
static double
round12(double p)
{
    int e;
    double f = frexp(fabs(p), &e); /* |p| = f * 2^e, f in [0.5, 1) */
    if (f == 0.0)
        return p; /* 0.0 or -0.0, as round gives them back */
    unsigned long long m = (unsigned long long)ldexp(f, 53);
    int sh = 53 - e; /* |p| = m / 2^sh; sh >= 40 here */
    unsigned __int128 v = (unsigned __int128)m * 1000000000000ULL, q;
    if (sh > 100) {
        q = 0; /* v < 2^93 <= half of 2^sh: rounds to 0 */
    }
    else {
        q = v >> sh;
        unsigned __int128 r = v - (q << sh), half = (unsigned __int128)1 << (sh - 1);
        if (r > half || (r == half && (q & 1)))
            q++;
    }
    double out = (double)(unsigned long long)q / 1e12;
    return signbit(p) ? -out : out;
}
#endif

static PyObject *
in_base(const Scan *sc, const Slot *s, int item, PyObject *market, PyObject *ts_recv)
{
    if (inverse_name == NULL &&
        ((inverse_name = PyUnicode_InternFromString("inverse")) == NULL ||
         (contract_size_name = PyUnicode_InternFromString("contract_size")) == NULL))
        return NULL;
    if (market_type == NULL) {
        market_type = (PyTypeObject *)Py_NewRef((PyObject *)Py_TYPE(market));
        inverse_at = slot_offset(market_type, inverse_name);
        contract_size_at = slot_offset(market_type, contract_size_name);
    }
    PyObject *inverse = market_attr(market, inverse_name, inverse_at);
    if (inverse == NULL)
        return NULL;
    int inv = PyObject_IsTrue(inverse);
    Py_DECREF(inverse);
    if (inv < 0 || (inv && s->nargs < 3))
        return inv < 0 ? NULL : CALL_IT;
    PyObject *size = market_attr(market, contract_size_name, contract_size_at);
    if (size == NULL)
        return NULL;
    if (!PyFloat_CheckExact(size)) {
        Py_DECREF(size);
        return CALL_IT;
    }
    double cs = PyFloat_AS_DOUBLE(size);
    Py_DECREF(size);
    PyObject *c = slot_value(sc, &s->args[0], item, market, ts_recv);
    if (c == NULL || c == NOT_MINE)
        return c;
    if (c == Py_None || !PyFloat_CheckExact(c))
        return c == Py_None ? c : (Py_DECREF(c), CALL_IT); /* None comes back as it is */
    double x = PyFloat_AS_DOUBLE(c), p = x * cs;
    Py_DECREF(c);
    if (!isfinite(x))
        return CALL_IT;
    if (inv) { /* in base units at the price (quote per base): the size unknown without one */
        PyObject *a = slot_value(sc, &s->args[2], item, market, ts_recv);
        if (a == NULL || a == NOT_MINE)
            return a;
        if (a == Py_None)
            return a;
        if (!PyFloat_CheckExact(a)) {
            Py_DECREF(a);
            return CALL_IT;
        }
        double price = PyFloat_AS_DOUBLE(a);
        Py_DECREF(a);
        if (!(price > 0.0))
            Py_RETURN_NONE;
        p = p / price; /* in_base's order: contracts * size / price */
    }
    if (!isfinite(p))
        return CALL_IT;
    if (fabs(p) >= 8192.0) /* a double's spacing is over 1e-12 there: round(p, 12) is p */
        return PyFloat_FromDouble(p + 0.0);
#ifdef __SIZEOF_INT128__
    return PyFloat_FromDouble(round12(p));
#else
    return CALL_IT;
#endif
}

/* a slot's value: a new reference, NOT_MINE, or NULL with an exception */
static PyObject *
slot_value(const Scan *sc, const Slot *s, int item, PyObject *market, PyObject *ts_recv)
{
    switch (s->kind) {
    case S_CONST:
        return Py_NewRef(s->obj);
    case S_MARKET:
        return PyObject_GetAttr(market, s->obj);
    case S_TS_RECV:
        return Py_NewRef(ts_recv);
    case S_SELF:
        return Py_NewRef(market);
    case S_NUM:
    case S_TIME:
    case S_ISO:
    case S_TEXT: {
        PyObject *v = NULL;
        for (int i = 0; i < s->nalt; i++) {
            int at = follow(sc, s->alt[i].root ? 0 : item, &s->alt[i].path);
            if (s->kind == S_NUM && s->alt[i].unit && at >= 0 && sc->t[at].type == T_NULL)
                return NOT_MINE; /* a value that must be sent (a book level's price) */
            if (at < 0 && s->alt[i].optional) {
                v = Py_NewRef(Py_None);
                if (i == s->nalt - 1)
                    break;
                Py_DECREF(v);
                continue;
            }
            if (s->kind == S_NUM)
                v = number_at(sc, at);
            else if (s->kind == S_TIME)
                v = time_at(sc, at, s->alt[i].unit);
            else if (s->kind == S_TEXT)
                v = text_at(sc, at);
            else
                v = iso_at(sc, at);
            if (v == NOT_MINE || v == NULL)
                return v;
            if (i == s->nalt - 1)
                break;
            if (v != Py_None) /* else the next alternative */
                break;
            Py_DECREF(v);
        }
        return v;
    }
    case S_MINUS:
    case S_TIMES:
        if (s->nargs == 2) {
            PyObject *v = arithmetic(sc, s, item, market, ts_recv);
            if (v != CALL_IT)
                return v;
        }
        goto call;
    case S_IN_BASE:
        if (s->nargs >= 2 && s->args[1].kind == S_SELF) {
            PyObject *v = in_base(sc, s, item, market, ts_recv);
            if (v != CALL_IT)
                return v;
        }
    call:
        /* fall through: the function itself */
    case S_CALL: {
        PyObject *args[8];
        for (int i = 0; i < s->nargs; i++) {
            PyObject *a = slot_value(sc, &s->args[i], item, market, ts_recv);
            if (a == NULL || a == NOT_MINE) {
                for (int k = 0; k < i; k++)
                    Py_DECREF(args[k]);
                return a;
            }
            args[i] = a;
        }
        PyObject *v = PyObject_Vectorcall(s->obj, args, s->nargs, NULL);
        for (int i = 0; i < s->nargs; i++)
            Py_DECREF(args[i]);
        return v;
    }
    }
    PyErr_SetString(PyExc_SystemError, "unknown slot kind");
    return NULL;
}

/* [*from, *to) narrowed to its index-th part split at sep (-1: the last): 1, or 0 if it
 * has no such part */
static int
part_of(const char **from, const char **to, PyObject *sep_obj, int index)
{
    const char *sep = PyBytes_AS_STRING(sep_obj);
    Py_ssize_t n = PyBytes_GET_SIZE(sep_obj);
    const char *starts[64], *ends[64];
    int parts = 0;
    const char *p = *from;
    for (;;) {
        const char *q = p;
        while (q + n <= *to && memcmp(q, sep, n) != 0)
            q++;
        if (q + n > *to)
            q = *to;
        if (parts >= 64)
            return 0;
        starts[parts] = p;
        ends[parts++] = q;
        if (q >= *to)
            break;
        p = q + n;
    }
    int k = index < 0 ? parts + index : index;
    if (k < 0 || k >= parts)
        return 0;
    *from = starts[k];
    *to = ends[k];
    return 1;
}

/* the market of an item: a borrowed reference, Py_None when the venue's id is not
 * followed, NOT_MINE, or NULL with an exception */
static PyObject *
market_of(const Scan *sc, const Route *r, int item, int key_at)
{
    int at = -1;
    if (r->market_is_key) /* the item's key in the object it is a member of */
        at = key_at;
    for (int i = 0; i < r->nmarket && at < 0 && !r->market_is_key; i++) {
        at = follow(sc, r->market_root[i] ? 0 : item, &r->market[i]);
        if (at >= 0 && i < r->nmarket - 1 &&
            (sc->t[at].type == T_NULL ||
             (sc->t[at].type == T_STR && sc->t[at].end == sc->t[at].start)))
            at = -1; /* null or "": the next alternative, as a codec's `or` takes it */
    }
    if (at < 0)
        return NOT_MINE;
    const Tok *t = &sc->t[at];
    PyObject *key;
    if (r->market_int) {
        long long id;
        if (!whole_at(sc, at, &id))
            return NOT_MINE;
        key = PyLong_FromLongLong(id);
        if (key == NULL)
            return NULL;
    }
    else {
        if (t->type != T_STR || t->escaped)
            return NOT_MINE;
        const char *from = sc->s + t->start, *to = sc->s + t->end;
        if (r->part_sep != NULL && !part_of(&from, &to, r->part_sep, r->part_index))
            return NOT_MINE;
        key = PyUnicode_DecodeUTF8(from, to - from, NULL);
        if (key == NULL) {
            PyErr_Clear();
            return NOT_MINE;
        }
    }
    PyObject *m = PyDict_GetItemWithError(r->lookup, key);
    Py_DECREF(key);
    if (m == NULL)
        return PyErr_Occurred() ? NULL : (r->skip_unknown ? Py_None : NOT_MINE);
    return m;
}

static int
sequence_ok(const Scan *sc, const Route *r, long long *seq)
{
    if (!whole_at(sc, follow(sc, 0, &r->seq), seq))
        return 0;
    PyObject *expected = PyDict_GetItemWithError(r->seq_state, none_key);
    if (expected == NULL)
        return !PyErr_Occurred(); /* the first: any number starts it */
    long long want = PyLong_AsLongLong(expected);
    if (want == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return want == *seq; /* a gap: the Python path raises it */
}

/* A quiet route's message as parse_ws ignores it: an array (its conditions are on
 * indices), or an object with each key once, each one of the route's (0: not mine) */
static int
quiet_holds(const Scan *sc, const Route *r)
{
    const Tok *root = &sc->t[0];
    if (root->type == T_ARR)
        return 1;
    if (root->type != T_OBJ || has_duplicate_key(sc, 0))
        return 0;
    int i = 1;
    for (int e = 0; e < root->count; e++) {
        const Tok *k = &sc->t[i];
        int known = 0;
        for (Py_ssize_t j = 0; !known && j < PyTuple_GET_SIZE(r->quiet); j++) {
            PyObject *name = PyTuple_GET_ITEM(r->quiet, j);
            known = !k->escaped && k->end - k->start == PyBytes_GET_SIZE(name) &&
                    memcmp(sc->s + k->start, PyBytes_AS_STRING(name), k->end - k->start) == 0;
        }
        if (!known)
            return 0;
        i = sc->t[i + 1].next;
    }
    return 1;
}

/* the route's records appended to out: their count, -1 with an exception, -2: not mine */
static int
read_route(Scan *sc, const Route *r, PyObject *ts_recv, PyObject *out)
{
    if (r->quiet != NULL)
        return quiet_holds(sc, r) ? 0 : -2;
    long long seq = 0;
    if (r->has_seq && !sequence_ok(sc, r, &seq))
        return PyErr_Occurred() ? -1 : -2;
    int items[MAX_ITEMS], keys[MAX_ITEMS], n = 0;
    if (items_of(sc, r, 0, 0, -1, items, keys, &n) < 0)
        return -2;
    PyObject *made[MAX_ITEMS];
    int nmade = 0, rc = 0;
    for (int k = 0; k < n; k++) {
        PyObject *market = market_of(sc, r, items[k], keys[k]);
        if (market == NULL || market == NOT_MINE) {
            rc = market == NULL ? -1 : -2;
            goto done;
        }
        if (market == Py_None)
            continue; /* not followed */
        /* an id may stand for several markets (an index for the contracts on it): a list */
        int many = PyList_CheckExact(market);
        Py_ssize_t count = many ? PyList_GET_SIZE(market) : 1;
        Py_INCREF(market);
        for (Py_ssize_t e = 0; e < count; e++) {
            PyObject *m = many ? PyList_GET_ITEM(market, e) : market;
            if (nmade >= MAX_ITEMS) {
                rc = -2;
                break;
            }
            PyObject *args[MAX_SLOTS];
            int i;
            for (i = 0; i < r->nslots; i++) {
                PyObject *v = slot_value(sc, &r->slots[i], items[k], m, ts_recv);
                if (v == NULL || v == NOT_MINE) {
                    rc = v == NULL ? -1 : -2;
                    break;
                }
                args[i] = v;
            }
            PyObject *rec = NULL;
            if (i == r->nslots) {
                rec = PyObject_Vectorcall(r->cls, args, r->nslots, NULL);
                if (rec == NULL)
                    rc = -1;
            }
            for (int j = 0; j < i; j++)
                Py_DECREF(args[j]);
            if (rec == NULL)
                break;
            made[nmade++] = rec;
        }
        Py_DECREF(market);
        if (rc < 0)
            goto done;
    }
    if (r->has_seq) {
        PyObject *next = PyLong_FromLongLong(seq + 1);
        if (next == NULL || PyDict_SetItem(r->seq_state, none_key, next) < 0) {
            Py_XDECREF(next);
            rc = -1;
            goto done;
        }
        Py_DECREF(next);
    }
    for (int k = 0; k < nmade; k++)
        if (PyList_Append(out, made[k]) < 0) {
            rc = -1;
            goto done;
        }
    rc = nmade;
done:
    for (int k = 0; k < nmade; k++)
        Py_DECREF(made[k]);
    return rc;
}

static int read_routes(Reader *self, PyObject *ts_recv, PyObject *out);
static int read_frame_with(Reader *self, const char *s, Py_ssize_t len, PyObject *ts_recv,
                           PyObject *out);

/* One scan (12 KiB of tokens) for every reader of the process: a frame is read through at
 * once, in the event loop's thread; a read that starts inside another (a route's Python
 * function reading a frame) gets one of its own. */
static Scan *shared_scan = NULL;
static int shared_busy = 0;

static int
read_frame(Reader *self, const char *s, Py_ssize_t len, PyObject *ts_recv, PyObject *out)
{
    Scan *own = NULL, *sc = shared_scan;
    if (shared_busy || sc == NULL) {
        sc = own = PyMem_Malloc(sizeof(Scan));
        if (own == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    else {
        shared_busy = 1;
    }
    Scan *before = self->sc;
    self->sc = sc;
    int n = read_frame_with(self, s, len, ts_recv, out);
    self->sc = before;
    if (own != NULL)
        PyMem_Free(own);
    else
        shared_busy = 0;
    return n;
}

/* records of the frame appended to out: their count, -1 with an exception, -2: not mine */
static int
read_frame_with(Reader *self, const char *s, Py_ssize_t len, PyObject *ts_recv, PyObject *out)
{
    Scan *sc = self->sc;
    if (len >= 2 && (unsigned char)s[0] == 0x1f && (unsigned char)s[1] == 0x8b &&
        self->inflate != Py_None) {
        PyObject *raw = PyBytes_FromStringAndSize(s, len);
        if (raw == NULL)
            return -1;
        PyObject *plain = PyObject_CallOneArg(self->inflate, raw);
        Py_DECREF(raw);
        if (plain == NULL) {
            PyErr_Clear(); /* not gzip after all: the Python path says so */
            return -2;
        }
        if (!PyBytes_Check(plain)) {
            Py_DECREF(plain);
            return -2;
        }
        int n = -2;
        if (scan(sc, PyBytes_AS_STRING(plain), PyBytes_GET_SIZE(plain)) == 0)
            n = read_routes(self, ts_recv, out);
        Py_DECREF(plain); /* the tokens point into it: read before it goes */
        return n;
    }
    if (scan(sc, s, len) < 0)
        return -2;
    return read_routes(self, ts_recv, out);
}

static int
read_routes(Reader *self, PyObject *ts_recv, PyObject *out)
{
    Scan *sc = self->sc;
    for (int i = 0; i < self->nroutes; i++) {
        const Route *r = &self->routes[i];
        if (holds(sc, r))
            return read_route(sc, r, ts_recv, out);
    }
    return -2;
}

static PyObject *
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return PyLong_FromLongLong((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

/* The frame data[0..len) read by the routes: its records appended to the connection's
 * pending list (on_first on a read's first, on_full once FLUSH_AT wait). Returns the
 * count, -2 where the frame is not the routes' (the caller takes the Python path), -1
 * with an exception. The C API the WebSocket listener calls with picows's own buffer
 * (adapters/_listen.pyx), and Reader.__call__'s core. */
static int
Reader_feed(PyObject *reader, const char *data, Py_ssize_t len)
{
    Reader *self = (Reader *)reader;
    PyObject *pending = PyObject_GetAttr(self->conn, pending_name);
    if (pending == NULL)
        return -1;
    if (!PyList_Check(pending)) {
        Py_DECREF(pending);
        return -2;
    }
    Py_ssize_t before = PyList_GET_SIZE(pending);
    PyObject *ts = now_ns();
    if (ts == NULL) {
        Py_DECREF(pending);
        return -1;
    }
    int n = read_frame(self, data, len, ts, pending);
    Py_DECREF(ts);
    if (n < 0) {
        Py_DECREF(pending);
        if (n == -2)
            self->passed++;
        return n;
    }
    self->handled++;
    Py_ssize_t after = PyList_GET_SIZE(pending);
    Py_DECREF(pending);
    if (n > 0 && before == 0) {
        PyObject *r = PyObject_CallOneArg(self->on_first, self->conn);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
    }
    if (after >= self->flush_at) {
        PyObject *r = PyObject_CallNoArgs(self->on_full);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
    }
    return n;
}

/* reader(raw): the frame's records into the connection's pending list, or the frame to
 * the fallback; returns what the fallback returns (the codec's replies), else None */
static PyObject *
Reader_call(Reader *self, PyObject *args, PyObject *kw)
{
    PyObject *raw;
    if (!PyArg_UnpackTuple(args, "reader", 1, 1, &raw))
        return NULL;
    if (PyBytes_Check(raw)) {
        int n = Reader_feed((PyObject *)self, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
        if (n == -1)
            return NULL;
        if (n >= 0)
            Py_RETURN_NONE;
    }
    else {
        self->passed++;
    }
    return PyObject_CallOneArg(self->fallback, raw);
}

/* reader.read(raw, ts_recv) -> the records, or None where the frame is not the routes'
 * (for the tests: the same reading, without a connection) */
static PyObject *
Reader_read(Reader *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyBytes_Check(args[0]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "read(raw: bytes, ts_recv: int)");
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    int n = read_frame(self, PyBytes_AS_STRING(args[0]), PyBytes_GET_SIZE(args[0]), args[1], out);
    if (n == -1) {
        Py_DECREF(out);
        return NULL;
    }
    if (n == -2) {
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    return out;
}

static int
Reader_init(Reader *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"program", "fallback", "conn",    "on_first",
                            "on_full", "flush_at", "inflate", NULL};
    PyObject *program, *fallback = Py_None, *conn = Py_None, *on_first = Py_None,
                       *on_full = Py_None, *inflate = Py_None;
    Py_ssize_t flush_at = 256;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|OOOOnO", names, &PyTuple_Type, &program,
                                     &fallback, &conn, &on_first, &on_full, &flush_at,
                                     &inflate))
        return -1;
    if (self->routes) {
        PyErr_SetString(PyExc_TypeError, "a Reader is made once");
        return -1;
    }
    self->program = Py_NewRef(program);
    self->fallback = Py_NewRef(fallback);
    self->conn = Py_NewRef(conn);
    self->on_first = Py_NewRef(on_first);
    self->on_full = Py_NewRef(on_full);
    self->inflate = Py_NewRef(inflate);
    self->flush_at = flush_at > 0 ? flush_at : 1;
    self->sc = NULL; /* the shared scan (read_frame), or its own while that one is busy */
    Py_ssize_t n = PyTuple_GET_SIZE(program);
    self->routes = PyMem_Calloc(n ? n : 1, sizeof(Route));
    if (!self->routes) {
        PyErr_NoMemory();
        return -1;
    }
    self->nroutes = (int)n;
    for (Py_ssize_t i = 0; i < n; i++)
        if (route_from(PyTuple_GET_ITEM(program, i), &self->routes[i]) < 0)
            return -1;
    return 0;
}

static int
Reader_traverse(Reader *self, visitproc visit, void *arg)
{
    Py_VISIT(self->program);
    Py_VISIT(self->fallback);
    Py_VISIT(self->conn);
    Py_VISIT(self->on_first);
    Py_VISIT(self->on_full);
    Py_VISIT(self->inflate);
    for (int i = 0; i < self->nroutes; i++) {
        Py_VISIT(self->routes[i].lookup);
        Py_VISIT(self->routes[i].seq_state);
    }
    return 0;
}

static int
Reader_clear(Reader *self)
{
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->conn);
    Py_CLEAR(self->on_first);
    Py_CLEAR(self->on_full);
    Py_CLEAR(self->inflate);
    if (self->routes) {
        for (int i = 0; i < self->nroutes; i++)
            route_clear(&self->routes[i]);
    }
    return 0;
}

static void
Reader_dealloc(Reader *self)
{
    PyObject_GC_UnTrack(self);
    Reader_clear(self);
    if (self->routes)
        PyMem_Free(self->routes);
    Py_CLEAR(self->program);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Reader_counts(Reader *self, PyObject *unused)
{
    return Py_BuildValue("(KK)", self->handled, self->passed);
}

static PyMethodDef Reader_methods[] = {
    {"read", (PyCFunction)(void (*)(void))Reader_read, METH_FASTCALL,
     "read(raw, ts_recv): the frame's records, or None where the routes do not describe it"},
    {"counts", (PyCFunction)Reader_counts, METH_NOARGS,
     "(frames read here, frames handed to the Python path)"},
    {NULL},
};

static PyMemberDef Reader_members[] = {
    {"fallback", T_OBJECT, offsetof(Reader, fallback), READONLY,
     "the codec's Python path, for the frames the routes do not describe"},
    {NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "aggregator._frames.Reader",
    .tp_basicsize = sizeof(Reader),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Reader(program, fallback, conn, on_first, on_full, flush_at): a codec's "
              "declared routes, compiled (adapters/routes.py)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Reader_init,
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_traverse = (traverseproc)Reader_traverse,
    .tp_clear = (inquiry)Reader_clear,
    .tp_call = (ternaryfunc)Reader_call,
    .tp_methods = Reader_methods,
    .tp_members = Reader_members,
};

static struct PyModuleDef frames_module = {
    PyModuleDef_HEAD_INIT, "aggregator._frames",
    "A codec's declared routes (adapters/routes.py), read in C.", -1, NULL,
};

PyMODINIT_FUNC
PyInit__frames(void)
{
    if (PyType_Ready(&ReaderType) < 0)
        return NULL;
    pending_name = PyUnicode_InternFromString("pending");
    shared_scan = PyMem_Malloc(sizeof(Scan));
    if (shared_scan == NULL)
        return PyErr_NoMemory();
    none_key = Py_None;
    if (pending_name == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&frames_module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Reader", (PyObject *)&ReaderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    /* the C API (aggregator/_frames.h): the Reader type and its feed */
    static void *api[2];
    api[0] = (void *)&ReaderType;
    api[1] = (void *)Reader_feed;
    PyObject *capsule = PyCapsule_New(api, "aggregator._frames._C_API", NULL);
    if (capsule == NULL || PyModule_AddObjectRef(m, "_C_API", capsule) < 0) {
        Py_XDECREF(capsule);
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(capsule);
    return m;
}
