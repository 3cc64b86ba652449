#include "pipelines/sentence_encoder.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "loaders/model_folder.h"
#include "pooling/quantize.h"
#include "tokenizer/unicode.h"

namespace winnow::pipelines {

using loaders::JoinPath;

namespace {

std::string ClassName(const std::string& type) {
  const size_t dot = type.rfind('.');
  return dot == std::string::npos ? type : type.substr(dot + 1);
}

StatusOr<bool> GetBoolField(const nlohmann::json& j, const char* key, bool fallback, const std::string& file) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) return Status(codes::kConfigInvalid, file + ": " + key + " must be a boolean");
  return it->get<bool>();
}

// Python's str.lower() (per code point; the Greek final-sigma rule aside).
std::string Lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    int len = 1;
    const uint32_t cp = tok::unicode::Decode(s, i, &len);
    uint32_t low[3];
    const int n = tok::unicode::ToLower(cp, low);
    for (int k = 0; k < n; ++k) tok::unicode::Append(low[k], &out);
    i += static_cast<size_t>(len);
  }
  return out;
}

}  // namespace

StatusOr<std::unique_ptr<SentenceEncoder>> SentenceEncoder::Load(const SentenceEncoderOptions& options) {
  std::unique_ptr<SentenceEncoder> m(new SentenceEncoder());
  WINNOW_RETURN_IF_ERROR(m->LoadCommon(options, builder::Task::kFeatureExtraction));
  WINNOW_RETURN_IF_ERROR(m->LoadModules());
  WINNOW_RETURN_IF_ERROR(m->ProbeDim());
  return m;
}

Status SentenceEncoder::LoadModules() {
  const std::string& dir = options_.dir;
  const bool graph_pools = session_->HasOutput("sentence_embedding");
  if (graph_pools) {
    output_name_ = "sentence_embedding";
  } else if (session_->HasOutput("last_hidden_state")) {
    output_name_ = "last_hidden_state";
  } else if (session_->HasOutput("token_embeddings")) {
    output_name_ = "token_embeddings";
  } else if (!session_->output_names().empty()) {
    output_name_ = session_->output_names()[0];
  } else {
    return Status(codes::kOnnxInvalid, session_->path() + " has no outputs");
  }
  const auto output_type = session_->OutputElementType(output_name_);
  if (output_type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
    return Status(codes::kOnnxInvalid, session_->path() + ": output " + output_name_ + " is " +
                                           rt::ElementTypeName(output_type) + "; accepted: float32");

  // modules.json: Transformer, Pooling, Normalize. Without it the folder is a plain transformer
  // (sentence-transformers then adds mean pooling and no Normalize).
  const std::string modules_path = JoinPath(dir, "modules.json");
  std::string pooling_dir = "1_Pooling";
  if (loaders::FileExists(modules_path)) {
    WINNOW_ASSIGN_OR_RETURN(std::string text, loaders::ReadFile(modules_path));
    const nlohmann::json modules = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!modules.is_array()) return Status(codes::kConfigInvalid, modules_path + ": expected a JSON array of modules");
    for (const auto& mod : modules) {
      if (!mod.is_object() || !mod.contains("type") || !mod["type"].is_string())
        return Status(codes::kConfigInvalid, modules_path + ": every module needs a string \"type\"");
      const std::string type = ClassName(mod["type"].get<std::string>());
      if (type == "Transformer") continue;
      if (type == "Pooling") {
        // The folder of the Pooling module's config.json: named by the file, so it must stay inside the folder.
        if (!mod.contains("path") || !mod["path"].is_string())
          return Status(codes::kConfigInvalid, modules_path + ": the Pooling module needs a string \"path\"");
        const std::string path = mod["path"].get<std::string>();
        WINNOW_RETURN_IF_ERROR(loaders::ConfigPath(dir, path, modules_path + " Pooling path").status());
        pooling_dir = path;
      } else if (type == "Normalize") {
        normalize_ = true;
      } else if (!graph_pools) {
        return Status(codes::kConfigInvalid, modules_path + ": module " + mod["type"].get<std::string>() +
                                                 " is not supported; export the model with it inside the ONNX "
                                                 "graph (output sentence_embedding)");
      }
    }
  }

  // 1_Pooling/config.json; missing: mean pooling.
  const std::string pooling_path = JoinPath(JoinPath(dir, pooling_dir), "config.json");
  WINNOW_ASSIGN_OR_RETURN(auto pooling, loaders::ReadOptionalJson(pooling_path, codes::kConfigInvalid));
  if (pooling) {
    if (!pooling->is_object()) return Status(codes::kConfigInvalid, pooling_path + ": expected an object");
    pooling_from_config_ = true;
    // sentence-transformers' concatenation order.
    const std::pair<const char*, Mode> flags[] = {
        {"pooling_mode_cls_token", Mode::kCls},
        {"pooling_mode_max_tokens", Mode::kMax},
        {"pooling_mode_mean_tokens", Mode::kMean},
        {"pooling_mode_mean_sqrt_len_tokens", Mode::kMeanSqrtLen},
        {"pooling_mode_weightedmean_tokens", Mode::kWeightedMean},
        {"pooling_mode_lasttoken", Mode::kLastToken},
    };
    for (const auto& [key, mode] : flags) {
      WINNOW_ASSIGN_OR_RETURN(bool on, GetBoolField(*pooling, key, false, pooling_path));
      if (on) modes_.push_back(mode);
    }
    WINNOW_ASSIGN_OR_RETURN(include_prompt_, GetBoolField(*pooling, "include_prompt", true, pooling_path));
    if (modes_.empty() && !graph_pools)
      return Status(codes::kConfigInvalid, pooling_path + ": no pooling_mode_* is true");
  } else {
    modes_ = {Mode::kMean};
  }
  if (graph_pools) modes_.clear();

  // sentence_bert_config.json: max_seq_length (the default maxLength), do_lower_case.
  const std::string sbert_path = JoinPath(dir, "sentence_bert_config.json");
  WINNOW_ASSIGN_OR_RETURN(auto sbert, loaders::ReadOptionalJson(sbert_path, codes::kConfigInvalid));
  if (sbert && sbert->is_object()) {
    WINNOW_ASSIGN_OR_RETURN(auto max_seq, loaders::GetIntInRange(*sbert, "max_seq_length", sbert_path, 1, INT32_MAX));
    if (max_seq && options_.max_length == 0)
      max_length_ = std::min(model_max_length_, static_cast<size_t>(*max_seq));
    WINNOW_ASSIGN_OR_RETURN(lower_case_, GetBoolField(*sbert, "do_lower_case", false, sbert_path));
  }

  // config_sentence_transformers.json: prompts, default_prompt_name, similarity_fn_name.
  const std::string st_path = JoinPath(dir, "config_sentence_transformers.json");
  WINNOW_ASSIGN_OR_RETURN(auto st, loaders::ReadOptionalJson(st_path, codes::kConfigInvalid));
  if (st && st->is_object()) {
    if (auto it = st->find("prompts"); it != st->end() && !it->is_null()) {
      if (!it->is_object()) return Status(codes::kConfigInvalid, st_path + ": prompts must be an object");
      for (const auto& [name, value] : it->items()) {
        if (!value.is_string()) return Status(codes::kConfigInvalid, st_path + ": prompts." + name + " must be a string");
        prompts_[name] = value.get<std::string>();
      }
    }
    WINNOW_ASSIGN_OR_RETURN(auto def, loaders::GetString(*st, "default_prompt_name", st_path));
    if (def) {
      if (!prompts_.count(*def))
        return Status(codes::kConfigInvalid, st_path + ": default_prompt_name " + *def + " is not in prompts");
      default_prompt_name_ = *def;
    }
    // sentence-transformers' SimilarityFunction values; absent or null: cosine, as it defaults.
    WINNOW_ASSIGN_OR_RETURN(auto sim, loaders::GetString(*st, "similarity_fn_name", st_path));
    if (sim) {
      if (*sim != "cosine" && *sim != "dot" && *sim != "euclidean" && *sim != "manhattan")
        return Status(codes::kConfigInvalid, st_path + ": similarity_fn_name " + *sim +
                                                 " is not one of cosine, dot, euclidean, manhattan");
      similarity_fn_name_ = *sim;
    }
  }
  return Status::Ok();
}

// Runs one short input to learn the output's shape (the embedding size).
Status SentenceEncoder::ProbeDim() {
  tok::Encoding e;
  WINNOW_RETURN_IF_ERROR(tokenizer_->Encode("a", nullptr, tok::EncodeOptions{}, &e));
  BatchTensors t;
  FillBatch({&e}, e.size(), &t);
  std::vector<Ort::Value> results;
  WINNOW_RETURN_IF_ERROR(RunBatch(t, {output_name_.c_str()}, &results));
  auto info = results[0].GetTensorTypeAndShapeInfo();
  const auto shape = info.GetShape();
  const size_t want_rank = modes_.empty() ? 2 : 3;
  // [batch, labels] where per-token states are needed: a sequence classifier (the reverse of CrossEncoder's check).
  if (want_rank == 3 && shape.size() == 2) {
    return Status(codes::kOnnxInvalid, session_->path() + ": output " + output_name_ + " is [batch, " +
                                           std::to_string(shape.back()) +
                                           "], a sequence classifier's scores, not per-token states (a cross-encoder? "
                                           "load it with CrossEncoder)");
  }
  if (info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || shape.size() != want_rank || shape.back() <= 0) {
    return Status(codes::kOnnxInvalid, session_->path() + ": output " + output_name_ + " must be float32 " +
                                           (modes_.empty() ? "[batch, dim]" : "[batch, seq, dim]"));
  }
  hidden_ = static_cast<size_t>(shape.back());
  dim_ = modes_.empty() ? hidden_ : hidden_ * modes_.size();
  return Status::Ok();
}

std::string SentenceEncoder::pooling_name() const {
  if (modes_.empty()) return "graph";
  std::string s;
  for (Mode m : modes_) {
    if (!s.empty()) s += '+';
    switch (m) {
      case Mode::kCls: s += "cls"; break;
      case Mode::kMax: s += "max"; break;
      case Mode::kMean: s += "mean"; break;
      case Mode::kMeanSqrtLen: s += "mean_sqrt_len"; break;
      case Mode::kWeightedMean: s += "weightedmean"; break;
      case Mode::kLastToken: s += "lasttoken"; break;
    }
  }
  return s;
}

StatusOr<std::string> SentenceEncoder::ResolvePrompt(const std::optional<std::string>& prompt) const {
  if (!prompt) return default_prompt_name_.empty() ? std::string() : prompts_.at(default_prompt_name_);
  auto it = prompts_.find(*prompt);
  return it != prompts_.end() ? it->second : *prompt;
}

std::string SentenceEncoder::Prepare(std::string_view prompt, std::string_view text) const {
  std::string s;
  s.reserve(prompt.size() + text.size());
  s.append(prompt).append(text);
  return lower_case_ ? Lower(s) : s;
}

Status SentenceEncoder::PoolBatch(const BatchTensors& t, std::vector<Ort::Value>& results, size_t prompt_length,
                                  float* out) const {
  auto info = results[0].GetTensorTypeAndShapeInfo();
  const size_t rows = static_cast<size_t>(t.rows), seq = static_cast<size_t>(t.seq);
  const size_t expect = modes_.empty() ? rows * dim_ : rows * seq * hidden_;
  if (info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || info.GetElementCount() != expect) {
    return Status(codes::kOnnxInvalid, "output " + output_name_ + " has " + std::to_string(info.GetElementCount()) +
                                           " values for " + std::to_string(rows) + " rows of " + std::to_string(seq) +
                                           " tokens; expected " + std::to_string(expect) + " float32 values");
  }
  const float* data = results[0].GetTensorData<float>();
  if (modes_.empty()) {  // [rows, dim]: the graph pooled already
    std::copy(data, data + rows * dim_, out);
    return Status::Ok();
  }
  // [rows, seq, hidden]. The pooling mask drops the prompt's tokens (and [CLS]) when include_prompt
  // is false, as sentence-transformers' Pooling does with prompt_length.
  std::vector<int64_t> mask(t.attention_mask);
  if (prompt_length > 0) {
    for (size_t r = 0; r < rows; ++r)
      std::fill_n(mask.begin() + r * seq, std::min(prompt_length, seq), int64_t{0});
  }
  std::vector<float> pooled(rows * hidden_);
  for (size_t k = 0; k < modes_.size(); ++k) {
    pooling::PoolMode pm = pooling::PoolMode::kMean;
    switch (modes_[k]) {
      case Mode::kCls: pm = pooling::PoolMode::kCls; break;
      case Mode::kMax: pm = pooling::PoolMode::kMax; break;
      case Mode::kMean:
      case Mode::kMeanSqrtLen: pm = pooling::PoolMode::kMean; break;
      case Mode::kWeightedMean: pm = pooling::PoolMode::kWeightedMean; break;
      case Mode::kLastToken: pm = pooling::PoolMode::kLastToken; break;
    }
    WINNOW_RETURN_IF_ERROR(pooling::PoolHidden(data, mask.data(), rows, seq, hidden_, pm, pooled.data()));
    for (size_t r = 0; r < rows; ++r) {
      float scale = 1.0f;
      if (modes_[k] == Mode::kMeanSqrtLen) {  // sum / sqrt(count) = mean * sqrt(count)
        int64_t count = 0;
        for (size_t i = 0; i < seq; ++i) count += mask[r * seq + i] != 0;
        scale = std::sqrt(static_cast<float>(count));
      }
      float* dst = out + r * dim_ + k * hidden_;
      const float* src = pooled.data() + r * hidden_;
      for (size_t j = 0; j < hidden_; ++j) dst[j] = src[j] * scale;
    }
  }
  return Status::Ok();
}

Status SentenceEncoder::Encode(const std::vector<std::string_view>& texts, const EncodeParams& params,
                               EncodeResult* out, const RunControl& control) const {
  const size_t n = texts.size();
  const size_t dims = params.dimensions ? params.dimensions : dim_;
  if (dims > dim_) {
    return Status(codes::kInvalidArgument, "dimensions " + std::to_string(dims) +
                                               " exceeds the model's embedding size " + std::to_string(dim_));
  }
  const bool eight_bit = params.precision == Precision::kInt8 || params.precision == Precision::kUint8;
  if (!params.ranges.empty() && (!eight_bit || params.ranges.size() != 2 * dims)) {
    return Status(codes::kInvalidArgument, "ranges needs 2 × " + std::to_string(dims) +
                                               " values (mins, then maxes) and precision 'int8' or 'uint8'");
  }
  WINNOW_ASSIGN_OR_RETURN(const std::string prompt, ResolvePrompt(params.prompt));

  tok::EncodeOptions opts;
  opts.truncation.max_length = max_length_;
  size_t prompt_length = 0;
  if (!include_prompt_ && !prompt.empty() && !modes_.empty()) {
    tok::Encoding p;  // sentence-transformers: len(tokenize(prompt)) - 1, i.e. [CLS] + the prompt's tokens
    WINNOW_RETURN_IF_ERROR(tokenizer_->Encode(Prepare(prompt, ""), nullptr, opts, &p));
    prompt_length = p.size() > 0 ? p.size() - 1 : 0;
  }

  std::vector<float> full(n * dim_);
  std::vector<float> emb;
  WINNOW_RETURN_IF_ERROR(EncodeAndRun(
      n, [&](size_t i, tok::Encoding* out) { return tokenizer_->Encode(Prepare(prompt, texts[i]), nullptr, opts, out); },
      {output_name_.c_str()},
      [&](const size_t* items, const BatchTensors& t, std::vector<Ort::Value>& results) -> Status {
        const size_t count = static_cast<size_t>(t.rows);
        emb.resize(count * dim_);
        WINNOW_RETURN_IF_ERROR(PoolBatch(t, results, prompt_length, emb.data()));
        for (size_t r = 0; r < count; ++r)
          std::copy(emb.data() + r * dim_, emb.data() + (r + 1) * dim_, full.data() + items[r] * dim_);
        return Status::Ok();
      },
      control));

  // Matryoshka truncation, then Normalize (so truncated vectors are unit length again).
  if (dims < dim_) {
    for (size_t r = 0; r < n; ++r) std::copy_n(full.data() + r * dim_, dims, full.data() + r * dims);
    full.resize(n * dims);
  }
  if (params.normalize.value_or(normalize_)) pooling::L2NormalizeRows(full.data(), n, dims);

  out->rows = n;
  out->dim = dims;
  out->f32.clear();
  out->i8.clear();
  out->u8.clear();
  const float* ranges = params.ranges.empty() ? nullptr : params.ranges.data();
  switch (params.precision) {
    case Precision::kFloat32:
      out->f32 = std::move(full);
      break;
    case Precision::kInt8:
      out->i8.resize(n * dims);
      WINNOW_RETURN_IF_ERROR(pooling::QuantizeInt8(full.data(), n, dims, ranges, out->i8.data()));
      break;
    case Precision::kUint8:
      out->u8.resize(n * dims);
      WINNOW_RETURN_IF_ERROR(pooling::QuantizeUint8(full.data(), n, dims, ranges, out->u8.data()));
      break;
    case Precision::kBinary:
      out->dim = pooling::BinaryRowBytes(dims);
      out->i8.resize(n * out->dim);
      pooling::QuantizeBinary(full.data(), n, dims, out->i8.data());
      break;
    case Precision::kUbinary:
      out->dim = pooling::BinaryRowBytes(dims);
      out->u8.resize(n * out->dim);
      pooling::QuantizeUbinary(full.data(), n, dims, out->u8.data());
      break;
  }
  return Status::Ok();
}

}  // namespace winnow::pipelines
