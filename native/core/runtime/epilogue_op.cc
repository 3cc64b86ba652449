#include "runtime/epilogue_op.h"

#include <atomic>
#include <vector>

#include "runtime/op_attributes.h"

namespace winnow::rt {

Ort::Status LinearOutputShape(Ort::ShapeInferContext& ctx, const char* prefix) {
  using Shape = Ort::ShapeInferContext::Shape;
  static std::atomic<uint64_t> fresh{0};
  Shape out = ctx.GetInputShape(0);
  const Shape w = ctx.GetInputShape(1);
  if (out.empty() || w.size() != 2) return Ort::Status(nullptr);
  out.back() = w[1];
  std::vector<std::string> names;  // Shape holds const char*; SetOutputShape copies them
  names.reserve(out.size());
  for (auto& d : out) {
    if (!d.IsInt() || d.AsInt() >= 0) continue;
    names.push_back(prefix + std::to_string(fresh++));
    d = Ort::ShapeInferContext::SymbolicInteger(names.back().c_str());
  }
  return ctx.SetOutputShape(0, out);
}

std::string ReadEpilogue(const Ort::ConstKernelInfo& info, gemm::Epilogue* e) {
  const std::string name = OptionalAttribute<std::string>(info, "epilogue").value_or("none");
  if (name == "gelu" || name == "gelu_tanh") {
    e->kind = gemm::Epilogue::Kind::kGelu;
    e->form = name == "gelu" ? gelu::Form::kErf : gelu::Form::kTanh;
  } else if (name == "layernorm") {
    e->kind = gemm::Epilogue::Kind::kLayerNorm;
    e->norm.epsilon = OptionalAttribute<float>(info, "epsilon").value_or(e->norm.epsilon);
    e->norm.exact = OptionalAttribute<int64_t>(info, "exact").value_or(e->norm.exact ? 1 : 0) != 0;
  } else if (name != "none") {
    return "epilogue must be \"none\", \"gelu\", \"gelu_tanh\" or \"layernorm\", not \"" + name + "\"";
  }
  return {};
}

std::string BindEpilogueInputs(Ort::KernelContext& ctx, size_t first, size_t m, size_t n, gemm::Epilogue* e) {
  if (e->kind != gemm::Epilogue::Kind::kLayerNorm) return {};
  const size_t inputs = ctx.GetInputCount();
  auto input = [&](size_t i) { return inputs > i ? ctx.GetInput(i) : Ort::ConstValue(nullptr); };
  Ort::ConstValue skip = input(first), gamma = input(first + 1), beta = input(first + 2);
  auto count = [](const Ort::ConstValue& v) { return v.GetTensorTypeAndShapeInfo().GetElementCount(); };
  if (!gamma || count(gamma) != n || (beta && count(beta) != n))
    return "the layernorm epilogue needs gamma (and beta, if any) of " + std::to_string(n) + " elements";
  // skip: whole rows of N that repeat down the product's rows (as com.winnow LayerNorm's smaller operand).
  const size_t skip_rows = skip ? count(skip) / n : 0;
  if (skip && (skip_rows == 0 || count(skip) % n != 0 || m % skip_rows != 0))
    return "skip must hold whole rows of " + std::to_string(n) + " that repeat down the product's rows";
  e->norm.skip = skip ? skip.GetTensorData<float>() : nullptr;
  e->norm.skip_rows = skip_rows;
  e->norm.gamma = gamma.GetTensorData<float>();
  e->norm.beta = beta ? beta.GetTensorData<float>() : nullptr;
  return {};
}

}  // namespace winnow::rt
