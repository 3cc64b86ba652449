// DeBERTa-v2 / v3 built from weights: the log buckets against eager PyTorch's make_log_bucket_position, the
// relative index built from them, the built graphs (loaded by ONNX Runtime as Winnow loads them) against the eager
// PyTorch outputs of scripts/fixtures/checkpoints_deberta.py on padded batches, and the settings refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "builder/builder.h"
#include "builder/deberta_v2.h"
#include "checkpoint/checkpoint.h"
#include "loaders/model_folder.h"
#include "ort_library.h"
#include "runtime/custom_ops.h"
#include "runtime/session.h"

namespace winnow::builder {
namespace {

const std::string kCheckpoints = std::string(WINNOW_SOURCE_DIR) + "/test/fixtures/checkpoints/";

nlohmann::json ReadJsonFile(const std::string& path) {
  auto j = loaders::ReadJson(path, codes::kConfigInvalid);
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  return j.ok() ? *j : nlohmann::json();
}

TEST(DebertaBuckets, LogBucketIsTorchsFloat32Arithmetic) {
  const nlohmann::json ref = ReadJsonFile(kCheckpoints + "deberta-buckets.json");
  ASSERT_GE(ref["cases"].size(), 5u);
  for (const auto& c : ref["cases"]) {
    const int64_t bucket_size = c["bucket_size"], max_position = c["max_position"], first = c["first"];
    const auto& want = c["buckets"];
    int mismatches = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const int64_t d = first + static_cast<int64_t>(i);
      const int64_t got = deberta::LogBucket(d, bucket_size, max_position);
      if (got != want[i].get<int64_t>() && ++mismatches <= 5)
        ADD_FAILURE() << "bucket_size " << bucket_size << ", max_position " << max_position << ", d " << d << ": "
                      << got << ", PyTorch " << want[i].get<int64_t>();
    }
  }
}

TEST(DebertaBuckets, RelativeIndexIsTheClampedBucketAndConstantPastReach) {
  const nlohmann::json ref = ReadJsonFile(kCheckpoints + "deberta-buckets.json");
  for (const auto& c : ref["cases"]) {
    const int64_t bucket_size = c["bucket_size"], max_position = c["max_position"], first = c["first"];
    const int64_t span = bucket_size;  // the attention's span when buckets are used
    auto r = deberta::MakeRelativeIndex(span, bucket_size, max_position);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->index.size(), static_cast<size_t>(2 * r->reach + 1));
    const auto& buckets = c["buckets"];
    for (size_t i = 0; i < buckets.size(); ++i) {
      const int64_t d = first + static_cast<int64_t>(i);
      const int64_t want = std::clamp<int64_t>(buckets[i].get<int64_t>() + span, 0, 2 * span - 1);
      const int64_t at = std::clamp<int64_t>(d, -r->reach, r->reach) + r->reach;
      ASSERT_EQ(r->index[static_cast<size_t>(at)], want) << "bucket_size " << bucket_size << ", d " << d;
    }
  }
  // DeBERTa-v3: 256 buckets over 512 positions reach both ends at distance 512.
  auto v3 = deberta::MakeRelativeIndex(256, 256, 512);
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(v3->reach, 512);
  EXPECT_EQ(v3->index.front(), 0);
  EXPECT_EQ(v3->index.back(), 511);
  // Without buckets: the distance itself, clamped to the span.
  auto plain = deberta::MakeRelativeIndex(16, -1, 16);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->reach, 16);
  EXPECT_EQ(plain->index[16 + 3], 19);
  EXPECT_EQ(plain->index[16 - 16], 0);
  EXPECT_EQ(plain->index[16 + 16], 31);
}

StatusOr<BuiltModel> BuildFolder(const std::string& dir, Task task, const nlohmann::json* config_override = nullptr,
                                 bool inline_all = false, bool winnow_ops = false) {
  WINNOW_ASSIGN_OR_RETURN(nlohmann::json config, loaders::ReadJson(dir + "/config.json", codes::kConfigInvalid));
  if (config_override) config.update(*config_override);
  WINNOW_ASSIGN_OR_RETURN(auto ckpt, checkpoint::Checkpoint::Open(dir));
  Weights w(ckpt.get());
  BuildOptions o;
  o.task = task;
  o.inline_all = inline_all;
  o.winnow_ops = winnow_ops;
  return Build(config, dir + "/config.json", &w, o);
}

class DebertaGraph : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    struct stat sb;
    ASSERT_EQ(stat(test_support::OrtLibrary().c_str(), &sb), 0)
        << "no ONNX Runtime library at " << test_support::OrtLibrary() << ": run `npm run build` first";
    auto rt = rt::OrtRuntime::Get(test_support::OrtLibrary());
    ASSERT_TRUE(rt.ok()) << rt.status().ToString();
    rt_ = *rt;
    tmp_ = std::filesystem::temp_directory_path() / ("winnow-deberta-" + std::to_string(::getpid()) + "-" + GetParam());
    std::filesystem::create_directories(tmp_);
  }
  void TearDown() override { std::filesystem::remove_all(tmp_); }

  // The graph built for `task`, written beside a copy of the checkpoint (float32 weights stay external data there)
  // and loaded as Winnow loads models.
  std::unique_ptr<rt::Session> Load(Task task, bool winnow_ops = false) {
    const std::string dir = kCheckpoints + GetParam();
    std::filesystem::copy_file(dir + "/model.safetensors", tmp_ / "model.safetensors",
                               std::filesystem::copy_options::overwrite_existing);
    auto built = BuildFolder(dir, task, nullptr, false, winnow_ops);
    EXPECT_TRUE(built.ok()) << built.status().ToString();
    if (!built.ok()) return nullptr;
    EXPECT_EQ(built->architecture, "deberta-v2");
    const std::string path = (tmp_ / ((task == Task::kFeatureExtraction ? "features" : "logits") +
                                      std::string(winnow_ops ? "-winnow.onnx" : ".onnx"))).string();
    std::ofstream(path, std::ios::binary).write(built->onnx.data(), static_cast<std::streamsize>(built->onnx.size()));
    auto s = rt::Session::Load(rt_, path, rt::SessionConfig{});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  rt::OrtRuntime* rt_ = nullptr;
  std::filesystem::path tmp_;
};

std::vector<int64_t> Flat(const nlohmann::json& rows) {
  std::vector<int64_t> v;
  for (const auto& r : rows)
    for (const auto& x : r) v.push_back(x.get<int64_t>());
  return v;
}

// One reference batch as a session takes it (token_type_ids when the graph has that input).
struct BatchInputs {
  BatchInputs(const nlohmann::json& batch, bool types)
      : b(static_cast<int64_t>(batch["input_ids"].size())),
        s(static_cast<int64_t>(batch["input_ids"][0].size())),
        ids(Flat(batch["input_ids"])),
        mask(Flat(batch["attention_mask"])),
        tt(Flat(batch["token_type_ids"])) {
    in = {{"input_ids", ids.data()}, {"attention_mask", mask.data()}};
    if (types) in.push_back({"token_type_ids", tt.data()});
  }
  BatchInputs(const BatchInputs&) = delete;  // `in` points into the vectors
  const int64_t b, s;
  const std::vector<int64_t> ids, mask, tt;
  std::vector<rt::Int64Input> in;
};

// The session's logits for `batch`, each within 1e-5 of eager PyTorch's; adds how many were compared.
void ExpectLogits(rt::Session& session, const nlohmann::json& batch, const std::string& what, size_t* compared) {
  const BatchInputs x(batch, session.HasInput("token_type_ids"));
  std::vector<Ort::Value> out;
  ASSERT_TRUE(session.Run(x.in, x.b, x.s, {"logits"}, &out).ok());
  const float* logits = out[0].GetTensorData<float>();
  const size_t labels = batch["logits"][0].size();
  for (int64_t r = 0; r < x.b; ++r)
    for (size_t l = 0; l < labels; ++l, ++*compared)
      ASSERT_NEAR(logits[r * labels + l], batch["logits"][r][l].get<float>(), 1e-5)
          << what << " logits row " << r << " of a batch of " << x.b << " x " << x.s;
}

// Every logit and every hidden state (padding positions included: the current modeling file's masked softmax)
// within 1e-5 of eager PyTorch, batch by batch (several lengths padded into one batch, and the same rows alone).
TEST_P(DebertaGraph, MatchesEagerPyTorchOnPaddedBatches) {
  const nlohmann::json ref = ReadJsonFile(kCheckpoints + GetParam() + ".reference.json");
  auto logits_session = Load(Task::kSequenceClassification);
  auto features_session = Load(Task::kFeatureExtraction);
  ASSERT_TRUE(logits_session && features_session);
  const bool types = logits_session->HasInput("token_type_ids");
  EXPECT_EQ(types, GetParam().find("v2") != std::string::npos);
  size_t compared = 0;
  for (const auto& batch : ref["batches"]) {
    ExpectLogits(*logits_session, batch, GetParam(), &compared);
    if (HasFatalFailure()) return;
    const BatchInputs x(batch, types);
    const int64_t b = x.b, s = x.s;
    std::vector<Ort::Value> out;
    ASSERT_TRUE(features_session->Run(x.in, b, s, {"last_hidden_state"}, &out).ok());
    const float* hidden = out[0].GetTensorData<float>();
    const size_t h = batch["last_hidden_state"][0][0].size();
    for (int64_t r = 0; r < b; ++r)
      for (int64_t t = 0; t < s; ++t)
        for (size_t k = 0; k < h; ++k, ++compared)
          ASSERT_NEAR(hidden[(r * s + t) * h + k], batch["last_hidden_state"][r][t][k].get<float>(), 1e-5)
              << GetParam() << " hidden state row " << r << ", token " << t << " of a batch of " << b << " x " << s;
  }
  EXPECT_GT(compared, 1000u);
}

// With Winnow's operators: the logits again, and every Attention run found DeBERTa's index monotone, so it read each
// block's ranges at the corners (a check that never said so would only lose speed, and no other test would see it).
TEST_P(DebertaGraph, WinnowAttentionFindsTheIndexMonotone) {
  const nlohmann::json ref = ReadJsonFile(kCheckpoints + GetParam() + ".reference.json");
  auto session = Load(Task::kSequenceClassification, true);
  ASSERT_TRUE(session);
  const rt::RelativeIndexRuns before = rt::RelativeIndexRunCounts();
  size_t batches = 0, compared = 0;
  for (const auto& batch : ref["batches"]) {
    ExpectLogits(*session, batch, GetParam() + " (Winnow's operators)", &compared);
    if (HasFatalFailure()) return;
    ++batches;
  }
  const rt::RelativeIndexRuns after = rt::RelativeIndexRunCounts();
  const uint64_t layers = ReadJsonFile(kCheckpoints + GetParam() + "/config.json")["num_hidden_layers"].get<uint64_t>();
  EXPECT_EQ(after.runs - before.runs, layers * batches);
  EXPECT_EQ(after.searched, before.searched);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DebertaGraph,
                         ::testing::Values("deberta-v3-tiny", "deberta-v3-tiny-bf16", "deberta-v2-tiny-f16"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// Settings transformers cannot run, or that would make the relative positions undefined, refused with the key.
TEST(DebertaConfig, RefusesSettingsItCannotBuild) {
  const std::string dir = kCheckpoints + "deberta-v3-tiny";
  struct Case {
    nlohmann::json change;
    std::string code, key;
  };
  const std::vector<Case> cases = {
      {{{"conv_kernel_size", 4}}, codes::kConfigInvalid, "conv_kernel_size"},
      {{{"conv_kernel_size", 3}, {"conv_groups", 5}}, codes::kConfigInvalid, "conv_groups"},
      {{{"pooler_hidden_size", 16}}, codes::kConfigInvalid, "pooler_hidden_size"},
      {{{"attention_head_size", 16}}, codes::kConfigInvalid, "attention_head_size"},
      {{{"position_buckets", 1}}, codes::kConfigInvalid, "position_buckets"},
      {{{"max_relative_positions", 5}}, codes::kConfigInvalid, "max_relative_positions"},
      {{{"pos_att_type", 3}}, codes::kConfigInvalid, "pos_att_type"},
      {{{"pos_att_type", nlohmann::json::array({"c2p", 1})}}, codes::kConfigInvalid, "pos_att_type"},
      {{{"num_attention_heads", 5}}, codes::kConfigInvalid, "num_attention_heads"},
      {{{"hidden_act", "mish"}}, codes::kModelUnsupported, "mish"},
      {{{"hidden_size", 48}, {"pooler_hidden_size", 48}}, codes::kCheckpointInvalid, "word_embeddings"},
  };
  for (const auto& c : cases) {
    auto built = BuildFolder(dir, Task::kSequenceClassification, &c.change);
    ASSERT_FALSE(built.ok()) << c.change.dump();
    EXPECT_EQ(built.status().code(), c.code) << c.change.dump() << ": " << built.status().ToString();
    EXPECT_NE(built.status().message().find(c.key), std::string::npos) << built.status().ToString();
  }
}

// The relative-position settings are read as transformers reads them: pos_att_type as "a|b" or a list, and
// max_relative_positions < 1 standing for max_position_embeddings.
TEST(DebertaConfig, ReadsPosAttTypeEitherWayAndTheDefaultSpan) {
  const std::string dir = kCheckpoints + "deberta-v3-tiny";
  auto as_string = BuildFolder(dir, Task::kSequenceClassification, nullptr, true);
  const nlohmann::json as_list_change = {{"pos_att_type", nlohmann::json::array({"p2c", "c2p"})},
                                         {"max_relative_positions", 64}};
  auto as_list = BuildFolder(dir, Task::kSequenceClassification, &as_list_change, true);
  ASSERT_TRUE(as_string.ok() && as_list.ok());
  EXPECT_EQ(as_string->onnx, as_list->onnx);
  const nlohmann::json c2p_only = {{"pos_att_type", "C2P"}};
  auto c2p = BuildFolder(dir, Task::kSequenceClassification, &c2p_only, true);
  ASSERT_TRUE(c2p.ok());
  EXPECT_NE(c2p->onnx, as_string->onnx);
}

}  // namespace
}  // namespace winnow::builder
