// LoRA merging (builder/lora.h): peft's target matching and scaling rules, the merge arithmetic, the key forms peft
// writes, and the adapters Winnow refuses.
#include "builder/lora.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"

namespace winnow::builder {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

lora::Config Parse(const std::string& text) {
  auto c = lora::ParseConfig(Json::parse(text), "adapter_config.json");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : lora::Config{};
}

Status ParseStatus(const std::string& text) {
  auto c = lora::ParseConfig(Json::parse(text), "adapter_config.json");
  return c.ok() ? Status::Ok() : c.status();
}

bool Hits(const lora::Config& c, const std::string& module) {
  auto t = lora::Targets(c, module);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() && *t;
}

TEST(LoraTargets, AListMatchesEqualNamesAndDottedSuffixes) {
  // peft: `key in target_modules or any(key.endswith("." + t))`.
  const auto c = Parse(R"j({"peft_type": "LORA", "target_modules": ["query", "key", "value", "dense"]})j");
  for (const char* m : {"bert.encoder.layer.0.attention.self.query", "bert.encoder.layer.1.attention.self.key",
                        "bert.encoder.layer.0.attention.output.dense", "bert.encoder.layer.0.intermediate.dense",
                        "bert.encoder.layer.0.output.dense", "bert.pooler.dense", "dense", "classifier.dense"})
    EXPECT_TRUE(Hits(c, m)) << m;
  for (const char* m : {"bert.encoder.layer.0.attention.self", "bert.encoder.layer.0.attention.output.LayerNorm",
                        "bert.pooler.xdense", "bert.densely", "classifier", "bert.encoder.layer.0.attention.self.query.x"})
    EXPECT_FALSE(Hits(c, m)) << m;
}

TEST(LoraTargets, ModulesToSaveAreNeverAdapted) {
  // RoBERTa's head classifier.dense ends in ".dense" but is saved whole.
  const auto c = Parse(R"j({"peft_type": "LORA", "target_modules": ["dense"], "modules_to_save": ["classifier", "score"]})j");
  EXPECT_FALSE(Hits(c, "classifier.dense"));
  EXPECT_FALSE(Hits(c, "classifier.out_proj"));
  EXPECT_FALSE(Hits(c, "model.score.dense"));
  EXPECT_TRUE(Hits(c, "roberta.encoder.layer.0.output.dense"));
  EXPECT_TRUE(Hits(c, "roberta.classifier_x.dense"));  // (^|.*\.)classifier($|\..*) needs the whole part
}

TEST(LoraTargets, AStringIsARegexThatMustMatchTheWholeName) {
  const auto c = Parse(R"j({"peft_type": "LORA", "target_modules": ".*\\.(query|value)"})j");
  EXPECT_TRUE(Hits(c, "bert.encoder.layer.0.attention.self.query"));
  EXPECT_TRUE(Hits(c, "bert.encoder.layer.1.attention.self.value"));
  EXPECT_FALSE(Hits(c, "query"));  // no dot before it
  EXPECT_FALSE(Hits(c, "bert.encoder.layer.0.attention.self.query.inner"));
  EXPECT_FALSE(Hits(c, "bert.encoder.layer.0.attention.self.key"));
  // Python syntax PCRE2 shares: a named group.
  const auto named = Parse(R"j({"peft_type": "LORA", "target_modules": "(?P<m>.*)\\.key"})j");
  EXPECT_TRUE(Hits(named, "bert.encoder.layer.0.attention.self.key"));
}

TEST(LoraTargets, ExcludeModules) {
  const auto list = Parse(R"j({"peft_type": "LORA", "target_modules": ["dense"], "exclude_modules": ["pooler.dense"]})j");
  EXPECT_FALSE(Hits(list, "bert.pooler.dense"));
  EXPECT_TRUE(Hits(list, "bert.encoder.layer.0.output.dense"));
  const auto regex = Parse(R"j({"peft_type": "LORA", "target_modules": ["dense"], "exclude_modules": ".*layer\\.1\\..*"})j");
  EXPECT_FALSE(Hits(regex, "bert.encoder.layer.1.output.dense"));
  EXPECT_TRUE(Hits(regex, "bert.encoder.layer.0.output.dense"));
}

TEST(LoraTargets, LayersToTransform) {
  const auto c = Parse(R"j({"peft_type": "LORA", "target_modules": ["query"], "layers_to_transform": [1, 3]})j");
  EXPECT_FALSE(Hits(c, "bert.encoder.layer.0.attention.self.query"));
  EXPECT_TRUE(Hits(c, "bert.encoder.layer.1.attention.self.query"));
  EXPECT_TRUE(Hits(c, "bert.encoder.layer.3.attention.self.query"));
  // peft's default pattern takes the first numbered part (lazy .*?): the layer, not an expert inside it.
  const auto moe = Parse(R"j({"peft_type": "LORA", "target_modules": ["w1"], "layers_to_transform": 1})j");
  EXPECT_TRUE(Hits(moe, "model.layers.1.experts.0.w1"));
  EXPECT_FALSE(Hits(moe, "model.layers.0.experts.1.w1"));
  const auto named = Parse(
      R"j({"peft_type": "LORA", "target_modules": ["w1"], "layers_to_transform": [0], "layers_pattern": "experts"})j");
  EXPECT_TRUE(Hits(named, "model.layers.1.experts.0.w1"));
  EXPECT_FALSE(Hits(named, "model.layers.0.experts.1.w1"));
  // A module equal to a target is taken whatever its layer (peft checks layers only on the suffix branch).
  const auto exact = Parse(R"j({"peft_type": "LORA", "target_modules": ["a.5.q"], "layers_to_transform": [1]})j");
  EXPECT_TRUE(Hits(exact, "a.5.q"));
}

TEST(LoraScaling, AlphaOverRankOrOverItsSquareRoot) {
  auto s = lora::ScalingOf(Parse(R"j({"peft_type": "LORA", "r": 8, "lora_alpha": 16})j"), "x.query");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->r, 8);
  EXPECT_DOUBLE_EQ(s->scale, 2.0);
  s = lora::ScalingOf(Parse(R"j({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "use_rslora": true})j"), "x.query");
  ASSERT_TRUE(s.ok());
  EXPECT_DOUBLE_EQ(s->scale, 4.0);
  // Defaults as LoraConfig's: r 8, alpha 8.
  s = lora::ScalingOf(Parse(R"j({"peft_type": "LORA"})j"), "x.query");
  ASSERT_TRUE(s.ok());
  EXPECT_DOUBLE_EQ(s->scale, 1.0);
}

TEST(LoraScaling, TheFirstPatternInFileOrderWins) {
  const auto c = Parse(R"j({"peft_type": "LORA", "r": 8, "lora_alpha": 16, "use_rslora": true,
    "rank_pattern": {"output.dense": 2, "dense": 6, "layer.1.attention.self.query": 4},
    "alpha_pattern": {"value": 24, "query": 3}})j");
  const auto at = [&](const std::string& m) {
    auto s = lora::ScalingOf(c, m);
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : lora::Scaling{};
  };
  EXPECT_EQ(at("bert.encoder.layer.0.attention.output.dense").r, 2);
  EXPECT_EQ(at("bert.encoder.layer.0.output.dense").r, 2);
  EXPECT_EQ(at("bert.encoder.layer.0.intermediate.dense").r, 6);
  EXPECT_EQ(at("bert.encoder.layer.1.attention.self.query").r, 4);
  EXPECT_EQ(at("bert.encoder.layer.0.attention.self.query").r, 8);
  EXPECT_DOUBLE_EQ(at("bert.encoder.layer.1.attention.self.query").scale, 3.0 / 2.0);  // rslora: 3 / sqrt(4)
  EXPECT_DOUBLE_EQ(at("bert.encoder.layer.0.attention.self.value").scale, 24.0 / std::sqrt(8.0));
  // "(.*\.)?(key)$": a key must end the name at a dot boundary.
  EXPECT_EQ(at("bert.encoder.layer.0.xoutput.dense").r, 6);
}

TEST(LoraConfig, Refusals) {
  const auto code = [](const std::string& text) { return ParseStatus(text).code(); };
  EXPECT_EQ(code(R"j({"peft_type": "LORA", "use_dora": true})j"), codes::kModelUnsupported);
  EXPECT_EQ(code(R"j({"peft_type": "IA3", "target_modules": ["key"]})j"), codes::kModelUnsupported);
  EXPECT_EQ(code(R"j({"peft_type": "ADALORA"})j"), codes::kModelUnsupported);
  EXPECT_EQ(code(R"j({"peft_type": "LOHA"})j"), codes::kModelUnsupported);
  EXPECT_EQ(code(R"j({"peft_type": "LORA", "init_lora_weights": "pissa"})j"), codes::kModelUnsupported);
  EXPECT_EQ(code(R"j({"peft_type": "LORA", "init_lora_weights": "olora"})j"), codes::kModelUnsupported);
  EXPECT_EQ(code(R"j({"peft_type": "LORA", "layer_replication": [[0, 2]]})j"), codes::kModelUnsupported);
  EXPECT_EQ(code(R"j({"peft_type": "LORA", "target_parameters": ["experts.w"]})j"), codes::kModelUnsupported);
  EXPECT_EQ(code(R"j({"peft_type": "LORA", "trainable_token_indices": [1, 2]})j"), codes::kModelUnsupported);
  EXPECT_EQ(code(R"j({"peft_type": "LORA", "alora_invocation_tokens": [5]})j"), codes::kModelUnsupported);
  EXPECT_EQ(code(R"j({"r": 8})j"), codes::kConfigInvalid);
  EXPECT_EQ(code(R"j({"peft_type": "LORA", "r": 0})j"), codes::kConfigInvalid);
  EXPECT_EQ(code(R"j({"peft_type": "LORA", "r": "8"})j"), codes::kConfigInvalid);
  EXPECT_EQ(code(R"j({"peft_type": "LORA", "lora_alpha": "16"})j"), codes::kConfigInvalid);
  EXPECT_EQ(code(R"j({"peft_type": "LORA", "bias": "some"})j"), codes::kConfigInvalid);
  EXPECT_EQ(code(R"j({"peft_type": "LORA", "target_modules": "(query"})j"), codes::kConfigInvalid);
  EXPECT_EQ(code(R"j({"peft_type": "LORA", "target_modules": [1]})j"), codes::kConfigInvalid);
  EXPECT_EQ(code(R"j({"peft_type": "LORA", "rank_pattern": {"q": 0}})j"), codes::kConfigInvalid);
  // What peft writes by default is accepted.
  EXPECT_TRUE(ParseStatus(R"j({"peft_type": "LORA", "use_dora": false, "init_lora_weights": true,
    "layer_replication": null, "target_parameters": null, "loftq_config": {}, "megatron_config": null,
    "init_lora_weights": "gaussian", "alora_invocation_tokens": null, "trainable_token_indices": null})j").ok());
  EXPECT_NE(ParseStatus(R"j({"peft_type": "LORA", "use_dora": true})j").message().find("use_dora"), std::string::npos);
}

TEST(LoraArithmetic, AddLowRank) {
  // b [3, 2], a [2, 4]: w [3, 4] += 0.5 * b @ a; transposed: w [4, 3] += 0.5 * (b @ a)^T.
  const float b[] = {1, 2, 3, 4, 5, 6};
  const float a[] = {1, 0, -1, 2, 0.5f, 1, 0, -2};
  float w[12] = {}, wt[12] = {};
  lora::AddLowRank(b, a, 3, 2, 4, 0.5f, false, w);
  lora::AddLowRank(b, a, 3, 2, 4, 0.5f, true, wt);
  for (int o = 0; o < 3; ++o)
    for (int i = 0; i < 4; ++i) {
      const float want = 0.5f * (b[o * 2] * a[i] + b[o * 2 + 1] * a[4 + i]);
      EXPECT_FLOAT_EQ(w[o * 4 + i], want) << o << "," << i;
      EXPECT_FLOAT_EQ(wt[i * 3 + o], want) << o << "," << i;
    }
}

// ---- MergeAdapter on files ------------------------------------------------------------------------------------

struct T {
  std::vector<int64_t> shape;
  std::vector<float> v;
};

void WriteSafetensors(const std::string& path, const std::map<std::string, T>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [name, t] : tensors) {
    const size_t start = data.size();
    data.append(reinterpret_cast<const char*>(t.v.data()), t.v.size() * 4);
    header[name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {start, data.size()}}};
  }
  std::string h = header.dump();
  std::string len(8, '\0');
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
  std::ofstream(path, std::ios::binary) << len << h << data;
}

std::vector<float> Seq(size_t n, float start, float step) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i);
  return v;
}

// A folder under the test's temporary directory, emptied.
std::string Folder(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/winnow_lora_" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Base: query [3, 4] + bias, key [3, 4], classifier [1, 4]; names under `prefix`.
std::map<std::string, T> BaseTensors(const std::string& prefix) {
  const std::string l = prefix + "encoder.layer.0.attention.self.";
  return {{l + "query.weight", {{3, 4}, Seq(12, -1.0f, 0.25f)}},
          {l + "query.bias", {{3}, {0.1f, 0.2f, 0.3f}}},
          {l + "key.weight", {{3, 4}, Seq(12, 0.5f, -0.125f)}},
          {l + "key.bias", {{3}, {0, 0, 0}}},
          {"classifier.weight", {{1, 4}, {1, 2, 3, 4}}},
          {"classifier.bias", {{1}, {0.5f}}}};
}

const std::vector<float> kA = {1, 0, -1, 2, 0.5f, 1, 0, -2};  // [2, 4]
const std::vector<float> kB = {1, 2, 3, 4, 5, 6};             // [3, 2]

class MergeTest : public ::testing::Test {
 protected:
  // Writes the base (names under `base_prefix`) and an adapter with `config` and `tensors`, merges, returns the
  // status; the merged weights stay in weights_.
  Status Merge(const std::string& config, const std::map<std::string, T>& tensors,
               const std::string& base_prefix = "bert.", const AdapterOptions& options = {},
               std::map<std::string, T> base = {}) {
    base_dir_ = Folder("base");
    adapter_dir_ = Folder("adapter");
    if (base.empty()) base = BaseTensors(base_prefix);
    base_ = base;
    WriteSafetensors(base_dir_ + "/model.safetensors", base);
    WriteSafetensors(adapter_dir_ + "/adapter_model.safetensors", tensors);
    std::ofstream(adapter_dir_ + "/adapter_config.json") << config;
    auto ckpt = checkpoint::Checkpoint::Open(base_dir_);
    EXPECT_TRUE(ckpt.ok()) << ckpt.status().ToString();
    ckpt_ = std::move(ckpt).value();
    weights_ = std::make_unique<Weights>(ckpt_.get());
    return MergeAdapter(adapter_dir_, weights_.get(), options, &summary_);
  }
  std::vector<float> Get(const std::string& name) {
    auto v = weights_->Floats(name);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : std::vector<float>{};
  }
  // base + scale * B A (or its transpose) in double, as the reference.
  std::vector<float> Expected(const std::string& name, double scale, bool transposed = false) {
    std::vector<float> w = base_[name].v;
    for (int o = 0; o < 3; ++o)
      for (int i = 0; i < 4; ++i) {
        double d = 0;
        for (int k = 0; k < 2; ++k) d += double(kB[o * 2 + k]) * kA[k * 4 + i];
        w[transposed ? i * 3 + o : o * 4 + i] += static_cast<float>(d * scale);
      }
    return w;
  }
  void ExpectNear(const std::vector<float>& got, const std::vector<float>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << i;
  }
  std::string base_dir_, adapter_dir_;
  std::map<std::string, T> base_;
  std::unique_ptr<checkpoint::Checkpoint> ckpt_;
  std::unique_ptr<Weights> weights_;
  AdapterSummary summary_;
};

const char* kQuery = "bert.encoder.layer.0.attention.self.query";
const std::string kConfig = R"j({"peft_type": "LORA", "r": 2, "lora_alpha": 3, "target_modules": ["query", "key"],
  "modules_to_save": ["classifier"]})j";

TEST_F(MergeTest, MergesWPlusScaleBA) {
  const std::string m = std::string("base_model.model.") + kQuery;
  ASSERT_TRUE(Merge(kConfig, {{m + ".lora_A.weight", {{2, 4}, kA}}, {m + ".lora_B.weight", {{3, 2}, kB}}}).ok());
  ExpectNear(Get(std::string(kQuery) + ".weight"), Expected(std::string(kQuery) + ".weight", 1.5));
  ExpectNear(Get("bert.encoder.layer.0.attention.self.key.weight"), base_["bert.encoder.layer.0.attention.self.key.weight"].v);
  EXPECT_EQ(summary_.merged, 1);
  EXPECT_EQ(summary_.replaced, 0);
}

TEST_F(MergeTest, KeysWithTheAdapterNameOrWithoutPeftsPrefix) {
  const std::string m = std::string("base_model.model.") + kQuery;
  ASSERT_TRUE(Merge(kConfig, {{m + ".lora_A.default.weight", {{2, 4}, kA}}, {m + ".lora_B.default.weight", {{3, 2}, kB}}}).ok());
  ExpectNear(Get(std::string(kQuery) + ".weight"), Expected(std::string(kQuery) + ".weight", 1.5));
  // transformers' own adapter saving writes the module names alone.
  ASSERT_TRUE(Merge(kConfig, {{std::string(kQuery) + ".lora_A.weight", {{2, 4}, kA}},
                              {std::string(kQuery) + ".lora_B.weight", {{3, 2}, kB}}}).ok());
  ExpectNear(Get(std::string(kQuery) + ".weight"), Expected(std::string(kQuery) + ".weight", 1.5));
}

TEST_F(MergeTest, NamesMapOntoTheBasesPrefix) {
  // An adapter trained on a bare BertModel (no "bert.") over a task checkpoint's "bert." names.
  const std::string bare = "base_model.model.encoder.layer.0.attention.self.query";
  ASSERT_TRUE(Merge(kConfig, {{bare + ".lora_A.weight", {{2, 4}, kA}}, {bare + ".lora_B.weight", {{3, 2}, kB}}}).ok());
  ExpectNear(Get(std::string(kQuery) + ".weight"), Expected(std::string(kQuery) + ".weight", 1.5));
  // And a task model's adapter ("bert.") over a bare checkpoint.
  const std::string task = std::string("base_model.model.") + kQuery;
  ASSERT_TRUE(Merge(kConfig, {{task + ".lora_A.weight", {{2, 4}, kA}}, {task + ".lora_B.weight", {{3, 2}, kB}}}, "").ok());
  ExpectNear(Get("encoder.layer.0.attention.self.query.weight"),
             Expected("encoder.layer.0.attention.self.query.weight", 1.5));
  EXPECT_FALSE(weights_->Has(std::string(kQuery) + ".weight"));
}

TEST_F(MergeTest, ModulesNotTargetedAreNotLoaded) {
  // peft makes LoRA layers only for targeted modules; weights for others are unexpected keys it does not load.
  const std::string q = std::string("base_model.model.") + kQuery;
  const std::string k = "base_model.model.bert.encoder.layer.0.attention.self.key";
  const std::string only_query = R"j({"peft_type": "LORA", "r": 2, "lora_alpha": 2, "target_modules": ["query"]})j";
  ASSERT_TRUE(Merge(only_query, {{q + ".lora_A.weight", {{2, 4}, kA}}, {q + ".lora_B.weight", {{3, 2}, kB}},
                                 {k + ".lora_A.weight", {{2, 4}, kA}}, {k + ".lora_B.weight", {{3, 2}, kB}}}).ok());
  ExpectNear(Get(std::string(kQuery) + ".weight"), Expected(std::string(kQuery) + ".weight", 1.0));
  ExpectNear(Get("bert.encoder.layer.0.attention.self.key.weight"), base_["bert.encoder.layer.0.attention.self.key.weight"].v);
  EXPECT_EQ(summary_.merged, 1);
  // When the config selects none of them, the adapter is refused rather than doing nothing.
  const std::string none = R"j({"peft_type": "LORA", "r": 2, "target_modules": ["value"]})j";
  const Status s = Merge(none, {{k + ".lora_A.weight", {{2, 4}, kA}}, {k + ".lora_B.weight", {{3, 2}, kB}}});
  EXPECT_EQ(s.code(), codes::kCheckpointInvalid);
  EXPECT_NE(s.message().find("selects none"), std::string::npos) << s.message();
}

TEST_F(MergeTest, FanInFanOutFollowsTheModuleType) {
  // nn.Linear: peft turns fan_in_fan_out off, so a config saying true merges B A as it is.
  const std::string m = std::string("base_model.model.") + kQuery;
  const std::string config = R"j({"peft_type": "LORA", "r": 2, "lora_alpha": 2, "fan_in_fan_out": true,
    "target_modules": ["query"]})j";
  const std::map<std::string, T> adapter = {{m + ".lora_A.weight", {{2, 4}, kA}}, {m + ".lora_B.weight", {{3, 2}, kB}}};
  ASSERT_TRUE(Merge(config, adapter).ok());
  ExpectNear(Get(std::string(kQuery) + ".weight"), Expected(std::string(kQuery) + ".weight", 1.0));
  // A weight stored [in, out] (Conv1D) gets (B A)^T.
  auto base = BaseTensors("bert.");
  base[std::string(kQuery) + ".weight"].shape = {4, 3};
  AdapterOptions conv1d;
  conv1d.stored_in_out = [](std::string_view name) { return name == std::string(kQuery) + ".weight"; };
  ASSERT_TRUE(Merge(config, adapter, "bert.", conv1d, base).ok());
  ExpectNear(Get(std::string(kQuery) + ".weight"), Expected(std::string(kQuery) + ".weight", 1.0, true));
  EXPECT_EQ(weights_->Shape(std::string(kQuery) + ".weight"), (std::vector<int64_t>{4, 3}));
}

TEST_F(MergeTest, EmbeddingLora) {
  // lora_embedding_A [r, num_embeddings], lora_embedding_B [dim, r]: W [num, dim] += (B A)^T * scale.
  auto base = BaseTensors("bert.");
  base["bert.embeddings.word_embeddings.weight"] = {{4, 3}, Seq(12, 0, 0.5f)};
  const std::string e = "base_model.model.bert.embeddings.word_embeddings";
  const std::string config = R"j({"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["word_embeddings"]})j";
  ASSERT_TRUE(Merge(config, {{e + ".lora_embedding_A", {{2, 4}, kA}}, {e + ".lora_embedding_B", {{3, 2}, kB}}},
                    "bert.", {}, base).ok());
  ExpectNear(Get("bert.embeddings.word_embeddings.weight"), Expected("bert.embeddings.word_embeddings.weight", 2.0, true));
}

TEST_F(MergeTest, LoraBiasAddsToTheLayersBias) {
  const std::string m = std::string("base_model.model.") + kQuery;
  const std::map<std::string, T> adapter = {{m + ".lora_A.weight", {{2, 4}, kA}},
                                            {m + ".lora_B.weight", {{3, 2}, kB}},
                                            {m + ".lora_B.bias", {{3}, {1, -1, 2}}}};
  ASSERT_TRUE(Merge(R"j({"peft_type": "LORA", "r": 2, "lora_alpha": 1, "lora_bias": true, "target_modules": ["query"]})j",
                    adapter).ok());
  ExpectNear(Get(std::string(kQuery) + ".bias"), {0.1f + 0.5f, 0.2f - 0.5f, 0.3f + 1.0f});
  // Without lora_bias peft's lora_B has no bias: the saved one is not loaded.
  ASSERT_TRUE(Merge(R"j({"peft_type": "LORA", "r": 2, "lora_alpha": 1, "target_modules": ["query"]})j", adapter).ok());
  ExpectNear(Get(std::string(kQuery) + ".bias"), {0.1f, 0.2f, 0.3f});
}

TEST_F(MergeTest, ModulesSavedWhole) {
  const std::string m = std::string("base_model.model.") + kQuery;
  // peft >= 0.15 (and older after its renaming): base_model.model.classifier.weight.
  ASSERT_TRUE(Merge(kConfig, {{m + ".lora_A.weight", {{2, 4}, kA}}, {m + ".lora_B.weight", {{3, 2}, kB}},
                              {"base_model.model.classifier.weight", {{1, 4}, {9, 8, 7, 6}}},
                              {"base_model.model.classifier.bias", {{1}, {-2}}}}).ok());
  ExpectNear(Get("classifier.weight"), {9, 8, 7, 6});
  ExpectNear(Get("classifier.bias"), {-2});
  EXPECT_EQ(summary_.replaced, 2);
  // The wrapper's own names: modules_to_save[.default] is the trained copy, original_module the base's.
  ASSERT_TRUE(Merge(kConfig, {{m + ".lora_A.weight", {{2, 4}, kA}}, {m + ".lora_B.weight", {{3, 2}, kB}},
                              {"base_model.model.classifier.modules_to_save.default.weight", {{1, 4}, {9, 8, 7, 6}}},
                              {"base_model.model.classifier.original_module.weight", {{1, 4}, {0, 0, 0, 0}}},
                              {"base_model.model.classifier.modules_to_save.bias", {{1}, {-3}}}}).ok());
  ExpectNear(Get("classifier.weight"), {9, 8, 7, 6});
  ExpectNear(Get("classifier.bias"), {-3});
  // bias "all": a LoRA layer's bias under base_layer.
  ASSERT_TRUE(Merge(kConfig, {{m + ".lora_A.weight", {{2, 4}, kA}}, {m + ".lora_B.weight", {{3, 2}, kB}},
                              {m + ".base_layer.bias", {{3}, {7, 7, 7}}}}).ok());
  ExpectNear(Get(std::string(kQuery) + ".bias"), {7, 7, 7});
  // A head the base lacks is added; one of another shape than the base's is refused.
  auto base = BaseTensors("bert.");
  base.erase("classifier.weight");
  base.erase("classifier.bias");
  ASSERT_TRUE(Merge(kConfig, {{"base_model.model.classifier.weight", {{2, 4}, Seq(8, 0, 1)}}}, "bert.", {}, base).ok());
  EXPECT_EQ(weights_->Shape("classifier.weight"), (std::vector<int64_t>{2, 4}));
  const Status s = Merge(kConfig, {{"base_model.model.classifier.weight", {{2, 4}, Seq(8, 0, 1)}}});
  EXPECT_EQ(s.code(), codes::kCheckpointInvalid);
  EXPECT_NE(s.message().find("classifier.weight"), std::string::npos) << s.message();
}

TEST_F(MergeTest, ShapesThatDoNotFitAreNamed) {
  const std::string m = std::string("base_model.model.") + kQuery;
  // A [2, 5] against a [3, 4] weight.
  Status s = Merge(kConfig, {{m + ".lora_A.weight", {{2, 5}, Seq(10, 0, 1)}}, {m + ".lora_B.weight", {{3, 2}, kB}}});
  EXPECT_EQ(s.code(), codes::kCheckpointInvalid);
  EXPECT_NE(s.message().find(m + ".lora_A.weight"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(std::string(kQuery) + ".weight [3, 4]"), std::string::npos) << s.message();
  // A rank other than r (or rank_pattern's).
  s = Merge(R"j({"peft_type": "LORA", "r": 4, "target_modules": ["query"]})j",
            {{m + ".lora_A.weight", {{2, 4}, kA}}, {m + ".lora_B.weight", {{3, 2}, kB}}});
  EXPECT_EQ(s.code(), codes::kCheckpointInvalid);
  EXPECT_NE(s.message().find("rank 2"), std::string::npos) << s.message();
  // A and B of different ranks.
  s = Merge(kConfig, {{m + ".lora_A.weight", {{2, 4}, kA}}, {m + ".lora_B.weight", {{2, 3}, kB}}});
  EXPECT_EQ(s.code(), codes::kCheckpointInvalid);
  // lora_A without lora_B.
  s = Merge(kConfig, {{m + ".lora_A.weight", {{2, 4}, kA}}});
  EXPECT_EQ(s.code(), codes::kCheckpointInvalid);
  EXPECT_NE(s.message().find("no lora_B"), std::string::npos) << s.message();
  // A module the base does not hold.
  const std::string v = "base_model.model.bert.encoder.layer.0.attention.self.value";
  s = Merge(R"j({"peft_type": "LORA", "r": 2, "target_modules": ["value"]})j",
            {{v + ".lora_A.weight", {{2, 4}, kA}}, {v + ".lora_B.weight", {{3, 2}, kB}}});
  EXPECT_EQ(s.code(), codes::kCheckpointInvalid);
  EXPECT_NE(s.message().find("attention.self.value.weight"), std::string::npos) << s.message();
}

TEST_F(MergeTest, AdaptersWinnowDoesNotMerge) {
  const std::string m = std::string("base_model.model.") + kQuery;
  const std::map<std::string, T> plain = {{m + ".lora_A.weight", {{2, 4}, kA}}, {m + ".lora_B.weight", {{3, 2}, kB}}};
  EXPECT_EQ(Merge(R"j({"peft_type": "LORA", "r": 2, "use_dora": true, "target_modules": ["query"]})j", plain).code(),
            codes::kModelUnsupported);
  EXPECT_EQ(Merge(R"j({"peft_type": "IA3", "target_modules": ["query"], "feedforward_modules": []})j",
                  {{m + ".ia3_l", {{3, 1}, {1, 1, 1}}}}).code(),
            codes::kModelUnsupported);
  // DoRA's magnitude vector is refused even when the config does not say use_dora.
  auto dora = plain;
  dora[m + ".lora_magnitude_vector"] = {{3}, {1, 1, 1}};
  EXPECT_EQ(Merge(kConfig, dora).code(), codes::kModelUnsupported);
  // LoRA on a convolution: 4-D factors.
  EXPECT_EQ(Merge(kConfig, {{m + ".lora_A.weight", {{2, 4, 1, 1}, kA}}, {m + ".lora_B.weight", {{3, 2, 1, 1}, kB}}}).code(),
            codes::kModelUnsupported);
  // Not a LoRA name peft writes.
  EXPECT_EQ(Merge(kConfig, {{m + ".lora_A.weight", {{2, 4}, kA}}, {m + ".lora_B.weight", {{3, 2}, kB}},
                            {m + ".lora_X.weight", {{1}, {1}}}}).code(),
            codes::kCheckpointInvalid);
  // No adapter_config.json / no weights.
  const std::string dir = Folder("empty");
  auto ckpt = checkpoint::Checkpoint::Open(base_dir_);
  ASSERT_TRUE(ckpt.ok());
  Weights w(ckpt->get());
  EXPECT_EQ(MergeAdapter(dir, &w).code(), codes::kModelNotFound);
  std::ofstream(dir + "/adapter_config.json") << kConfig;
  EXPECT_EQ(MergeAdapter(dir, &w).code(), codes::kModelNotFound);
  std::ofstream(dir + "/adapter_config.json") << "{not json";
  EXPECT_EQ(MergeAdapter(dir, &w).code(), codes::kConfigInvalid);
}

}  // namespace
}  // namespace winnow::builder
