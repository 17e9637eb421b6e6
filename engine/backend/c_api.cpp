// The C API engine/fio/glue.c calls (engine/fio/glue_api.h): C types in,
// exceptions caught, errors copied into the caller's buffer.
#include <cerrno>
#include <cstdio>
#include <exception>

#include "engine.hpp"

namespace pifio {
namespace {

void copy_err(const Error& e, char* err, size_t errlen) {
    if (err && errlen) snprintf(err, errlen, "%s", e.msg.c_str());
}

}  // namespace
}  // namespace pifio

using pifio::Engine;
using pifio::Error;
using pifio::FileState;

extern "C" {

void* pifio_file_probe(const struct pifio_opts* co, const char* path, unsigned long long* size, int* errnum,
                       char* err, size_t errlen) {
    *errnum = EINVAL;
    try {
        auto o = pifio::options_from_c(*co);
        if (!o.ok()) {
            pifio::copy_err(o.error, err, errlen);
            return nullptr;
        }
        auto f = pifio::probe_file(o.value, path);
        if (!f.ok()) {
            *errnum = f.error.err;
            pifio::copy_err(f.error, err, errlen);
            return nullptr;
        }
        if (size) *size = f.value->be->geometry().size();
        return f.value;
    } catch (const std::exception& ex) {
        pifio::copy_err(Error{ENOMEM, std::string(path) + ": " + ex.what()}, err, errlen);
        return nullptr;
    }
}

void pifio_file_free(void* file) { delete static_cast<FileState*>(file); }

void* pifio_engine_new(const struct pifio_opts* co, const struct pifio_job* j, void* const* files, unsigned nfiles,
                       char* err, size_t errlen) {
    try {
        auto o = pifio::options_from_c(*co);
        if (!o.ok()) {
            pifio::copy_err(o.error, err, errlen);
            return nullptr;
        }
        auto e = Engine::create(o.value, *j, reinterpret_cast<FileState* const*>(files), nfiles);
        if (!e.ok()) {
            pifio::copy_err(e.error, err, errlen);
            return nullptr;
        }
        for (unsigned i = 0; i < nfiles; i++) e.value->adopt(static_cast<FileState*>(files[i]));
        return e.value.release();
    } catch (const std::exception& ex) {
        pifio::copy_err(Error{ENOMEM, ex.what()}, err, errlen);
        return nullptr;
    }
}

int pifio_engine_open(void* eng, void* file, unsigned fileno, int* fd, char* err, size_t errlen) {
    try {
        static_cast<Engine*>(eng)->adopt(static_cast<FileState*>(file));
        if (Error e = static_cast<Engine*>(eng)->open(*static_cast<FileState*>(file), fileno, fd)) {
            pifio::copy_err(e, err, errlen);
            return -e.err;
        }
        return 0;
    } catch (const std::exception& ex) {
        pifio::copy_err(Error{ENOMEM, ex.what()}, err, errlen);
        return -ENOMEM;
    }
}

void pifio_engine_close(void* eng, void* file) { static_cast<Engine*>(eng)->close(*static_cast<FileState*>(file)); }

int pifio_engine_register_buffers(void* eng, const struct iovec* iov, unsigned n, char* err, size_t errlen) {
    if (Error e = static_cast<Engine*>(eng)->register_buffers(iov, n)) {
        pifio::copy_err(e, err, errlen);
        return -e.err;
    }
    return 0;
}

int pifio_engine_queue(void* eng, void* file, unsigned slot, int ddir, unsigned long long offset, void* buf,
                       unsigned long long len, void* cookie) {
    return static_cast<Engine*>(eng)->queue(*static_cast<FileState*>(file), slot, ddir, offset, buf, len, cookie);
}

int pifio_engine_commit(void* eng) { return static_cast<Engine*>(eng)->commit(); }

int pifio_engine_getevents(void* eng, unsigned min, unsigned max, const struct timespec* t) {
    return static_cast<Engine*>(eng)->getevents(min, max, t);
}

void* pifio_engine_event(void* eng, int i, int* err) { return static_cast<Engine*>(eng)->event(i, err); }

int pifio_engine_finish(void* eng, char* err, size_t errlen) {
    try {
        Error e;
        int ret = static_cast<Engine*>(eng)->finish(&e);
        if (ret != 0) pifio::copy_err(e, err, errlen);
        return ret;
    } catch (const std::exception& ex) {
        pifio::copy_err(Error{ENOMEM, ex.what()}, err, errlen);
        return -ENOMEM;
    }
}

void pifio_engine_free(void* eng) { delete static_cast<Engine*>(eng); }

}  // extern "C"
