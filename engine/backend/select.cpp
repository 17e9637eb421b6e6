// Backend choice by file type. A new backend adds one row to kBackends.
#include <cerrno>
#include <cstring>
#include <sys/stat.h>

#include "backend.hpp"
#include "block_backend.hpp"
#include "mem_backend.hpp"
#include "nvme_backend.hpp"

namespace pifio {

namespace {

struct BackendRow {
    const char* name;
    bool (*matches)(const struct stat&);
    Result<std::unique_ptr<Backend>> (*open)(const std::string&, const EngineOptions&);
};

bool is_char(const struct stat& st) { return S_ISCHR(st.st_mode); }
bool is_block(const struct stat& st) { return S_ISBLK(st.st_mode); }

const BackendRow kBackends[] = {
    {"nvme", is_char, NvmeBackend::open},
    {"block", is_block, BlockBackend::open},
};

// Not a file: named by its prefix.
const BackendRow kMemRow = {"mem", nullptr, open_mem_backend};

Result<const BackendRow*> pick(const std::string& path) {
    Result<const BackendRow*> r;
    if (is_mem_target(path)) {
        r.value = &kMemRow;
        return r;
    }
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
        r.error = {errno, path + ": " + strerror(errno)};
        return r;
    }
    for (const auto& row : kBackends)
        if (row.matches(st)) {
            r.value = &row;
            return r;
        }
    const char* what = S_ISBLK(st.st_mode) ? "a block device" : S_ISREG(st.st_mode) ? "a regular file" : "this file type";
    r.error = {EOPNOTSUPP, path + ": pifio has no backend for " + std::string(what) +
                               "; give an NVMe generic char device (/dev/ngXnY, see `ls /dev/ng*`)"};
    return r;
}

}  // namespace

Result<std::unique_ptr<Backend>> open_backend(const std::string& path, const EngineOptions& o) {
    auto p = pick(path);
    if (!p.ok()) {
        Result<std::unique_ptr<Backend>> r;
        r.error = p.error;
        return r;
    }
    return p.value->open(path, o);
}

}  // namespace pifio
