// Writing one ONNX graph from a checkpoint: nodes with generated value names, weights as initializers (float32
// tensors stored as they are referenced as external data in their checkpoint file, others converted to float32
// and written inline), constants, inputs and outputs. Architectures (bert.cc, ...) are written against it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "builder/weights.h"
#include "common/status.h"
#include "onnx/writer.h"

namespace winnow::builder {

using onnx::Names;

class GraphBuilder {
 public:
  // `inline_all`: every weight written into the model (a self-contained file); otherwise float32 tensors stored
  // as they are stay in the checkpoint's files, named by Tensor::file as external data.
  GraphBuilder(const Weights* weights, bool inline_all) : w_(weights), inline_all_(inline_all) {}

  // Winnow's operators (BuildOptions::winnow_ops): Activation writes com.winnow BiasGelu for the GELUs, taking the
  // bias of the Linear it follows, and a Linear's bias Add is written only when a node reads its output (so that
  // ResidualNorm, or an operator of an architecture, can take the product and the bias apart instead: TakeBias).
  void UseWinnowOps(bool on) { winnow_ops_ = on; }
  bool winnow_ops() const { return winnow_ops_; }
  // Linear weights read where the checkpoint stores them (BuildOptions::weights_in_place): a float32 [out, in] weight
  // stored as it is becomes external data at its own offset, multiplied by com.microsoft FusedMatMul with transB, so
  // the load makes no transposed copy; others are transposed and written inline as without it.
  void UseWeightsInPlace(bool on) { weights_in_place_ = on; }
  // The location external data names for each checkpoint file (Tensor::file): its real name where ONNX Runtime is
  // to open it itself (BuildOptions::external_names); files not in the map keep their own.
  void UseExternalNames(const std::map<std::string, std::string, std::less<>>* names) { external_names_ = names; }
  // `y` a Linear's output whose bias Add is not written yet: that Add is dropped, and {product, bias} returned.
  std::optional<std::pair<std::string, std::string>> TakeBias(std::string_view y);
  bool HasPendingBias(std::string_view y) const { return pending_bias_.find(y) != pending_bias_.end(); }

  // ---- weights (full stored names). Shapes are checked: a missing tensor or another shape is
  // codes::kCheckpointInvalid naming it and both shapes.
  StatusOr<std::string> Weight(const std::string& name, const std::vector<int64_t>& shape);
  // The right-hand side of x · W[row0, row0 + rows)ᵀ for the weight `name` [total, in]: `weight` the initializer and
  // `trans_b` whether it is W's rows as stored (UseWeightsInPlace) rather than their transpose. ProductOf multiplies.
  struct ProductWeight {
    std::string weight;
    bool trans_b = false;
  };
  // `in_place` false: the transposed copy even so (a product of constants, which ONNX Runtime folds at load only
  // when its weight is inline).
  StatusOr<ProductWeight> RowsWeight(const std::string& name, int64_t total, int64_t in, int64_t row0, int64_t rows,
                                     bool in_place = true);
  std::string ProductOf(std::string_view x, const ProductWeight& w);
  // x [.., in] @ W^T + b: `prefix` + "weight" / "bias" (no bias when `bias` is false).
  StatusOr<std::string> Linear(std::string_view x, const std::string& prefix, int64_t in, int64_t out, bool bias = true);
  // Rows [row0, row0 + rows) of a Linear whose weight is [total, in] (and bias [total]): one of the projections a
  // checkpoint stores side by side (ModernBERT's Wqkv, Wi), as a product of its own instead of a Split of the whole.
  StatusOr<std::string> LinearRows(std::string_view x, const std::string& prefix, int64_t in, int64_t total,
                                   int64_t row0, int64_t rows, bool bias = true);
  // Linears of one input side by side as one: x @ [W1^T | W2^T | ..] + [b1 | b2 | ..], each `prefixes[i]` +
  // "weight" [out, in] / "bias" [out] (one wider GEMM, A read once; the outputs are the column blocks in order).
  StatusOr<std::string> PackedLinear(std::string_view x, const std::vector<std::string>& prefixes, int64_t in,
                                     int64_t out);
  // LayerNormalization over the last axis with `prefix` + "weight" / "bias" (bias optional: ModernBERT's norms have
  // none when norm_bias is false).
  StatusOr<std::string> LayerNorm(std::string_view x, const std::string& prefix, int64_t dim, float eps,
                                  bool bias = true);
  // Post-norm residual: LayerNormalization(h + residual) with gamma / beta as given. With Winnow's operators, one
  // com.winnow LayerNorm(product, residual, gamma, beta, bias) when h is a Linear's output (bias and residual added
  // in the graph's order, so the same bits).
  std::string ResidualNorm(std::string_view h, std::string_view residual, const std::string& gamma,
                           const std::string& beta, float eps);
  // The same with `prefix` + "weight" / "bias": LayerNorm(Add(h, residual)) as written without Winnow's operators.
  StatusOr<std::string> AddLayerNorm(std::string_view h, std::string_view residual, const std::string& prefix,
                                     int64_t dim, float eps);

  // ---- constants
  std::string Floats(const std::vector<int64_t>& dims, const std::vector<float>& values);
  std::string Ints(const std::vector<int64_t>& dims, const std::vector<int64_t>& values);
  std::string Scalar(float v) { return Floats({}, {v}); }
  std::string Int(int64_t v) { return Ints({}, {v}); }
  std::string IntList(const std::vector<int64_t>& v) { return Ints({static_cast<int64_t>(v.size())}, v); }

  // ---- nodes: one output, named by the builder
  std::string Op(std::string_view op, const Names& inputs, const std::vector<std::string>& attributes = {},
                 std::string_view domain = {});
  // x's first entry along `axis` (a Slice keeping that axis, of size 1).
  std::string First(std::string_view x, int64_t axis) {
    return Op("Slice", {x, IntList({0}), IntList({1}), IntList({axis})});
  }
  // A node with `n` outputs.
  std::vector<std::string> Ops(std::string_view op, const Names& inputs, size_t n,
                               const std::vector<std::string>& attributes = {}, std::string_view domain = {});
  // A node whose output is given a name (graph outputs).
  void Named(std::string_view op, const Names& inputs, std::string_view output,
             const std::vector<std::string>& attributes = {}, std::string_view domain = {});
  // An activation by its config name (hidden_act): gelu (erf), gelu_new / gelu_pytorch_tanh / gelu_fast (tanh form),
  // relu, silu / swish, tanh. Others: codes::kModelUnsupported.
  StatusOr<std::string> Activation(std::string_view x, const std::string& name);

  // ---- graph inputs / outputs: int64 [batch, sequence] ids, float32 outputs with symbolic dims ("batch",
  // "sequence") or sizes.
  void IdsInput(std::string_view name);
  void FloatOutput(std::string_view name, const std::vector<onnx::Dim>& dims);

  // The ModelProto (opset 17 of the default domain, version 1 of any other domain a node named).
  std::string Finish(std::string_view graph_name) const;

  const Weights& weights() const { return *w_; }
  int64_t inline_bytes() const { return inline_bytes_; }        // weights written into the model
  int64_t external_bytes() const { return external_bytes_; }    // weights left in the checkpoint's files

 private:
  std::string NewName(std::string_view hint);
  void UseDomain(std::string_view domain);
  void WritePendingBiases(const Names& inputs);
  // Rows [row0, row0 + rows) of the weight `name` [total, in], transposed to [in, rows] as initializer `tname`.
  StatusOr<std::string> RowsT(const std::string& name, int64_t total, int64_t in, int64_t row0, int64_t rows,
                              const std::string& tname);
  // y + bias: written now, or (Winnow's operators) pending until a node reads the sum (TakeBias).
  std::string AddBias(const std::string& y, const std::string& bias);
  Status CheckShape(const std::string& name, const std::vector<int64_t>& have, const std::vector<int64_t>& want) const;
  const Weights* w_;
  bool inline_all_;
  onnx::GraphWriter g_;
  size_t counter_ = 0;
  std::vector<std::string> domains_;  // other than the default, in first use order
  bool winnow_ops_ = false;
  bool weights_in_place_ = false;
  const std::map<std::string, std::string, std::less<>>* external_names_ = nullptr;
  const std::string& Location(const std::string& file) const;
  std::set<std::string, std::less<>> in_place_;  // weights written as external data in place (each name once)
  // Bias Adds not yet written, by output: {product, bias}.
  std::map<std::string, std::pair<std::string, std::string>, std::less<>> pending_bias_;
  int64_t inline_bytes_ = 0, external_bytes_ = 0;
};

}  // namespace winnow::builder
