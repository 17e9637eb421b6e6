// pifio PI core: formats, guard CRCs, generate/verify, injection.
//
// No fio, no I/O. Setup paths (parse, validate) return a Result that carries
// an errno and a message saying what to do; hot paths (crc*, generate, verify)
// never allocate, throw or log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pifio {

// ---------------------------------------------------------------- results --

struct Error {
    int err = 0;          // errno-style code (EINVAL, EOPNOTSUPP, ...); 0 = ok
    std::string msg;      // what is wrong and what value would work
    explicit operator bool() const { return err != 0; }
};

template <class T>
struct Result {
    T value{};
    Error error;
    bool ok() const { return error.err == 0; }
};

// ----------------------------------------------------------------- format --

enum class Guard : uint8_t { g16, g64 };          // 8-byte tuple / 16-byte tuple
enum class PiLoc : uint8_t { last, first };       // tuple in last / first bytes of metadata
enum class Layout : uint8_t { sep, ext };         // separate metadata buffer / extended LBA

// One LBA format. Build it with parse_format() (validated) — the derived
// helpers assume a valid format.
struct Format {
    uint32_t data_size = 4096;   // power of two >= 512
    uint32_t ms = 0;             // metadata bytes per block
    uint8_t pi_type = 0;         // 0 (none), 1, 2, 3
    Guard guard = Guard::g16;
    PiLoc loc = PiLoc::last;
    Layout layout = Layout::sep;

    uint32_t tuple_size() const { return pi_type == 0 ? 0 : (guard == Guard::g16 ? 8u : 16u); }
    // Offset of the PI tuple inside a block's metadata.
    uint32_t pi_offset() const { return loc == PiLoc::first ? 0 : ms - tuple_size(); }
    // Bytes of one block in the data buffer (data, plus metadata when extended).
    uint32_t data_stride() const { return layout == Layout::ext ? data_size + ms : data_size; }
    // Bytes of one block in the separate metadata buffer (0 when extended).
    uint32_t md_stride() const { return layout == Layout::sep ? ms : 0; }
    bool operator==(const Format&) const = default;
};

// "<data>+<ms>[/t0|t1|t2|t3][/g16|g64][/first|last][/sep|ext]".
// Defaults: t1 when ms >= 8 else t0, g16, last, sep. Fields after "+ms" may
// come in any order, each at most once. The error message names the field.
Result<Format> parse_format(std::string_view spec);
// Canonical spelling (every field explicit), e.g. "4096+8/t1/g16/last/sep".
std::string format_to_string(const Format& f);
// Short spelling (defaults omitted), e.g. "4096+8/t1" — parses back equal.
std::string format_to_short(const Format& f);

// ------------------------------------------------------------------- CRCs --
//
// Both CRCs chain: crcX(crcX(0, a, n), b, m) == crcX(0, a||b, n+m).
// CRC16-T10DIF: poly 0x8BB7, init 0, no reflection, no xorout.
// CRC64-NVMe: poly 0xAD93D23594C93659 reflected, init and xorout all ones;
// the seed/return value is the finished CRC (the ones are applied inside).

uint16_t crc16_t10dif(uint16_t crc, const void* buf, size_t len);
uint64_t crc64_nvme(uint64_t crc, const void* buf, size_t len);

// Bit-serial references (slow, obviously correct) for tests.
uint16_t crc16_t10dif_ref(uint16_t crc, const void* buf, size_t len);
uint64_t crc64_nvme_ref(uint64_t crc, const void* buf, size_t len);

enum class CrcImpl : uint8_t {
    automatic,       // best the CPU has (probed once)
    table,           // portable slice-by-N table code
    pclmul,          // SSE4.1 + PCLMULQDQ folding
    vpclmul_avx2,    // VPCLMULQDQ on 256-bit vectors
    vpclmul_avx512,  // VPCLMULQDQ on 512-bit vectors (AVX-512 F/BW/VL + GFNI)
};
const char* crc_impl_name(CrcImpl impl);
// True when the CPU can run impl.
bool crc_impl_supported(CrcImpl impl);
// Force an implementation for every later call (tests, old CPUs). Returns
// false and changes nothing when the CPU cannot run it. Not thread-safe with
// concurrent CRC calls; call at setup.
bool crc_force(CrcImpl impl);
CrcImpl crc_active();
// One implementation's CRC functions, for benchmarks that compare the CPU
// paths side by side in one run (no global switch); nulls when the CPU
// cannot run impl. Same semantics as crc16_t10dif / crc64_nvme.
struct CrcFunctions {
    uint16_t (*crc16)(uint16_t crc, const uint8_t* p, size_t len);
    uint64_t (*crc64)(uint64_t crc, const uint8_t* p, size_t len);
};
CrcFunctions crc_functions(CrcImpl impl);
// How the active implementation was chosen, one line for logs and tools.
// Automatic dispatch runs every SIMD candidate the CPU supports on fixed
// known answers against the table code first and skips one that disagrees,
// e.g. "vpclmul-avx512: not supported by this CPU; vpclmul-avx2: self-test
// passed", or "...: SELF-TEST FAILED (crc64 len 255 ...: got .., want ..),
// not used; ...". crc_force() of a named impl skips the self-test (so tests
// see a broken kernel's own answers) and says "forced". Probes if needed.
const char* crc_dispatch_note();

// ---------------------------------------------------- generate / verify --

enum Check : uint8_t { CHK_GUARD = 1, CHK_APP = 2, CHK_REF = 4, CHK_ALL = 7 };
enum class Field : uint8_t { guard = 0, app = 1, ref = 2 };
const char* field_name(Field f);   // "guard", "apptag", "reftag"

// Validated once, taken const by hot loops.
// What generate()/verify() would otherwise work out from the format and the
// checks on every call: where a block's pieces are and the compare masks.
// Filled by make_context(); not meant to be set by hand.
struct PiFast {
    uint32_t ds = 0;        // data stride
    uint32_t mstride = 0;   // md stride (sep) or 0
    uint32_t dsize = 0;
    uint32_t pi_off = 0;
    uint32_t contig = 0;    // guard bytes contiguous with the data
    uint32_t chain = 0;     // guard bytes in the separate md buffer
    bool ext = false;
    bool type3 = false;
    bool guard = false;     // the guard is checked
    bool run = false;       // guard checked over whole 64-byte vectors, no chain: verify_quick's one-pass path
    uint64_t gmask = 0, wmask = 0, app_word = 0;   // verify's masks over the tuple words
};

struct PiContext {
    Format fmt;
    uint16_t app_tag = 0;
    uint16_t app_mask = 0xffff;   // bits of the app tag that are checked
    uint8_t checks = CHK_ALL;     // which fields verify() checks
    PiFast fast;                  // derived from the above by make_context()
};
Result<PiContext> make_context(const Format& fmt, uint16_t app_tag, uint16_t app_mask, uint8_t checks);

// Where a run of blocks starts. `ref` is the reference tag of the first block
// as the device expects it: type 1 -> the LBA (low 32 or 48 bits), type 2 ->
// the command's initial ref tag, type 3 -> anything (written, never checked).
// Each later block uses ref + i (type 1/2/3 alike when generating).
struct Span {
    uint64_t lba = 0;        // for error records only
    uint64_t ref = 0;
    uint32_t nblocks = 0;
};
// Bits of the reference tag: 32 (16b guard) or 48 (64b guard).
inline uint64_t ref_mask(const Format& f) { return f.guard == Guard::g16 ? 0xffffffffull : 0xffffffffffffull; }
// Span::ref of a run starting at `lba`: type 2 -> type2_base + lba (the
// command's initial ref tag; type2_base is the ref tag of LBA 0), types 1
// and 3 -> the LBA (type 3 writes it, nobody checks it); masked to ref_mask.
inline uint64_t ref_seed(const Format& f, uint64_t lba, uint64_t type2_base = 0) {
    return (f.pi_type == 2 ? type2_base + lba : lba) & ref_mask(f);
}
// The same with a seed offset for types 1/3 (pi_seed on the io_uring PI path,
// where the kernel remaps the ref tags it is given to the physical LBA).
inline uint64_t ref_seed(const Format& f, uint64_t lba, uint64_t type2_base, uint64_t offset) {
    return (f.pi_type == 2 ? type2_base + lba : lba + offset) & ref_mask(f);
}

// Fill the PI tuple of every block (data: nblocks * data_stride bytes;
// md: nblocks * md_stride bytes, ignored when extended). Metadata bytes
// outside the tuple are left as they are (and covered by the guard when
// they precede it). No-op for pi_type 0.
void generate(const PiContext& ctx, void* data, void* md, const Span& span);

struct Mismatch {
    uint32_t block;   // index within the span
    uint64_t lba;     // span.lba + block
    Field field;
    uint64_t got;
    uint64_t want;
};

struct VerifyStats {
    uint32_t bad_blocks = 0;    // blocks with at least one mismatch
    uint32_t count[3] = {};     // mismatches per Field
    uint32_t recorded = 0;      // records written to the caller's array
    uint32_t escaped = 0;       // blocks skipped by the escape rules
    uint32_t total() const { return count[0] + count[1] + count[2]; }
};

// Check every block. Records up to max_out mismatches into out (may be null
// with max_out 0). stop_at_first: return after the first bad block.
// Returns stats.bad_blocks == 0.
bool verify(const PiContext& ctx, const void* data, const void* md, const Span& span,
            Mismatch* out, uint32_t max_out, VerifyStats* stats, bool stop_at_first = false);

// verify() for the hot path: no records, no stats. Returns the number of
// blocks skipped by the escape rules when every block passes, kVerifyBad
// when one does not (call verify() then, for what failed).
constexpr uint32_t kVerifyBad = UINT32_MAX;
uint32_t verify_quick(const PiContext& ctx, const void* data, const void* md, const Span& span);

// Corrupt `field` of block `block` (flip the low bit of the field's last
// byte, so got != want for sure; for guard, flips a data byte instead when
// flip_data is true).
void inject(const Format& fmt, void* data, void* md, uint32_t block, Field field, bool flip_data = false);

// Read / write the tuple of one block (decoded, host order) — for tools and tests.
struct Tuple {
    uint64_t guard;   // 16 or 64 bits
    uint16_t app;
    uint64_t ref;     // 32 or 48 bits
};
Tuple read_tuple(const Format& fmt, const void* data, const void* md, uint32_t block);
void write_tuple(const Format& fmt, void* data, void* md, uint32_t block, const Tuple& t);
// Guard the device would compute for block `block` (data + metadata before the tuple).
uint64_t compute_guard(const Format& fmt, const void* data, const void* md, uint32_t block);

}  // namespace pifio
