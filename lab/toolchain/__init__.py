"""The host tool chain: Debian packages, fio trees (setup), CMake build, ctest, benches (build)."""
