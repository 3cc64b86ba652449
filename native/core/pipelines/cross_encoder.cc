#include "pipelines/cross_encoder.h"

#include <algorithm>
#include <cmath>

#include "loaders/model_folder.h"

namespace winnow::pipelines {

namespace {

// The most labels a classifier may have (num_labels, id2label, the graph's fixed count).
constexpr int64_t kMaxLabels = 1 << 20;

// sentence-transformers stores the activation as a class path, in config.json under
// "sentence_transformers.activation_fn" (v4+) or "sbert_ce_default_activation_function" (older).
// Either key present with another type than a string (an object for sentence_transformers) is kConfigInvalid.
StatusOr<std::optional<Activation>> ActivationFromConfig(const nlohmann::json& config, const std::string& file) {
  std::string name;
  auto st = config.find("sentence_transformers");
  if (st != config.end() && !st->is_null()) {
    if (!st->is_object())
      return Status(codes::kConfigInvalid, file + ": sentence_transformers must be an object, not " + loaders::JsonText(*st));
    WINNOW_ASSIGN_OR_RETURN(auto fn, loaders::GetString(*st, "activation_fn", file + ": sentence_transformers"));
    if (fn) name = *fn;
  }
  WINNOW_ASSIGN_OR_RETURN(auto old, loaders::GetString(config, "sbert_ce_default_activation_function", file));
  if (name.empty() && old) name = *old;
  if (name.empty()) return std::optional<Activation>();
  std::string cls = name.substr(name.rfind('.') == std::string::npos ? 0 : name.rfind('.') + 1);
  if (cls == "Sigmoid") return std::optional<Activation>(Activation::kSigmoid);
  if (cls == "Identity") return std::optional<Activation>(Activation::kNone);
  if (cls == "Softmax") return std::optional<Activation>(Activation::kSoftmax);
  return Status(codes::kConfigInvalid, file + ": activation function " + name +
                                           " is not supported; pass activation: 'sigmoid' | 'softmax' | 'none'");
}

void Activate(Activation a, float* row, size_t n) {
  switch (a) {
    case Activation::kNone:
      return;
    case Activation::kSigmoid:
      for (size_t i = 0; i < n; ++i) row[i] = 1.0f / (1.0f + std::exp(-row[i]));
      return;
    case Activation::kSoftmax: {
      float mx = row[0];
      for (size_t i = 1; i < n; ++i) mx = std::max(mx, row[i]);
      float sum = 0;
      for (size_t i = 0; i < n; ++i) sum += (row[i] = std::exp(row[i] - mx));
      for (size_t i = 0; i < n; ++i) row[i] /= sum;
      return;
    }
  }
}

}  // namespace

StatusOr<std::unique_ptr<CrossEncoder>> CrossEncoder::Load(const CrossEncoderOptions& options) {
  std::unique_ptr<CrossEncoder> m(new CrossEncoder());
  WINNOW_RETURN_IF_ERROR(m->LoadCommon(options));
  const std::string config_path = loaders::JoinPath(options.dir, "config.json");

  const auto& outs = m->session_->output_names();
  m->logits_name_ = m->session_->HasOutput("logits") ? "logits" : (outs.empty() ? "" : outs[0]);
  if (m->logits_name_.empty()) return Status(codes::kOnnxInvalid, m->session_->path() + " has no outputs");
  const auto logits_type = m->session_->OutputElementType(m->logits_name_);
  if (logits_type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT && logits_type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16)
    return Status(codes::kOnnxInvalid, m->session_->path() + ": output " + m->logits_name_ + " is " +
                                           rt::ElementTypeName(logits_type) + "; accepted: float32, float16");
  // A sequence classifier's logits are [batch, num_labels] ([batch] for one label). A per-token output (an
  // embedding model's last_hidden_state) is refused here, at load, rather than by the first predict.
  const std::optional<std::vector<int64_t>> shape = m->session_->OutputShape(m->logits_name_);
  const int64_t graph_labels = shape && shape->size() == 2 ? (*shape)[1] : (shape && shape->size() == 1 ? 1 : -1);
  if (shape && shape->size() > 2) {
    std::string dims;
    for (int64_t d : *shape) dims += (dims.empty() ? "" : ", ") + (d < 0 ? std::string("?") : std::to_string(d));
    return Status(codes::kOnnxInvalid, m->session_->path() + ": output " + m->logits_name_ + " is [" + dims +
                                           "], not a sequence classifier's [batch, num_labels] (an embedding model? "
                                           "load it with SentenceEncoder)");
  }

  // num_labels: explicit field, else the size of id2label (as transformers' PretrainedConfig does), else the
  // graph's fixed label count, else 2 (transformers' default).
  // Bounded: the scores of a call are pairs x num_labels floats (a graph with a fixed count is checked below).
  WINNOW_ASSIGN_OR_RETURN(auto num_labels,
                          loaders::GetIntInRange(m->config_, "num_labels", config_path, 1, kMaxLabels));
  bool labels_from_config = true;
  if (num_labels) {
    m->num_labels_ = static_cast<size_t>(*num_labels);
  } else if (auto it = m->config_.find("id2label"); it != m->config_.end() && it->is_object() && !it->empty()) {
    if (it->size() > kMaxLabels)
      return Status(codes::kConfigInvalid, config_path + ": id2label names " + std::to_string(it->size()) +
                                               " labels, more than " + std::to_string(kMaxLabels));
    m->num_labels_ = it->size();
  } else {
    labels_from_config = false;
    m->num_labels_ = graph_labels > 0 ? static_cast<size_t>(graph_labels) : 2;
    if (graph_labels > kMaxLabels)
      return Status(codes::kOnnxInvalid, m->session_->path() + ": output " + m->logits_name_ + " has " +
                                             std::to_string(graph_labels) + " labels, more than " +
                                             std::to_string(kMaxLabels));
  }
  if (m->num_labels_ == 0) return Status(codes::kConfigInvalid, config_path + ": num_labels must be positive");
  if (labels_from_config && graph_labels > 0 && static_cast<size_t>(graph_labels) != m->num_labels_) {
    return Status(codes::kOnnxInvalid, m->session_->path() + ": output " + m->logits_name_ + " has " +
                                           std::to_string(graph_labels) + " label(s) per pair where " + config_path +
                                           " names " + std::to_string(m->num_labels_));
  }

  if (options.activation.empty()) {
    WINNOW_ASSIGN_OR_RETURN(auto from_config, ActivationFromConfig(m->config_, config_path));
    m->activation_ = from_config ? *from_config : (m->num_labels_ == 1 ? Activation::kSigmoid : Activation::kNone);
  } else if (options.activation == "sigmoid") {
    m->activation_ = Activation::kSigmoid;
  } else if (options.activation == "softmax") {
    m->activation_ = Activation::kSoftmax;
  } else if (options.activation == "none") {
    m->activation_ = Activation::kNone;
  } else {
    return Status(codes::kInvalidArgument, "Expected 'sigmoid', 'softmax' or 'none' for activation but received '" +
                                               options.activation + "'");
  }

  return m;
}

Status CrossEncoder::EncodeQuery(std::string_view query, tok::Encoding* out) const {
  WINNOW_RETURN_IF_ERROR(tokenizer_->EncodeRaw(query, out));
  const size_t specials = tokenizer_->NumSpecialTokensToAdd(/*is_pair=*/true);
  if (out->size() + specials > max_length_) {
    return Status(codes::kQueryTooLong, "the query has " + std::to_string(out->size()) + " tokens; with " +
                                            std::to_string(specials) + " special tokens it exceeds maxLength " +
                                            std::to_string(max_length_) + " (queries are never truncated)");
  }
  return Status::Ok();
}

Status CrossEncoder::Predict(const std::vector<std::pair<std::string_view, std::string_view>>& pairs,
                             std::vector<float>* scores, const RunControl& control, const ScoreOptions& options) const {
  scores->assign(pairs.size() * num_labels_, 0.0f);
  return RunPairs(
      pairs, [this](std::string_view q, tok::Encoding* out) { return EncodeQuery(q, out); }, {logits_name_.c_str()},
      LogitsConsumer(scores, options.activation.value_or(activation_)), control);
}

Status CrossEncoder::Score(std::string_view query, const std::vector<std::string_view>& documents,
                           std::vector<float>* scores, const RunControl& control, const ScoreOptions& options) const {
  tok::Encoding q;
  WINNOW_RETURN_IF_ERROR(EncodeQuery(query, &q));
  const Activation activation = options.activation.value_or(activation_);
  if (options.chunk) return ScoreChunked(q, documents, scores, control, options, activation);
  scores->assign(documents.size() * num_labels_, 0.0f);
  return EncodeAndRun(
      documents.size(), [&](size_t i, tok::Encoding* out) { return EncodePair(q, documents[i], out); },
      {logits_name_.c_str()}, LogitsConsumer(scores, activation), control);
}

namespace {

// Tokens [begin, end) of a raw (not post-processed) encoding.
tok::Encoding SliceEncoding(const tok::Encoding& e, size_t begin, size_t end) {
  tok::Encoding out;
  auto take = [&](const auto& from, auto* to) {
    if (from.size() == e.size()) to->assign(from.begin() + begin, from.begin() + end);
  };
  take(e.ids, &out.ids);
  take(e.type_ids, &out.type_ids);
  take(e.special_tokens_mask, &out.special_tokens_mask);
  take(e.attention_mask, &out.attention_mask);
  take(e.offsets, &out.offsets);
  take(e.sequence_ids, &out.sequence_ids);
  return out;
}

}  // namespace

Status CrossEncoder::ScoreChunked(const tok::Encoding& q, const std::vector<std::string_view>& documents,
                                  std::vector<float>* scores, const RunControl& control, const ScoreOptions& options,
                                  Activation activation) const {
  // EncodeQuery made sure the query and the special tokens fit in max_length_.
  const size_t room = max_length_ - q.size() - tokenizer_->NumSpecialTokensToAdd(/*is_pair=*/true);
  if (options.overlap >= room) {
    return Status(codes::kInvalidArgument, "Expected an overlap below " + std::to_string(room) +
                                               " (the document tokens that fit beside this query in maxLength " +
                                               std::to_string(max_length_) + ") for chunk.overlap but received " +
                                               std::to_string(options.overlap));
  }
  const size_t n = documents.size();
  std::vector<tok::Encoding> raw(n);  // every document whole: its windows are cut from it
  std::vector<Status> errors(n);
  try {
    ParallelFor(pool_.get(), n, 16, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end && !control.cancelled(); ++i) errors[i] = tokenizer_->EncodeRaw(documents[i], &raw[i]);
    });
  } catch (const std::exception& e) {
    return Status(codes::kInternal, std::string("tokenization failed: ") + e.what());
  }
  if (control.cancelled()) return Cancelled();
  for (const Status& st : errors) WINNOW_RETURN_IF_ERROR(st);

  // Window w is tokens [windows[w].second, + room) of document windows[w].first; document d owns windows
  // [first[d], first[d + 1]). An empty document has one empty window, as it has one row unchunked.
  const size_t step = room - options.overlap;
  std::vector<std::pair<size_t, size_t>> windows;
  std::vector<size_t> first(n + 1);
  for (size_t d = 0; d < n; ++d) {
    first[d] = windows.size();
    for (size_t start = 0;; start += step) {
      windows.emplace_back(d, start);
      if (start + room >= raw[d].size()) break;
    }
  }
  first[n] = windows.size();
  std::vector<float> window_scores(windows.size() * num_labels_, 0.0f);  // [windows, num_labels]
  WINNOW_RETURN_IF_ERROR(EncodeAndRun(
      windows.size(),
      [&](size_t w, tok::Encoding* out) {
        const tok::Encoding& doc = raw[windows[w].first];
        const size_t begin = windows[w].second;
        tok::Encoding slice = SliceEncoding(doc, begin, std::min(doc.size(), begin + room));
        return tokenizer_->PostProcess(q, &slice, tok::EncodeOptions{}, out);
      },
      {logits_name_.c_str()}, LogitsConsumer(&window_scores, activation), control));

  scores->assign(n * num_labels_, 0.0f);
  for (size_t d = 0; d < n; ++d) {
    const size_t count = first[d + 1] - first[d];
    for (size_t l = 0; l < num_labels_; ++l) {
      const float* s = window_scores.data() + first[d] * num_labels_ + l;  // stride num_labels_
      float v = s[0];
      if (options.aggregate == ChunkAggregate::kMax) {
        for (size_t k = 1; k < count; ++k) v = std::max(v, s[k * num_labels_]);
      } else if (options.aggregate == ChunkAggregate::kMean) {
        double sum = 0;
        for (size_t k = 0; k < count; ++k) sum += s[k * num_labels_];
        v = static_cast<float>(sum / static_cast<double>(count));
      }
      (*scores)[d * num_labels_ + l] = v;
    }
  }
  return Status::Ok();
}

TransformerModel::ItemConsumer CrossEncoder::LogitsConsumer(std::vector<float>* scores, Activation activation) const {
  return [this, scores, activation](const size_t* items, const BatchTensors& t, std::vector<Ort::Value>& results) -> Status {
    const size_t rows = static_cast<size_t>(t.rows);
    std::vector<float> scratch;
    std::vector<int64_t> shape;
    const float* logits = nullptr;  // [batch, num_labels]
    WINNOW_RETURN_IF_ERROR(OutputAsFloat(results[0], logits_name_, &scratch, &logits, &shape));
    size_t elements = 1;
    for (int64_t d : shape) elements *= static_cast<size_t>(std::max<int64_t>(d, 0));
    if (elements != rows * num_labels_) {
      return Status(codes::kOnnxInvalid, "output " + logits_name_ + " has " + std::to_string(elements) + " values for " +
                                             std::to_string(rows) + " rows; expected [batch, " +
                                             std::to_string(num_labels_) + "]");
    }
    for (size_t r = 0; r < rows; ++r) {
      float* dst = scores->data() + items[r] * num_labels_;
      std::copy(logits + r * num_labels_, logits + (r + 1) * num_labels_, dst);
      Activate(activation, dst, num_labels_);
    }
    return Status::Ok();
  };
}

}  // namespace winnow::pipelines
