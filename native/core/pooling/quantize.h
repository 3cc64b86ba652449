// Embedding quantisation matching sentence-transformers' quantize_embeddings
// (sentence_transformers/quantization.py), scalar only.
//
//   int8 / uint8: ranges [2, dim] = per-dimension (min, max), computed from `emb` itself when
//                 `ranges` is null. starts = ranges[0]; steps = (ranges[1] - ranges[0]) / 255 (fp32);
//                 uint8 = trunc((emb - starts) / steps), int8 = trunc((emb - starts) / steps - 128),
//                 i.e. numpy's .astype() truncation toward zero, all arithmetic in fp32.
//                 Deviations where numpy's result is undefined (out-of-range casts): values are
//                 clamped to the type's range, NaN gives the lowest bucket, and a dimension with
//                 steps == 0 gives the lowest bucket (numpy divides by zero).
//   binary:       packbits(emb > 0) - 128 as int8; ubinary: packbits(emb > 0) as uint8. Bits are
//                 MSB-first; each row is packed on its own and padded with zero bits to
//                 ceil(dim / 8) bytes (sentence-transformers packs the flattened matrix, which is
//                 the same thing whenever dim % 8 == 0, the only case it supports reliably).
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/status.h"

namespace winnow::pooling {

// ranges[0, d] = min over rows of emb[:, d], ranges[1, d] = max. kInvalidArgument when rows == 0.
Status ComputeQuantizationRanges(const float* emb /*[rows, dim]*/, size_t rows, size_t dim,
                                 float* ranges /*[2, dim]*/);

Status QuantizeInt8(const float* emb /*[rows, dim]*/, size_t rows, size_t dim, const float* ranges /*[2, dim] or null*/,
                    int8_t* out /*[rows, dim]*/);
Status QuantizeUint8(const float* emb /*[rows, dim]*/, size_t rows, size_t dim, const float* ranges /*[2, dim] or null*/,
                     uint8_t* out /*[rows, dim]*/);

inline size_t BinaryRowBytes(size_t dim) { return (dim + 7) / 8; }
void QuantizeBinary(const float* emb /*[rows, dim]*/, size_t rows, size_t dim, int8_t* out /*[rows, ceil(dim/8)]*/);
void QuantizeUbinary(const float* emb /*[rows, dim]*/, size_t rows, size_t dim, uint8_t* out /*[rows, ceil(dim/8)]*/);

}  // namespace winnow::pooling
