/* The C API of aggregator._frames (see _frames.c): the routes' reader, for the WebSocket
 * listener (adapters/_listen.pyx), which hands it frames in picows's own buffer. */
#ifndef AGGREGATOR_FRAMES_H
#define AGGREGATOR_FRAMES_H
#include <Python.h>

typedef int (*frames_feed_t)(PyObject *reader, const char *data, Py_ssize_t len);

static PyTypeObject *frames_reader_type = NULL;
static frames_feed_t frames_feed = NULL;

/* 0 once imported; -1 with an exception */
static int
frames_import(void)
{
    void **api = (void **)PyCapsule_Import("aggregator._frames._C_API", 0);
    if (api == NULL)
        return -1;
    frames_reader_type = (PyTypeObject *)api[0];
    frames_feed = (frames_feed_t)api[1];
    return 0;
}

/* reader's records from data[0..len): >= 0 their count, -2 not the routes' frame, -1 an
 * exception; -2 for an object that is not a Reader */
static int
frames_feed_reader(PyObject *reader, const char *data, Py_ssize_t len)
{
    if (frames_feed == NULL || !Py_IS_TYPE(reader, frames_reader_type))
        return -2;
    return frames_feed(reader, data, len);
}
#endif
