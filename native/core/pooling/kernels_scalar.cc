// Scalar reference kernels: the oracle every SIMD level is tested against.
#include <algorithm>

#include "pooling/kernels.h"

namespace winnow::pooling::internal {
namespace {

template <TableDType DT>
void BagSum(const TableView& t, const int32_t* ids, size_t n, float* __restrict acc) {
  // dim hoisted and pointers restrict-qualified so the compiler may vectorise at baseline ISA.
  const size_t dim = t.dim;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* __restrict row = RowPtr(t, ids[i]);
    const float s = RowScale(t, ids[i]);
    for (size_t d = 0; d < dim; ++d) acc[d] += LoadElement<DT>(row, d) * s;
  }
}

void BagSumAny(const TableView& t, const int32_t* ids, size_t n, float* acc) {
  switch (t.dtype) {
    case TableDType::kF32: return BagSum<TableDType::kF32>(t, ids, n, acc);
    case TableDType::kF16: return BagSum<TableDType::kF16>(t, ids, n, acc);
    case TableDType::kBF16: return BagSum<TableDType::kBF16>(t, ids, n, acc);
    case TableDType::kI8: return BagSum<TableDType::kI8>(t, ids, n, acc);
  }
}

void AddScaled(float* acc, const float* x, float a, size_t dim) {
  for (size_t d = 0; d < dim; ++d) acc[d] += a * x[d];
}

void MaxInto(float* acc, const float* x, size_t dim) {
  for (size_t d = 0; d < dim; ++d) acc[d] = std::max(acc[d], x[d]);
}

double SumSquares(const float* x, size_t dim) {
  double s = 0;
  for (size_t d = 0; d < dim; ++d) s += static_cast<double>(x[d]) * x[d];
  return s;
}

void Scale(float* x, float s, size_t dim) {
  for (size_t d = 0; d < dim; ++d) x[d] *= s;
}

template <PairOp Op>
double PairSum(const float* x, const float* y, size_t dim) {
  return PairTail<Op>(x, y, 0, dim, 0.0);
}

// The oracle's dot_tiles: every pair summed in fp64, in order.
void DotPairs(const float* a, size_t n, const float* b, size_t m, size_t dim, double* out, size_t ldo) {
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < m; ++j) out[i * ldo + j] = PairTail<PairOp::kDot>(a + i * dim, b + j * dim, 0, dim, 0.0);
}

void FinishDots(const double* s, size_t m, double na, const double* nb, float* out) {
  FinishDotsFrom(0, s, m, na, nb, out);
}

}  // namespace

const Kernels& ScalarKernels() {
  static const Kernels k{BagSumAny, AddScaled, MaxInto, SumSquares, Scale,
                         PairSum<PairOp::kSqDiff>, PairSum<PairOp::kAbsDiff>, nullptr, DotPairs,
                         FinishDots};
  return k;
}

}  // namespace winnow::pooling::internal
