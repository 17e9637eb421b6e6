// pitool cpu: which CRC implementation the PI core runs on this CPU, and why
// (the one-time probe's known-answer self-test note).
#include "pitool.hpp"

#include <pifio/pi.hpp>

namespace {

int cmd_cpu(int argc, char** argv) {
    if (argc > 1) return pitool::fail("cpu", "takes no arguments");
    // Any CRC call runs the probe; the note is filled then.
    (void)pifio::crc16_t10dif(0, "", 0);
    std::printf("crc: %s\n", pifio::crc_impl_name(pifio::crc_active()));
    static constexpr pifio::CrcImpl all[] = {pifio::CrcImpl::table, pifio::CrcImpl::pclmul,
                                             pifio::CrcImpl::vpclmul_avx2, pifio::CrcImpl::vpclmul_avx512};
    for (auto impl : all)
        std::printf("%s: %s\n", pifio::crc_impl_name(impl),
                    pifio::crc_impl_supported(impl) ? "supported" : "not supported by this CPU");
    std::printf("probe: %s\n", pifio::crc_dispatch_note());
    return pitool::kExitOk;
}

}  // namespace

PITOOL_COMMAND("cpu", "", "CRC implementation chosen for this CPU and the self-test note", cmd_cpu);
