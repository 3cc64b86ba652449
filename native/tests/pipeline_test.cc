// The transformer pipelines' batching under AddressSanitizer: chunked tokenization on a second thread,
// length buckets, concurrent calls and cancellation, on the tiny fixtures with the ONNX Runtime library
// the addon build puts in build/Release (npm test builds it before these tests run).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <vector>

#include "loaders/model_folder.h"
#include "pipelines/cross_encoder.h"
#include "pipelines/sentence_encoder.h"
#include "ort_library.h"

namespace winnow::pipelines {
namespace {

const std::string kFixtures = std::string(WINNOW_SOURCE_DIR) + "/test/fixtures/models/";

using winnow::test_support::OrtLibrary;

// Deterministic pairs of varied lengths; a few share their query.
std::vector<std::pair<std::string, std::string>> MakePairs(size_t n) {
  const char* words[] = {"river", "the", "museum", "of", "ancient", "coins", "was", "built", "in", "1907",
                         "by", "a", "merchant", "whose", "family", "sailed", "north", "every", "spring", "again"};
  std::vector<std::pair<std::string, std::string>> out;
  uint32_t x = 12345;
  auto next = [&] { return x = x * 1103515245u + 12345u; };
  for (size_t i = 0; i < n; ++i) {
    std::string q = "who built the " + std::string(words[i / 4 % 20]) + "?";
    std::string d;
    const size_t len = 3 + next() % 120;
    for (size_t w = 0; w < len; ++w) d += std::string(words[next() % 20]) + (w % 9 == 8 ? ". " : " ");
    out.emplace_back(q, d);
  }
  return out;
}

std::vector<std::pair<std::string_view, std::string_view>> Views(const std::vector<std::pair<std::string, std::string>>& p) {
  std::vector<std::pair<std::string_view, std::string_view>> v;
  for (const auto& [a, b] : p) v.emplace_back(a, b);
  return v;
}

// Loads a model with `set` applied to its options and, when chunk_env is given, WINNOW_TEST_CHUNK_ITEMS set
// for the load only, with the next chunk tokenized on a second thread (as on a GPU) when `overlap`.
template <class Model, class Options, class Set>
std::unique_ptr<Model> LoadModel(const char* fixture, const char* chunk_env, Set set, bool overlap = true) {
  if (chunk_env) setenv("WINNOW_TEST_CHUNK_ITEMS", chunk_env, 1);
  setenv("WINNOW_TEST_OVERLAP", overlap ? "1" : "0", 1);
  Options o;
  o.dir = kFixtures + fixture;
  o.ort_library = OrtLibrary();
  o.session.intra_op_threads = 2;
  set(o);
  auto m = Model::Load(o);
  unsetenv("WINNOW_TEST_CHUNK_ITEMS");
  unsetenv("WINNOW_TEST_OVERLAP");
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? std::move(m).value() : nullptr;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat sb;
    ASSERT_EQ(stat(OrtLibrary().c_str(), &sb), 0)
        << "no ONNX Runtime library at " << OrtLibrary() << ": run `npm run build` first (or set WINNOW_ORT_LIBRARY)";
  }
  static std::unique_ptr<CrossEncoder> LoadCe(const char* chunk_env, ModelOptions::Toggle buckets) {
    return LoadModel<CrossEncoder, CrossEncoderOptions>("bert-ce-tiny", chunk_env, [&](CrossEncoderOptions& o) {
      o.batch_size = 4;
      o.length_buckets = buckets;
    });
  }
};

float MaxDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

TEST_F(PipelineTest, ChunkedBucketedAndConcurrentCallsAgree) {
  const auto owned = MakePairs(61);
  const auto pairs = Views(owned);
  auto plain = LoadCe(nullptr, ModelOptions::Toggle::kOff);
  auto chunked = LoadCe("5", ModelOptions::Toggle::kOn);
  ASSERT_TRUE(plain && chunked);
  std::vector<float> expected, got;
  ASSERT_TRUE(plain->Predict(pairs, &expected).ok());
  ASSERT_TRUE(chunked->Predict(pairs, &got).ok());
  EXPECT_LT(MaxDiff(got, expected), 1e-5f);
  const BatchStats sp = plain->batch_stats(), sc = chunked->batch_stats();
  EXPECT_EQ(sp.rows, pairs.size());
  EXPECT_EQ(sc.rows, pairs.size());
  EXPECT_EQ(sc.tokens, sp.tokens);
  EXPECT_GT(sc.padded_tokens, sp.padded_tokens);
  for (size_t len : sc.sequence_lengths) EXPECT_TRUE(len % 16 == 0 || len == chunked->model_max_length()) << len;

  // Three calls at once on the chunked model (each with its own producer thread).
  std::vector<std::vector<float>> results(3);
  std::vector<std::thread> callers;
  for (int t = 0; t < 3; ++t)
    callers.emplace_back([&, t] { EXPECT_TRUE(chunked->Predict(pairs, &results[t]).ok()); });
  for (auto& c : callers) c.join();
  for (const auto& r : results) EXPECT_LT(MaxDiff(r, expected), 1e-5f);
}

TEST_F(PipelineTest, CancelStopsAChunkedCall) {
  const auto owned = MakePairs(200);
  const auto pairs = Views(owned);
  auto chunked = LoadCe("3", ModelOptions::Toggle::kAuto);
  ASSERT_TRUE(chunked);
  std::atomic<bool> cancel{false};
  size_t last = 0;
  RunControl control;
  control.cancel = &cancel;
  control.progress = [&](size_t done, size_t total) {
    EXPECT_EQ(total, pairs.size());
    EXPECT_GT(done, last);
    last = done;
    if (done >= 20) cancel.store(true);
  };
  std::vector<float> scores;
  Status st = chunked->Predict(pairs, &scores, control);
  EXPECT_EQ(st.code(), std::string("ABORTED")) << st.ToString();
  EXPECT_LT(last, pairs.size());
  // Usable afterwards.
  std::vector<float> again;
  ASSERT_TRUE(chunked->Predict(std::vector<std::pair<std::string_view, std::string_view>>(pairs.begin(), pairs.begin() + 9), &again).ok());
  EXPECT_EQ(again.size(), 9u);
}

TEST_F(PipelineTest, SentenceEncoderChunkedEqualsPlain) {
  const auto owned = MakePairs(40);
  std::vector<std::string_view> texts;
  for (const auto& p : owned) texts.push_back(p.second);
  auto load = [](const char* chunk_env) {
    return LoadModel<SentenceEncoder, SentenceEncoderOptions>("e5-tiny", chunk_env,
                                                              [](SentenceEncoderOptions& o) { o.batch_size = 3; }, false);
  };
  auto plain = load(nullptr);
  auto chunked = load("4");
  ASSERT_TRUE(plain && chunked);
  EncodeParams params;
  EncodeResult a, b;
  ASSERT_TRUE(plain->Encode(texts, params, &a).ok());
  ASSERT_TRUE(chunked->Encode(texts, params, &b).ok());
  EXPECT_EQ(a.rows, texts.size());
  EXPECT_LT(MaxDiff(a.f32, b.f32), 1e-5f);
  EXPECT_GT(chunked->batch_stats().batches, plain->batch_stats().batches);
}

}  // namespace
}  // namespace winnow::pipelines

namespace winnow::pipelines {
namespace {

// WINNOW_IO_BINDING=1: runs go through an IoBinding with pooled staging buffers (pinned on CUDA, ordinary memory
// here). Under ASan: growing buffers (batches of rising length), concurrent calls each with its own buffer set.
TEST_F(PipelineTest, IoBindingEqualsPlainRuns) {
  const auto owned = MakePairs(61);
  const auto pairs = Views(owned);
  auto plain = LoadCe(nullptr, ModelOptions::Toggle::kOff);
  setenv("WINNOW_IO_BINDING", "1", 1);
  auto bound = LoadCe("7", ModelOptions::Toggle::kOff);
  unsetenv("WINNOW_IO_BINDING");
  ASSERT_TRUE(plain && bound);
  EXPECT_STREQ(plain->session().io_binding(), "off");
  EXPECT_STREQ(bound->session().io_binding(), "host");
  std::vector<float> expected;
  ASSERT_TRUE(plain->Predict(pairs, &expected).ok());
  std::vector<std::vector<float>> results(3);
  std::vector<std::thread> callers;
  for (int t = 0; t < 3; ++t)
    callers.emplace_back([&, t] { EXPECT_TRUE(bound->Predict(pairs, &results[t]).ok()); });
  for (auto& c : callers) c.join();
  for (const auto& r : results) EXPECT_EQ(r, expected);  // the same kernels on the same inputs: bit for bit
}

// Paths users get wrong: an absolute `file` is taken as it is; a model file passed as the folder is named for what
// it is, with the folder to pass; a model without a classification head is refused by CrossEncoder at load.
TEST_F(PipelineTest, PathsAndHeadsAreCheckedAtLoad) {
  const std::string dir = kFixtures + "bert-ce-tiny";
  auto abs = loaders::ResolveOnnxFile(dir, dir + "/onnx/model_quantized.onnx");
  ASSERT_TRUE(abs.ok()) << abs.status().ToString();
  EXPECT_EQ(*abs, dir + "/onnx/model_quantized.onnx");
  auto rel = loaders::ResolveOnnxFile(dir, "model_quantized.onnx");
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ(*rel, dir + "/onnx/model_quantized.onnx");
  EXPECT_FALSE(loaders::ResolveOnnxFile(dir, dir + "/model_quantized.onnx").ok());  // taken as it is: not in onnx/

  const Status file = loaders::MissingModelFolder(dir + "/onnx/model_quantized.onnx");
  EXPECT_EQ(file.code(), codes::kModelNotFound);
  EXPECT_NE(file.message().find("is a file, not a model folder"), std::string::npos) << file.message();
  EXPECT_NE(file.message().find("(" + dir + ")"), std::string::npos) << file.message();
  EXPECT_NE(file.message().find("{ file: 'model_quantized.onnx' }"), std::string::npos) << file.message();
  const Status missing = loaders::MissingModelFolder(dir + "/no-such-folder");
  EXPECT_NE(missing.message().find("does not exist"), std::string::npos) << missing.message();

  CrossEncoderOptions o;
  o.dir = kFixtures + "e5-tiny";
  o.ort_library = OrtLibrary();
  o.session.intra_op_threads = 1;
  auto ce = CrossEncoder::Load(o);
  ASSERT_FALSE(ce.ok());
  EXPECT_EQ(ce.status().code(), codes::kOnnxInvalid);
  EXPECT_NE(ce.status().message().find("SentenceEncoder"), std::string::npos) << ce.status().message();
}

}  // namespace
}  // namespace winnow::pipelines
