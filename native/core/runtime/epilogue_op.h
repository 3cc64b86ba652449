// The `epilogue` of com.winnow MatMulBf16 and MatMulInt8 (gemm/epilogue.h): attribute epilogue = "none" (default) |
// "gelu" | "gelu_tanh" (com.winnow BiasGelu's two forms) | "layernorm" (com.winnow LayerNorm, with attributes epsilon,
// default 1e-5, and exact, default 1, and the inputs skip?, gamma, beta? after the operator's own).
#pragma once

#include <cstddef>
#include <string>

#include "gemm/epilogue.h"
#include "runtime/ort_runtime.h"

namespace winnow::rt {

// The output shape of a linear operator: input 0's shape with its last axis input 1's N ([K, N]); an axis input 0
// leaves open gets a fresh name (the C API has no "unknown" dimension; see custom_ops.cc) starting `prefix`.
Ort::Status LinearOutputShape(Ort::ShapeInferContext& ctx, const char* prefix);

// Reads the attributes into `e` at kernel creation; an error message (empty when fine).
std::string ReadEpilogue(const Ort::ConstKernelInfo& info, gemm::Epilogue* e);
// For "layernorm", binds this run's skip, gamma and beta (inputs first, first + 1, first + 2) for a product of m rows
// of n; an error message (empty when fine).
std::string BindEpilogueInputs(Ort::KernelContext& ctx, size_t first, size_t m, size_t n, gemm::Epilogue* e);

}  // namespace winnow::rt
