#include "pipelines/static_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
using winnow::pipelines::StaticEncodeOptions;
using winnow::pipelines::StaticModel;
using winnow::pipelines::StaticModelOptions;

namespace {

const std::string kFixtures = std::string(WINNOW_SOURCE_DIR) + "/test/fixtures/models/";

winnow::StatusOr<std::unique_ptr<StaticModel>> Load(const std::string& dir, int threads = 2) {
  StaticModelOptions o;
  o.dir = dir;
  o.threads = threads;
  return StaticModel::Load(o);
}

// A scratch model folder copied from potion-tiny, with files replaced or removed.
class TempModel {
 public:
  explicit TempModel(const std::string& from = "potion-tiny") {
    dir_ = fs::temp_directory_path() / ("winnow-sm-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const auto& e : fs::directory_iterator(kFixtures + from)) fs::copy(e.path(), dir_ / e.path().filename(), fs::copy_options::recursive);
  }
  ~TempModel() { fs::remove_all(dir_); }
  std::string dir() const { return dir_.string(); }
  void Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name, std::ios::binary) << content;
  }
  void Remove(const std::string& name) { fs::remove(dir_ / name); }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
};

// A safetensors file holding the given tensors (name, dtype, shape, raw bytes).
struct T {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};
std::string MakeSafetensors(const std::vector<T>& tensors) {
  std::string header = "{";
  size_t off = 0;
  std::string data;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const T& t = tensors[i];
    std::string shape;
    for (size_t j = 0; j < t.shape.size(); ++j) shape += (j ? "," : "") + std::to_string(t.shape[j]);
    header += (i ? "," : "") + std::string("\"") + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[" + shape +
              "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + t.bytes.size()) + "]}";
    off += t.bytes.size();
    data += t.bytes;
  }
  header += "}";
  uint64_t n = header.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);
  return out + header + data;
}
std::string Zeros(size_t n) { return std::string(n, '\0'); }

constexpr size_t kVocab = 29528;
constexpr size_t kDim = 16;

}  // namespace

TEST(StaticModelLoad, EveryDtypeAndLayoutLoads) {
  struct Case {
    const char* dir;
    const char* dtype;
    size_t rows;
    bool mapping;
    bool normalize;
  } cases[] = {{"potion-tiny", "float32", kVocab, false, true},   {"potion-tiny-f16", "float16", kVocab, false, true},
               {"potion-tiny-bf16", "bfloat16", kVocab, false, true}, {"potion-tiny-int8", "int8", kVocab, false, true},
               {"potion-tiny-vocabq", "float32", 512, true, true},  {"potion-tiny-st", "float32", kVocab, false, false}};
  std::vector<float> ref;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.dir);
    auto m = Load(kFixtures + c.dir);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_STREQ((*m)->dtype_name(), c.dtype);
    EXPECT_EQ((*m)->dim(), kDim);
    EXPECT_EQ((*m)->vocab_size(), kVocab);
    EXPECT_EQ((*m)->rows(), c.rows);
    EXPECT_EQ((*m)->has_mapping(), c.mapping);
    EXPECT_EQ((*m)->has_weights(), c.mapping);
    EXPECT_EQ((*m)->normalize(), c.normalize);
    std::vector<std::string_view> texts = {"the quick brown fox jumps over the lazy dog", "", "Ça va? 東京"};
    std::vector<float> out(texts.size() * kDim);
    ASSERT_TRUE((*m)->Encode(texts, StaticEncodeOptions{}, out.data()).ok());
    double norm = 0;
    for (size_t d = 0; d < kDim; ++d) norm += out[d] * out[d];
    if (c.normalize) EXPECT_NEAR(norm, 1.0, 1e-5);
    for (size_t d = 0; d < kDim; ++d) EXPECT_EQ(out[kDim + d], 0.0f);  // empty text: zeros
    if (std::string(c.dir) == "potion-tiny") ref = out;
    if (std::string(c.dir) == "potion-tiny-f16" || std::string(c.dir) == "potion-tiny-bf16") {
      double dot = 0;
      for (size_t d = 0; d < kDim; ++d) dot += out[d] * ref[d];
      EXPECT_GT(dot, 0.999);
    }
  }
}

TEST(StaticModelLoad, MedianTokenLengthAndCut) {
  auto m = Load(kFixtures + "potion-tiny");
  ASSERT_TRUE(m.ok());
  EXPECT_GE((*m)->median_token_length(), 1u);
  EXPECT_EQ(winnow::pipelines::Utf8PrefixBytes("aé東x", 3), 1u + 2u + 3u);
  EXPECT_EQ(winnow::pipelines::Utf8PrefixBytes("ab", 5), 2u);
  // maxLength cuts tokens: 2 tokens max means the mean of two rows.
  winnow::tok::Encoding enc;
  std::vector<int32_t> ids;
  ASSERT_TRUE((*m)->Tokenize("one two three four five six", 2, &enc, &ids).ok());
  EXPECT_EQ(ids.size(), 2u);
  ASSERT_TRUE((*m)->Tokenize("one two three four five six", 0, &enc, &ids).ok());
  EXPECT_EQ(ids.size(), 6u);
}

TEST(StaticModelLoad, ThreadsGiveTheSameResult) {
  auto one = Load(kFixtures + "potion-tiny", 1);
  auto four = Load(kFixtures + "potion-tiny", 4);
  ASSERT_TRUE(one.ok() && four.ok());
  std::vector<std::string> store;
  for (int i = 0; i < 500; ++i) store.push_back("text number " + std::to_string(i) + " with words " + std::to_string(i * 7));
  std::vector<std::string_view> texts(store.begin(), store.end());
  std::vector<float> a(texts.size() * kDim), b(texts.size() * kDim);
  StaticEncodeOptions opts;
  opts.batch_size = 7;
  ASSERT_TRUE((*one)->Encode(texts, opts, a.data()).ok());
  ASSERT_TRUE((*four)->Encode(texts, opts, b.data()).ok());
  EXPECT_EQ(a, b);
}

TEST(StaticModelLoad, MissingFolderAndFilesListPathsTried) {
  auto m = Load("/nonexistent/winnow");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), "MODEL_NOT_FOUND");

  TempModel t;
  t.Remove("model.safetensors");
  m = Load(t.dir());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), "MODEL_NOT_FOUND");
  EXPECT_NE(m.status().message().find(t.dir() + "/model.safetensors"), std::string::npos);
  EXPECT_NE(m.status().message().find(t.dir() + "/0_StaticEmbedding/model.safetensors"), std::string::npos);

  TempModel u;
  u.Remove("tokenizer.json");
  m = Load(u.dir());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), "MODEL_NOT_FOUND");
  EXPECT_NE(m.status().message().find("tokenizer.json"), std::string::npos);
}

TEST(StaticModelLoad, MalformedSafetensors) {
  TempModel t;
  t.Write("model.safetensors", "garbage");
  auto m = Load(t.dir());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), "SAFETENSORS_INVALID");

  t.Write("model.safetensors", MakeSafetensors({{"other", "F32", {2, 2}, Zeros(16)}}));
  m = Load(t.dir());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), "SAFETENSORS_INVALID");
  EXPECT_NE(m.status().message().find("other"), std::string::npos);

  t.Write("model.safetensors", MakeSafetensors({{"embeddings", "F32", {kVocab * kDim}, Zeros(kVocab * kDim * 4)}}));
  m = Load(t.dir());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), "SAFETENSORS_INVALID");

  t.Write("model.safetensors", MakeSafetensors({{"embeddings", "I32", {kVocab, kDim}, Zeros(kVocab * kDim * 4)}}));
  m = Load(t.dir());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), "SAFETENSORS_INVALID");
}

TEST(StaticModelLoad, ShapeMismatchesAreConfigInvalid) {
  TempModel t;
  // rows != tokenizer vocabulary
  t.Write("model.safetensors", MakeSafetensors({{"embeddings", "F32", {100, kDim}, Zeros(100 * kDim * 4)}}));
  auto m = Load(t.dir());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), "CONFIG_INVALID");
  // mapping length != vocabulary
  t.Write("model.safetensors", MakeSafetensors({{"embeddings", "F32", {8, kDim}, Zeros(8 * kDim * 4)},
                                                {"mapping", "I64", {10}, Zeros(80)}}));
  m = Load(t.dir());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), "CONFIG_INVALID");
  EXPECT_NE(m.status().message().find("mapping"), std::string::npos);
  // mapping entry outside the rows
  std::string mapping(kVocab * 8, '\0');
  int64_t big = 8;
  std::memcpy(mapping.data() + 8 * 5, &big, 8);
  t.Write("model.safetensors", MakeSafetensors({{"embeddings", "F32", {8, kDim}, Zeros(8 * kDim * 4)},
                                                {"mapping", "I64", {kVocab}, mapping}}));
  m = Load(t.dir());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), "CONFIG_INVALID");
  EXPECT_NE(m.status().message().find("mapping[5]"), std::string::npos);
  // weights length mismatch
  t.Write("model.safetensors", MakeSafetensors({{"embeddings", "F32", {kVocab, kDim}, Zeros(kVocab * kDim * 4)},
                                                {"weights", "F32", {kVocab - 1}, Zeros((kVocab - 1) * 4)}}));
  m = Load(t.dir());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), "CONFIG_INVALID");
  EXPECT_NE(m.status().message().find("weights"), std::string::npos);
  // dim != hidden_dim: the tensor's width wins, as in model2vec and model2vec-rs
  t.Write("model.safetensors", MakeSafetensors({{"embeddings", "F32", {kVocab, 8}, Zeros(kVocab * 8 * 4)}}));
  m = Load(t.dir());
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ((*m)->dim(), 8u);
}

TEST(StaticModelLoad, BadConfig) {
  TempModel t;
  t.Write("config.json", "{not json");
  auto m = Load(t.dir());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), "CONFIG_INVALID");
  t.Write("config.json", R"({"normalize": "yes"})");
  m = Load(t.dir());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), "CONFIG_INVALID");
  t.Write("config.json", R"({"normalize": false})");
  m = Load(t.dir());
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE((*m)->normalize());
  StaticModelOptions o;
  o.dir = t.dir();
  o.normalize = true;
  auto n = StaticModel::Load(o);
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE((*n)->normalize());
}

TEST(StaticModelLoad, CorruptTokenizer) {
  TempModel t;
  t.Write("tokenizer.json", "{}");
  auto m = Load(t.dir());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), "TOKENIZER_INVALID");
}
