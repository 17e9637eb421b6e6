// pitool subcommand registry. A subcommand is a function in its own source
// file, registered with PITOOL_COMMAND; add the file to pitool's sources in
// CMakeLists.txt (e.g. a later `pitool dump DEV ...` in pitool_dump.cpp).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace pitool {

// argv[0] is the subcommand name. Return the process exit status.
using CommandFn = int (*)(int argc, char** argv);

struct Command {
    const char* name;
    const char* usage;    // one line: arguments
    const char* summary;  // one line: what it does
    CommandFn run;
};

// Called by PITOOL_COMMAND's static registrar.
bool register_command(const Command& c);

// Exit codes shared by subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitBad = 1;     // data checked and found bad
inline constexpr int kExitUsage = 2;   // bad arguments or unusable input

// Print "pitool <cmd>: <msg>" to stderr; returns kExitUsage.
int fail(const char* cmd, const std::string& msg);

// Strict unsigned parse (decimal, or 0x hex); false on junk or overflow of max.
bool parse_u64(const char* s, uint64_t max, uint64_t* out);

// Read up to n bytes (less only at end of input). Returns bytes read or -1 (errno set).
long long read_full(int fd, void* buf, size_t n);
bool write_full(int fd, const void* buf, size_t n);

}  // namespace pitool

#define PITOOL_CONCAT2(a, b) a##b
#define PITOOL_CONCAT(a, b) PITOOL_CONCAT2(a, b)
#define PITOOL_COMMAND(name, usage, summary, fn) \
    static const bool PITOOL_CONCAT(pitool_reg_, __LINE__) = ::pitool::register_command({name, usage, summary, fn})
