/* Fan-out by reference for the socket sink (aggregator/sinks/fanout.py): Linux only.
 *
 * One batch's bytes to many sockets with one copy, through tee(2) and splice(2); the GIL
 * is released while the bytes move. Built where the package is installed on Linux with a C
 * compiler; without it the socket sink writes each subscriber's copy (bench/README.md,
 * fan-out, says what this saves).
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

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
    {"splice_fanout", splice_fanout, METH_VARARGS,
     "splice_fanout(data, src_r, src_w, null_fd, targets) -> bytes delivered per target"},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_splice", "Fan-out by reference: tee(2) and splice(2).", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__splice(void) { return PyModule_Create(&module); }
