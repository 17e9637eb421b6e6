// `pitool check` on arbitrary input, in process. Input: a first line of
// arguments separated by spaces (FORMAT and options; the word MD stands for
// the metadata file), then a 4-byte little-endian length L, L bytes of
// metadata, and the data (stdin). pitool.cpp is compiled into this target
// with main renamed pitool_main. Properties: no crash; exit status 0, 1 or
// 2; no file descriptor left open.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "pifio/pi.hpp"

int pitool_main(int argc, char** argv);

namespace {

int memfd_with(const uint8_t* p, size_t n) {
    const int fd = memfd_create("pitool-fuzz", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0, "memfd_create");
    for (size_t done = 0; done < n;) {
        const ssize_t w = write(fd, p + done, n - done);
        FUZZ_CHECK(w > 0, "write");
        done += size_t(w);
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

int open_fds() {
    int n = 0;
    DIR* d = opendir("/proc/self/fd");
    FUZZ_CHECK(d, "opendir /proc/self/fd");
    while (readdir(d)) ++n;
    closedir(d);
    return n;
}

int g_null = -1;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // pitool prints a line per bad block and a summary on stderr: keep them
    // out of the fuzzer's log (stderr is restored around each run).
    g_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    dup2(g_null, 1);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const uint8_t* nl = static_cast<const uint8_t*>(std::memchr(data, '\n', size));
    if (!nl) return 0;
    const std::string line(reinterpret_cast<const char*>(data), size_t(nl - data));
    size_t pos = size_t(nl - data) + 1;
    uint32_t mdlen = 0;
    if (size - pos >= 4) {
        std::memcpy(&mdlen, data + pos, 4);
        pos += 4;
    }
    mdlen = uint32_t(std::min<size_t>(mdlen, size - pos));
    const uint8_t* md = data + pos;
    const uint8_t* in = md + mdlen;
    const size_t inlen = size - pos - mdlen;

    std::vector<std::string> words{"pitool", "check"};
    for (size_t i = 0; i <= line.size();) {
        size_t j = line.find(' ', i);
        if (j == std::string::npos) j = line.size();
        if (j > i) words.push_back(line.substr(i, j - i));
        i = j + 1;
    }
    if (words.size() > 16) return 0;
    // Keep each run's buffers small: pitool sizes them from the format
    // (256 blocks of data + metadata), up to 32 MiB for 65536+65535.
    if (words.size() > 2) {
        const auto f = pifio::parse_format(words[2]);
        if (f.ok() && f.value.data_size + f.value.ms > 8192) return 0;
    }

    const int fds_before = open_fds();
    const int mdfd = memfd_with(md, mdlen);
    const int infd = memfd_with(in, inlen);
    const std::string mdpath = "/proc/self/fd/" + std::to_string(mdfd);
    for (auto& w : words)
        if (w == "MD") w = mdpath;
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);

    const int saved_stdin = dup(0), saved_stderr = dup(2);
    dup2(infd, 0);
    dup2(g_null, 2);
    const int rc = pitool_main(int(argv.size() - 1), argv.data());
    std::fflush(stdout);
    std::fflush(stderr);
    dup2(saved_stdin, 0);
    dup2(saved_stderr, 2);
    close(saved_stdin);
    close(saved_stderr);
    close(infd);
    close(mdfd);
    FUZZ_CHECK(rc == 0 || rc == 1 || rc == 2, "exit status %d", rc);
    FUZZ_CHECK(open_fds() == fds_before, "pitool check left %d file descriptor(s) open (exit %d)",
               open_fds() - fds_before, rc);
    return 0;
}
