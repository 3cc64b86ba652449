#include "pipelines/transformer_model.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <system_error>
#include <thread>

#include "attention/attention_bf16.h"
#include "batching/batcher.h"
#include "builder/lora.h"
#include "builder/provence.h"
#include "common/half.h"
#include "loaders/model_folder.h"
#include "tokenizer/slow/folder.h"

namespace winnow::pipelines {

using loaders::JoinPath;

namespace {

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

}  // namespace

LoadEnvironment LoadEnvironment::Read() {
  LoadEnvironment e;
  if (const char* v = Env("WINNOW_IO_BINDING")) e.io_binding = std::string(v) == "1";
  if (const char* v = Env("WINNOW_WEIGHTS_IN_PLACE")) {
    e.weights_in_place = std::string(v) != "0";
    e.weights_in_place_cuda = std::string(v) == "cuda";
  }
  if (const char* v = Env("WINNOW_TEST_ATTENTION_AUTO_WIDTH")) e.auto_attention_max_width = std::atoll(v);
  if (const char* v = Env("WINNOW_ATTENTION_PACK_QKV")) e.pack_qkv = std::string(v) != "0";
  if (const char* v = Env("WINNOW_PROFILE")) e.profile_prefix = v;
  if (const char* v = Env("WINNOW_EXACT_LAYER_NORM")) e.inexact_norms = std::string(v) == "0";
  if (const char* v = Env("WINNOW_ATTENTION_BF16")) e.bf16_attention = std::string(v) == "1";
  if (const char* v = Env("WINNOW_TEST_ATTENTION_SCALE")) e.test_attention_scale = std::strtof(v, nullptr);
  if (const char* v = Env("WINNOW_TEST_OOM_ABOVE_ROWS")) e.inject_oom_above_rows = std::atoll(v);
  if (const char* v = Env("WINNOW_TEST_CHUNK_ITEMS"); v && std::atoll(v) > 0) e.chunk_items = static_cast<size_t>(std::atoll(v));
  if (const char* v = Env("WINNOW_TEST_OVERLAP")) e.overlap_tokenization = std::string(v) == "1";
  return e;
}

void LoadEnvironment::ApplyTo(rt::SessionConfig* c) const {
  if (io_binding) c->io_binding = *io_binding;
  if (weights_in_place) c->weights_in_place = *weights_in_place;
  if (weights_in_place_cuda) c->weights_in_place_cuda = *weights_in_place_cuda;
  if (auto_attention_max_width) c->auto_attention_max_width = *auto_attention_max_width;
  if (pack_qkv) c->pack_qkv = *pack_qkv;
  if (!profile_prefix.empty()) c->profile_prefix = profile_prefix;
  if (inexact_norms) c->inexact_norms = *inexact_norms;
  if (bf16_attention) c->bf16_attention = *bf16_attention;
  if (test_attention_scale) c->test_attention_scale = *test_attention_scale;
}

Status TransformerModel::LoadCommon(const ModelOptions& options, builder::Task task) {
  options_ = options;
  task_ = task;
  if (!loaders::DirExists(options.dir)) return loaders::MissingModelFolder(options.dir);
  const std::string config_path = JoinPath(options.dir, "config.json");
  WINNOW_ASSIGN_OR_RETURN(config_, loaders::ReadJson(config_path, codes::kConfigInvalid));
  WINNOW_ASSIGN_OR_RETURN(auto tok_config, loaders::ReadOptionalJson(JoinPath(options.dir, "tokenizer_config.json"),
                                                                     codes::kConfigInvalid));
  WINNOW_ASSIGN_OR_RETURN(tokenizer_, tok::LoadTokenizerFolder(options.dir, {options.mecab_dictionary}));
  // The ONNX file when there is one (unless the checkpoint is asked for), else a graph built from the checkpoint.
  using Source = ModelOptions::Source;
  auto onnx_file = options.source == Source::kCheckpoint ? StatusOr<std::string>(Status(codes::kModelNotFound, ""))
                                                         : loaders::ResolveOnnxFile(options.dir, options.file);
  const bool build = options.source == Source::kCheckpoint ||
                     (options.source == Source::kAuto && !onnx_file.ok() && options.file.empty() &&
                      checkpoint::Checkpoint::Find(options.dir).has_value()) ||
                     (options.source == Source::kAuto && !options.adapter.empty() && options.file.empty());
  if (!build && !onnx_file.ok()) {
    if (options.source == Source::kAuto && options.file.empty())
      return Status(codes::kModelNotFound, onnx_file.status().message() +
                                               "; nor model.safetensors, model.safetensors.index.json, "
                                               "pytorch_model.bin or pytorch_model.bin.index.json to build one from");
    return onnx_file.status();
  }
  if (!options.adapter.empty() && !build)
    return Status(codes::kInvalidArgument, "adapter is merged into a checkpoint's weights, and this load runs "
                                           "the ONNX file " + *onnx_file + " (pass source: 'checkpoint')");
  std::string onnx_path = build ? "" : *onnx_file;

  // The model's own limit: the tokenizer's model_max_length when it is real (HF writes 1e30 when
  // unset), capped by the position table (RoBERTa-style models reserve padding_idx + 1 positions).
  // Sizes and ids the config names are bounded where they are read: a negative one would wrap in a size_t.
  // An OpenProvence config.json holds them in the ranker's config inside it.
  nlohmann::json ranker;
  if (builder::IsProvenceConfig(config_)) {
    WINNOW_ASSIGN_OR_RETURN(ranker, builder::ProvenceRankerConfig(config_, config_path));
  }
  const nlohmann::json& model_config = ranker.is_object() ? ranker : config_;
  WINNOW_ASSIGN_OR_RETURN(auto max_pos,
                          loaders::GetIntInRange(model_config, "max_position_embeddings", config_path, 0, INT32_MAX));
  WINNOW_ASSIGN_OR_RETURN(auto model_type, loaders::GetString(model_config, "model_type", config_path));
  WINNOW_ASSIGN_OR_RETURN(auto pad_id, loaders::GetInt(model_config, "pad_token_id", config_path));
  // Checked where it is used (some configs of models that never pad name -1).
  auto checked_pad_id = [&]() -> Status {
    if (pad_id && (*pad_id < 0 || *pad_id > INT32_MAX))
      return Status(codes::kConfigInvalid, config_path + ": pad_token_id must be a token id from 0 to " +
                                               std::to_string(INT32_MAX) + ", not " + std::to_string(*pad_id));
    return Status::Ok();
  };
  size_t limit = 0;
  if (max_pos && *max_pos > 0) {
    limit = static_cast<size_t>(*max_pos);
    if (model_type && (*model_type == "roberta" || *model_type == "xlm-roberta" || *model_type == "camembert")) {
      WINNOW_RETURN_IF_ERROR(checked_pad_id());
      limit -= std::min<size_t>(limit, static_cast<size_t>((pad_id ? *pad_id : 1) + 1));
    }
  }
  if (tok_config) {
    auto it = tok_config->find("model_max_length");
    if (it != tok_config->end() && it->is_number() && it->get<double>() > 0 && it->get<double>() < 1e7) {
      size_t m = static_cast<size_t>(it->get<double>());
      limit = limit ? std::min(limit, m) : m;
    }
  }
  if (limit == 0) limit = 512;
  model_max_length_ = limit;
  if (options.max_length > 0) {
    if (options.max_length > limit)
      return Status(codes::kInvalidArgument, "maxLength " + std::to_string(options.max_length) +
                                                 " exceeds the model's maximum of " + std::to_string(limit));
    max_length_ = options.max_length;
  } else {
    max_length_ = limit;
  }

  if (auto padding = tokenizer_->DefaultPadding()) {
    pad_id_ = padding->pad_id;
  } else if (pad_id) {
    WINNOW_RETURN_IF_ERROR(checked_pad_id());
    pad_id_ = *pad_id;
  }

  const LoadEnvironment env = LoadEnvironment::Read();
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = options.session.intra_op_threads;
  pool_ = std::make_unique<ThreadPool>((threads > 0 ? threads : cores) - 1);
  WINNOW_RETURN_IF_ERROR(pool_->Start());
  inject_oom_above_rows_ = env.inject_oom_above_rows;
  WINNOW_ASSIGN_OR_RETURN(auto rt, rt::OrtRuntime::Get(options.ort_library));
  rt::SessionConfig sc = options.session;
  env.ApplyTo(&sc);
  // On a GPU, a folder's fp16 export (onnx/model_fp16.onnx) is preferred when no file was named.
  std::string fp16_path;
  if (sc.device.kind != rt::DeviceSpec::Kind::kCpu && options.file.empty() && !build) {
    auto fp16 = loaders::ResolveOnnxFile(options.dir, "model_fp16.onnx");
    if (fp16.ok()) fp16_path = *fp16;
  }
  if (!fp16_path.empty()) {
    WINNOW_ASSIGN_OR_RETURN(session_, rt::Session::Load(rt, fp16_path, sc));
    if (session_->device() == "cpu") session_.reset();  // 'auto' fell back to the CPU: use fp32 there
  }
  if (build) {
    WINNOW_RETURN_IF_ERROR(BuildSession(rt, config_path, sc));
  } else if (!session_) {
    WINNOW_ASSIGN_OR_RETURN(session_, rt::Session::Load(rt, onnx_path, sc));
  }
  onnx_path = session_->path();
  if (!build) source_ = onnx_path.substr(std::min(onnx_path.size(), options.dir.size() + 1));
  if (env.chunk_items > 0) chunk_items_ = env.chunk_items;
  if (options.batch_across_calls) shared_ = std::make_unique<SharedBatches>();
  // On a GPU the calling thread only waits while a batch runs: tokenize the next chunk meanwhile. On a CPU
  // every core is already running the batch (and no gain was measurable on 2 cores).
  overlap_tokenization_ = env.overlap_tokenization.value_or(session_->device() != "cpu");
  for (const char* required : {"input_ids", "attention_mask"}) {
    if (!session_->HasInput(required))
      return Status(codes::kOnnxInvalid, onnx_path + " has no input named " + required);
  }
  has_token_type_ids_ = session_->HasInput("token_type_ids");
  has_position_ids_ = session_->HasInput("position_ids");
  for (const auto& name : session_->input_names()) {
    if (name != "input_ids" && name != "attention_mask" && name != "token_type_ids" && name != "position_ids")
      return Status(codes::kOnnxInvalid, onnx_path + " has an input Winnow cannot feed: " + name);
    // Every input is fed as int64 [batch, sequence]: another type would load and fail on the first call.
    const auto type = session_->InputElementType(name);
    if (type != ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64)
      return Status(codes::kOnnxInvalid, onnx_path + ": input " + name + " is " + rt::ElementTypeName(type) +
                                             "; Winnow feeds it int64 (the only type accepted)");
  }
  return Status::Ok();
}

namespace {

// The real folder (with its '/') where all of the checkpoint's files lie, and each file's real name there (a hub-cache
// snapshot links each into blobs/); empty when a file is named with a folder, they lie apart, or a path no longer leads
// to the very file Winnow mapped and checked.
std::string RealFolder(const checkpoint::Checkpoint& c, std::map<std::string, std::string, std::less<>>* names) {
  std::string folder;
  for (const auto& [file, bytes] : c.files()) {
    if (file.find('/') != std::string::npos) return {};
    char* real = realpath(JoinPath(c.dir(), file).c_str(), nullptr);
    if (!real) return {};
    const std::string r = real;
    std::free(real);
    if (!c.IsMappedFile(file, r)) return {};
    const size_t slash = r.find_last_of('/');
    if (!folder.empty() && r.compare(0, slash + 1, folder) != 0) return {};
    folder = r.substr(0, slash + 1);
    (*names)[file] = r.substr(slash + 1);
  }
  return folder;
}

}  // namespace

Status TransformerModel::BuildSession(rt::OrtRuntime* rt, const std::string& config_path, const rt::SessionConfig& sc) {
  WINNOW_ASSIGN_OR_RETURN(checkpoint_, checkpoint::Checkpoint::Open(options_.dir));
  weights_ = std::make_unique<builder::Weights>(checkpoint_.get());
  WINNOW_RETURN_IF_ERROR(AddWeights(weights_.get()));
  if (!options_.adapter.empty()) WINNOW_RETURN_IF_ERROR(MergeAdapter(options_.adapter, weights_.get()));
  builder::BuildOptions bo;
  bo.task = task_;
  bo.winnow_ops = sc.winnow_kernels && sc.device.kind == rt::DeviceSpec::Kind::kCpu;
  // The products of attention in bf16 where the linear layers already leave float32 (bf16 or int8).
  bo.bf16_attention = bo.winnow_ops && sc.bf16_attention && (sc.bf16 || sc.quantize_int8) &&
                      std::string_view(attention::ActiveBf16KernelName()) != "none";
  bo.pack_qkv = bo.winnow_ops && (sc.bf16 || sc.quantize_int8);
  bo.weights_in_place = bo.winnow_ops && !sc.bf16;
  // CPU sessions: ONNX Runtime opens the checkpoint's files itself and uses what it does not pack where it lies (the
  // embedding tables), as it does an ONNX file's weights.
  std::string real_dir;
  onnx::ExternalFiles by_location;
  if (sc.device.kind == rt::DeviceSpec::Kind::kCpu && sc.weights_in_place)
    real_dir = RealFolder(*checkpoint_, &bo.external_names);
  if (real_dir.empty()) {
    bo.external_names.clear();
  } else {
    for (const auto& [file, bytes] : checkpoint_->files())
      by_location[bo.external_names.at(file)] = bytes;  // the same views, by the names the graph gives the files
  }
  WINNOW_ASSIGN_OR_RETURN(builder::BuiltModel built, builder::Build(config_, config_path, weights_.get(), bo));
  source_ = checkpoint_->source();
  winnow_attentions_ = built.winnow_attentions;
  bf16_attentions_ = built.bf16_attentions;
  WINNOW_ASSIGN_OR_RETURN(session_, rt::Session::LoadBuilt(rt, std::move(built.onnx),
                                                           real_dir.empty() ? checkpoint_->files() : by_location,
                                                           JoinPath(options_.dir, source_), sc, real_dir));
  // What the build and the rewrites read through the mapping (transposed, converted or quantized weights) is held
  // elsewhere now.
  checkpoint_->DropResidentPages();
  return Status::Ok();
}

Status TransformerModel::SaveBuiltGraph(const std::string& path) const {
  if (!weights_)
    return Status(codes::kInvalidArgument, "this model runs the ONNX file " + JoinPath(options_.dir, source_) +
                                               ", not a graph built from a checkpoint: that file is the graph");
  builder::BuildOptions bo;
  bo.task = task_;
  bo.inline_all = true;
  WINNOW_ASSIGN_OR_RETURN(builder::BuiltModel built,
                          builder::Build(config_, JoinPath(options_.dir, "config.json"), weights_.get(), bo));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(built.onnx.data(), static_cast<std::streamsize>(built.onnx.size()));
  out.close();
  if (!out) return Status(codes::kIo, "could not write " + path + ": " + std::strerror(errno));
  checkpoint_->DropResidentPages();  // every weight was read through the mapping
  return Status::Ok();
}

Status TransformerModel::CountTokens(const std::vector<std::string_view>& texts, std::vector<uint32_t>* counts,
                                     const RunControl& control) const {
  const size_t n = texts.size();
  counts->assign(n, 0);
  std::vector<Status> errors(n);
  try {
    ParallelFor(pool_.get(), n, 64, [&](size_t begin, size_t end) {
      tok::Encoding e;
      for (size_t i = begin; i < end && !control.cancelled(); ++i) {
        errors[i] = tokenizer_->EncodeRaw(texts[i], &e);
        (*counts)[i] = static_cast<uint32_t>(e.size());
      }
    });
  } catch (const std::exception& e) {
    return Status(codes::kInternal, std::string("tokenization failed: ") + e.what());
  }
  if (control.cancelled()) return Cancelled();
  for (const Status& st : errors) WINNOW_RETURN_IF_ERROR(st);
  return Status::Ok();
}

size_t TransformerModel::BatchRows() const {
  if (options_.batch_size) return options_.batch_size;
  return OnGpu() ? kGpuBatchRows : kCpuBatchRows;
}

size_t TransformerModel::TokenBudget() const {
  if (options_.token_budget) return options_.token_budget;
  // On a CPU, padding is pure waste and GEMMs of ~1k rows already run near full speed: small, length-sorted
  // batches (docs/benchmark.md).
  if (!OnGpu()) return kCpuTokenBudget;
  // A GPU wants large batches (measured faster on an H200, docs/benchmark.md), but not 128 rows of 8k tokens. A
  // batchSize the user set is honoured as sentence-transformers does: its batches of full-length rows fit.
  return options_.batch_size ? std::max(kGpuTokenBudget, options_.batch_size * max_length_) : kGpuTokenBudget;
}

size_t TransformerModel::BatchCost() const {
  return OnGpu() ? 0 : kCpuBatchCost;
}

bool TransformerModel::LengthBuckets() const {
  if (options_.length_buckets != ModelOptions::Toggle::kAuto) return options_.length_buckets == ModelOptions::Toggle::kOn;
  return OnGpu();
}

bool TransformerModel::OnGpu() const { return session_ && session_->device() != "cpu"; }

Status TransformerModel::RunEncodings(const std::vector<tok::Encoding>& encodings, size_t base, size_t total,
                                      size_t* done, const std::vector<const char*>& outputs,
                                      const ItemConsumer& consume, const RunControl& control) const {
  const size_t n = encodings.size();
  if (n == 0) return Status::Ok();
  // Buckets never pad past the position table (a row of maxLength tokens still fits).
  BatchPlan plan;
  plan.batch_rows = BatchRows();
  plan.token_budget = TokenBudget();
  plan.bucket_cap = LengthBuckets() ? model_max_length_ : 0;
  plan.round_rows = chunk_items_;
  plan.batch_cost = BatchCost();
  if (shared_) {
    CallRows call{&encodings, base, total, done, &outputs, &consume, &control};
    return shared_->Run(call, plan,
                        [this](const std::vector<const tok::Encoding*>& rows, size_t seq,
                               const std::vector<const char*>& outs, const BatchConsumer& c) {
                          return RunRows(rows, seq, outs, c);
                        });
  }
  std::vector<size_t> lengths(n);
  for (size_t i = 0; i < n; ++i) lengths[i] = encodings[i].size();
  const auto batches = batching::PlanBatches(lengths, plan.batch_rows, plan.token_budget, plan.bucket_cap, plan.batch_cost);
  std::vector<const tok::Encoding*> rows;
  std::vector<size_t> items;
  for (const auto& batch : batches) {
    if (control.cancelled()) return Cancelled();
    rows.clear();
    items.clear();
    for (size_t idx : batch.indices) {
      rows.push_back(&encodings[idx]);
      items.push_back(base + idx);
    }
    WINNOW_RETURN_IF_ERROR(RunRows(rows, batch.max_len, outputs,
                                   [&](size_t first, const BatchTensors& t, std::vector<Ort::Value>& results) {
                                     return consume(items.data() + first, t, results);
                                   }));
    *done += rows.size();
    if (control.progress) control.progress(*done, total);
  }
  return Status::Ok();
}

Status TransformerModel::EncodeAndRun(size_t n, const EncodeFn& encode, const std::vector<const char*>& outputs,
                                      const ItemConsumer& consume, const RunControl& control) const {
  struct Chunk {
    size_t begin = 0, end = 0;
    std::vector<tok::Encoding> encodings;
    Status status;
  };
  std::atomic<bool> stop{false};  // the running chunk failed: the tokenizing one may stop early
  auto tokenize = [&](Chunk* c) {
    const size_t count = c->end - c->begin;
    c->encodings.assign(count, tok::Encoding());
    std::vector<Status> errors(count);
    auto halted = [&] { return control.cancelled() || stop.load(std::memory_order_relaxed); };
    try {
      ParallelFor(pool_.get(), count, 16, [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end && !halted(); ++i) errors[i] = encode(c->begin + i, &c->encodings[i]);
      });
    } catch (const std::exception& e) {  // on the producer thread nothing else would catch it
      c->status = Status(codes::kInternal, std::string("tokenization failed: ") + e.what());
      return;
    }
    if (halted()) {
      c->status = Cancelled();
      return;
    }
    for (Status& st : errors) {
      if (!st.ok()) {
        c->status = std::move(st);
        return;
      }
    }
  };
  const size_t chunk = std::max<size_t>(chunk_items_, 1);
  size_t done = 0;
  Chunk cur;
  cur.end = std::min(n, chunk);
  tokenize(&cur);
  for (;;) {
    WINNOW_RETURN_IF_ERROR(cur.status);
    Chunk next;
    next.begin = cur.end;
    next.end = std::min(n, cur.end + chunk);
    std::thread producer;
    if (next.begin < next.end && overlap_tokenization_) {
      try {
        producer = std::thread(tokenize, &next);
      } catch (const std::system_error&) {
        // No thread to spare (a thread limit): the next chunk is tokenized after this one runs instead.
      }
    }
    const bool overlapped = producer.joinable();
    Status st = RunEncodings(cur.encodings, cur.begin, n, &done, outputs, consume, control);
    if (!st.ok()) stop.store(true);
    if (producer.joinable()) producer.join();
    WINNOW_RETURN_IF_ERROR(st);
    cur.encodings = std::vector<tok::Encoding>();  // free this chunk before the next is made (no overlap)
    if (next.begin < next.end && !overlapped) tokenize(&next);
    if (next.begin >= next.end) return Status::Ok();
    cur = std::move(next);
  }
}

Status TransformerModel::RunPairs(const Pairs& pairs, const QueryEncoder& encode_query,
                                  const std::vector<const char*>& outputs, const ItemConsumer& consume,
                                  const RunControl& control) const {
  // Consecutive pairs usually share their query: tokenize each distinct query once.
  std::unordered_map<std::string_view, tok::Encoding> queries;
  for (const auto& p : pairs) {
    if (queries.count(p.first)) continue;
    tok::Encoding q;
    WINNOW_RETURN_IF_ERROR(encode_query(p.first, &q));
    queries.emplace(p.first, std::move(q));
  }
  return EncodeAndRun(
      pairs.size(), [&](size_t i, tok::Encoding* out) { return EncodePair(queries.at(pairs[i].first), pairs[i].second, out); },
      outputs, consume, control);
}

Status TransformerModel::EncodePair(const tok::Encoding& query, std::string_view doc, tok::Encoding* out) const {
  tok::Encoding d;
  // Only the first max_length tokens of the document can be kept: encode no more of it than that.
  WINNOW_RETURN_IF_ERROR(tokenizer_->EncodeRawForTruncation(doc, max_length_, &d));
  tok::EncodeOptions opts;
  opts.truncation.max_length = max_length_;
  opts.truncation.strategy = tok::TruncationStrategy::kOnlySecond;
  return tokenizer_->PostProcess(query, &d, opts, out);
}

void TransformerModel::FillBatch(const std::vector<const tok::Encoding*>& rows, size_t seq, BatchTensors* out) const {
  const size_t n = rows.size();
  out->rows = static_cast<int64_t>(n);
  out->seq = static_cast<int64_t>(seq);
  out->input_ids.assign(n * seq, pad_id_);
  out->attention_mask.assign(n * seq, 0);
  out->token_type_ids.assign(has_token_type_ids_ || has_position_ids_ ? n * seq : 0, 0);
  for (size_t r = 0; r < n; ++r) {
    const tok::Encoding& e = *rows[r];
    const size_t len = std::min(seq, e.size());
    int64_t* ids = &out->input_ids[r * seq];
    int64_t* mask = &out->attention_mask[r * seq];
    for (size_t i = 0; i < len; ++i) {
      ids[i] = e.ids[i];
      mask[i] = 1;
    }
    if (has_token_type_ids_) {
      int64_t* types = &out->token_type_ids[r * seq];
      for (size_t i = 0; i < len; ++i) types[i] = e.type_ids[i];
    }
  }
}

Status TransformerModel::RunBatch(const BatchTensors& t, const std::vector<const char*>& outputs,
                                  std::vector<Ort::Value>* results) const {
  if (inject_oom_above_rows_ >= 0 && t.rows > inject_oom_above_rows_)
    return Status(codes::kInferenceFailed, "Failed to allocate memory for a batch of " + std::to_string(t.rows) +
                                               " rows: out of memory (injected by WINNOW_TEST_OOM_ABOVE_ROWS)");
  std::vector<rt::Int64Input> inputs = {{"input_ids", t.input_ids.data()}, {"attention_mask", t.attention_mask.data()}};
  if (has_token_type_ids_) inputs.push_back({"token_type_ids", t.token_type_ids.data()});
  std::vector<int64_t> positions;
  if (has_position_ids_) {
    positions.resize(static_cast<size_t>(t.rows * t.seq));
    for (int64_t r = 0; r < t.rows; ++r)
      for (int64_t i = 0; i < t.seq; ++i) positions[r * t.seq + i] = i;
    inputs.push_back({"position_ids", positions.data()});
  }
  return session_->Run(inputs, t.rows, t.seq, outputs, results);
}

Status TransformerModel::RunRows(const std::vector<const tok::Encoding*>& rows, size_t seq,
                                 const std::vector<const char*>& outputs, const BatchConsumer& consume) const {
  return RunRowsFrom(rows, 0, rows.size(), seq, outputs, consume);
}

Status TransformerModel::RunRowsFrom(const std::vector<const tok::Encoding*>& rows, size_t first, size_t count,
                                     size_t seq, const std::vector<const char*>& outputs,
                                     const BatchConsumer& consume) const {
  BatchTensors tensors;
  FillBatch(std::vector<const tok::Encoding*>(rows.begin() + first, rows.begin() + first + count), seq, &tensors);
  std::vector<Ort::Value> results;
  Status st = RunBatch(tensors, outputs, &results);
  if (IsOutOfMemory(st) && count > 1) {
    const size_t half = count / 2;
    WINNOW_RETURN_IF_ERROR(RunRowsFrom(rows, first, half, seq, outputs, consume));
    return RunRowsFrom(rows, first + half, count - half, seq, outputs, consume);
  }
  WINNOW_RETURN_IF_ERROR(st);
  {
    uint64_t tokens = 0;
    for (size_t r = first; r < first + count; ++r) tokens += std::min(seq, rows[r]->size());
    std::lock_guard<std::mutex> lk(stats_mu_);
    stats_.batches += 1;
    stats_.rows += count;
    stats_.tokens += tokens;
    stats_.padded_tokens += count * seq;
    stats_.sequence_lengths.insert(seq);
  }
  return consume(first, tensors, results);
}

Status OutputAsFloat(const Ort::Value& value, const std::string& name, std::vector<float>* scratch, const float** data,
                     std::vector<int64_t>* shape) {
  auto info = value.GetTensorTypeAndShapeInfo();
  *shape = info.GetShape();
  const size_t n = info.GetElementCount();
  switch (info.GetElementType()) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT:
      *data = value.GetTensorData<float>();
      return Status::Ok();
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: {
      const auto* h = reinterpret_cast<const uint16_t*>(value.GetTensorRawData());
      scratch->resize(n);
      for (size_t i = 0; i < n; ++i) (*scratch)[i] = HalfToFloat(h[i]);
      *data = scratch->data();
      return Status::Ok();
    }
    default:
      return Status(codes::kOnnxInvalid, "output " + name + " is neither float32 nor float16");
  }
}

bool IsOutOfMemory(const Status& status) {
  if (status.ok() || status.code() != codes::kInferenceFailed) return false;
  const std::string& m = status.message();
  return m.find("out of memory") != std::string::npos || m.find("Failed to allocate") != std::string::npos ||
         m.find("CUDNN_STATUS_ALLOC_FAILED") != std::string::npos || m.find("CUBLAS_STATUS_ALLOC_FAILED") != std::string::npos;
}

}  // namespace winnow::pipelines
