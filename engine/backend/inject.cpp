#include "inject.hpp"

#include "engine.hpp"

namespace pifio {
namespace {

uint64_t mix64(uint64_t x) {   // splitmix64 finalizer
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

}  // namespace

const InjectSpec* inject_choice(const std::vector<InjectSpec>& specs, uint64_t seed, uint64_t lba) noexcept {
    for (const InjectSpec& s : specs)
        if (mix64(lba ^ seed ^ (uint64_t(s.kind) + 1) * 0x9e3779b97f4a7c15ull) < s.threshold) return &s;
    return nullptr;
}

void inject_fault(const Format& fmt, void* data, void* md, uint32_t block, InjectKind kind) noexcept {
    switch (kind) {
        case InjectKind::guard: inject(fmt, data, md, block, Field::guard); break;
        case InjectKind::app: inject(fmt, data, md, block, Field::app); break;
        case InjectKind::ref: inject(fmt, data, md, block, Field::ref); break;
        case InjectKind::data: inject(fmt, data, md, block, Field::guard, true); break;
    }
}

void Engine::inject(FileState& f, const Io& io) noexcept {
    const Format& fmt = f.be->geometry().fmt;
    for (uint32_t b = 0; b < io.nlb; b++) {
        const uint64_t lba = io.lba + b;
        const InjectSpec* s = inject_choice(o_.inject, o_.inject_seed, lba);
        if (!s) continue;
        inject_fault(fmt, io.data, io.md, b, s->kind);
        f.rep->injected++;
        if (inj_.size() < inj_.capacity()) inj_.push_back({f.fileno, s->kind, lba});
        else inj_dropped_++;
    }
}

}  // namespace pifio
