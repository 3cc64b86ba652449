// Internal: the per-level kernel table behind pooling.h. Each level lives in its own .cc file,
// compiled per function with __attribute__((target(...))) so the rest of the binary stays baseline.
// All kernel code in those files has internal linkage so no ISA-specific copy of a template or
// inline function can be merged into (and leak out through) another level.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/half.h"
#include "pooling/pooling.h"

namespace winnow::pooling::internal {

// Which sum a similarity kernel takes: kDot through dot_tiles, the differences through sq_diff / abs_diff and block4.
enum class PairOp { kDot, kSqDiff, kAbsDiff };

struct Kernels {
  // acc[dim] += sum over i (in order) of row(ids[i]) * RowScale(ids[i]). ids are pre-validated.
  void (*bag_sum)(const TableView& t, const int32_t* ids, size_t n, float* acc);
  void (*add_scaled)(float* acc, const float* x, float a, size_t dim);  // acc += a * x
  void (*max_into)(float* acc, const float* x, size_t dim);             // acc = max(acc, x)
  double (*sum_squares)(const float* x, size_t dim);                    // accumulated in fp64
  void (*scale)(float* x, float s, size_t dim);                         // x *= s
  // Sums over d of (x[d]-y[d])^2 and |x[d]-y[d]|, each accumulated in fp64.
  double (*sq_diff)(const float* x, const float* y, size_t dim);
  double (*abs_diff)(const float* x, const float* y, size_t dim);
  // out[r] += the sum over d of op(a[r * dim + d], y[d]) for r < 4 (op kSqDiff or kAbsDiff): four rows widened
  // to fp64 beforehand, each y value loaded and widened once for all four (the similarity matrix's inner loop).
  // nullptr where a level has none: the caller then uses the pair kernels above.
  void (*block4)(int op /*PairOp*/, const double* a /*[4, dim]*/, const float* y, size_t dim, double* out /*[4]*/);
  // out[i * ldo + j] = the dot product of row i of a [n, dim] with row j of b [m, dim] (the cosine and dot
  // similarity matrix): products summed by fp32 FMA in the level's lanes, one chain per pair, then the lanes
  // summed in fp64 in a fixed order. A pair gets the same arithmetic wherever it sits in a call, so matrix
  // entries equal pairwise results bit for bit. The scalar level sums each pair in fp64 (the oracle).
  void (*dot_tiles)(const float* a, size_t n, const float* b, size_t m, size_t dim, double* out, size_t ldo);
  // A row of dot_tiles' sums made scores: out[j] = float(s[j] / (na * nb[j])) (cosine), or float(s[j]) when nb is
  // nullptr (dot). IEEE division and conversion in the level's lanes, so the same bits as FinishDot's scalar
  // expression, which single pairs use.
  void (*finish_dots)(const double* s, size_t m, double na, const double* nb, float* out);
};

// Fully unrolls a loop over a tile's rows or columns, so its accumulators live in registers at any -O level.
#define WINNOW_UNROLL_TILE _Pragma("GCC unroll 8")

// dot_tiles' walk over the matrix: R x C tiles, then the ragged edges as R x 1, 1 x C and 1 x 1 tiles of the
// same per-pair arithmetic. Tile<r, c>::Run(a, b, dim, out, ldo) is the level's (target-attributed) tile.
template <template <int, int> class Tile, int R, int C>
void DotTiles(const float* a, size_t n, const float* b, size_t m, size_t dim, double* out, size_t ldo) {
  size_t i = 0;
  for (; i + R <= n; i += R) {
    size_t j = 0;
    for (; j + C <= m; j += C) Tile<R, C>::Run(a + i * dim, b + j * dim, dim, out + i * ldo + j, ldo);
    for (; j < m; ++j) Tile<R, 1>::Run(a + i * dim, b + j * dim, dim, out + i * ldo + j, ldo);
  }
  for (; i < n; ++i) {
    size_t j = 0;
    for (; j + C <= m; j += C) Tile<1, C>::Run(a + i * dim, b + j * dim, dim, out + i * ldo + j, ldo);
    for (; j < m; ++j) Tile<1, 1>::Run(a + i * dim, b + j * dim, dim, out + i * ldo + j, ldo);
  }
}


// The cosine or dot score of one pair's fp64 sum (na, nb: the rows' norms; nb nullptr for dot). No target
// attribute, so every copy of it is the same baseline code; finish_dots gives the same bits a row at a time.
inline float FinishDot(double s, double na, const double* nb) {
  return nb != nullptr ? static_cast<float>(s / (na * *nb)) : static_cast<float>(s);
}

// finish_dots from entry j on, one FinishDot at a time: the scalar kernel, and every level's ragged tail.
inline void FinishDotsFrom(size_t j, const double* s, size_t m, double na, const double* nb, float* out) {
  for (; j < m; ++j) out[j] = FinishDot(s[j], na, nb != nullptr ? nb + j : nullptr);
}

// s plus the fp64 sum over x[d..dim), y[d..dim) for op: the scalar kernel, and every level's ragged tail. No
// target attribute, so every copy of it is the same baseline code.
template <PairOp Op, typename X>
inline double PairTail(const X* x, const float* y, size_t d, size_t dim, double s) {
  for (; d < dim; ++d) {
    const double a = x[d], b = y[d];
    if constexpr (Op == PairOp::kDot) s += a * b;
    else if constexpr (Op == PairOp::kSqDiff) s += (a - b) * (a - b);
    else s += a > b ? a - b : b - a;
  }
  return s;
}

const Kernels& ScalarKernels();
const Kernels* Avx2Kernels();    // nullptr when not compiled in (non-x86)
const Kernels* Avx512Kernels();  // nullptr when not compiled in (non-x86)
const Kernels* NeonKernels();    // nullptr when not compiled in (non-aarch64)

inline const uint8_t* RowPtr(const TableView& t, int32_t id) {
  const size_t row = t.mapping != nullptr ? static_cast<size_t>(t.mapping[id]) : static_cast<size_t>(id);
  return static_cast<const uint8_t*>(t.data) + row * t.dim * TableDTypeSize(t.dtype);
}

inline float RowScale(const TableView& t, int32_t id) {
  const float w = t.row_weights != nullptr ? t.row_weights[id] : 1.0f;
  return t.dtype == TableDType::kI8 ? w * t.i8_scale : w;
}

// Element d of a row, converted to fp32 (unaligned-safe).
template <TableDType DT>
inline float LoadElement(const uint8_t* row, size_t d) {
  if constexpr (DT == TableDType::kF32) {
    float v;
    std::memcpy(&v, row + d * 4, 4);
    return v;
  } else if constexpr (DT == TableDType::kF16 || DT == TableDType::kBF16) {
    uint16_t h;
    std::memcpy(&h, row + d * 2, 2);
    return DT == TableDType::kF16 ? HalfToFloat(h) : Bf16ToFloat(h);
  } else {
    return static_cast<float>(static_cast<int8_t>(row[d]));
  }
}

}  // namespace winnow::pooling::internal
