#include "builder/graph_builder.h"

#include <cmath>
#include <tuple>

namespace winnow::builder {

namespace {

std::string ShapeText(const std::vector<int64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

}  // namespace

std::string GraphBuilder::NewName(std::string_view hint) {
  return std::string(hint) + "_" + std::to_string(counter_++);
}

Status GraphBuilder::CheckShape(const std::string& name, const std::vector<int64_t>& have,
                                const std::vector<int64_t>& want) const {
  if (have.empty() && !w_->Has(name))
    return Status(codes::kCheckpointInvalid, w_->checkpoint().dir() + "/" + w_->checkpoint().source() +
                                                 " has no tensor " + name + " (the architecture needs one of shape " +
                                                 ShapeText(want) + ")");
  if (have != want)
    return Status(codes::kCheckpointInvalid, "tensor " + name + " in " + w_->checkpoint().source() + " has shape " +
                                                 ShapeText(have) + ", the config says " + ShapeText(want));
  return Status::Ok();
}

const std::string& GraphBuilder::Location(const std::string& file) const {
  if (!external_names_) return file;
  auto it = external_names_->find(file);
  return it == external_names_->end() ? file : it->second;
}

StatusOr<std::string> GraphBuilder::Weight(const std::string& name, const std::vector<int64_t>& shape) {
  WINNOW_RETURN_IF_ERROR(CheckShape(name, w_->Shape(name), shape));
  const checkpoint::Tensor* t = w_->Stored(name);
  if (t && t->dtype == DType::kF32 && !inline_all_) {
    if (!in_place_.insert(name).second) return name;  // written already (a name is one initializer)
    g_.Initializer(onnx::ExternalTensor(name, onnx::dtype::kFloat, shape, Location(t->file), t->offset, t->nbytes));
    external_bytes_ += static_cast<int64_t>(t->nbytes);
    return name;
  }
  WINNOW_ASSIGN_OR_RETURN(std::vector<float> v, w_->Floats(name));
  g_.Initializer(onnx::FloatTensor(name, shape, v));
  inline_bytes_ += static_cast<int64_t>(v.size() * sizeof(float));
  return name;
}

StatusOr<std::string> GraphBuilder::RowsT(const std::string& name, int64_t total, int64_t in, int64_t row0,
                                           int64_t rows, const std::string& tname) {
  WINNOW_RETURN_IF_ERROR(CheckShape(name, w_->Shape(name), {total, in}));
  WINNOW_ASSIGN_OR_RETURN(std::vector<float> v, w_->Floats(name));
  std::vector<float> t(static_cast<size_t>(in * rows));
  for (int64_t o = 0; o < rows; ++o)
    for (int64_t i = 0; i < in; ++i) t[static_cast<size_t>(i * rows + o)] = v[static_cast<size_t>((row0 + o) * in + i)];
  g_.Initializer(onnx::FloatTensor(tname, {in, rows}, t));
  inline_bytes_ += static_cast<int64_t>(t.size() * sizeof(float));
  return tname;
}

std::string GraphBuilder::AddBias(const std::string& y, const std::string& bias) {
  if (!winnow_ops_) return Op("Add", {y, bias});
  std::string sum = NewName("Add");
  pending_bias_[sum] = {y, bias};
  return sum;
}

StatusOr<GraphBuilder::ProductWeight> GraphBuilder::RowsWeight(const std::string& name, int64_t total, int64_t in,
                                                              int64_t row0, int64_t rows, bool in_place) {
  WINNOW_RETURN_IF_ERROR(CheckShape(name, w_->Shape(name), {total, in}));
  const checkpoint::Tensor* t = w_->Stored(name);
  const bool whole = row0 == 0 && rows == total;
  const std::string rows_name = whole ? name : name + ".rows" + std::to_string(row0) + "-" + std::to_string(row0 + rows);
  if (in_place && weights_in_place_ && !inline_all_ && t && t->dtype == DType::kF32) {
    if (!in_place_.insert(rows_name).second) return ProductWeight{rows_name, true};
    const uint64_t row_bytes = static_cast<uint64_t>(in) * sizeof(float);
    g_.Initializer(onnx::ExternalTensor(rows_name, onnx::dtype::kFloat, {rows, in}, Location(t->file),
                                        t->offset + static_cast<uint64_t>(row0) * row_bytes,
                                        static_cast<uint64_t>(rows) * row_bytes));
    external_bytes_ += static_cast<int64_t>(static_cast<uint64_t>(rows) * row_bytes);
    return ProductWeight{rows_name, true};
  }
  WINNOW_ASSIGN_OR_RETURN(std::string w, RowsT(name, total, in, row0, rows, rows_name + ".T"));
  return ProductWeight{w, false};
}

std::string GraphBuilder::ProductOf(std::string_view x, const ProductWeight& w) {
  if (!w.trans_b) return Op("MatMul", {x, w.weight});
  return Op("FusedMatMul", {x, w.weight}, {onnx::IntAttribute("transB", 1)}, "com.microsoft");
}

StatusOr<std::string> GraphBuilder::Linear(std::string_view x, const std::string& prefix, int64_t in, int64_t out,
                                           bool bias) {
  WINNOW_ASSIGN_OR_RETURN(ProductWeight w, RowsWeight(prefix + "weight", out, in, 0, out));
  std::string y = ProductOf(x, w);
  if (!bias) return y;
  WINNOW_ASSIGN_OR_RETURN(std::string b, Weight(prefix + "bias", {out}));
  return AddBias(y, b);
}

StatusOr<std::string> GraphBuilder::LinearRows(std::string_view x, const std::string& prefix, int64_t in,
                                               int64_t total, int64_t row0, int64_t rows, bool bias) {
  const std::string wname = prefix + "weight", range = std::to_string(row0) + "-" + std::to_string(row0 + rows);
  WINNOW_ASSIGN_OR_RETURN(ProductWeight w, RowsWeight(wname, total, in, row0, rows));
  std::string y = ProductOf(x, w);
  if (!bias) return y;
  const std::string bname = prefix + "bias";
  WINNOW_RETURN_IF_ERROR(CheckShape(bname, w_->Shape(bname), {total}));
  WINNOW_ASSIGN_OR_RETURN(std::vector<float> b, w_->Floats(bname));
  const std::string sliced = bname + ".rows" + range;
  g_.Initializer(onnx::FloatTensor(sliced, {rows}, std::vector<float>(b.begin() + row0, b.begin() + row0 + rows)));
  inline_bytes_ += static_cast<int64_t>(rows * sizeof(float));
  return AddBias(y, sliced);
}

StatusOr<std::string> GraphBuilder::PackedLinear(std::string_view x, const std::vector<std::string>& prefixes,
                                                 int64_t in, int64_t out) {
  const int64_t parts = static_cast<int64_t>(prefixes.size()), width = parts * out;
  std::vector<float> w(static_cast<size_t>(in * width)), bias(static_cast<size_t>(width));
  for (int64_t p = 0; p < parts; ++p) {
    const std::string& prefix = prefixes[static_cast<size_t>(p)];
    WINNOW_RETURN_IF_ERROR(CheckShape(prefix + "weight", w_->Shape(prefix + "weight"), {out, in}));
    WINNOW_RETURN_IF_ERROR(CheckShape(prefix + "bias", w_->Shape(prefix + "bias"), {out}));
    WINNOW_ASSIGN_OR_RETURN(std::vector<float> v, w_->Floats(prefix + "weight"));
    WINNOW_ASSIGN_OR_RETURN(std::vector<float> b, w_->Floats(prefix + "bias"));
    for (int64_t o = 0; o < out; ++o) {
      for (int64_t i = 0; i < in; ++i) w[static_cast<size_t>(i * width + p * out + o)] = v[static_cast<size_t>(o * in + i)];
      bias[static_cast<size_t>(p * out + o)] = b[static_cast<size_t>(o)];
    }
  }
  const std::string wname = prefixes.front() + "packed.weight.T", bname = prefixes.front() + "packed.bias";
  g_.Initializer(onnx::FloatTensor(wname, {in, width}, w));
  g_.Initializer(onnx::FloatTensor(bname, {width}, bias));
  inline_bytes_ += static_cast<int64_t>((w.size() + bias.size()) * sizeof(float));
  return AddBias(Op("MatMul", {x, wname}), bname);
}

std::optional<std::pair<std::string, std::string>> GraphBuilder::TakeBias(std::string_view y) {
  auto it = pending_bias_.find(y);
  if (it == pending_bias_.end()) return std::nullopt;
  auto parts = it->second;
  pending_bias_.erase(it);
  return parts;
}

void GraphBuilder::WritePendingBiases(const Names& inputs) {
  if (pending_bias_.empty()) return;
  for (std::string_view in : inputs.v) {
    auto it = pending_bias_.find(in);
    if (it == pending_bias_.end()) continue;
    g_.Node("Add", {it->second.first, it->second.second}, {it->first}, {}, {}, it->first);
    pending_bias_.erase(it);
  }
}

std::string GraphBuilder::ResidualNorm(std::string_view h, std::string_view residual, const std::string& gamma,
                                       const std::string& beta, float eps) {
  if (winnow_ops_) {
    std::string x(h), bias;
    if (auto parts = TakeBias(h)) std::tie(x, bias) = *parts;
    Names in = {x, residual, gamma, beta};
    if (!bias.empty()) in.v.push_back(bias);
    return Op("LayerNorm", in, {onnx::FloatAttribute("epsilon", eps), onnx::IntAttribute("exact", 0)}, "com.winnow");
  }
  return Op("LayerNormalization", {Op("Add", {h, residual}), gamma, beta},
            {onnx::IntAttribute("axis", -1), onnx::FloatAttribute("epsilon", eps)});
}

StatusOr<std::string> GraphBuilder::LayerNorm(std::string_view x, const std::string& prefix, int64_t dim, float eps,
                                              bool bias) {
  WINNOW_ASSIGN_OR_RETURN(std::string gamma, Weight(prefix + "weight", {dim}));
  std::string beta;
  if (bias) {
    WINNOW_ASSIGN_OR_RETURN(beta, Weight(prefix + "bias", {dim}));
  } else {
    beta = Floats({dim}, std::vector<float>(static_cast<size_t>(dim), 0.0f));
  }
  return Op("LayerNormalization", {x, gamma, beta},
            {onnx::IntAttribute("axis", -1), onnx::FloatAttribute("epsilon", eps)});
}

StatusOr<std::string> GraphBuilder::AddLayerNorm(std::string_view h, std::string_view residual,
                                                 const std::string& prefix, int64_t dim, float eps) {
  if (!winnow_ops_) return LayerNorm(Op("Add", {h, residual}), prefix, dim, eps);
  WINNOW_ASSIGN_OR_RETURN(std::string gamma, Weight(prefix + "weight", {dim}));
  WINNOW_ASSIGN_OR_RETURN(std::string beta, Weight(prefix + "bias", {dim}));
  return ResidualNorm(h, residual, gamma, beta, eps);
}

std::string GraphBuilder::Floats(const std::vector<int64_t>& dims, const std::vector<float>& values) {
  std::string name = NewName("const");
  g_.Initializer(onnx::FloatTensor(name, dims, values));
  return name;
}

std::string GraphBuilder::Ints(const std::vector<int64_t>& dims, const std::vector<int64_t>& values) {
  std::string name = NewName("const");
  g_.Initializer(onnx::Int64Tensor(name, dims, values));
  return name;
}

std::string GraphBuilder::Op(std::string_view op, const Names& inputs, const std::vector<std::string>& attributes,
                             std::string_view domain) {
  return Ops(op, inputs, 1, attributes, domain)[0];
}

std::vector<std::string> GraphBuilder::Ops(std::string_view op, const Names& inputs, size_t n,
                                           const std::vector<std::string>& attributes, std::string_view domain) {
  std::vector<std::string> outputs;
  const std::string base = NewName(op);
  for (size_t i = 0; i < n; ++i) outputs.push_back(n == 1 ? base : base + ":" + std::to_string(i));
  WritePendingBiases(inputs);
  g_.Node(op, inputs, outputs, attributes, domain, base);
  UseDomain(domain);
  return outputs;
}

void GraphBuilder::Named(std::string_view op, const Names& inputs, std::string_view output,
                         const std::vector<std::string>& attributes, std::string_view domain) {
  WritePendingBiases(inputs);
  g_.Node(op, inputs, {output}, attributes, domain, NewName(op));
  UseDomain(domain);
}

StatusOr<std::string> GraphBuilder::Activation(std::string_view x, const std::string& name) {
  const bool erf_gelu = name == "gelu" || name == "gelu_python";
  const bool tanh_gelu = name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast" ||
                         name == "gelu_accurate";
  if (winnow_ops_ && (erf_gelu || tanh_gelu)) {
    // com.winnow BiasGelu over the Linear's product and bias (or over x as it is).
    const auto parts = TakeBias(x);
    const Names in = parts ? Names{parts->first, parts->second} : Names{x};
    return Op("BiasGelu", in, {onnx::StringAttribute("approximate", erf_gelu ? "none" : "tanh")}, "com.winnow");
  }
  if (erf_gelu) {
    // 0.5 x (1 + erf(x / sqrt 2)): the form ONNX Runtime fuses into one Gelu kernel.
    std::string e = Op("Erf", {Op("Div", {x, Scalar(std::sqrt(2.0f))})});
    return Op("Mul", {Op("Mul", {x, Op("Add", {e, Scalar(1.0f)})}), Scalar(0.5f)});
  }
  if (tanh_gelu) {
    // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
    std::string cube = Op("Mul", {Op("Mul", {x, x}), x});
    std::string inner = Op("Add", {x, Op("Mul", {cube, Scalar(0.044715f)})});
    std::string t = Op("Tanh", {Op("Mul", {inner, Scalar(std::sqrt(2.0f / static_cast<float>(M_PI)))})});
    return Op("Mul", {Op("Mul", {x, Op("Add", {t, Scalar(1.0f)})}), Scalar(0.5f)});
  }
  if (name == "relu") return Op("Relu", {x});
  if (name == "silu" || name == "swish") return Op("Mul", {x, Op("Sigmoid", {x})});
  if (name == "tanh") return Op("Tanh", {x});
  return Status(codes::kModelUnsupported, "activation \"" + name + "\" is not one Winnow builds");
}

void GraphBuilder::IdsInput(std::string_view name) {
  g_.Input(onnx::ValueInfo(name, onnx::dtype::kInt64, {{-1, "batch"}, {-1, "sequence"}}));
}

void GraphBuilder::FloatOutput(std::string_view name, const std::vector<onnx::Dim>& dims) {
  g_.Output(onnx::ValueInfo(name, onnx::dtype::kFloat, dims));
}

void GraphBuilder::UseDomain(std::string_view domain) {
  if (domain.empty()) return;
  for (const auto& d : domains_)
    if (d == domain) return;
  domains_.emplace_back(domain);
}

std::string GraphBuilder::Finish(std::string_view graph_name) const {
  std::vector<onnx::OpsetImport> opsets = {{"", 17}};
  for (const auto& d : domains_) opsets.push_back({d, 1});
  return onnx::ModelProto(g_.Graph(graph_name), opsets);
}

}  // namespace winnow::builder
