#include "runtime/matmul_bf16_op.h"

#include <memory>
#include <string>
#include <vector>

#include "gemm/matmul_bf16.h"
#include "runtime/epilogue_op.h"
#include "runtime/op_attributes.h"

namespace winnow::rt {
namespace {

OrtStatusPtr Fail(const std::string& message) { return OpError("MatMulBf16", message); }

struct MatMulBf16Kernel {
  gemm::Bf16Isa isa = gemm::Bf16Isa::kNone;
  gemm::PackedBf16Weights b;
  gemm::Epilogue epilogue;  // its norm's tensors are set per run

  static void RunTask(void* data, size_t task) { gemm::RunBf16Task(*static_cast<const gemm::Bf16Gemm*>(data), task); }

  OrtStatusPtr ComputeV2(OrtKernelContext* context) {
    try {
      Ort::KernelContext ctx(context);
      Ort::ConstValue a = ctx.GetInput(0);
      Ort::ConstValue bias = ctx.GetInputCount() > 2 ? ctx.GetInput(2) : Ort::ConstValue(nullptr);
      std::vector<int64_t> shape = a.GetTensorTypeAndShapeInfo().GetShape();
      if (shape.empty() || shape.back() != static_cast<int64_t>(b.k()))
        return Fail("A's last axis must be " + std::to_string(b.k()));
      if (bias && bias.GetTensorTypeAndShapeInfo().GetElementCount() != b.n())
        return Fail("bias must have " + std::to_string(b.n()) + " elements");
      const size_t m = a.GetTensorTypeAndShapeInfo().GetElementCount() / b.k();
      gemm::Epilogue e = epilogue;
      if (std::string err = BindEpilogueInputs(ctx, 3, m, b.n(), &e); !err.empty()) return Fail(err);
      shape.back() = static_cast<int64_t>(b.n());
      float* c = ctx.GetOutput(0, shape).GetTensorMutableData<float>();
      const gemm::Bf16Gemm g = gemm::PlanBf16Gemm(isa, b, a.GetTensorData<float>(),
                                                  bias ? bias.GetTensorData<float>() : nullptr, c, m, 16, e);
      if (g.tasks() == 1) RunTask(const_cast<gemm::Bf16Gemm*>(&g), 0);
      else if (g.tasks() > 1) ctx.ParallelFor(&RunTask, g.tasks(), 0, const_cast<gemm::Bf16Gemm*>(&g));
      return nullptr;
    } catch (const Ort::Exception& e) {
      return Fail(e.what());
    }
  }
};

struct MatMulBf16CustomOp : Ort::CustomOpBase<MatMulBf16CustomOp, MatMulBf16Kernel, true> {
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const {
    try {
      auto k = std::make_unique<MatMulBf16Kernel>();
      k->isa = gemm::ActiveBf16Isa();
      if (k->isa == gemm::Bf16Isa::kNone)
        return Fail(std::string("this CPU has no bf16 instructions (needs ") + gemm::kBf16Requirement + ")");
      int constant = 0;
      Ort::ConstValue w = Ort::ConstKernelInfo(info).GetTensorConstantInput(1, &constant);
      if (!constant || !w) return Fail("B must be a constant initializer");
      auto type = w.GetTensorTypeAndShapeInfo();
      const std::vector<int64_t> dims = type.GetShape();
      if (type.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || dims.size() != 2 || dims[0] <= 0 ||
          dims[1] <= 0)
        return Fail("B must be a float32 [K, N] matrix");
      k->b = gemm::PackedBf16Weights(w.GetTensorData<float>(), static_cast<size_t>(dims[0]),
                                     static_cast<size_t>(dims[1]));
      if (std::string err = ReadEpilogue(Ort::ConstKernelInfo(info), &k->epilogue); !err.empty()) return Fail(err);
      *kernel = k.release();
      return nullptr;
    } catch (const Ort::Exception& e) {
      return Fail(e.what());
    }
  }
  static Ort::Status InferOutputShape(Ort::ShapeInferContext& ctx) { return LinearOutputShape(ctx, "winnow_matmul_bf16_"); }
  const char* GetName() const { return kMatMulBf16Op; }
  size_t GetInputTypeCount() const { return 6; }  // A, B, bias?, then the layernorm epilogue's skip?, gamma?, beta?
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  OrtCustomOpInputOutputCharacteristic GetInputCharacteristic(size_t i) const {
    return i >= 2 ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
  }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

}  // namespace

const OrtCustomOp* MatMulBf16Op() {
  static const MatMulBf16CustomOp op;
  return &op;
}

}  // namespace winnow::rt
