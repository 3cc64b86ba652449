// com.winnow Attention (custom_ops.h): the ONNX Runtime kernel around attention/attention.h.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "attention/attention.h"
#include "attention/attention_bf16.h"
#include "runtime/custom_ops.h"
#include "runtime/op_attributes.h"

namespace winnow::rt {
namespace {

OrtStatusPtr Fail(const std::string& message) { return OpError("Attention", message); }

std::atomic<uint64_t> relative_runs{0}, relative_searched{0};  // RelativeIndexRunCounts

std::string ShapeText(const std::vector<int64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

struct AttentionKernel {
  int64_t heads = 0;
  float scale = 0.0f;
  bool has_scale = false;  // false: 1 / sqrt(head size)
  bool bf16 = false;       // precision "bf16": attention/attention_bf16.h
  int64_t query_tokens = 0;  // attribute query_tokens: attention::Problem::query_rows (0 = every token)
  int64_t window = -1;       // attribute window: attention::Problem::window (absent: none)
  bool query_mask = false;   // attribute query_mask: attention::Problem::query_mask

  static void RunOne(void* data, size_t task) { attention::RunTask(*static_cast<const attention::Problem*>(data), task); }
  static void RunOneBf16(void* data, size_t task) {
    attention::RunTaskBf16(*static_cast<const attention::Problem*>(data), task);
  }

  OrtStatusPtr ComputeV2(OrtKernelContext* context) {
    try {
      Ort::KernelContext ctx(context);
      const size_t inputs = ctx.GetInputCount();
      Ort::ConstValue q = ctx.GetInput(0);
      Ort::ConstValue k = inputs > 1 ? ctx.GetInput(1) : Ort::ConstValue(nullptr);
      Ort::ConstValue v = inputs > 2 ? ctx.GetInput(2) : Ort::ConstValue(nullptr);
      Ort::ConstValue mask = inputs > 3 ? ctx.GetInput(3) : Ort::ConstValue(nullptr);
      Ort::ConstValue bias = inputs > 4 ? ctx.GetInput(4) : Ort::ConstValue(nullptr);
      Ort::ConstValue pos_k = inputs > 5 ? ctx.GetInput(5) : Ort::ConstValue(nullptr);
      Ort::ConstValue pos_q = inputs > 6 ? ctx.GetInput(6) : Ort::ConstValue(nullptr);
      Ort::ConstValue rel_index = inputs > 7 ? ctx.GetInput(7) : Ort::ConstValue(nullptr);
      Ort::ConstValue rot_cos = inputs > 8 ? ctx.GetInput(8) : Ort::ConstValue(nullptr);
      Ort::ConstValue rot_sin = inputs > 9 ? ctx.GetInput(9) : Ort::ConstValue(nullptr);
      const std::vector<int64_t> shape = q.GetTensorTypeAndShapeInfo().GetShape();
      if (shape.size() != 3) return Fail("query must be [batch, tokens, width], not " + ShapeText(shape));
      const bool packed = !k && !v;
      // Key tokens; a separate Q may hold just the rows computed (query_tokens of them, or every token when fewer).
      int64_t tokens = shape[1];
      if (!packed) {
        if (!k || !v) return Fail("key and value come together (or neither, for packed Q, K, V)");
        const auto ks = k.GetTensorTypeAndShapeInfo().GetShape(), vs = v.GetTensorTypeAndShapeInfo().GetShape();
        const bool short_q = ks.size() == 3 && query_tokens > 0 && shape[1] == std::min(query_tokens, ks[1]) &&
                             shape[0] == ks[0] && shape[2] == ks[2];
        if (vs != ks || (ks != shape && !short_q))
          return Fail("query, key and value must have one shape (or the query the first query_tokens rows): " +
                      ShapeText(shape) + ", " + ShapeText(ks) + ", " + ShapeText(vs));
        tokens = ks[1];
      }
      const int64_t width = packed ? shape[2] / 3 : shape[2];
      if ((packed && shape[2] % 3 != 0) || width % heads != 0)
        return Fail("width " + std::to_string(shape[2]) + " does not split into " + std::to_string(heads) +
                    " heads" + (packed ? " of Q, K and V" : ""));
      if (mask) {
        const auto ms = mask.GetTensorTypeAndShapeInfo().GetShape();
        if (ms.size() != 2 || ms[0] != shape[0] || ms[1] != tokens)
          return Fail("mask must be [batch, tokens] = [" + std::to_string(shape[0]) + ", " + std::to_string(tokens) +
                      "], not " + ShapeText(ms));
      }
      if (bias) {
        const auto bs = bias.GetTensorTypeAndShapeInfo().GetShape();
        if (bs.size() != 1 || bs[0] != 3 * width)
          return Fail("bias must be [3 * width] = [" + std::to_string(3 * width) + "] (Q's, K's, V's), not " +
                      ShapeText(bs));
      }
      // DeBERTa's relative terms: the position keys and queries [heads, head size, n], picked by an index [tokens,
      // tokens] whose every entry must lie in [0, n).
      size_t rel_size = 0;
      bool rel_monotone = false;
      if (pos_k || pos_q) {
        if (!rel_index) return Fail("pos_k and pos_q need rel_index");
        const int64_t h = heads, head = width / heads;
        auto check = [&](Ort::ConstValue& t, const char* name) -> OrtStatusPtr {
          if (!t) return nullptr;
          const auto ts = t.GetTensorTypeAndShapeInfo().GetShape();
          const int64_t n = ts.size() == 3 ? ts[2] : -1;
          if (ts != std::vector<int64_t>{h, head, n} || n <= 0 || (rel_size && static_cast<size_t>(n) != rel_size))
            return Fail(std::string(name) + " must be [heads, head size, n] = " + ShapeText({h, head, n}) +
                        " (n > 0, the same for pos_k and pos_q), not " + ShapeText(ts));
          rel_size = static_cast<size_t>(n);
          return nullptr;
        };
        if (OrtStatusPtr e = check(pos_k, "pos_k")) return e;
        if (OrtStatusPtr e = check(pos_q, "pos_q")) return e;
        const auto is = rel_index.GetTensorTypeAndShapeInfo().GetShape();
        if (is != std::vector<int64_t>{tokens, tokens})
          return Fail("rel_index must be [tokens, tokens] = [" + std::to_string(tokens) + ", " +
                      std::to_string(tokens) + "], not " + ShapeText(is));
        // One pass: each entry in range, and whether the index is monotone (attention::Problem::rel_monotone: each
        // entry at most its left neighbour's and at least the one above it).
        const int32_t* x = rel_index.GetTensorData<int32_t>();
        rel_monotone = true;
        for (int64_t i = 0; i < tokens; ++i)
          for (int64_t j = 0; j < tokens; ++j) {
            const int32_t e = x[i * tokens + j];
            if (e < 0 || static_cast<size_t>(e) >= rel_size)
              return Fail("rel_index holds " + std::to_string(e) + ", outside [0, " + std::to_string(rel_size) + ")");
            if ((j > 0 && e > x[i * tokens + j - 1]) || (i > 0 && e < x[(i - 1) * tokens + j])) rel_monotone = false;
          }
        relative_runs.fetch_add(1, std::memory_order_relaxed);
        if (!rel_monotone) relative_searched.fetch_add(1, std::memory_order_relaxed);
      } else if (rel_index) {
        return Fail("rel_index needs pos_k or pos_q");
      }
      // Rotary tables: cos and sin [tokens, head size] together, an even head size, no bias (it would rotate too).
      if (rot_cos || rot_sin) {
        const int64_t head = width / heads;
        if (!rot_cos || !rot_sin) return Fail("cos and sin come together");
        if (bias) return Fail("rotary tables and a bias input do not go together (add the bias before)");
        if (head % 2 != 0) return Fail("rotary needs an even head size, not " + std::to_string(head));
        for (Ort::ConstValue* t : {&rot_cos, &rot_sin}) {
          const auto ts = t->GetTensorTypeAndShapeInfo().GetShape();
          if (ts != std::vector<int64_t>{tokens, head})
            return Fail("cos and sin must be [tokens, head size] = [" + std::to_string(tokens) + ", " +
                        std::to_string(head) + "], not " + ShapeText(ts));
        }
      }
      attention::Problem p;
      p.tokens = static_cast<size_t>(tokens);
      if (rot_cos) {
        p.rot_cos = rot_cos.GetTensorData<float>();
        p.rot_sin = rot_sin.GetTensorData<float>();
      }
      p.query_rows = static_cast<size_t>(query_tokens);
      // A band as wide as the sequence is every key.
      p.window = window >= 0 && window < tokens - 1 ? static_cast<size_t>(window) : attention::Problem::kNoWindow;
      p.query_mask = query_mask;
      if (rel_size) {
        p.rel_index = rel_index.GetTensorData<int32_t>();
        p.pos_k = pos_k ? pos_k.GetTensorData<float>() : nullptr;
        p.pos_q = pos_q ? pos_q.GetTensorData<float>() : nullptr;
        p.rel_size = rel_size;
        p.rel_monotone = rel_monotone;
      }
      const int64_t rows = static_cast<int64_t>(p.QueryRows());
      float* out = ctx.GetOutput(0, {shape[0], rows, width}).GetTensorMutableData<float>();
      if (shape[0] == 0 || tokens == 0 || width == 0) return nullptr;
      const float* base = q.GetTensorData<float>();
      const size_t stride = static_cast<size_t>(shape[2]);
      p.q = base;
      p.k = packed ? base + width : k.GetTensorData<float>();
      p.v = packed ? base + 2 * width : v.GetTensorData<float>();
      p.q_stride = p.k_stride = p.v_stride = stride;
      p.mask = mask ? mask.GetTensorData<int64_t>() : nullptr;
      p.bias = bias ? bias.GetTensorData<float>() : nullptr;
      p.out = out;
      p.out_stride = static_cast<size_t>(width);
      p.batch = static_cast<size_t>(shape[0]);
      p.q_tokens = static_cast<size_t>(shape[1]);
      p.heads = static_cast<size_t>(heads);
      p.head_size = static_cast<size_t>(width / heads);
      p.scale = has_scale ? scale : 1.0f / std::sqrt(static_cast<float>(p.head_size));
      const size_t tasks = attention::TaskCount(p);
      if (tasks == 1) (bf16 ? RunOneBf16 : RunOne)(&p, 0);
      else ctx.ParallelFor(bf16 ? &RunOneBf16 : &RunOne, tasks, 0, &p);
      return nullptr;
    } catch (const Ort::Exception& e) {
      return Fail(e.what());
    } catch (const std::bad_alloc&) {
      return Fail("out of memory");
    }
  }
};

struct AttentionOp : Ort::CustomOpBase<AttentionOp, AttentionKernel, true> {
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo* info, void** kernel) const {
    auto k = std::make_unique<AttentionKernel>();
    Ort::ConstKernelInfo ki(info);
    const auto heads = OptionalAttribute<int64_t>(ki, "num_heads");
    if (!heads) return Fail("the num_heads attribute is required");
    k->heads = *heads;
    if (k->heads <= 0) return Fail("num_heads must be positive, not " + std::to_string(k->heads));
    const auto scale = OptionalAttribute<float>(ki, "scale");
    k->has_scale = scale.has_value();  // absent: 1 / sqrt(head size)
    k->scale = scale.value_or(0.0f);
    k->query_tokens = OptionalAttribute<int64_t>(ki, "query_tokens").value_or(0);  // absent: every query token
    if (k->query_tokens < 0) return Fail("query_tokens must not be negative, not " + std::to_string(k->query_tokens));
    const auto window = OptionalAttribute<int64_t>(ki, "window");
    if (window && *window < 0) return Fail("window must not be negative, not " + std::to_string(*window));
    k->window = window.value_or(-1);  // absent: every key
    k->query_mask = OptionalAttribute<int64_t>(ki, "query_mask").value_or(0) != 0;  // absent: keys masked only
    const std::string precision = OptionalAttribute<std::string>(ki, "precision").value_or("float32");
    if (precision == "bf16") {
      if (std::string_view(attention::ActiveBf16KernelName()) == "none")
        return Fail(std::string("precision bf16 needs ") + gemm::kBf16Requirement);
      k->bf16 = true;
    } else if (precision != "float32") {
      return Fail("precision must be \"float32\" or \"bf16\", not \"" + precision + "\"");
    }
    *kernel = k.release();
    return nullptr;
  }
  // [batch, tokens, width]: the query's shape, its last axis a third for packed Q, K, V, its tokens at most
  // query_tokens when that is set. An axis not known gets a fresh name (as LayerNorm's: the C API has no "unknown"
  // dimension).
  static Ort::Status InferOutputShape(Ort::ShapeInferContext& ctx) {
    static std::atomic<uint64_t> fresh{0};
    Ort::ShapeInferContext::Shape out = ctx.GetInputShape(0);
    if (out.size() != 3) return Ort::Status(nullptr);
    auto known = [](const Ort::ShapeInferContext::SymbolicInteger& d) { return !d.IsInt() || d.AsInt() >= 0; };
    const bool packed = ctx.GetInputCount() < 2 || ctx.GetInputShape(1).empty();
    int64_t query_tokens = 0;
    try {
      query_tokens = ctx.GetAttrInt("query_tokens");
    } catch (const Ort::Exception&) {
    }
    using Dim = Ort::ShapeInferContext::SymbolicInteger;
    if (query_tokens == 1) out[1] = Dim(int64_t{1});  // a batch row has a token
    else if (query_tokens > 1 && out[1].IsInt() && out[1].AsInt() >= 0) out[1] = Dim(std::min(out[1].AsInt(), query_tokens));
    else if (query_tokens > 1) out[1] = Dim(int64_t{-1});
    if (packed && out[2].IsInt() && out[2].AsInt() >= 0) out[2] = Ort::ShapeInferContext::SymbolicInteger(out[2].AsInt() / 3);
    else if (packed) out[2] = Ort::ShapeInferContext::SymbolicInteger(int64_t{-1});
    std::vector<std::string> names;  // Shape holds const char*; SetOutputShape copies them
    names.reserve(out.size());
    for (auto& d : out) {
      if (known(d)) continue;
      names.push_back("winnow_attention_" + std::to_string(fresh++));
      d = Ort::ShapeInferContext::SymbolicInteger(names.back().c_str());
    }
    return ctx.SetOutputShape(0, out);
  }
  const char* GetName() const { return kAttentionOp; }
  size_t GetInputTypeCount() const { return 10; }
  ONNXTensorElementDataType GetInputType(size_t i) const {
    if (i == 3) return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;
    return i == 7 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  }
  OrtCustomOpInputOutputCharacteristic GetInputCharacteristic(size_t i) const {
    return i == 0 ? INPUT_OUTPUT_REQUIRED : INPUT_OUTPUT_OPTIONAL;
  }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

}  // namespace

OrtCustomOp* AttentionCustomOp() {
  static AttentionOp op;
  return &op;
}

RelativeIndexRuns RelativeIndexRunCounts() {
  return {relative_runs.load(std::memory_order_relaxed), relative_searched.load(std::memory_order_relaxed)};
}

}  // namespace winnow::rt
