#include "pipelines/pruning_encoder.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "builder/provence.h"
#include "loaders/model_folder.h"

namespace winnow::pipelines {

namespace {

constexpr const char* kRankingOutput = "ranking_logits";
constexpr const char* kPruningOutput = "pruning_logits";

// Appends tokens [from, to) of `src` to `dst` (every per-token vector the source has).
void AppendRange(const tok::Encoding& src, size_t from, size_t to, tok::Encoding* dst) {
  auto copy = [&](const auto& s, auto& d) {
    if (s.size() == src.size()) d.insert(d.end(), s.begin() + from, s.begin() + to);
  };
  copy(src.ids, dst->ids);
  copy(src.type_ids, dst->type_ids);
  copy(src.special_tokens_mask, dst->special_tokens_mask);
  copy(src.attention_mask, dst->attention_mask);
  copy(src.offsets, dst->offsets);
  copy(src.sequence_ids, dst->sequence_ids);
}

// Positions of the second sequence's tokens in a post-processed pair.
std::vector<size_t> SecondSequencePositions(const tok::Encoding& e) {
  std::vector<size_t> pos;
  for (size_t i = 0; i < e.sequence_ids.size(); ++i)
    if (e.sequence_ids[i] == 1) pos.push_back(i);
  return pos;
}

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

StatusOr<std::unique_ptr<PruningEncoder>> PruningEncoder::Load(const PruningEncoderOptions& options) {
  std::unique_ptr<PruningEncoder> m(new PruningEncoder());
  const std::string meta_path = loaders::JoinPath(options.dir, "winnow_pruning.json");
  ModelOptions common = options;
  double meta_threshold = -1;
  std::optional<int64_t> meta_max_length;
  std::string max_length_from;  // the file naming meta_max_length
  bool source_layout = false;   // an OpenProvence or sentence-transformers folder: the graph is built
  if (loaders::DirExists(options.dir)) {
    WINNOW_ASSIGN_OR_RETURN(auto meta, loaders::ReadOptionalJson(meta_path, codes::kConfigInvalid));
    if (meta) {
      auto t = meta->find("threshold");
      if (t != meta->end() && !t->is_null()) {
        if (!t->is_number() || t->get<double>() < 0 || t->get<double>() > 1)
          return Status(codes::kConfigInvalid, meta_path + ": threshold must be a number between 0 and 1");
        meta_threshold = t->get<double>();
      }
      // The file's max_length is the model's default, checked against the model's own maximum after LoadCommon:
      // a bad one is the folder's fault (kConfigInvalid), not the caller's.
      WINNOW_ASSIGN_OR_RETURN(meta_max_length, loaders::GetIntInRange(*meta, "max_length", meta_path, 1, INT32_MAX));
      max_length_from = meta_path;
      WINNOW_ASSIGN_OR_RETURN(auto model, loaders::GetString(*meta, "model", meta_path));
      if (common.file.empty() && model) {
        // ResolveOnnxFile looks for it in the folder, then in onnx/: both must stay inside the folder.
        WINNOW_RETURN_IF_ERROR(loaders::ConfigPath(options.dir, *model, meta_path + " model").status());
        if (!model->starts_with("onnx/"))
          WINNOW_RETURN_IF_ERROR(loaders::ConfigPath(options.dir, "onnx/" + *model, meta_path + " model").status());
        common.file = *model;
      }
    } else {
      WINNOW_RETURN_IF_ERROR(m->ReadSourceLayout(options.dir, &common, &meta_threshold, &meta_max_length,
                                                 &max_length_from));
      source_layout = true;
    }
  }
  WINNOW_RETURN_IF_ERROR(m->LoadCommon(common, builder::Task::kPruning));
  if (!m->head_dir_.empty()) m->source_ = "ranking_model/" + m->source_;
  if (options.max_length == 0 && meta_max_length) {
    size_t max_length = static_cast<size_t>(*meta_max_length);
    if (max_length > m->model_max_length_) {
      // A hub config's max_length above the model's own limit is capped (the model runs as far as it can).
      if (!source_layout)
        return Status(codes::kConfigInvalid, max_length_from + ": max_length " + std::to_string(*meta_max_length) +
                                                 " exceeds the model's maximum of " +
                                                 std::to_string(m->model_max_length_));
      max_length = m->model_max_length_;
    }
    m->max_length_ = max_length;
  }
  for (const char* name : {kRankingOutput, kPruningOutput}) {
    if (!m->session_->HasOutput(name))
      return Status(codes::kOnnxInvalid, m->session_->path() + " has no output named " + name +
                                             " (see docs/pruning-export.md for the ONNX contract)");
    const auto type = m->session_->OutputElementType(name);
    if (type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
      return Status(codes::kOnnxInvalid, m->session_->path() + ": output " + name + " is " +
                                             rt::ElementTypeName(type) + "; accepted: float32");
  }
  m->threshold_ = options.threshold >= 0 ? options.threshold
                  : meta_threshold >= 0  ? meta_threshold
                                         : builder::kProvenceDefaultThreshold;
  return m;
}

Status PruningEncoder::ReadSourceLayout(const std::string& dir, ModelOptions* common, double* threshold,
                                        std::optional<int64_t>* max_length, std::string* max_length_from) {
  // The graph is built from the checkpoint: an ONNX file such a folder may hold is not a pruning export.
  if (common->source == ModelOptions::Source::kAuto && common->file.empty())
    common->source = ModelOptions::Source::kCheckpoint;
  if (builder::IsSentenceTransformersPruningFolder(dir)) {
    // sentence-transformers PruningEncoder: the ranker is a Hugging Face folder of its own, the head beside it.
    const std::string st_path = loaders::JoinPath(dir, "pruning_encoder_config.json");
    const std::string ranker = loaders::JoinPath(dir, "ranking_model"), head = loaders::JoinPath(dir, "pruning_head");
    for (const std::string& d : {ranker, head})
      if (!loaders::DirExists(d))
        return Status(codes::kModelNotFound, "missing " + d + " (a sentence-transformers PruningEncoder folder holds "
                                                              "ranking_model/ and pruning_head/)");
    WINNOW_ASSIGN_OR_RETURN(auto st, loaders::ReadOptionalJson(st_path, codes::kConfigInvalid));
    const std::string head_path = loaders::JoinPath(head, "config.json");
    WINNOW_ASSIGN_OR_RETURN(auto head_config, loaders::ReadOptionalJson(head_path, codes::kConfigInvalid));
    const nlohmann::json* pruning_config = nullptr;
    if (st && st->contains("pruning_config")) pruning_config = &(*st)["pruning_config"];
    WINNOW_ASSIGN_OR_RETURN(*threshold, builder::PruningThreshold({st ? &*st : nullptr, pruning_config,
                                                                   head_config ? &*head_config : nullptr},
                                                                  {st_path, st_path + " pruning_config", head_path}));
    if (st) {
      WINNOW_ASSIGN_OR_RETURN(*max_length, loaders::GetIntInRange(*st, "max_length", st_path, 1, INT32_MAX));
    }
    *max_length_from = st_path;
    common->dir = ranker;
    head_dir_ = head;
    return Status::Ok();
  }
  const std::string config_path = loaders::JoinPath(dir, "config.json");
  WINNOW_ASSIGN_OR_RETURN(auto config, loaders::ReadOptionalJson(config_path, codes::kConfigInvalid));
  if (!config || !builder::IsProvenceConfig(*config))
    return Status(codes::kConfigInvalid,
                  dir + " is not a pruning reranker folder: it has no winnow_pruning.json (an ONNX export, see "
                        "scripts/pruning/export_pruning_onnx.py), its config.json is not an OpenProvence one "
                        "(model_type \"open_provence\"), and it has no pruning_encoder_config.json or ranking_model/ + "
                        "pruning_head/ (a sentence-transformers PruningEncoder)");
  // OpenProvence: the ranker under ranking_model.*, the head under pruning_head.*, in one checkpoint.
  const nlohmann::json* pruning_config = config->contains("pruning_config") ? &(*config)["pruning_config"] : nullptr;
  WINNOW_ASSIGN_OR_RETURN(*threshold, builder::PruningThreshold({&*config, pruning_config},
                                                                {config_path, config_path + " pruning_config"}));
  WINNOW_ASSIGN_OR_RETURN(*max_length, loaders::GetIntInRange(*config, "max_length", config_path, 1, INT32_MAX));
  *max_length_from = config_path;
  provence_ = true;
  return Status::Ok();
}

Status PruningEncoder::AddWeights(builder::Weights* weights) {
  const std::string name = builder::BuildOptions().pruning_head;
  if (!head_dir_.empty()) {
    WINNOW_ASSIGN_OR_RETURN(auto head, checkpoint::Checkpoint::Open(head_dir_));
    return builder::AddPruningHead(*head, "", 2, name, weights);
  }
  if (provence_) return builder::AddPruningHead(weights->checkpoint(), "pruning_head.", 2, name, weights);
  return Status::Ok();
}

Status PruningEncoder::EncodeQuery(std::string_view query, tok::Encoding* out) const {
  WINNOW_RETURN_IF_ERROR(tokenizer_->EncodeRaw(query, out));
  const size_t specials = tokenizer_->NumSpecialTokensToAdd(/*is_pair=*/true);
  if (out->size() + specials >= max_length_) {
    return Status(codes::kQueryTooLong, "the query has " + std::to_string(out->size()) + " tokens; with " +
                                            std::to_string(specials) + " special tokens it leaves no room for the document within maxLength " +
                                            std::to_string(max_length_) + " (queries are never truncated)");
  }
  return Status::Ok();
}

TransformerModel::ItemConsumer PruningEncoder::BlockConsumer(const std::vector<tok::Encoding>* blocks,
                                                            std::vector<float>* scores,
                                                            std::vector<std::vector<float>>* keep) const {
  return [=](const size_t* items, const BatchTensors& t, std::vector<Ort::Value>& results) -> Status {
    const size_t count = static_cast<size_t>(t.rows), seq = static_cast<size_t>(t.seq);
    auto rinfo = results[0].GetTensorTypeAndShapeInfo();
    if (rinfo.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || rinfo.GetElementCount() != count)
      return Status(codes::kOnnxInvalid, std::string("output ") + kRankingOutput + " must be float32 [batch, 1]");
    const float* ranking = results[0].GetTensorData<float>();  // [batch, 1]
    const float* pruning = nullptr;                            // [batch, seq, 2]
    if (keep) {
      auto pinfo = results[1].GetTensorTypeAndShapeInfo();
      if (pinfo.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || pinfo.GetElementCount() != count * seq * 2)
        return Status(codes::kOnnxInvalid, std::string("output ") + kPruningOutput + " must be float32 [batch, sequence, 2]");
      pruning = results[1].GetTensorData<float>();
    }
    for (size_t r = 0; r < count; ++r) {
      const size_t b = items[r];
      (*scores)[b] = Sigmoid(ranking[r]);
      if (!keep) continue;
      auto& k = (*keep)[b];
      k.resize((*blocks)[b].size());
      const float* row = pruning + r * seq * 2;
      for (size_t j = 0; j < k.size(); ++j) k[j] = Sigmoid(row[2 * j + 1] - row[2 * j]);  // softmax(...)[1]
    }
    return Status::Ok();
  };
}

Status PruningEncoder::Predict(const std::vector<std::pair<std::string_view, std::string_view>>& pairs,
                               std::vector<float>* scores, const RunControl& control) const {
  scores->assign(pairs.size(), 0.0f);
  return RunPairs(
      pairs, [this](std::string_view q, tok::Encoding* out) { return EncodeQuery(q, out); },
      {kRankingOutput}, BlockConsumer(nullptr, scores, nullptr), control);
}

Status PruningEncoder::Process(const std::vector<std::string_view>& queries, const std::vector<PruneInput>& inputs,
                               const PruneOptions& options, std::vector<PruneResult>* results,
                               const RunControl& control) const {
  const bool token_level = options.granularity == Granularity::kToken;
  const double threshold = options.threshold >= 0 ? options.threshold : token_level ? 0.5 : threshold_;
  const size_t specials = tokenizer_->NumSpecialTokensToAdd(/*is_pair=*/true);
  std::vector<tok::Encoding> q(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) WINNOW_RETURN_IF_ERROR(EncodeQuery(queries[i], &q[i]));

  results->assign(inputs.size(), PruneResult());
  std::vector<tok::Encoding> blocks;
  std::vector<size_t> block_doc;  // block -> input index
  // Sentence granularity: which second-sequence tokens of a block belong to which fragment.
  struct Fragment {
    size_t block, offset, len;  // token range [offset, offset + len) of the block's second sequence
  };
  std::vector<std::vector<std::vector<Fragment>>> fragments(inputs.size());  // [doc][sentence] -> fragments
  std::vector<std::vector<size_t>> sentence_tokens(inputs.size());
  tok::EncodeOptions no_trunc;
  tok::EncodeOptions trunc;
  trunc.truncation.max_length = max_length_;
  trunc.truncation.strategy = tok::TruncationStrategy::kOnlySecond;

  for (size_t d = 0; d < inputs.size(); ++d) {
    const PruneInput& in = inputs[d];
    if (in.query >= q.size()) return Status(codes::kInternal, "query index out of range");
    const tok::Encoding& qe = q[in.query];
    PruneResult& res = (*results)[d];
    if (token_level) {
      tok::Encoding de;
      WINNOW_RETURN_IF_ERROR(tokenizer_->EncodeRawForTruncation(in.text, max_length_, &de));
      if (de.size() == 0) continue;
      blocks.emplace_back();
      WINNOW_RETURN_IF_ERROR(tokenizer_->PostProcess(qe, &de, trunc, &blocks.back()));
      block_doc.push_back(d);
      continue;
    }
    std::vector<std::pair<size_t, size_t>> split;
    const auto& sentences = in.sentences ? *in.sentences : (split = SplitSentences(in.text, options.language));
    const size_t room = max_length_ - qe.size() - specials;  // > 0 by EncodeQuery
    res.sentences.resize(sentences.size());
    fragments[d].resize(sentences.size());
    sentence_tokens[d].resize(sentences.size());
    tok::Encoding concat;  // second sequence of the block being filled
    std::vector<std::pair<size_t, Fragment>> pending;  // (sentence, fragment) in the block being filled
    auto flush = [&]() -> Status {
      if (concat.size() == 0) return Status::Ok();
      const size_t b = blocks.size();
      blocks.emplace_back();
      WINNOW_RETURN_IF_ERROR(tokenizer_->PostProcess(qe, &concat, no_trunc, &blocks.back()));
      block_doc.push_back(d);
      for (auto& [s, f] : pending) {
        f.block = b;
        fragments[d][s].push_back(f);
      }
      pending.clear();
      concat = tok::Encoding();
      return Status::Ok();
    };
    for (size_t s = 0; s < sentences.size(); ++s) {
      const auto [begin, end] = sentences[s];
      res.sentences[s].begin = begin;
      res.sentences[s].end = end;
      tok::Encoding se;
      WINNOW_RETURN_IF_ERROR(tokenizer_->EncodeRaw(in.text.substr(begin, end - begin), &se));
      sentence_tokens[d][s] = se.size();
      for (size_t from = 0; from < se.size(); from += room) {
        const size_t len = std::min(room, se.size() - from);
        if (concat.size() + len > room) WINNOW_RETURN_IF_ERROR(flush());
        pending.push_back({s, Fragment{0, concat.size(), len}});
        AppendRange(se, from, from + len, &concat);
      }
    }
    WINNOW_RETURN_IF_ERROR(flush());
    if (control.cancelled()) return Cancelled();
  }

  std::vector<float> scores(blocks.size(), 0.0f);
  std::vector<std::vector<float>> keep(blocks.size());
  size_t done = 0;
  WINNOW_RETURN_IF_ERROR(RunEncodings(blocks, 0, blocks.size(), &done, {kRankingOutput, kPruningOutput},
                                      BlockConsumer(&blocks, &scores, &keep), control));

  for (size_t b = 0; b < blocks.size(); ++b) {
    PruneResult& res = (*results)[block_doc[b]];
    res.score = std::max(res.score, scores[b]);
  }
  auto add_span = [](PruneResult& res, size_t begin, size_t end) {
    if (!res.kept.empty() && res.kept.back().second == begin) res.kept.back().second = end;
    else res.kept.emplace_back(begin, end);
  };
  if (token_level) {
    for (size_t b = 0; b < blocks.size(); ++b) {
      PruneResult& res = (*results)[block_doc[b]];
      const auto pos = SecondSequencePositions(blocks[b]);
      res.tokens_total = pos.size();
      bool prev_kept = false;
      for (size_t p : pos) {
        const bool k = keep[b][p] > threshold;
        if (k) {
          ++res.tokens_kept;
          const auto [s, e] = blocks[b].offsets[p];
          if (prev_kept) res.kept.back().second = std::max<size_t>(res.kept.back().second, e);
          else res.kept.emplace_back(s, e);
        }
        prev_kept = k;
      }
    }
  } else {
    std::vector<std::vector<size_t>> positions(blocks.size());
    for (size_t b = 0; b < blocks.size(); ++b) positions[b] = SecondSequencePositions(blocks[b]);
    for (size_t d = 0; d < inputs.size(); ++d) {
      PruneResult& res = (*results)[d];
      for (size_t s = 0; s < res.sentences.size(); ++s) {
        SentenceResult& sr = res.sentences[s];
        const auto& frags = fragments[d][s];
        double sum = 0;
        for (const Fragment& f : frags) {
          const auto& pos = positions[f.block];
          if (f.offset + f.len > pos.size())
            return Status(codes::kInternal, "the post-processor did not keep the document tokens in place");
          double fs = 0;
          for (size_t t = f.offset; t < f.offset + f.len; ++t) fs += keep[f.block][pos[t]];
          sum += fs / static_cast<double>(f.len);
        }
        sr.probability = frags.empty() ? 0.0f : static_cast<float>(sum / static_cast<double>(frags.size()));
        sr.kept = !frags.empty() && sum / static_cast<double>(frags.size()) > threshold;
        res.tokens_total += sentence_tokens[d][s];
        if (sr.kept) {
          res.tokens_kept += sentence_tokens[d][s];
          add_span(res, sr.begin, sr.end);
        }
      }
    }
  }
  if (options.zero_score_when_empty)
    for (auto& res : *results)
      if (res.kept.empty()) res.score = 0;
  return Status::Ok();
}

}  // namespace winnow::pipelines
