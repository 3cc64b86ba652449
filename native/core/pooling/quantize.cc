#include "pooling/quantize.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace winnow::pooling {
namespace {

// trunc((x - start) / step + offset) clamped to [lo, hi]; NaN and step == 0 give lo.
template <class T>
void QuantizeScalar(const float* emb, size_t rows, size_t dim, const float* ranges, float offset, float lo, float hi,
                    T* out) {
  std::vector<float> steps(dim);
  for (size_t d = 0; d < dim; ++d) steps[d] = (ranges[dim + d] - ranges[d]) / 255.0f;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t d = 0; d < dim; ++d) {
      float q = (emb[r * dim + d] - ranges[d]) / steps[d] + offset;  // two fp32 roundings, as numpy
      if (steps[d] == 0.0f || std::isnan(q)) q = lo;
      q = std::trunc(std::clamp(q, lo, hi));
      out[r * dim + d] = static_cast<T>(q);
    }
  }
}

template <class T>
Status Quantize8(const float* emb, size_t rows, size_t dim, const float* ranges, float offset, float lo, float hi,
                 T* out) {
  std::vector<float> own;
  if (ranges == nullptr) {
    if (rows == 0) return Status::Ok();  // nothing to quantise, nothing to calibrate on
    own.resize(2 * dim);
    WINNOW_RETURN_IF_ERROR(ComputeQuantizationRanges(emb, rows, dim, own.data()));
    ranges = own.data();
  }
  QuantizeScalar(emb, rows, dim, ranges, offset, lo, hi, out);
  return Status::Ok();
}

void PackBits(const float* emb, size_t rows, size_t dim, uint8_t* out) {
  const size_t bytes = BinaryRowBytes(dim);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t b = 0; b < bytes; ++b) {
      uint8_t v = 0;
      for (size_t k = 0; k < 8; ++k) {
        const size_t d = b * 8 + k;
        if (d < dim && emb[r * dim + d] > 0.0f) v |= static_cast<uint8_t>(0x80u >> k);
      }
      out[r * bytes + b] = v;
    }
  }
}

}  // namespace

Status ComputeQuantizationRanges(const float* emb, size_t rows, size_t dim, float* ranges) {
  if (rows == 0) {
    return Status(codes::kInvalidArgument, "cannot compute quantization ranges from 0 embeddings");
  }
  std::copy(emb, emb + dim, ranges);
  std::copy(emb, emb + dim, ranges + dim);
  for (size_t r = 1; r < rows; ++r) {
    for (size_t d = 0; d < dim; ++d) {
      ranges[d] = std::min(ranges[d], emb[r * dim + d]);
      ranges[dim + d] = std::max(ranges[dim + d], emb[r * dim + d]);
    }
  }
  return Status::Ok();
}

Status QuantizeInt8(const float* emb, size_t rows, size_t dim, const float* ranges, int8_t* out) {
  return Quantize8(emb, rows, dim, ranges, -128.0f, -128.0f, 127.0f, out);
}

Status QuantizeUint8(const float* emb, size_t rows, size_t dim, const float* ranges, uint8_t* out) {
  return Quantize8(emb, rows, dim, ranges, 0.0f, 0.0f, 255.0f, out);
}

void QuantizeBinary(const float* emb, size_t rows, size_t dim, int8_t* out) {
  const size_t n = rows * BinaryRowBytes(dim);
  std::vector<uint8_t> packed(n);
  PackBits(emb, rows, dim, packed.data());
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<int8_t>(static_cast<int>(packed[i]) - 128);
}

void QuantizeUbinary(const float* emb, size_t rows, size_t dim, uint8_t* out) { PackBits(emb, rows, dim, out); }

}  // namespace winnow::pooling
