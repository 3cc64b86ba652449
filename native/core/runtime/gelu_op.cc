// com.winnow BiasGelu (runtime/custom_ops.h): y = gelu(input + bias) over the last axis, one pass (gelu/gelu.h).
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "gelu/gelu.h"
#include "runtime/custom_ops.h"
#include "runtime/op_attributes.h"

namespace winnow::rt {
namespace {

OrtStatusPtr Fail(const std::string& message) { return OpError("BiasGelu", message); }

// Rows per ParallelFor task: about this many elements each.
constexpr size_t kChunkElements = 16384;

struct BiasGeluKernel {
  gelu::Form form = gelu::Form::kErf;

  struct Task {
    gelu::Rows rows;
    size_t count = 0, per_chunk = 1;
  };
  static void RunChunk(void* data, size_t chunk) {
    const Task& t = *static_cast<const Task*>(data);
    const size_t begin = chunk * t.per_chunk;
    gelu::Gelu(t.rows, begin, begin + t.per_chunk < t.count ? begin + t.per_chunk : t.count);
  }

  OrtStatusPtr ComputeV2(OrtKernelContext* context) {
    try {
      Ort::KernelContext ctx(context);
      Ort::ConstValue x = ctx.GetInput(0);
      Ort::ConstValue bias = ctx.GetInputCount() > 1 ? ctx.GetInput(1) : Ort::ConstValue(nullptr);
      const std::vector<int64_t> shape = x.GetTensorTypeAndShapeInfo().GetShape();
      const size_t count = x.GetTensorTypeAndShapeInfo().GetElementCount();
      const size_t cols = shape.empty() ? 1 : static_cast<size_t>(shape.back());
      if (bias && bias.GetTensorTypeAndShapeInfo().GetElementCount() != cols)
        return Fail("bias must have " + std::to_string(cols) + " elements (the input's last axis)");
      float* y = ctx.GetOutput(0, shape).GetTensorMutableData<float>();
      if (count == 0) return nullptr;
      Task t;
      t.rows.input = x.GetTensorData<float>();
      t.rows.bias = bias ? bias.GetTensorData<float>() : nullptr;
      t.rows.output = y;
      t.rows.cols = cols;
      t.rows.form = form;
      t.count = count / cols;
      t.per_chunk = cols >= kChunkElements ? 1 : kChunkElements / cols;
      const size_t chunks = (t.count + t.per_chunk - 1) / t.per_chunk;
      if (chunks <= 1) gelu::Gelu(t.rows, 0, t.count);
      else ctx.ParallelFor(&RunChunk, chunks, 0, &t);
      return nullptr;
    } catch (const Ort::Exception& e) {
      return Fail(e.what());
    }
  }
};

struct BiasGeluOp : Ort::CustomOpBase<BiasGeluOp, BiasGeluKernel, true> {
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const {
    auto k = std::make_unique<BiasGeluKernel>();
    // absent: the erf form, as ONNX's Gelu
    const std::string approximate = OptionalAttribute<std::string>(Ort::ConstKernelInfo(info), "approximate").value_or("none");
    if (approximate == "tanh") k->form = gelu::Form::kTanh;
    else if (approximate != "none") return Fail("approximate must be \"none\" or \"tanh\", not \"" + approximate + "\"");
    *kernel = k.release();
    return nullptr;
  }
  // The output has the input's shape. An axis the input does not know gets a fresh name (the C API has no
  // "unknown" dimension; see LayerNorm's).
  static Ort::Status InferOutputShape(Ort::ShapeInferContext& ctx) {
    static std::atomic<uint64_t> fresh{0};
    Ort::ShapeInferContext::Shape out = ctx.GetInputShape(0);
    if (out.empty()) return Ort::Status(nullptr);
    std::vector<std::string> names;
    names.reserve(out.size());
    for (auto& d : out) {
      if (!d.IsInt() || d.AsInt() >= 0) continue;
      names.push_back("winnow_bias_gelu_" + std::to_string(fresh++));
      d = Ort::ShapeInferContext::SymbolicInteger(names.back().c_str());
    }
    return ctx.SetOutputShape(0, out);
  }
  const char* GetName() const { return kBiasGeluOp; }
  size_t GetInputTypeCount() const { return 2; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  OrtCustomOpInputOutputCharacteristic GetInputCharacteristic(size_t i) const {
    return i == 1 ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
  }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

}  // namespace

OrtCustomOp* BiasGeluCustomOp() {
  static BiasGeluOp op;
  return &op;
}

}  // namespace winnow::rt
