// The SkipLayerNormalization fusion (runtime/graph_rewrite.h): models written here with the wire-format
// writer, read back with the reader, plus the real fixture exports. Numerical parity of fused graphs
// with ONNX Runtime is tested from JavaScript (test/cross-encoder.test.ts, "layer norm fusion").
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/half.h"
#include "runtime/graph_rewrite.h"
#include "runtime/protobuf_wire.h"

namespace winnow::rt {
namespace {

// ---- a tiny ONNX writer ------------------------------------------------------------------------
std::string Attr(const std::string& name, std::optional<float> f, std::optional<int64_t> i,
                 const std::vector<int64_t>& ints = {}) {
  std::string a;
  pb::AppendLen(&a, 1, name);
  if (f) {
    pb::AppendFixed32Field(&a, 2, FloatBits(*f));
    pb::AppendVarintField(&a, 20, 1);
  }
  if (i) {
    pb::AppendVarintField(&a, 3, static_cast<uint64_t>(*i));
    pb::AppendVarintField(&a, 20, 2);
  }
  if (!ints.empty()) {
    for (int64_t v : ints) pb::AppendVarintField(&a, 8, static_cast<uint64_t>(v));
    pb::AppendVarintField(&a, 20, 7);
  }
  return a;
}

std::string ScalarTensor(const std::string& name, float v) {
  std::string t;
  pb::AppendVarintField(&t, 2, 1);  // FLOAT
  pb::AppendLen(&t, 8, name);
  pb::AppendLen(&t, 9, std::string(reinterpret_cast<const char*>(&v), 4));
  return t;
}

std::string VectorTensor(const std::string& name, size_t n, bool external = false) {
  std::string t;
  pb::AppendVarintField(&t, 1, n);
  pb::AppendVarintField(&t, 2, 1);
  pb::AppendLen(&t, 8, name);
  if (external) {
    pb::AppendVarintField(&t, 14, 1);
  } else {
    std::vector<float> v(n, 1.0f);
    pb::AppendLen(&t, 9, std::string(reinterpret_cast<const char*>(v.data()), n * 4));
  }
  return t;
}

struct G {
  std::string nodes, initializers, outputs;
  void Node(const std::string& op, const std::vector<std::string>& in, const std::vector<std::string>& out,
            const std::vector<std::string>& attrs = {}) {
    std::string n;
    for (auto& i : in) pb::AppendLen(&n, 1, i);
    for (auto& o : out) pb::AppendLen(&n, 2, o);
    pb::AppendLen(&n, 3, op + "_" + std::to_string(nodes.size()));
    pb::AppendLen(&n, 4, op);
    for (auto& a : attrs) pb::AppendLen(&n, 5, a);
    pb::AppendLen(&nodes, 1, n);
  }
  void Constant(const std::string& out, float v) {
    std::string a;
    pb::AppendLen(&a, 1, "value");
    pb::AppendLen(&a, 5, ScalarTensor(out, v));
    pb::AppendVarintField(&a, 20, 4);
    Node("Constant", {}, {out}, {a});
  }
  void Initializer(const std::string& t) { pb::AppendLen(&initializers, 5, t); }
  void Output(const std::string& name) {
    std::string vi;
    pb::AppendLen(&vi, 1, name);
    pb::AppendLen(&outputs, 12, vi);
  }
  std::string Model(int opset = 14) const {
    std::string graph = nodes;
    pb::AppendLen(&graph, 2, "g");
    graph += initializers + outputs;
    std::string m, op;
    pb::AppendVarintField(&m, 1, 8);
    pb::AppendLen(&op, 1, "");
    pb::AppendVarintField(&op, 2, opset);
    pb::AppendLen(&m, 7, graph);
    pb::AppendLen(&m, 8, op);
    return m;
  }
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
  float epsilon = 0;
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
          while (ar.Next(&af))
            if (af.number == 2) n.epsilon = BitsToFloat(static_cast<uint32_t>(af.varint));
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
    if (c.fused == 0) continue;
    std::map<std::string, int> ops;
    for (const auto& n : Nodes(r->model)) ops[n.op]++;
    EXPECT_EQ(ops["MultiHeadAttention"], c.fused) << c.file;
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
