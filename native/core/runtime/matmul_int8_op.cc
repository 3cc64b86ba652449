#include "runtime/matmul_int8_op.h"

#include <memory>
#include <string>
#include <vector>

#include "gemm/matmul_int8.h"
#include "runtime/epilogue_op.h"
#include "runtime/op_attributes.h"

namespace winnow::rt {
namespace {

OrtStatusPtr Fail(const std::string& message) { return OpError("MatMulInt8", message); }

struct MatMulInt8Kernel {
  gemm::Int8Isa isa = gemm::Int8Isa::kNone;
  gemm::Epilogue epilogue;  // its norm's tensors are set per run
  gemm::PackedInt8Weights b;

  static void RunTask(void* data, size_t task) { gemm::RunInt8Task(*static_cast<const gemm::Int8Gemm*>(data), task); }

  OrtStatusPtr ComputeV2(OrtKernelContext* context) {
    try {
      Ort::KernelContext ctx(context);
      Ort::ConstValue a = ctx.GetInput(0);
      Ort::ConstValue bias = ctx.GetInputCount() > 3 ? ctx.GetInput(3) : Ort::ConstValue(nullptr);
      std::vector<int64_t> shape = a.GetTensorTypeAndShapeInfo().GetShape();
      if (shape.empty() || shape.back() != static_cast<int64_t>(b.k()))
        return Fail("A's last axis must be " + std::to_string(b.k()));
      if (bias && bias.GetTensorTypeAndShapeInfo().GetElementCount() != b.n())
        return Fail("bias must have " + std::to_string(b.n()) + " elements");
      const size_t m = a.GetTensorTypeAndShapeInfo().GetElementCount() / b.k();
      gemm::Epilogue e = epilogue;
      if (std::string err = BindEpilogueInputs(ctx, 4, m, b.n(), &e); !err.empty()) return Fail(err);
      shape.back() = static_cast<int64_t>(b.n());
      float* c = ctx.GetOutput(0, shape).GetTensorMutableData<float>();
      const gemm::Int8Gemm g = gemm::PlanInt8Gemm(isa, b, a.GetTensorData<float>(),
                                                  bias ? bias.GetTensorData<float>() : nullptr, c, m, e);
      if (g.tasks() == 1) RunTask(const_cast<gemm::Int8Gemm*>(&g), 0);
      else if (g.tasks() > 1) ctx.ParallelFor(&RunTask, g.tasks(), 0, const_cast<gemm::Int8Gemm*>(&g));
      return nullptr;
    } catch (const Ort::Exception& e) {
      return Fail(e.what());
    }
  }
};

struct MatMulInt8CustomOp : Ort::CustomOpBase<MatMulInt8CustomOp, MatMulInt8Kernel, true> {
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const {
    try {
      auto k = std::make_unique<MatMulInt8Kernel>();
      k->isa = gemm::ActiveInt8Isa();
      if (k->isa == gemm::Int8Isa::kNone)
        return Fail(std::string("this CPU has no int8 kernel of Winnow's (needs ") + gemm::kInt8Requirement +
                    "; or WINNOW_INT8_KERNEL=onnxruntime)");
      Ort::ConstKernelInfo ki(info);
      if (std::string err = ReadEpilogue(ki, &k->epilogue); !err.empty()) return Fail(err);
      int w_constant = 0, s_constant = 0;
      Ort::ConstValue w = ki.GetTensorConstantInput(1, &w_constant);
      Ort::ConstValue s = ki.GetTensorConstantInput(2, &s_constant);
      if (!w_constant || !w || !s_constant || !s) return Fail("W and W_scale must be constant initializers");
      auto wt = w.GetTensorTypeAndShapeInfo();
      const std::vector<int64_t> dims = wt.GetShape();
      if (wt.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8 || dims.size() != 2 || dims[0] <= 0 ||
          dims[1] <= 0)
        return Fail("W must be an int8 [K, N] matrix");
      if (static_cast<uint64_t>(dims[0]) > gemm::kInt8MaxK)
        return Fail("W's K must be at most " + std::to_string(gemm::kInt8MaxK) + " (int32 sums), not " +
                    std::to_string(dims[0]));
      auto st = s.GetTensorTypeAndShapeInfo();
      if (st.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || st.GetElementCount() != static_cast<size_t>(dims[1]))
        return Fail("W_scale must be float32 with " + std::to_string(dims[1]) + " elements (W's N)");
      k->b = gemm::PackedInt8Weights(w.GetTensorData<int8_t>(), s.GetTensorData<float>(),
                                     static_cast<size_t>(dims[0]), static_cast<size_t>(dims[1]), k->isa);
      *kernel = k.release();
      return nullptr;
    } catch (const Ort::Exception& e) {
      return Fail(e.what());
    }
  }
  static Ort::Status InferOutputShape(Ort::ShapeInferContext& ctx) { return LinearOutputShape(ctx, "winnow_matmul_int8_"); }
  const char* GetName() const { return kMatMulInt8Op; }
  size_t GetInputTypeCount() const { return 7; }  // A, W, W_scale, bias?, the layernorm epilogue's skip?, gamma?, beta?
  ONNXTensorElementDataType GetInputType(size_t i) const {
    return i == 1 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  }
  OrtCustomOpInputOutputCharacteristic GetInputCharacteristic(size_t i) const {
    return i >= 3 ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
  }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

}  // namespace

const OrtCustomOp* MatMulInt8Op() {
  static const MatMulInt8CustomOp op;
  return &op;
}

}  // namespace winnow::rt
