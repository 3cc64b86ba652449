#include "pipelines/static_model.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

#include "common/half.h"
#include "common/thread_pool.h"
#include "loaders/model_folder.h"

namespace winnow::pipelines {

namespace {

using loaders::DirExists;
using loaders::MissingModelFolder;
using loaders::FileExists;
using loaders::JoinPath;

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

Status ConfigInvalid(const std::string& path, const std::string& what) {
  return Status(codes::kConfigInvalid, path + ": " + what);
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// A 1-D tensor of `vocab` entries converted to T (the file gives no alignment guarantee).
template <class T>
Status ReadVector(const TensorView& t, const std::string& file, size_t vocab, std::vector<T>* out) {
  if (t.shape.size() != 1 || static_cast<size_t>(t.shape[0]) != vocab)
    return ConfigInvalid(file, "tensor '" + t.name + "' has shape " + ShapeString(t.shape) + " but the tokenizer has " +
                                   std::to_string(vocab) + " tokens");
  out->resize(vocab);
  auto each = [&](auto tag) {
    using S = decltype(tag);
    for (size_t i = 0; i < vocab; ++i) {
      S v;
      std::memcpy(&v, t.data + i * sizeof(S), sizeof(S));
      (*out)[i] = static_cast<T>(v);
    }
  };
  switch (t.dtype) {
    case DType::kF32: each(float{}); break;
    case DType::kF64: each(double{}); break;
    case DType::kI64: each(int64_t{}); break;
    case DType::kI32: each(int32_t{}); break;
    case DType::kF16:
    case DType::kBF16:
      for (size_t i = 0; i < vocab; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + i * 2, 2);
        (*out)[i] = static_cast<T>(t.dtype == DType::kF16 ? HalfToFloat(h) : Bf16ToFloat(h));
      }
      break;
    default:
      return Status(codes::kSafetensorsInvalid,
                    file + ": tensor '" + t.name + "' has unsupported dtype " + DTypeName(t.dtype));
  }
  return Status::Ok();
}

// The first token id in tokenizer.json (model.vocab, a Unigram vocab's positions, added_tokens[].id) that is
// `limit` or more, with where it is: every id the tokenizer can give must address an embedding row, or every
// encode that meets the token would fail, blaming its caller. Read with a SAX pass that keeps no document.
class TokenIdScan : public nlohmann::json::json_sax_t {
 public:
  explicit TokenIdScan(uint64_t limit) : limit_(limit) {}
  std::optional<std::pair<std::string, uint64_t>> found;  // (where, id)

  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t v) override { return Id(v < 0 ? 0 : static_cast<uint64_t>(v)); }
  bool number_unsigned(number_unsigned_t v) override { return Id(v); }
  bool number_float(number_float_t, const string_t&) override { return Value(); }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(std::size_t) override { return Open(true); }
  bool start_array(std::size_t) override { return Open(false); }
  bool key(string_t& k) override {
    stack_.back().key = k;
    return true;
  }
  bool end_object() override { return Close(); }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  struct Frame {
    bool object;
    std::string key;  // the current key (objects)
    uint64_t index = 0;  // elements seen so far (arrays)
  };
  // Where the value about to be read sits: [..., "model", "vocab", <token>] or [..., "added_tokens", i, "id"].
  bool InVocabObject() const {
    const size_t n = stack_.size();
    return n == 3 && stack_[0].key == "model" && stack_[1].object && stack_[1].key == "vocab" && stack_[2].object;
  }
  bool InAddedId() const {
    const size_t n = stack_.size();
    return n == 3 && stack_[0].key == "added_tokens" && !stack_[1].object && stack_[2].object && stack_[2].key == "id";
  }
  bool Value() {
    Advance();
    return true;
  }
  bool Id(uint64_t id) {
    if (!found && id >= limit_) {
      if (InVocabObject()) found.emplace("model.vocab[\"" + stack_[2].key + "\"]", id);
      else if (InAddedId()) found.emplace("added_tokens[" + std::to_string(stack_[1].index) + "].id", id);
    }
    return Value();
  }
  bool Open(bool object) {
    // A Unigram vocab is a list of [token, score]: its ids are the positions.
    const size_t n = stack_.size();
    if (!found && n == 3 && stack_[0].key == "model" && stack_[1].object && stack_[1].key == "vocab" &&
        !stack_[2].object && stack_[2].index >= limit_)
      found.emplace("model.vocab[" + std::to_string(stack_.back().index) + "]", stack_.back().index);
    stack_.push_back(Frame{object, {}, 0});
    return true;
  }
  bool Close() {
    stack_.pop_back();
    return Value();
  }
  void Advance() {
    if (!stack_.empty() && !stack_.back().object) ++stack_.back().index;
  }
  uint64_t limit_;
  std::vector<Frame> stack_;
};

Status CheckTokenIds(const std::string& tokenizer_path, size_t vocab, const std::string& table_file) {
  WINNOW_ASSIGN_OR_RETURN(std::string text, loaders::ReadFile(tokenizer_path));
  TokenIdScan scan(vocab);
  nlohmann::json::sax_parse(text, &scan);  // the tokenizer has parsed this file already
  if (!scan.found) return Status::Ok();
  return Status(codes::kConfigInvalid,
                tokenizer_path + ": " + scan.found->first + " is token id " + std::to_string(scan.found->second) +
                    ", past the ids the embedding table of " + table_file + " addresses (0 to " +
                    std::to_string(vocab) + " - 1, one per token of the tokenizer): every text holding that "
                    "token would fail to encode");
}

struct Located {
  std::string tensors, tokenizer;
};

// Finds model.safetensors + tokenizer.json; kModelNotFound lists every path tried.
StatusOr<Located> Locate(const std::string& dir) {
  if (!DirExists(dir)) return MissingModelFolder(dir);
  std::vector<std::string> folders;
  const std::string modules_path = JoinPath(dir, "modules.json");
  if (FileExists(modules_path)) {
    WINNOW_ASSIGN_OR_RETURN(std::string text, loaders::ReadFile(modules_path));
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_array()) return ConfigInvalid(modules_path, "expected a JSON array of modules");
    for (const auto& m : j) {
      if (!m.is_object()) return ConfigInvalid(modules_path, "expected each module to be an object");
      auto type = m.find("type");
      auto path = m.find("path");
      if (type == m.end() || !type->is_string() || path == m.end() || !path->is_string()) continue;
      const std::string t = type->get<std::string>();
      if (t.ends_with("StaticEmbedding")) {
        std::string p = path->get<std::string>();
        WINNOW_RETURN_IF_ERROR(loaders::ConfigPath(dir, p, modules_path + " StaticEmbedding path").status());
        folders.push_back(p.empty() || p == "." ? dir : JoinPath(dir, p));
      }
    }
  }
  for (const std::string& f : {dir, JoinPath(dir, "0_StaticEmbedding")})
    if (std::find(folders.begin(), folders.end(), f) == folders.end()) folders.push_back(f);

  std::vector<std::string> tried;
  for (const auto& folder : folders) {
    std::string st = JoinPath(folder, "model.safetensors");
    tried.push_back(st);
    if (!FileExists(st)) continue;
    Located loc;
    loc.tensors = st;
    std::vector<std::string> tok_tried = {JoinPath(folder, "tokenizer.json")};
    if (folder != dir) tok_tried.push_back(JoinPath(dir, "tokenizer.json"));
    for (const auto& t : tok_tried)
      if (FileExists(t)) {
        loc.tokenizer = t;
        return loc;
      }
    std::string msg = "no tokenizer.json for " + st + "; tried:";
    for (const auto& t : tok_tried) msg += " " + t;
    return Status(codes::kModelNotFound, msg);
  }
  std::string msg = "no static embedding model in " + dir + "; tried:";
  for (const auto& p : tried) msg += " " + p;
  return Status(codes::kModelNotFound, msg);
}

}  // namespace

size_t Utf8PrefixBytes(std::string_view text, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (chars == max_chars) return i;
      ++chars;
    }
  }
  return text.size();
}

size_t MedianTokenLength(const tok::Tokenizer& tokenizer) {
  std::vector<size_t> lens;
  const size_t n = tokenizer.VocabSize();
  lens.reserve(n);
  for (size_t id = 0; id < n; ++id) {
    auto t = tokenizer.IdToToken(static_cast<int32_t>(id));
    if (t) lens.push_back(CodePoints(*t));
  }
  if (lens.empty()) return 1;
  std::sort(lens.begin(), lens.end());
  const size_t m = lens.size() / 2;
  // int(np.median(...)): the mean of the two middle values for an even count, truncated.
  return lens.size() % 2 ? lens[m] : (lens[m - 1] + lens[m]) / 2;
}

StaticModel::~StaticModel() = default;

const char* StaticModel::dtype_name() const {
  switch (table_.dtype) {
    case pooling::TableDType::kF32: return "float32";
    case pooling::TableDType::kF16: return "float16";
    case pooling::TableDType::kBF16: return "bfloat16";
    case pooling::TableDType::kI8: return "int8";
  }
  return "?";
}

StatusOr<std::unique_ptr<StaticModel>> StaticModel::Load(const StaticModelOptions& options) {
  WINNOW_ASSIGN_OR_RETURN(Located loc, Locate(options.dir));
  std::unique_ptr<StaticModel> m(new StaticModel());
  m->tensors_path_ = loc.tensors;
  m->tokenizer_path_ = loc.tokenizer;
  WINNOW_ASSIGN_OR_RETURN(m->tokenizer_, tok::Tokenizer::FromFile(loc.tokenizer));
  WINNOW_ASSIGN_OR_RETURN(m->tensors_, SafeTensors::Open(loc.tensors));
  const std::string& file = loc.tensors;

  const TensorView* emb = m->tensors_.Find("embeddings");
  if (!emb) emb = m->tensors_.Find("embedding.weight");
  if (!emb) {
    std::string names;
    for (const auto& t : m->tensors_.tensors()) names += (names.empty() ? "" : ", ") + t.name;
    return Status(codes::kSafetensorsInvalid, file + ": no tensor named 'embeddings' or 'embedding.weight' (found: " +
                                                  (names.empty() ? std::string("none") : names) + ")");
  }
  if (emb->shape.size() != 2 || emb->shape[0] <= 0 || emb->shape[1] <= 0)
    return Status(codes::kSafetensorsInvalid,
                  file + ": tensor '" + emb->name + "' must be 2-D [rows, dim], got " + ShapeString(emb->shape));
  pooling::TableView& table = m->table_;
  switch (emb->dtype) {
    case DType::kF32: table.dtype = pooling::TableDType::kF32; break;
    case DType::kF16: table.dtype = pooling::TableDType::kF16; break;
    case DType::kBF16: table.dtype = pooling::TableDType::kBF16; break;
    case DType::kI8: table.dtype = pooling::TableDType::kI8; break;
    default:
      return Status(codes::kSafetensorsInvalid, file + ": tensor '" + emb->name + "' has dtype " +
                                                    DTypeName(emb->dtype) + "; supported: F32, F16, BF16, I8");
  }
  table.data = emb->data;
  table.rows = static_cast<size_t>(emb->shape[0]);
  table.dim = static_cast<size_t>(emb->shape[1]);
  table.i8_scale = 1.0f;  // model2vec casts int8 rows to float as they are (no stored scale)

  const size_t vocab = m->tokenizer_->VocabSize();
  m->vocab_size_ = vocab;
  table.vocab = vocab;
  if (const TensorView* mapping = m->tensors_.Find("mapping")) {
    WINNOW_RETURN_IF_ERROR(ReadVector(*mapping, file, vocab, &m->mapping_));
    for (size_t i = 0; i < vocab; ++i)
      if (m->mapping_[i] < 0 || static_cast<size_t>(m->mapping_[i]) >= table.rows)
        return ConfigInvalid(file, "mapping[" + std::to_string(i) + "] = " + std::to_string(m->mapping_[i]) +
                                       " is outside the " + std::to_string(table.rows) + " embedding rows");
    table.mapping = m->mapping_.data();
  } else if (emb->name == "embedding.weight" ? table.rows < vocab : table.rows != vocab) {
    return ConfigInvalid(file, "tensor '" + emb->name + "' has " + std::to_string(table.rows) +
                                   " rows but the tokenizer has " + std::to_string(vocab) + " tokens");
  }
  WINNOW_RETURN_IF_ERROR(CheckTokenIds(loc.tokenizer, vocab, file));
  if (const TensorView* weights = m->tensors_.Find("weights")) {
    WINNOW_RETURN_IF_ERROR(ReadVector(*weights, file, vocab, &m->weights_));
    table.row_weights = m->weights_.data();
  }

  // config.json (model2vec) is optional: the sentence-transformers layout has none.
  const std::string config_path = JoinPath(options.dir, "config.json");
  WINNOW_ASSIGN_OR_RETURN(auto config, loaders::ReadOptionalJson(config_path, codes::kConfigInvalid));
  bool normalize = false;
  bool normalize_set = false;
  if (config) {
    auto it = config->find("normalize");
    if (it != config->end() && !it->is_null()) {
      if (!it->is_boolean()) return ConfigInvalid(config_path, "normalize must be a boolean");
      normalize = it->get<bool>();
      normalize_set = true;
    }
    // hidden_dim is not read: model2vec and model2vec-rs take the size from the tensor (their own test models
    // carry a hidden_dim that disagrees with it).
  }
  if (!normalize_set) {
    // No config flag: a sentence-transformers Normalize module means normalised output.
    const std::string modules_path = JoinPath(options.dir, "modules.json");
    if (FileExists(modules_path)) {
      WINNOW_ASSIGN_OR_RETURN(std::string text, loaders::ReadFile(modules_path));
      normalize = text.find("sentence_transformers.models.Normalize") != std::string::npos;
    }
  }
  m->normalize_ = options.normalize.value_or(normalize);
  m->unk_id_ = m->tokenizer_->UnkId();
  m->median_token_length_ = std::max<size_t>(1, MedianTokenLength(*m->tokenizer_));
  int threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  m->threads_ = std::max(1, threads);
  m->pool_ = std::make_unique<ThreadPool>(m->threads_ - 1);
  WINNOW_RETURN_IF_ERROR(m->pool_->Start());
  return m;
}

Status StaticModel::Tokenize(std::string_view text, size_t max_length, tok::Encoding* enc,
                             std::vector<int32_t>* ids) const {
  if (max_length > 0) text = text.substr(0, Utf8PrefixBytes(text, max_length * median_token_length_));
  WINNOW_RETURN_IF_ERROR(tokenizer_->EncodeRaw(text, enc));
  ids->clear();
  for (int32_t id : enc->ids) {
    if (unk_id_ && id == *unk_id_) continue;
    ids->push_back(id);
    if (max_length > 0 && ids->size() == max_length) break;
  }
  return Status::Ok();
}

template <class Fn>
Status StaticModel::ParallelChunks(size_t n, const StaticEncodeOptions& opts, const RunControl& control, Fn fn) const {
  if (n == 0) return Status::Ok();
  const size_t workers = opts.single_thread ? 1 : static_cast<size_t>(threads_);
  const size_t per_worker = (n + workers - 1) / workers;
  const size_t chunk = std::max<size_t>(1, std::min(opts.batch_size ? opts.batch_size : n, per_worker));
  const size_t chunks = (n + chunk - 1) / chunk;
  std::atomic<size_t> next{0}, done{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status first_error;
  auto work = [&](int) {
    tok::Encoding enc;
    std::vector<int32_t> ids;
    for (;;) {
      if (failed.load(std::memory_order_relaxed)) return;
      const size_t c = next.fetch_add(1);
      if (c >= chunks) return;
      Status st = control.cancelled() ? Cancelled() : Status::Ok();
      const size_t begin = c * chunk, end = std::min(n, begin + chunk);
      if (st.ok()) st = fn(begin, end, &enc, &ids);
      if (!st.ok()) {
        std::lock_guard<std::mutex> lk(mu);
        if (first_error.ok()) first_error = st;
        failed = true;
        return;
      }
      if (control.progress) {
        // Counted and sent under one lock, so the events arrive in increasing order (two workers counting
        // first and sending after could deliver 368 after 388, and the last event would not be the total).
        std::lock_guard<std::mutex> lk(mu);
        control.progress(done.fetch_add(end - begin) + (end - begin), n);
      } else {
        done.fetch_add(end - begin);
      }
    }
  };
  if (workers == 1 || chunks == 1 || !pool_->TryRun(std::function<void(int)>(work))) work(0);
  return first_error;
}

Status StaticModel::Encode(const std::vector<std::string_view>& texts, const StaticEncodeOptions& opts, float* out,
                           const RunControl& control) const {
  const size_t dim = table_.dim;
  return ParallelChunks(texts.size(), opts, control,
                        [&](size_t b, size_t e, tok::Encoding* enc, std::vector<int32_t>* ids) -> Status {
                          for (size_t i = b; i < e; ++i) {
                            WINNOW_RETURN_IF_ERROR(Tokenize(texts[i], opts.max_length, enc, ids));
                            WINNOW_RETURN_IF_ERROR(
                                pooling::EmbeddingBag(table_, ids->data(), ids->size(), out + i * dim, normalize_));
                          }
                          return Status::Ok();
                        });
}

Status StaticModel::EncodeAsSequence(const std::vector<std::string_view>& texts, const StaticEncodeOptions& opts,
                                     std::vector<std::vector<float>>* out, const RunControl& control) const {
  const size_t dim = table_.dim;
  out->assign(texts.size(), {});
  return ParallelChunks(texts.size(), opts, control,
                        [&](size_t b, size_t e, tok::Encoding* enc, std::vector<int32_t>* ids) -> Status {
                          for (size_t i = b; i < e; ++i) {
                            WINNOW_RETURN_IF_ERROR(Tokenize(texts[i], opts.max_length, enc, ids));
                            auto& rows = (*out)[i];
                            rows.resize(ids->size() * dim);
                            for (size_t t = 0; t < ids->size(); ++t)
                              WINNOW_RETURN_IF_ERROR(
                                  pooling::EmbeddingBag(table_, ids->data() + t, 1, rows.data() + t * dim, false));
                          }
                          return Status::Ok();
                        });
}

Status StaticModel::CountTokens(const std::vector<std::string_view>& texts, const StaticEncodeOptions& opts,
                                std::vector<uint32_t>* counts, const RunControl& control) const {
  counts->assign(texts.size(), 0);
  return ParallelChunks(texts.size(), opts, control,
                        [&](size_t b, size_t e, tok::Encoding* enc, std::vector<int32_t>* ids) -> Status {
                          for (size_t i = b; i < e; ++i) {
                            WINNOW_RETURN_IF_ERROR(Tokenize(texts[i], opts.max_length, enc, ids));
                            (*counts)[i] = static_cast<uint32_t>(ids->size());
                          }
                          return Status::Ok();
                        });
}

}  // namespace winnow::pipelines
