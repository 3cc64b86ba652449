// Storage aligned to 64 bytes for std::vector, so that each AMX tile row or AVX-512 vector of a buffer (64 bytes)
// is one cache line: tileloadd of rows that straddle two lines runs far slower.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace winnow {

template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64})); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t{64}); }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const { return true; }
};

template <class T>
using CacheLineVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace winnow
