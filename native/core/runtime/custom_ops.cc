#include "runtime/custom_ops.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "attention/attention_bf16.h"
#include "gelu/gelu.h"
#include "gemm/matmul_bf16.h"
#include "gemm/matmul_int8.h"
#include "layernorm/layer_norm.h"
#include "runtime/matmul_bf16_op.h"
#include "runtime/matmul_int8_op.h"
#include "runtime/op_attributes.h"

namespace winnow::rt {
namespace {

OrtStatusPtr Fail(const std::string& message) { return OpError("LayerNorm", message); }

std::string ShapeText(const std::vector<int64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

struct LayerNormKernel {
  float epsilon = 1e-5f;
  bool exact = true;  // attribute exact (default 1): layernorm::Rows::exact

  struct Task {
    layernorm::Rows rows;
    size_t count = 0;
  };
  static void RunChunk(void* data, size_t chunk) {
    const Task& t = *static_cast<const Task*>(data);
    const size_t begin = chunk * layernorm::kChunkRows;
    const size_t end = begin + layernorm::kChunkRows < t.count ? begin + layernorm::kChunkRows : t.count;
    layernorm::LayerNorm(t.rows, begin, end);
  }

  OrtStatusPtr ComputeV2(OrtKernelContext* context) {
    try {
      Ort::KernelContext ctx(context);
      Ort::ConstValue a = ctx.GetInput(0);
      Ort::ConstValue b = ctx.GetInputCount() > 1 ? ctx.GetInput(1) : Ort::ConstValue(nullptr);
      Ort::ConstValue gamma = ctx.GetInput(2);
      Ort::ConstValue beta = ctx.GetInputCount() > 3 ? ctx.GetInput(3) : Ort::ConstValue(nullptr);
      Ort::ConstValue bias = ctx.GetInputCount() > 4 ? ctx.GetInput(4) : Ort::ConstValue(nullptr);
      std::vector<int64_t> shape = a.GetTensorTypeAndShapeInfo().GetShape();
      if (shape.empty()) return Fail("input must have at least one axis");
      // The operand with more elements gives the shape; the other repeats down its rows.
      const float* big = a.GetTensorData<float>();
      const float* small = nullptr;
      size_t small_count = 0;
      if (b) {
        std::vector<int64_t> other = b.GetTensorTypeAndShapeInfo().GetShape();
        const size_t na = a.GetTensorTypeAndShapeInfo().GetElementCount();
        const size_t nb = b.GetTensorTypeAndShapeInfo().GetElementCount();
        small = b.GetTensorData<float>();
        small_count = nb;
        if (nb > na) {
          // The bias belongs to `input` (added before the skip): that order is kept only when input is the larger.
          if (bias) return Fail("with a bias, input must have at least as many elements as skip");
          std::swap(big, small);
          std::swap(shape, other);
          small_count = na;
        }
        // The smaller operand, without its leading 1s, must be the larger one's last axes (it repeats down the
        // rows); Add's output then has the larger one's shape, with leading 1s when the smaller has more axes.
        size_t lead = 0;
        while (lead + 1 < other.size() && other[lead] == 1) ++lead;
        const size_t tail = other.size() - lead;
        if (tail > shape.size() || !std::equal(other.begin() + lead, other.end(), shape.end() - tail))
          return Fail("cannot broadcast " + ShapeText(other) + " with " + ShapeText(shape));
        if (other.size() > shape.size()) shape.insert(shape.begin(), other.size() - shape.size(), 1);
      }
      const int64_t cols = shape.back();
      size_t count = 1;
      for (int64_t d : shape) count *= static_cast<size_t>(d);
      if (cols <= 0) {
        ctx.GetOutput(0, shape);
        if (ctx.GetOutputCount() > 1) ctx.GetOutput(1, shape);
        return nullptr;
      }
      const size_t rows = count / static_cast<size_t>(cols);
      if (gamma.GetTensorTypeAndShapeInfo().GetElementCount() != static_cast<size_t>(cols) ||
          (beta && beta.GetTensorTypeAndShapeInfo().GetElementCount() != static_cast<size_t>(cols)))
        return Fail("gamma and beta must have " + std::to_string(cols) + " elements");
      if (bias && bias.GetTensorTypeAndShapeInfo().GetElementCount() != static_cast<size_t>(cols))
        return Fail("bias must have " + std::to_string(cols) + " elements");
      Task t;
      t.count = rows;
      t.rows.input = big;
      t.rows.bias = bias ? bias.GetTensorData<float>() : nullptr;
      t.rows.skip = small;
      t.rows.skip_rows = small ? small_count / static_cast<size_t>(cols) : 0;
      if (small && (t.rows.skip_rows == 0 || small_count % static_cast<size_t>(cols) != 0))
        return Fail("skip must hold whole rows of " + std::to_string(cols));
      t.rows.gamma = gamma.GetTensorData<float>();
      t.rows.beta = beta ? beta.GetTensorData<float>() : nullptr;
      t.rows.output = ctx.GetOutput(0, shape).GetTensorMutableData<float>();
      if (ctx.GetOutputCount() > 1) {
        Ort::UnownedValue sum = ctx.GetOutput(1, shape);
        if (sum) t.rows.sum = sum.GetTensorMutableData<float>();
      }
      t.rows.cols = static_cast<size_t>(cols);
      t.rows.epsilon = epsilon;
      t.rows.exact = exact;
      const size_t chunks = (rows + layernorm::kChunkRows - 1) / layernorm::kChunkRows;
      if (chunks <= 1) {
        if (rows > 0) layernorm::LayerNorm(t.rows, 0, rows);
      } else {
        ctx.ParallelFor(&RunChunk, chunks, 0, &t);
      }
      return nullptr;
    } catch (const Ort::Exception& e) {
      return Fail(e.what());
    }
  }
};

struct LayerNormOp : Ort::CustomOpBase<LayerNormOp, LayerNormKernel, true> {
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const {
    auto k = std::make_unique<LayerNormKernel>();
    const Ort::ConstKernelInfo ki(info);
    k->epsilon = OptionalAttribute<float>(ki, "epsilon").value_or(1e-5f);  // absent: ONNX's LayerNormalization default
    k->exact = OptionalAttribute<int64_t>(ki, "exact").value_or(1) != 0;    // absent: ONNX Runtime's bits
    *kernel = k.release();
    return nullptr;
  }
  // Output shapes, for ONNX Runtime's graph optimizers (fusions after a norm need at least its rank and width):
  // Add's broadcast of input and skip, both outputs alike. The C API has no "unknown" dimension (a -1 would be
  // taken as a value, and constant-folded into Reshape targets): an axis neither operand knows gets a fresh name.
  static Ort::Status InferOutputShape(Ort::ShapeInferContext& ctx) {
    using Shape = Ort::ShapeInferContext::Shape;
    static std::atomic<uint64_t> fresh{0};
    auto known = [](const Ort::ShapeInferContext::SymbolicInteger& d) { return !d.IsInt() || d.AsInt() >= 0; };
    Shape out = ctx.GetInputShape(0);
    if (ctx.GetInputCount() > 1 && !ctx.GetInputShape(1).empty()) {
      Shape a = out;
      const Shape& b = ctx.GetInputShape(1);
      out = a.size() >= b.size() ? a : b;
      const Shape& shorter = a.size() >= b.size() ? b : a;
      for (size_t k = 0; k < shorter.size(); ++k) {
        auto& d = out[out.size() - shorter.size() + k];
        if (!known(d) || (d.IsInt() && d.AsInt() == 1)) d = shorter[k];
      }
    }
    if (out.empty()) return Ort::Status(nullptr);  // rank unknown (a norm's input has at least one axis)
    std::vector<std::string> names;  // Shape holds const char*; SetOutputShape copies them
    names.reserve(out.size());
    for (auto& d : out) {
      if (known(d)) continue;
      names.push_back("winnow_layer_norm_" + std::to_string(fresh++));
      d = Ort::ShapeInferContext::SymbolicInteger(names.back().c_str());
    }
    Ort::Status st = ctx.SetOutputShape(0, out);
    if (st.IsOK()) ctx.SetOutputShape(1, out);  // fails harmlessly when the node has no second output
    return st;
  }
  const char* GetName() const { return kLayerNormOp; }
  size_t GetInputTypeCount() const { return 5; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  OrtCustomOpInputOutputCharacteristic GetInputCharacteristic(size_t i) const {
    return i == 1 || i >= 3 ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
  }
  size_t GetOutputTypeCount() const { return 2; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  OrtCustomOpInputOutputCharacteristic GetOutputCharacteristic(size_t i) const {
    return i == 1 ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
  }
};

}  // namespace

OrtCustomOpDomain* CustomOpDomain() {
  static OrtCustomOpDomain* const domain = [] {
    static LayerNormOp layer_norm;
    OrtCustomOpDomain* d = nullptr;
    const OrtApi& api = Ort::GetApi();
    if (OrtStatus* st = api.CreateCustomOpDomain(kCustomDomain, &d)) {
      api.ReleaseStatus(st);
      return static_cast<OrtCustomOpDomain*>(nullptr);
    }
    for (const OrtCustomOp* op : {static_cast<const OrtCustomOp*>(&layer_norm), static_cast<const OrtCustomOp*>(BiasGeluCustomOp()),
                                  static_cast<const OrtCustomOp*>(AttentionCustomOp()), MatMulBf16Op(),
                                  MatMulInt8Op()}) {
      if (OrtStatus* st = api.CustomOpDomain_Add(d, op)) {
        api.ReleaseStatus(st);
        api.ReleaseCustomOpDomain(d);
        return static_cast<OrtCustomOpDomain*>(nullptr);
      }
    }
    return d;
  }();
  return domain;
}

std::vector<std::pair<std::string, std::string>> OperatorKernels() {
  return {{kLayerNormOp, layernorm::ActiveKernelName()},
          {kBiasGeluOp, gelu::ActiveKernelName()},
          {kAttentionOp, attention::ActiveKernelName()},
          {kMatMulBf16Op, gemm::Bf16IsaName(gemm::ActiveBf16Isa())},
          // Attention with precision "bf16" (its two products on the bf16 GEMM's instructions).
          {"AttentionBf16", attention::ActiveBf16KernelName()},
          // quantize: 'int8': Winnow's kernel ("amx", "vnni", "avx2"), or ONNX Runtime's DynamicQuantizeMatMul where
          // it has none.
          {kMatMulInt8Op, gemm::ActiveInt8Isa() == gemm::Int8Isa::kNone ? "onnxruntime"
                                                                         : gemm::Int8IsaName(gemm::ActiveInt8Isa())}};
}

}  // namespace winnow::rt
