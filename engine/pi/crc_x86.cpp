// x86 folding CRC kernels (PCLMULQDQ, VPCLMULQDQ AVX2 / AVX-512).
#include "crc_internal.hpp"

namespace pifio::detail {
#if defined(__x86_64__)
const CrcKernels kPclmulKernels = {CrcImpl::pclmul, nullptr, nullptr, nullptr, nullptr};
const CrcKernels kAvx2Kernels = {CrcImpl::vpclmul_avx2, nullptr, nullptr, nullptr, nullptr};
const CrcKernels kAvx512Kernels = {CrcImpl::vpclmul_avx512, nullptr, nullptr, nullptr, nullptr};
#endif
}  // namespace pifio::detail
