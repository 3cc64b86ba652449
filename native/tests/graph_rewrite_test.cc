// The SkipLayerNormalization fusion (rewrite/graph_rewrite.h): models written here with the ONNX writer
// (onnx/writer.h), read back with a reader of the wire format, plus the real fixture exports. Numerical parity of fused graphs
// with ONNX Runtime is tested from JavaScript (test/cross-encoder.test.ts, "layer norm fusion").
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/half.h"
#include "rewrite/graph_rewrite.h"
#include "onnx/writer.h"

namespace winnow::rt {
namespace {

// ---- building test models with the ONNX writer (onnx/writer.h) -------------------------------------
using onnx::FloatAttribute;
using onnx::IntAttribute;
using onnx::IntsAttribute;
namespace pb = onnx::pb;

// One attribute: a float, an int or a list of ints (the first given).
std::string Attr(const std::string& name, std::optional<float> f, std::optional<int64_t> i,
                 const std::vector<int64_t>& ints = {}) {
  if (f) return FloatAttribute(name, *f);
  if (i) return IntAttribute(name, *i);
  return IntsAttribute(name, ints);
}

std::string ScalarTensor(const std::string& name, float v) { return onnx::FloatTensor(name, {}, {v}); }

// A float tensor [n] of ones; `external`: data_location EXTERNAL with no data (a reference to a missing file).
std::string VectorTensor(const std::string& name, size_t n, bool external = false) {
  if (!external) return onnx::FloatTensor(name, {static_cast<int64_t>(n)}, std::vector<float>(n, 1.0f));
  std::string t;
  pb::AppendVarintField(&t, onnx::tensor_f::kDims, n);
  pb::AppendVarintField(&t, onnx::tensor_f::kDataType, onnx::dtype::kFloat);
  pb::AppendLen(&t, onnx::tensor_f::kName, name);
  pb::AppendVarintField(&t, onnx::tensor_f::kDataLocation, 1);
  return t;
}

struct G {
  onnx::GraphWriter w;
  void Node(const std::string& op, const onnx::Names& in, const onnx::Names& out, const std::vector<std::string>& attrs = {}) {
    w.Node(op, in, out, attrs);
  }
  void RawNode(std::string_view bytes) { w.NodePayload(bytes); }
  void Constant(const std::string& out, float v) {
    Node("Constant", {}, {out}, {onnx::TensorAttribute("value", ScalarTensor(out, v))});
  }
  void Initializer(const std::string& t) { w.Initializer(t); }
  void Input(const std::string& name) { w.Input(onnx::ValueInfo(name)); }
  // Written as int64_data varints (as older exporters write shape constants), not raw_data, so that the reader's
  // int64_data path is exercised too.
  void IntConstant(const std::string& out, const std::vector<int64_t>& v) {
    std::string t;
    pb::AppendVarintField(&t, onnx::tensor_f::kDims, v.size());
    pb::AppendVarintField(&t, onnx::tensor_f::kDataType, onnx::dtype::kInt64);
    for (int64_t x : v) pb::AppendVarintField(&t, onnx::tensor_f::kInt64Data, static_cast<uint64_t>(x));
    pb::AppendLen(&t, onnx::tensor_f::kName, out);
    Node("Constant", {}, {out}, {onnx::TensorAttribute("value", t)});
  }
  void Output(const std::string& name) { w.Output(onnx::ValueInfo(name)); }
  std::string Model(int opset = 14) const { return onnx::ModelProto(w.Graph("g"), {{"", opset}}); }
};

// The residual sum S = A + B and a layer norm of S written out as opset-14 exporters do.
void DecomposedLayerNorm(G* g, const std::string& x, const std::string& y, float two = 2.0f, int64_t axis = -1) {
  g->Node("ReduceMean", {x}, {"mu"}, {Attr("axes", {}, {}, {axis})});
  g->Node("Sub", {x, "mu"}, {"d"});
  g->Constant("two", two);
  g->Node("Pow", {"d", "two"}, {"p"});
  g->Node("ReduceMean", {"p"}, {"var"}, {Attr("axes", {}, {}, {axis})});
  g->Constant("eps", 1e-12f);
  g->Node("Add", {"var", "eps"}, {"ve"});
  g->Node("Sqrt", {"ve"}, {"sd"});
  g->Node("Div", {"d", "sd"}, {"n"});
  g->Node("Mul", {"n", "gamma"}, {"m"});
  g->Node("Add", {"m", "beta"}, {y});
  g->Initializer(VectorTensor("gamma", 4));
  g->Initializer(VectorTensor("beta", 4));
}

// ---- reading the result back -----------------------------------------------------------------------
struct ReadNode {
  std::vector<std::string> inputs, outputs;
  std::string op, domain;
  float epsilon = 0;                     // the last float attribute
  std::map<std::string, int64_t> ints;   // int attributes by name
  std::map<std::string, float> floats;   // float attributes by name
};

std::vector<ReadNode> Nodes(const std::string& model, std::vector<std::string>* domains = nullptr) {
  std::vector<ReadNode> out;
  pb::Reader r(model);
  pb::Field f;
  while (r.Next(&f)) {
    if (f.number == 8 && domains) {
      pb::Reader o(f.bytes);
      pb::Field of;
      while (o.Next(&of))
        if (of.number == 1) domains->emplace_back(of.bytes);
    }
    if (f.number != 7) continue;
    pb::Reader gr(f.bytes);
    pb::Field gf;
    while (gr.Next(&gf)) {
      if (gf.number != 1) continue;
      ReadNode n;
      pb::Reader nr(gf.bytes);
      pb::Field nf;
      while (nr.Next(&nf)) {
        if (nf.number == 1) n.inputs.emplace_back(nf.bytes);
        if (nf.number == 2) n.outputs.emplace_back(nf.bytes);
        if (nf.number == 4) n.op = nf.bytes;
        if (nf.number == 7) n.domain = nf.bytes;
        if (nf.number == 5) {
          pb::Reader ar(nf.bytes);
          pb::Field af;
          std::string name;
          while (ar.Next(&af)) {
            if (af.number == 1) name = af.bytes;
            if (af.number == 2) n.floats[name] = n.epsilon = BitsToFloat(static_cast<uint32_t>(af.varint));
            if (af.number == 3) n.ints[name] = static_cast<int64_t>(af.varint);
          }
        }
      }
      EXPECT_TRUE(nr.ok());
      if (n.op != "Constant") out.push_back(n);
    }
    EXPECT_TRUE(gr.ok());
  }
  EXPECT_TRUE(r.ok());
  return out;
}

TEST(GraphRewrite, FusesLayerNormalizationOp) {
  G g;
  g.Node("Add", {"A", "B"}, {"S"});
  g.Node("LayerNormalization", {"S", "gamma", "beta"}, {"Y"}, {Attr("epsilon", 1e-12f, {}), Attr("axis", {}, -1)});
  g.Node("Relu", {"Y"}, {"Z"});
  g.Initializer(VectorTensor("gamma", 4));
  g.Initializer(VectorTensor("beta", 4));
  g.Output("Z");
  auto r = FuseSkipLayerNorm(g.Model(17));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->skip_layer_norms, 1);
  std::vector<std::string> domains;
  auto nodes = Nodes(r->model, &domains);
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].op, "SkipLayerNormalization");
  EXPECT_EQ(nodes[0].domain, "com.microsoft");
  EXPECT_EQ(nodes[0].inputs, (std::vector<std::string>{"A", "B", "gamma", "beta"}));
  EXPECT_EQ(nodes[0].outputs, (std::vector<std::string>{"Y"}));
  EXPECT_FLOAT_EQ(nodes[0].epsilon, 1e-12f);
  EXPECT_EQ(nodes[1].op, "Relu");
  EXPECT_EQ(domains, (std::vector<std::string>{"", "com.microsoft"}));
}

TEST(GraphRewrite, FusesDecomposedLayerNorm) {
  G g;
  g.Node("Add", {"A", "B"}, {"S"});
  DecomposedLayerNorm(&g, "S", "Y");
  g.Output("Y");
  auto r = FuseSkipLayerNorm(g.Model());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->skip_layer_norms, 1);
  auto nodes = Nodes(r->model);
  ASSERT_EQ(nodes.size(), 1u);  // the Add and all nine norm nodes are gone
  EXPECT_EQ(nodes[0].op, "SkipLayerNormalization");
  EXPECT_EQ(nodes[0].inputs, (std::vector<std::string>{"A", "B", "gamma", "beta"}));
  EXPECT_EQ(nodes[0].outputs, (std::vector<std::string>{"Y"}));
  EXPECT_FLOAT_EQ(nodes[0].epsilon, 1e-12f);
}

// Pre-norm transformers (ModernBERT) read the residual sum again after the norm: it comes out of the fused
// node as input_skip_bias_sum (output 3) under its old name, so its later readers are untouched. A bias-free
// norm's zero bias written as a Constant node counts as a constant.
TEST(GraphRewrite, KeepsAResidualSumReadAfterTheNorm) {
  G g;
  g.Node("Add", {"A", "B"}, {"S"});
  g.Constant("zero_bias", 0.0f);
  g.Node("LayerNormalization", {"S", "gamma", "zero_bias"}, {"Y"});
  g.Node("Relu", {"Y"}, {"R"});
  g.Node("Add", {"S", "R"}, {"Z"});
  g.Initializer(VectorTensor("gamma", 4));
  g.Output("Z");
  auto r = FuseSkipLayerNorm(g.Model(17));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->skip_layer_norms, 1);
  auto nodes = Nodes(r->model);
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[0].op, "SkipLayerNormalization");
  EXPECT_EQ(nodes[0].inputs, (std::vector<std::string>{"A", "B", "gamma", "zero_bias"}));
  EXPECT_EQ(nodes[0].outputs, (std::vector<std::string>{"Y", "", "", "S"}));
  EXPECT_EQ(nodes[2].op, "Add");
  EXPECT_EQ(nodes[2].inputs, (std::vector<std::string>{"S", "R"}));
}

// Each case breaks one condition of the pattern; none may be fused.
TEST(GraphRewrite, LeavesNearMissesAlone) {
  {  // the residual sum is read before the norm: the fused node (placed at the norm) would come too late
    G g;
    g.Node("Add", {"A", "B"}, {"S"});
    g.Node("Relu", {"S"}, {"R"});
    g.Node("LayerNormalization", {"S", "gamma", "beta"}, {"Y"});
    g.Node("Add", {"R", "Y"}, {"Z"});
    g.Initializer(VectorTensor("gamma", 4));
    g.Initializer(VectorTensor("beta", 4));
    g.Output("Z");
    auto r = FuseSkipLayerNorm(g.Model(17));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->skip_layer_norms, 0);
    EXPECT_TRUE(r->model.empty());
  }
  {  // the sum is a graph output
    G g;
    g.Node("Add", {"A", "B"}, {"S"});
    g.Node("LayerNormalization", {"S", "gamma", "beta"}, {"Y"});
    g.Initializer(VectorTensor("gamma", 4));
    g.Initializer(VectorTensor("beta", 4));
    g.Output("Y");
    g.Output("S");
    EXPECT_EQ(FuseSkipLayerNorm(g.Model(17))->skip_layer_norms, 0);
  }
  {  // normalised over another axis
    G g;
    g.Node("Add", {"A", "B"}, {"S"});
    g.Node("LayerNormalization", {"S", "gamma", "beta"}, {"Y"}, {Attr("axis", {}, 1)});
    g.Initializer(VectorTensor("gamma", 4));
    g.Initializer(VectorTensor("beta", 4));
    g.Output("Y");
    EXPECT_EQ(FuseSkipLayerNorm(g.Model(17))->skip_layer_norms, 0);
  }
  {  // a bias add, not a residual: the constant operand is not a valid skip
    G g;
    g.Node("Add", {"A", "bias"}, {"S"});
    g.Node("LayerNormalization", {"S", "gamma", "beta"}, {"Y"});
    g.Initializer(VectorTensor("bias", 4));
    g.Initializer(VectorTensor("gamma", 4));
    g.Initializer(VectorTensor("beta", 4));
    g.Output("Y");
    EXPECT_EQ(FuseSkipLayerNorm(g.Model(17))->skip_layer_norms, 0);
  }
  {  // gamma computed at run time
    G g;
    g.Node("Add", {"A", "B"}, {"S"});
    g.Node("LayerNormalization", {"S", "C", "beta"}, {"Y"});
    g.Initializer(VectorTensor("beta", 4));
    g.Output("Y");
    EXPECT_EQ(FuseSkipLayerNorm(g.Model(17))->skip_layer_norms, 0);
  }
  {  // decomposed, but cubed instead of squared
    G g;
    g.Node("Add", {"A", "B"}, {"S"});
    DecomposedLayerNorm(&g, "S", "Y", 3.0f);
    g.Output("Y");
    EXPECT_EQ(FuseSkipLayerNorm(g.Model())->skip_layer_norms, 0);
  }
  {  // decomposed over axis 1
    G g;
    g.Node("Add", {"A", "B"}, {"S"});
    DecomposedLayerNorm(&g, "S", "Y", 2.0f, 1);
    g.Output("Y");
    EXPECT_EQ(FuseSkipLayerNorm(g.Model())->skip_layer_norms, 0);
  }
  {  // decomposed, no residual Add in front
    G g;
    g.Node("Relu", {"A"}, {"S"});
    DecomposedLayerNorm(&g, "S", "Y");
    g.Output("Y");
    EXPECT_EQ(FuseSkipLayerNorm(g.Model())->skip_layer_norms, 0);
  }
}

// Found by graph_rewrite_fuzzer: with S produced twice, a second pass fused the other Add. Such a graph is not
// valid ONNX; it is left as it is.
TEST(GraphRewrite, RefusesAValueWithTwoProducers) {
  G g;
  g.Node("Add", {"A", "B"}, {"S"});
  g.Node("LayerNormalization", {"S", "gamma", "beta"}, {"Y"});
  g.Node("Add", {"A", "C"}, {"S"});
  g.Initializer(VectorTensor("gamma", 4));
  g.Initializer(VectorTensor("beta", 4));
  g.Output("Y");
  auto r = FuseSkipLayerNorm(g.Model(17));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->skip_layer_norms, 0);
  EXPECT_NE(r->skipped.find("more than one node"), std::string::npos);
}

TEST(GraphRewrite, RefusesExternalWeights) {
  G g;
  g.Node("Add", {"A", "B"}, {"S"});
  g.Node("LayerNormalization", {"S", "gamma", "beta"}, {"Y"});
  g.Initializer(VectorTensor("gamma", 4, /*external=*/true));
  g.Initializer(VectorTensor("beta", 4));
  g.Output("Y");
  auto r = FuseSkipLayerNorm(g.Model(17));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->skip_layer_norms, 0);
  EXPECT_NE(r->skipped.find("external"), std::string::npos);
}

// A float tensor [n] whose data is `length` bytes at `offset` in external file `location` (TensorProto.external_data).
std::string ExternalTensor(const std::string& name, size_t n, const std::string& location, size_t offset) {
  std::string t;
  pb::AppendVarintField(&t, onnx::tensor_f::kDims, n);
  pb::AppendVarintField(&t, onnx::tensor_f::kDataType, onnx::dtype::kFloat);
  pb::AppendLen(&t, onnx::tensor_f::kName, name);
  onnx::AppendExternalDataEntry(&t, "location", location);
  onnx::AppendExternalDataEntry(&t, "offset", std::to_string(offset));
  onnx::AppendExternalDataEntry(&t, "length", std::to_string(n * 4));
  pb::AppendVarintField(&t, onnx::tensor_f::kDataLocation, 1);
  return t;
}

TEST(GraphRewrite, LeavesQuantizedGraphsAsWritten) {
  G g;
  g.Node("Add", {"A", "B"}, {"S"});
  g.Node("LayerNormalization", {"S", "gamma", "beta"}, {"Y"});
  g.Node("DynamicQuantizeLinear", {"Y"}, {"Yq", "Ys", "Yz"});
  g.Initializer(VectorTensor("gamma", 4));
  g.Initializer(VectorTensor("beta", 4));
  g.Output("Yq");
  auto r = FuseSkipLayerNorm(g.Model(17));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->skip_layer_norms, 0);
  EXPECT_NE(r->skipped.find("quantiz"), std::string::npos);
  // Asked for explicitly (fuseLayerNorm: true), the norm is fused and the quantizer reads its output.
  auto q = FuseSkipLayerNorm(g.Model(17), /*quantized=*/true);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->skip_layer_norms, 1);
  auto nodes = Nodes(q->model);
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].op, "SkipLayerNormalization");
  EXPECT_EQ(nodes[1].op, "DynamicQuantizeLinear");
  EXPECT_EQ(nodes[1].inputs, (std::vector<std::string>{"Y"}));
}

TEST(GraphRewrite, MalformedInputIsAnErrorNeverACrash) {
  G g;
  g.Node("Add", {"A", "B"}, {"S"});
  DecomposedLayerNorm(&g, "S", "Y");
  g.Output("Y");
  const std::string good = g.Model();
  for (size_t cut : {size_t{1}, good.size() / 3, good.size() - 1}) {
    auto r = FuseSkipLayerNorm(std::string_view(good).substr(0, cut));
    ASSERT_FALSE(r.ok()) << "cut at " << cut;
    EXPECT_EQ(r.status().code(), codes::kOnnxInvalid);
  }
  EXPECT_FALSE(FuseSkipLayerNorm("").ok());  // no graph
  // Random corruption: any outcome but a crash or an out-of-bounds read (this suite runs under ASan).
  std::mt19937 rng(7);
  int fused = 0, errors = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string bad = good;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    auto r = FuseSkipLayerNorm(bad);
    if (!r.ok()) ++errors;
    else fused += r->skip_layer_norms;
  }
  EXPECT_GT(errors, 0);
  EXPECT_GT(fused, 0);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(GraphRewrite, FixtureExports) {
  const std::string dir = std::string(WINNOW_SOURCE_DIR) + "/test/fixtures/models/";
  struct Case {
    const char* file;
    int fused;
    int norms_left;  // layer norms with no residual Add in front
  };
  // bert-ce-tiny: opset 14, decomposed norms (2 layers x 2 + embeddings); pruning-bert-tiny: opset 17
  // LayerNormalization ops; ModernBERT is pre-norm (2 layers: mlp_norm, attn_norm of layer 1, final_norm;
  // its embedding norm and head norm follow no residual Add).
  for (const Case& c : {Case{"bert-ce-tiny/onnx/model.onnx", 5, 0}, Case{"pruning-bert-tiny/model.onnx", 5, 0},
                        Case{"pruning-modernbert-tiny/model.onnx", 4, 2}}) {
    const std::string bytes = ReadFile(dir + c.file);
    ASSERT_FALSE(bytes.empty()) << c.file;
    auto r = FuseSkipLayerNorm(bytes);
    ASSERT_TRUE(r.ok()) << c.file << ": " << r.status().ToString();
    EXPECT_EQ(r->skip_layer_norms, c.fused) << c.file;
    if (c.fused == 0) continue;
    int skip = 0, norms = 0;
    for (const auto& n : Nodes(r->model)) {
      skip += n.op == "SkipLayerNormalization";
      norms += n.op == "LayerNormalization" || n.op == "ReduceMean";
    }
    EXPECT_EQ(skip, c.fused) << c.file;
    EXPECT_EQ(norms, c.norms_left) << c.file;
  }
}

}  // namespace
}  // namespace winnow::rt

namespace winnow::rt {
namespace {

// ---- attention fusion ---------------------------------------------------------------------------------

// A float tensor whose element i is base + i (float16 when `half`), so a test can tell where each value went.
std::string CountingTensor(const std::string& name, const std::vector<int64_t>& dims, float base, bool half = false) {
  size_t n = 1;
  for (int64_t d : dims) n *= static_cast<size_t>(d);
  std::string raw;
  for (size_t i = 0; i < n; ++i) {
    const float v = base + static_cast<float>(i);
    if (half) {
      const uint16_t h = FloatToHalf(v);
      raw.append(reinterpret_cast<const char*>(&h), 2);
    } else {
      raw.append(reinterpret_cast<const char*>(&v), 4);
    }
  }
  return onnx::RawTensor(name, half ? onnx::dtype::kFloat16 : onnx::dtype::kFloat, dims, raw);
}

struct ReadTensor {
  std::vector<int64_t> dims;
  int64_t data_type = 0;
  std::vector<float> values;  // from raw_data
  std::string raw;
  int64_t data_location = 0;                     // 1: external
  std::map<std::string, std::string> external;  // external_data entries
};

std::map<std::string, ReadTensor> Initializers(const std::string& model) {
  std::map<std::string, ReadTensor> out;
  pb::Reader r(model);
  pb::Field f;
  while (r.Next(&f)) {
    if (f.number != 7) continue;
    pb::Reader gr(f.bytes);
    pb::Field gf;
    while (gr.Next(&gf)) {
      if (gf.number != 5) continue;
      pb::Reader tr(gf.bytes);
      pb::Field tf;
      std::string name;
      ReadTensor t;
      std::string& raw = t.raw;
      while (tr.Next(&tf)) {
        if (tf.number == 1) t.dims.push_back(static_cast<int64_t>(tf.varint));
        if (tf.number == 2) t.data_type = static_cast<int64_t>(tf.varint);
        if (tf.number == 8) name = tf.bytes;
        if (tf.number == 9) raw = tf.bytes;
        if (tf.number == 14) t.data_location = static_cast<int64_t>(tf.varint);
        if (tf.number == 13) {
          pb::Reader er(tf.bytes);
          pb::Field ef;
          std::string k, v;
          while (er.Next(&ef)) (ef.number == 1 ? k : v) = ef.bytes;
          t.external[k] = v;
        }
      }
      const size_t width = t.data_type == 10 ? 2 : 4;
      for (size_t i = 0; i + width <= raw.size(); i += width) {
        if (width == 2) {
          uint16_t h;
          std::memcpy(&h, raw.data() + i, 2);
          t.values.push_back(HalfToFloat(h));
        } else {
          float v;
          std::memcpy(&v, raw.data() + i, 4);
          t.values.push_back(v);
        }
      }
      out[name] = t;
    }
  }
  return out;
}


TEST(AttentionFusion, FixtureExports) {
  const std::string dir = std::string(WINNOW_SOURCE_DIR) + "/test/fixtures/models/";
  struct Case {
    const char* file;
    int fused;
  };
  // The BERT-family fixtures are written like Hugging Face's eager attention (opset 14 and 17); ModernBERT
  // rotates Q and K between the split and the product (rotary embeddings): not this pattern.
  for (const Case& c : {Case{"bert-ce-tiny/onnx/model.onnx", 2}, Case{"pruning-bert-tiny/model.onnx", 2},
                        Case{"e5-tiny/onnx/model.onnx", 2}, Case{"pruning-modernbert-tiny/model.onnx", 0}}) {
    const std::string bytes = ReadFile(dir + c.file);
    ASSERT_FALSE(bytes.empty()) << c.file;
    auto r = FuseAttention(bytes);
    ASSERT_TRUE(r.ok()) << c.file << ": " << r.status().ToString();
    EXPECT_EQ(r->attentions, c.fused) << c.file << " " << r->skipped;
    int64_t width = -1;
    auto count = CountAttentionBlocks(bytes, false, nullptr, &width);
    ASSERT_TRUE(count.ok()) << c.file;
    EXPECT_EQ(*count, c.fused) << c.file;
    EXPECT_EQ(width, c.fused ? 32 : 0) << c.file;  // the fixtures' hidden size (heads x head size)
    if (c.fused == 0) continue;
    EXPECT_EQ(r->packed_qkv, c.fused) << c.file;
    std::map<std::string, int> ops, before;
    std::set<std::string> read;
    for (const auto& n : Nodes(r->model)) {
      ops[n.op]++;
      read.insert(n.inputs.begin(), n.inputs.end());
    }
    for (const auto& n : Nodes(bytes)) before[n.op]++;
    EXPECT_EQ(ops["Attention"], c.fused) << c.file;
    EXPECT_EQ(ops["MultiHeadAttention"], 0) << c.file;
    EXPECT_EQ(ops["MatMul"], before["MatMul"] - 5 * c.fused) << c.file;  // Q, K, V, scores, probs x V
    // Every initializer left is read by a node (the Q/K/V weights by the Concats that pack them).
    for (const auto& [name, t] : Initializers(r->model)) EXPECT_TRUE(read.count(name)) << c.file << " " << name;
    int packing = 0;  // the Concats that pack each block's Q/K/V weights and biases
    for (const auto& n : Nodes(r->model))
      packing += n.op == "Concat" && n.outputs.size() == 1 && n.outputs[0].rfind("winnow/attention_qkv_", 0) == 0;
    EXPECT_EQ(packing, 2 * c.fused) << c.file;
    EXPECT_EQ(ops["Softmax"], 0) << c.file;
    EXPECT_EQ(ops["Transpose"], 0) << c.file;
    EXPECT_EQ(ops["ReduceSum"], 1) << c.file;
    // Fused again: nothing left to fuse, and the key lengths are not added twice.
    auto again = FuseAttention(r->model);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->attentions, 0) << c.file;
  }
}

}  // namespace
}  // namespace winnow::rt

namespace winnow::rt {
namespace {

// One self-attention block over x [B, S, 8] with 2 heads of 4, written as Hugging Face's eager BERT attention
// exports; each field bends one part of it.
struct AttentionSpec {
  std::string mask_input = "attention_mask";
  int64_t softmax_axis = -1;
  std::vector<int64_t> k_perm = {0, 2, 3, 1};
  std::vector<int64_t> split_shape = {0, 0, 2, 4};
  bool probs_is_output = false;
  bool constant_mask = false;
  bool sdpa = false;            // Q and K each scaled by Sqrt(a computed value), no Div after the product
  bool sdpa_other_root = false;  // ... by the Sqrt of two different values
  bool merge_shape_read = true;  // the merged tensor's Shape feeds the merge Reshape's target shape
  bool half_weights = false;      // projection weights and biases in float16
  bool k_from_other_input = false;  // K projected from another tensor than Q and V
  bool q_shape_read_outside = false;  // a node outside the block reads Shape(Q's projection)
  bool shared_k_matmul_read = false;  // K's MatMul output also read by a node outside the block
};

std::string AttentionModel(const AttentionSpec& a, int opset = 14) {
  G g;
  g.Input("x");
  g.Input("x2");
  g.Input("attention_mask");
  g.Input("token_type_ids");
  float base = 0;
  for (const char* p : {"q", "k", "v"}) {
    g.Initializer(CountingTensor(std::string("W") + p, {8, 8}, base, a.half_weights));
    g.Initializer(CountingTensor(std::string("b") + p, {8}, base + 1000, a.half_weights));
    base += 100;
    const bool other = a.k_from_other_input && std::string(p) == "k";
    g.Node("MatMul", {other ? "x2" : "x", std::string("W") + p}, {std::string(p) + "_mm"});
    g.Node("Add", {std::string("b") + p, std::string(p) + "_mm"}, {std::string(p) + "3"});
  }
  if (a.q_shape_read_outside) {
    g.Node("Shape", {"q3"}, {"q3_shape"});
    g.Output("q3_shape");
  }
  if (a.shared_k_matmul_read) {
    g.Node("Neg", {"k_mm"}, {"k_neg"});
    g.Output("k_neg");
  }
  // The additive mask (1 - mask) * min, as BERT computes it.
  if (a.constant_mask) {
    g.Constant("addmask", 0.0f);
  } else {
    g.Node("Cast", {a.mask_input}, {"mf"}, {Attr("to", {}, 1)});
    g.Constant("one", 1.0f);
    g.Node("Sub", {"one", "mf"}, {"inv"});
    g.Constant("big", -3.4e38f);
    g.Node("Mul", {"inv", "big"}, {"addmask"});
  }
  g.IntConstant("shape4", a.split_shape);
  g.Node("Reshape", {"q3", "shape4"}, {"qr"});
  g.Node("Transpose", {"qr"}, {"qh"}, {Attr("perm", {}, {}, {0, 2, 1, 3})});
  g.Node("Reshape", {"k3", "shape4"}, {"kr"});
  g.Node("Transpose", {"kr"}, {"kt"}, {Attr("perm", {}, {}, a.k_perm)});
  g.Node("Reshape", {"v3", "shape4"}, {"vr"});
  g.Node("Transpose", {"vr"}, {"vh"}, {Attr("perm", {}, {}, {0, 2, 1, 3})});
  std::string scores_in = "ss";
  if (a.sdpa) {
    g.Node("Shape", {"qh"}, {"qshape"});
    g.Node("Cast", {"qshape"}, {"r1"}, {Attr("to", {}, 1)});
    g.Node("Sqrt", {"r1"}, {"sq"});
    g.Node("Sqrt", {a.sdpa_other_root ? "mf" : "r1"}, {"sk"});
    g.Node("Mul", {"qh", "sq"}, {"qs"});
    g.Node("Mul", {"kt", "sk"}, {"ks"});
    g.Node("MatMul", {"qs", "ks"}, {"ss"});
  } else {
    g.Node("MatMul", {"qh", "kt"}, {"s"});
    g.Constant("c2", 2.0f);
    g.Node("Div", {"s", "c2"}, {"ss"});
  }
  g.Node("Add", {scores_in, "addmask"}, {"sm_in"});
  g.Node("Softmax", {"sm_in"}, {"p"}, {Attr("axis", {}, a.softmax_axis)});
  g.Node("MatMul", {"p", "vh"}, {"ctx"});
  g.Node("Transpose", {"ctx"}, {"ctx_t"}, {Attr("perm", {}, {}, {0, 2, 1, 3})});
  if (a.merge_shape_read) {
    g.Node("Shape", {"ctx_t"}, {"ctx_shape"});
    g.IntConstant("starts", {0});
    g.IntConstant("ends", {2});
    g.Node("Slice", {"ctx_shape", "starts", "ends"}, {"bs"});
    g.IntConstant("d8", {8});
    g.Node("Concat", {"bs", "d8"}, {"shape3"}, {Attr("axis", {}, 0)});
  } else {
    g.IntConstant("shape3", {0, 0, 8});
  }
  g.Node("Reshape", {"ctx_t", "shape3"}, {"out"});
  g.Node("Relu", {"out"}, {"y"});
  g.Output("y");
  if (a.probs_is_output) g.Output("p");
  return g.Model(opset);
}

// The int8 fixture: counted only when quantized graphs are asked for, and said to quantize either way (the session
// checks such a graph's fused form bit for bit against the graph as written); the float one does not.
TEST(AttentionFusion, CountSaysWhetherTheGraphQuantizes) {
  const std::string dir = std::string(WINNOW_SOURCE_DIR) + "/test/fixtures/models/bert-ce-tiny/onnx/";
  const std::string int8 = ReadFile(dir + "model_quantized.onnx"), fp32 = ReadFile(dir + "model.onnx");
  ASSERT_FALSE(int8.empty());
  ASSERT_FALSE(fp32.empty());
  for (bool quantized : {false, true}) {
    bool quantizes = !quantized;
    int64_t width = -1;
    auto n = CountAttentionBlocks(int8, quantized, nullptr, &width, nullptr, &quantizes);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, quantized ? 2 : 0);
    EXPECT_EQ(width, quantized ? 32 : 0);
    EXPECT_TRUE(quantizes);
    quantizes = true;
    n = CountAttentionBlocks(fp32, quantized, nullptr, nullptr, nullptr, &quantizes);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 2);
    EXPECT_FALSE(quantizes);
  }
}

TEST(AttentionFusion, PacksTheProjectionsIntoOneAttentionNode) {
  for (bool half : {false, true}) {
    AttentionSpec a;
    a.half_weights = half;
    // CountAttentionBlocks tells float16 blocks apart (the CPU kernels of the fused ops are float32 only).
    int64_t width = 0;
    bool float16 = !half;
    auto count = CountAttentionBlocks(AttentionModel(a), false, nullptr, &width, &float16);
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(*count, 1);
    EXPECT_EQ(width, 8);
    EXPECT_EQ(float16, half);
    auto r = FuseAttention(AttentionModel(a));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->attentions, 1) << r->skipped;
    EXPECT_EQ(r->packed_qkv, 1);
    std::multiset<std::string> ops;
    for (const auto& n : Nodes(r->model)) {
      ops.insert(n.op);
      if (n.op != "Attention") continue;
      EXPECT_EQ(n.domain, "com.microsoft");
      EXPECT_EQ(n.inputs, (std::vector<std::string>{"x", "winnow/attention_qkv_weight_0", "winnow/attention_qkv_bias_0",
                                                    "winnow/attention_key_lengths"}));
      EXPECT_EQ(n.outputs, std::vector<std::string>{"out"});
      EXPECT_EQ(n.ints.at("num_heads"), 2);
      EXPECT_FLOAT_EQ(n.floats.at("scale"), 0.5f);
    }
    // The three projections, split, scores, mask and merge are all in the one node; two Concats pack the weights
    // (ONNX Runtime folds them at load), and the Q/K/V MatMuls and Adds are gone.
    EXPECT_EQ(ops, (std::multiset<std::string>{"Cast", "ReduceSum", "Concat", "Concat", "Attention", "Relu"}));
    auto init = Initializers(r->model);
    EXPECT_EQ(init.count("winnow/attention_qkv_weight_0"), 0u);  // made by ONNX Runtime, not written inline
    // Each Concat's output as ONNX defines it, from the initializers it names.
    auto concat = [&](const std::string& output, std::vector<int64_t>* dims) {
      std::vector<float> values;
      for (const auto& n : Nodes(r->model)) {
        if (n.op != "Concat" || n.outputs != std::vector<std::string>{output}) continue;
        EXPECT_EQ(n.inputs.size(), 3u) << output;
        std::vector<const ReadTensor*> parts;
        for (const auto& in : n.inputs) {
          parts.push_back(&init.at(in));
          EXPECT_EQ(parts.back()->data_type, half ? 10 : 1) << in;
        }
        const int64_t axis = n.ints.at("axis");
        *dims = parts[0]->dims;
        for (size_t k = 1; k < parts.size(); ++k) (*dims)[axis] += parts[k]->dims[axis];
        const int64_t rows = axis == 1 ? parts[0]->dims[0] : 1;
        for (int64_t row = 0; row < rows; ++row)
          for (const ReadTensor* t : parts) {
            const size_t width = t->values.size() / rows;
            values.insert(values.end(), t->values.begin() + row * width, t->values.begin() + (row + 1) * width);
          }
      }
      return values;
    };
    std::vector<int64_t> wdims, bdims;
    const std::vector<float> w = concat("winnow/attention_qkv_weight_0", &wdims);
    const std::vector<float> b = concat("winnow/attention_qkv_bias_0", &bdims);
    EXPECT_EQ(wdims, (std::vector<int64_t>{8, 24}));
    EXPECT_EQ(bdims, (std::vector<int64_t>{24}));
    ASSERT_EQ(w.size(), 192u);
    ASSERT_EQ(b.size(), 24u);
    // Row r of the packed matrix is row r of Wq, then of Wk, then of Wv (MatMul(x, W): W is [in, out]).
    for (int r = 0; r < 8; ++r)
      for (int p = 0; p < 3; ++p)
        for (int c = 0; c < 8; ++c) EXPECT_EQ(w[r * 24 + p * 8 + c], 100.0f * p + r * 8 + c) << r << p << c;
    for (int p = 0; p < 3; ++p)
      for (int c = 0; c < 8; ++c) EXPECT_EQ(b[p * 8 + c], 1000.0f + 100.0f * p + c);
  }
}

TEST(AttentionFusion, MultiHeadAttentionWhereTheProjectionsCannotBePacked) {
  std::vector<std::pair<const char*, AttentionSpec>> cases;
  AttentionSpec a;
  a.k_from_other_input = true;
  cases.push_back({"K projected from another input", a});
  a = {};
  a.shared_k_matmul_read = true;
  cases.push_back({"K's product read outside", a});
  a = {};
  a.q_shape_read_outside = true;  // packing would remove Q's projection, which that Shape still reads
  cases.push_back({"Q's projection read outside", a});
  for (const auto& [what, spec] : cases) {
    auto r = FuseAttention(AttentionModel(spec));
    ASSERT_TRUE(r.ok()) << what;
    EXPECT_EQ(r->attentions, 1) << what << " " << r->skipped;
    EXPECT_EQ(r->packed_qkv, 0) << what;
    std::map<std::string, int> ops;
    for (const auto& n : Nodes(r->model)) ops[n.op]++;
    EXPECT_EQ(ops["MultiHeadAttention"], 1) << what;
    EXPECT_EQ(ops["Attention"], 0) << what;
    EXPECT_EQ(ops["MatMul"], 3) << what;
    auto init = Initializers(r->model);
    EXPECT_EQ(init.count("Wq"), 1u) << what;
    EXPECT_EQ(init.count("winnow/attention_qkv_weight_0"), 0u) << what;
  }
}

TEST(AttentionFusion, FusesEagerAttention) {
  for (int opset : {11, 14, 17}) {
    auto r = FuseAttention(AttentionModel({}, opset), false, 1.0f, /*pack_qkv=*/false);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->attentions, 1) << opset << " " << r->skipped;
    std::vector<std::string> domains;
    auto nodes = Nodes(r->model, &domains);
    EXPECT_NE(std::find(domains.begin(), domains.end(), "com.microsoft"), domains.end());
    std::multiset<std::string> ops;
    for (const auto& n : nodes) ops.insert(n.op);
    // Left: the three projections, the key lengths (Cast + ReduceSum), the fused node, the Relu. The split
    // and merge, the mask arithmetic and the merge's shape arithmetic are gone.
    EXPECT_EQ(ops, (std::multiset<std::string>{"MatMul", "MatMul", "MatMul", "Add", "Add", "Add", "Cast", "ReduceSum",
                                                "MultiHeadAttention", "Relu"}))
        << opset;
    for (const auto& n : nodes) {
      if (n.op == "ReduceSum") {
        EXPECT_EQ(n.inputs.size(), opset >= 13 ? 2u : 1u);  // axes: an input since opset 13
        EXPECT_EQ(n.ints.at("keepdims"), 0);
      }
      if (n.op == "Cast") {
        EXPECT_EQ(n.inputs, std::vector<std::string>{"attention_mask"});
        EXPECT_EQ(n.ints.at("to"), 6);  // int32
      }
      if (n.op != "MultiHeadAttention") continue;
      EXPECT_EQ(n.domain, "com.microsoft");
      ASSERT_EQ(n.inputs.size(), 5u);
      EXPECT_EQ(n.inputs[0], "q3");
      EXPECT_EQ(n.inputs[1], "k3");
      EXPECT_EQ(n.inputs[2], "v3");
      EXPECT_EQ(n.inputs[3], "");
      EXPECT_EQ(n.outputs, std::vector<std::string>{"out"});
      EXPECT_EQ(n.ints.at("num_heads"), 2);
      EXPECT_FLOAT_EQ(n.floats.at("scale"), 0.5f);  // the Div by 2
    }
  }
}

TEST(AttentionFusion, HeadsFromTheProjectionWhenTheShapeSaysMinusOne) {
  AttentionSpec a;
  a.split_shape = {0, 0, -1, 4};  // (*input_shape, -1, head_dim), as transformers 5 writes it
  auto r = FuseAttention(AttentionModel(a));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->attentions, 1);
  for (const auto& n : Nodes(r->model))
    if (n.op == "Attention") EXPECT_EQ(n.ints.at("num_heads"), 2);
}

TEST(AttentionFusion, ScaledDotProductAttentionExport) {
  AttentionSpec a;
  a.sdpa = true;
  auto r = FuseAttention(AttentionModel(a));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->attentions, 1) << r->skipped;
  for (const auto& n : Nodes(r->model))
    if (n.op == "Attention") EXPECT_FLOAT_EQ(n.floats.at("scale"), 0.5f);  // assumed 1/sqrt(4)
  a.sdpa_other_root = true;  // Q and K scaled by different computed factors: not assumed
  r = FuseAttention(AttentionModel(a));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->attentions, 0);
}

TEST(AttentionFusion, LeavesNearMissesAlone) {
  std::vector<std::pair<const char*, AttentionSpec>> cases;
  AttentionSpec a;
  a.mask_input = "token_type_ids";  // a mask that is not the padding mask
  cases.push_back({"mask from another input", a});
  a = {};
  a.constant_mask = true;
  cases.push_back({"constant mask", a});
  a = {};
  a.softmax_axis = 1;
  cases.push_back({"softmax over another axis", a});
  a = {};
  a.k_perm = {0, 2, 1, 3};
  cases.push_back({"K not transposed", a});
  a = {};
  a.split_shape = {0, 0, 3, 4};  // 3 x 4 != the projection's 8
  cases.push_back({"split that does not match the projection", a});
  a = {};
  a.probs_is_output = true;
  cases.push_back({"attention probabilities read outside", a});
  for (const auto& [what, spec] : cases) {
    auto r = FuseAttention(AttentionModel(spec));
    ASSERT_TRUE(r.ok()) << what;
    EXPECT_EQ(r->attentions, 0) << what;
    EXPECT_TRUE(r->model.empty()) << what;
  }
  // Without the merge's Shape read the pattern still matches.
  AttentionSpec plain;
  plain.merge_shape_read = false;
  auto r = FuseAttention(AttentionModel(plain));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->attentions, 1);
}

// Found by graph_rewrite_fuzzer: CountAttentionBlocks stopped reading a graph at its first quantizing node
// (answering 0) where FuseAttention read on and reported the malformed node after it. Both read the whole graph now.
TEST(AttentionFusion, CountAgreesWithTheRewriteOnMalformedQuantizedGraphs) {
  G g;
  g.Node("DynamicQuantizeLinear", {"x"}, {"xq", "xs", "xz"});
  g.RawNode(std::string("\x0a\xff", 2));  // a node whose first field claims 255 bytes
  g.Output("xq");
  const std::string model = g.Model(14);
  auto count = CountAttentionBlocks(model);
  auto fused = FuseAttention(model);
  EXPECT_FALSE(fused.ok());
  EXPECT_EQ(count.ok(), fused.ok());
}

TEST(AttentionFusion, MalformedInputIsAnErrorNeverACrash) {
  const std::string model = AttentionModel({});
  std::mt19937 rng(7);
  int fused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string m = model;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) m[rng() % m.size()] = static_cast<char>(rng());
    auto r = FuseAttention(m);  // ok or an error; under ASan, never out of bounds
    if (r.ok() && r->attentions > 0) {
      ++fused;
      auto again = FuseAttention(r->model);
      ASSERT_TRUE(again.ok());
      EXPECT_EQ(again->attentions, 0);
    }
  }
  EXPECT_GT(fused, 0);  // most single flips land in weights and still fuse
}

}  // namespace
}  // namespace winnow::rt

namespace winnow::rt {
namespace {

// With external_weights, the rewritten model refers to the weights in place: each large initializer kept from the
// file becomes external data whose offset and length point at its original bytes in the file.
TEST(GraphRewrite, ExternalWeightsReadFromTheFilesHandedIn) {
  G g;
  g.Node("Add", {"A", "B"}, {"S"});
  g.Node("LayerNormalization", {"S", "gamma", "beta"}, {"Y"});
  g.Initializer(ExternalTensor("gamma", 4, "model.onnx_data", 16));
  g.Initializer(ExternalTensor("beta", 4, "model.onnx_data", 32));
  g.Output("Y");
  const std::string model = g.Model(17);
  auto locations = ExternalDataLocations(model);
  ASSERT_TRUE(locations.ok());
  EXPECT_EQ(*locations, std::vector<std::string>{"model.onnx_data"});

  RewriteOptions o;
  o.layer_norms = true;
  auto without = RewriteGraph(model, o);  // no files handed in: left alone
  ASSERT_TRUE(without.ok());
  EXPECT_EQ(without->skip_layer_norms, 0);
  EXPECT_NE(without->skipped.find("external"), std::string::npos);

  const std::string data(48, '\0');
  ExternalFiles files{{"model.onnx_data", data}};
  o.external_files = &files;
  auto with = RewriteGraph(model, o);
  ASSERT_TRUE(with.ok()) << with.status().ToString();
  EXPECT_EQ(with->skip_layer_norms, 1) << with->skipped;
  // The external references are kept as written, for ONNX Runtime to read from the same files.
  const auto init = Initializers(with->model);
  for (const char* name : {"gamma", "beta"}) {
    const auto& t = init.at(name);
    EXPECT_EQ(t.data_location, 1) << name;
    EXPECT_TRUE(t.raw.empty()) << name;
    EXPECT_EQ(t.external.at("location"), "model.onnx_data") << name;
  }

  const std::string short_file(40, '\0');  // beta's bytes end at 48
  ExternalFiles truncated{{"model.onnx_data", short_file}};
  o.external_files = &truncated;
  auto cut = RewriteGraph(model, o);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->skip_layer_norms, 0);
  ExternalFiles other{{"other.bin", data}};
  o.external_files = &other;
  auto unnamed = RewriteGraph(model, o);
  ASSERT_TRUE(unnamed.ok());
  EXPECT_EQ(unnamed->skip_layer_norms, 0);
}

TEST(GraphRewrite, ExternalWeightsPointIntoTheFile) {
  const std::string bytes = ReadFile(std::string(WINNOW_SOURCE_DIR) + "/test/fixtures/models/bert-ce-tiny/onnx/model.onnx");
  ASSERT_FALSE(bytes.empty());
  RewriteOptions o;
  o.layer_norms = o.attention = true;
  auto inline_weights = RewriteGraph(bytes, o);
  o.external_weights = "weights.bin";
  auto external = RewriteGraph(bytes, o);
  ASSERT_TRUE(inline_weights.ok() && external.ok());
  EXPECT_EQ(external->skip_layer_norms, inline_weights->skip_layer_norms);
  EXPECT_EQ(external->attentions, 2);
  EXPECT_LT(external->model.size(), inline_weights->model.size() / 4);  // the graph, not the weights
  // External initializers must point at exactly the bytes the inline model holds.
  const auto inline_init = Initializers(inline_weights->model);
  int external_count = 0;
  for (const auto& [name, t] : Initializers(external->model)) {
    if (t.data_location != 1) {
      EXPECT_LT(t.raw.size(), 4096u) << name;  // inline: small ones only (the packed Q/K/V are Concats now)
      continue;
    }
    ++external_count;
    EXPECT_TRUE(t.raw.empty()) << name;
    EXPECT_EQ(t.external.at("location"), "weights.bin") << name;
    const size_t offset = std::stoull(t.external.at("offset")), length = std::stoull(t.external.at("length"));
    ASSERT_LE(offset + length, bytes.size()) << name;
    ASSERT_TRUE(inline_init.count(name)) << name;
    EXPECT_EQ(bytes.substr(offset, length), inline_init.at(name).raw) << name;
  }
  EXPECT_GE(external_count, 9);  // embeddings, FFN and output projections, classifier
}

// WeightsInPlace: the graph as written, node for node, with each large initializer pointing at its bytes in the file
// and the small ones inline as they were.
TEST(GraphRewrite, WeightsInPlaceKeepsTheGraphAsWritten) {
  const std::string bytes = ReadFile(std::string(WINNOW_SOURCE_DIR) + "/test/fixtures/models/bert-ce-tiny/onnx/model.onnx");
  ASSERT_FALSE(bytes.empty());
  RewriteOptions o;
  o.layer_norms = o.attention = true;  // not read: nothing is fused
  auto none = WeightsInPlace(bytes, o);  // no location to name
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->model.empty());
  EXPECT_FALSE(none->skipped.empty());

  o.external_weights = "model.onnx";
  auto w = WeightsInPlace(bytes, o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_FALSE(w->model.empty()) << w->skipped;
  EXPECT_EQ(w->skip_layer_norms + w->attentions, 0);
  EXPECT_LT(w->model.size(), bytes.size() / 4);
  const auto before = Nodes(bytes), after = Nodes(w->model);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].op, before[i].op) << i;
    EXPECT_EQ(after[i].inputs, before[i].inputs) << i;
    EXPECT_EQ(after[i].outputs, before[i].outputs) << i;
  }
  const auto written = Initializers(bytes), kept = Initializers(w->model);
  ASSERT_EQ(kept.size(), written.size());
  int external = 0;
  for (const auto& [name, t] : kept) {
    ASSERT_TRUE(written.count(name)) << name;
    if (t.data_location != 1) {
      EXPECT_LT(t.raw.size(), 4096u) << name;
      EXPECT_EQ(t.raw, written.at(name).raw) << name;
      continue;
    }
    ++external;
    EXPECT_EQ(t.external.at("location"), "model.onnx") << name;
    const size_t offset = std::stoull(t.external.at("offset")), length = std::stoull(t.external.at("length"));
    ASSERT_LE(offset + length, bytes.size()) << name;
    EXPECT_EQ(bytes.substr(offset, length), written.at(name).raw) << name;
  }
  EXPECT_GE(external, 9);

  // A graph the rewrites leave alone (a node with a subgraph) is left to ONNX Runtime to read.
  G g;
  std::string branch, attr;
  pb::AppendLen(&branch, onnx::graph_f::kName, "then");
  pb::AppendLen(&attr, onnx::attr_f::kName, "then_branch");
  pb::AppendLen(&attr, onnx::attr_f::kG, branch);
  pb::AppendVarintField(&attr, onnx::attr_f::kType, 5);  // GRAPH
  g.Node("If", {"cond"}, {"Y"}, {attr});
  g.Initializer(VectorTensor("w", 2048));
  g.Output("Y");
  auto sub = WeightsInPlace(g.Model(), o);
  ASSERT_TRUE(sub.ok());
  EXPECT_TRUE(sub->model.empty());
  EXPECT_NE(sub->skipped.find("subgraph"), std::string::npos);
}

// exact_norms: float32 norms become com.winnow LayerNorm (ONNX Runtime's arithmetic, so quantized graphs too), the
// domain imported; a float16 norm is not one of them and, in a quantized graph, stays as written.
TEST(GraphRewrite, ExactNormsInQuantizedGraphs) {
  auto model = [](bool half) {
    G g;
    g.Node("Add", {"A", "B"}, {"S"});
    g.Node("LayerNormalization", {"S", "gamma", "beta"}, {"Y"}, {Attr("epsilon", 1e-7f, {})});
    g.Node("DynamicQuantizeLinear", {"Y"}, {"Yq", "Ys", "Yz"});
    g.Node("Add", {"S", "Y"}, {"Z"});  // the sum read again after the norm (pre-norm)
    std::string gamma = VectorTensor("gamma", 4), beta = VectorTensor("beta", 4);
    if (half) {
      gamma = CountingTensor("gamma", {4}, 1.0f, true);
      beta = CountingTensor("beta", {4}, 0.0f, true);
    }
    g.Initializer(gamma);
    g.Initializer(beta);
    g.Output("Yq");
    g.Output("Z");
    return g.Model(17);
  };
  RewriteOptions o;
  o.layer_norms = true;
  o.exact_norms = true;
  auto r = RewriteGraph(model(false), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->skip_layer_norms, 1);
  EXPECT_EQ(r->exact_layer_norms, 1);
  EXPECT_TRUE(r->skipped.empty()) << r->skipped;
  std::vector<std::string> domains;
  auto nodes = Nodes(r->model, &domains);
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[0].op, "LayerNorm");
  EXPECT_EQ(nodes[0].domain, "com.winnow");
  EXPECT_EQ(nodes[0].inputs, (std::vector<std::string>{"A", "B", "gamma", "beta"}));
  EXPECT_EQ(nodes[0].outputs, (std::vector<std::string>{"Y", "S"}));
  EXPECT_FLOAT_EQ(nodes[0].floats["epsilon"], 1e-7f);
  EXPECT_EQ(std::count(domains.begin(), domains.end(), "com.winnow"), 1);
  // float16 norms: not exact; left alone in a quantized graph unless quantized_norms allows SkipLayerNormalization.
  auto h = RewriteGraph(model(true), o);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->skip_layer_norms, 0);
  EXPECT_TRUE(h->model.empty());
  o.quantized_norms = true;
  h = RewriteGraph(model(true), o);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->skip_layer_norms, 1);
  EXPECT_EQ(h->exact_layer_norms, 0);
  domains.clear();
  nodes = Nodes(h->model, &domains);
  EXPECT_EQ(nodes[0].op, "SkipLayerNormalization");
  EXPECT_EQ(std::count(domains.begin(), domains.end(), "com.winnow"), 0);
}

}  // namespace
}  // namespace winnow::rt
