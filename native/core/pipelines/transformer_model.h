// What every ONNX transformer pipeline shares: folder loading (config.json, tokenizer.json,
// tokenizer_config.json, the ONNX file), the effective max length, and padded batch tensors.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "builder/builder.h"
#include "checkpoint/checkpoint.h"
#include "common/thread_pool.h"
#include "pipelines/shared_batches.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace winnow::pipelines {

// Defaults when batchSize / tokenBudget are not given: rows per batch at most, and padded tokens per
// batch at most (a single longer row still runs alone).
inline constexpr size_t kCpuBatchRows = 32;
inline constexpr size_t kGpuBatchRows = 128;
inline constexpr size_t kCpuTokenBudget = 1024;
inline constexpr size_t kGpuTokenBudget = 32768;
// On a CPU a batch's fixed cost, in padded tokens' time, against which batching::PlanBatches weighs padding.
inline constexpr size_t kCpuBatchCost = 32;

// The load options of a transformer model, as the binding fills them from the checked JavaScript options
// (lib/model-options.ts). What configures ONNX Runtime is the session's own config, held whole.
struct ModelOptions {
  std::string dir;
  std::string file;          // ONNX file name inside the folder ("" = model.onnx / onnx/model.onnx)
  std::string ort_library;   // path of the ONNX Runtime library to dlopen
  size_t max_length = 0;     // 0 = the model's own maximum
  size_t batch_size = 0;     // rows per inference batch at most (0 = kCpuBatchRows on CPU, kGpuBatchRows on GPU)
  size_t token_budget = 0;   // padded tokens per batch at most (0 = kCpuTokenBudget on CPU; on GPU
                             // kGpuTokenBudget, or batch_size x max_length when batch_size is set and that is more)
  // Pad each batch to a bucketed length (batching::BucketLength) so the device sees few shapes.
  // kAuto: on a GPU only (on a CPU padding is pure waste).
  enum class Toggle { kAuto, kOn, kOff } length_buckets = Toggle::kAuto;
  // Device, threads (intra_op_threads, 0 = one per core), GPU memory, TF32, fusions, prepacking.
  rt::SessionConfig session;
  // Where the graph comes from. kAuto: the folder's ONNX file when it has one, else a graph built from its
  // checkpoint (config.json + model.safetensors / pytorch_model.bin); kOnnx / kCheckpoint: only that.
  enum class Source { kAuto, kOnnx, kCheckpoint } source = Source::kAuto;
  std::string adapter;  // a peft LoRA adapter folder merged into the checkpoint's weights ("" = none)
  std::string mecab_dictionary;  // compiled MeCab dictionary folder for a BertJapaneseTokenizer ("" = search)
  // Concurrent calls share batches (SharedBatches); off: each call runs its own batches, calls side by side.
  bool batch_across_calls = true;
};

// The WINNOW_* variables a model load reads (docs/api.md "Environment variables"), read in this one place when
// a load starts: session settings for comparisons, and test hooks.
struct LoadEnvironment {
  static LoadEnvironment Read();
  void ApplyTo(rt::SessionConfig* config) const;  // the session settings among them

  std::optional<bool> io_binding, weights_in_place, weights_in_place_cuda, pack_qkv, inexact_norms, bf16_attention;
  std::optional<int64_t> auto_attention_max_width;
  std::optional<float> test_attention_scale;
  std::string profile_prefix;
  int64_t inject_oom_above_rows = -1;           // WINNOW_TEST_OOM_ABOVE_ROWS (-1: none)
  size_t chunk_items = 0;                       // WINNOW_TEST_CHUNK_ITEMS (0: kChunkItems)
  std::optional<bool> overlap_tokenization;     // WINNOW_TEST_OVERLAP
};

// Items tokenized ahead per chunk by EncodeAndRun: the next chunk is tokenized while the current one runs.
inline constexpr size_t kChunkItems = 4096;


// What the model has run since it loaded (every call, every batch that succeeded, split halves counted
// as they ran).
struct BatchStats {
  uint64_t batches = 0, rows = 0;
  uint64_t tokens = 0;         // real tokens (attention mask 1)
  uint64_t padded_tokens = 0;  // rows x padded length: what the device computed
  std::set<size_t> sequence_lengths;  // distinct padded lengths (shapes) seen
};


class TransformerModel {
 public:
  virtual ~TransformerModel() = default;
  const tok::Tokenizer& tokenizer() const { return *tokenizer_; }
  const rt::Session& session() const { return *session_; }
  size_t max_length() const { return max_length_; }
  size_t model_max_length() const { return model_max_length_; }
  const nlohmann::json& config() const { return config_; }
  const ModelOptions& options() const { return options_; }
  // What the graph was made from, relative to the folder: the ONNX file ("onnx/model.onnx"), or the checkpoint a
  // graph was built from ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json").
  const std::string& source() const { return source_; }
  bool built() const { return weights_ != nullptr; }
  // Attention blocks the built graph runs as com.winnow Attention (builder::BuildOptions::winnow_ops).
  int winnow_attentions() const { return winnow_attentions_; }
  // Of them, those whose products run in bf16 (builder::BuildOptions::bf16_attention).
  int bf16_attentions() const { return bf16_attentions_; }
  // The graph built from the checkpoint, every weight written into it, saved to `path` (codes::kInvalidArgument for
  // a model loaded from an ONNX file, codes::kIo when it cannot be written).
  Status SaveBuiltGraph(const std::string& path) const;
  // Tokens in each text as the model's tokenizer splits it, without special tokens or truncation; counts[i] for
  // texts[i].
  Status CountTokens(const std::vector<std::string_view>& texts, std::vector<uint32_t>* counts,
                     const RunControl& control) const;
  // Whether concurrent calls share batches (the batch_across_calls option).
  bool batches_across_calls() const { return shared_ != nullptr; }
  // Batches that held rows of more than one call.
  uint64_t shared_batches() const { return shared_ ? shared_->shared_batches() : 0; }
  BatchStats batch_stats() const {
    std::lock_guard<std::mutex> lk(stats_mu_);
    return stats_;
  }

 protected:
  // `task`: what a graph built from a checkpoint must output for this pipeline.
  Status LoadCommon(const ModelOptions& options, builder::Task task = builder::Task::kSequenceClassification);
  // Extra weights for a built graph, called with the checkpoint's weights before the graph is built (the pruning
  // head of a folder that stores it apart). Default: nothing.
  virtual Status AddWeights(builder::Weights*) { return Status::Ok(); }
  // The graph built from options_.dir's checkpoint for task_, loaded into session_.
  Status BuildSession(rt::OrtRuntime* rt, const std::string& config_path, const rt::SessionConfig& sc);
  void FillBatch(const std::vector<const tok::Encoding*>& rows, size_t seq, BatchTensors* out) const;
  Status RunBatch(const BatchTensors& t, const std::vector<const char*>& outputs, std::vector<Ort::Value>* results) const;
  // Runs `rows` padded to `seq` and hands the outputs to `consume(first, tensors, results)`, where the
  // tensors hold rows [first, first + tensors.rows). When the device runs out of memory the rows are
  // split in half and each half is run (and consumed) on its own, down to single rows, so a call does
  // not fail for a batch that was merely too big.
  using BatchConsumer = pipelines::BatchConsumer;
  Status RunRows(const std::vector<const tok::Encoding*>& rows, size_t seq, const std::vector<const char*>& outputs,
                 const BatchConsumer& consume) const;
  size_t TokenBudget() const;
  size_t BatchRows() const;
  size_t BatchCost() const;
  bool LengthBuckets() const;

  // Row r of `t` is item items[r] (an index into the caller's input).
  using ItemConsumer = pipelines::ItemConsumer;
  using EncodeFn = std::function<Status(size_t item, tok::Encoding* out)>;
  // Tokenizes items [0, n) with `encode` on the model's threads and runs them in length-sorted batches,
  // handing each batch's outputs to `consume`; progress counts items. Items go in chunks of kChunkItems, so
  // at most two chunks of encodings are held at once however many items a call has; on a GPU the next chunk
  // is tokenized on another thread while the current one runs (the CPU would otherwise wait). A call of at
  // most one chunk tokenizes everything first, as before. The first tokenization error in input order wins.
  Status EncodeAndRun(size_t n, const EncodeFn& encode, const std::vector<const char*>& outputs,
                      const ItemConsumer& consume, const RunControl& control) const;
  using Pairs = std::vector<std::pair<std::string_view, std::string_view>>;
  using QueryEncoder = std::function<Status(std::string_view query, tok::Encoding* out)>;
  // Pairs as rerankers see them: each distinct first text is tokenized once with `encode_query` (which
  // refuses queries too long to leave room), each pair then goes through EncodePair, and all run through
  // EncodeAndRun.
  Status RunPairs(const Pairs& pairs, const QueryEncoder& encode_query, const std::vector<const char*>& outputs,
                  const ItemConsumer& consume, const RunControl& control) const;
  // `query` (raw encoding) + `doc` post-processed as a pair; only the document is truncated to max_length.
  Status EncodePair(const tok::Encoding& query, std::string_view doc, tok::Encoding* out) const;
  // Runs encodings already made as one chunk: item i is encodings[i - base]; progress reports
  // (*done, total) after each batch.
  Status RunEncodings(const std::vector<tok::Encoding>& encodings, size_t base, size_t total, size_t* done,
                      const std::vector<const char*>& outputs, const ItemConsumer& consume,
                      const RunControl& control) const;

  ModelOptions options_;
  nlohmann::json config_;
  std::string source_;
  int winnow_attentions_ = 0;
  int bf16_attentions_ = 0;
  builder::Task task_ = builder::Task::kSequenceClassification;
  // A built graph's weights: mapped for as long as the session runs on them (declared before session_, so they
  // outlive it).
  std::unique_ptr<checkpoint::Checkpoint> checkpoint_;
  std::unique_ptr<builder::Weights> weights_;
  std::unique_ptr<tok::Tokenizer> tokenizer_;
  std::unique_ptr<rt::Session> session_;
  size_t max_length_ = 512;
  size_t model_max_length_ = 512;
  int64_t pad_id_ = 0;
  bool has_token_type_ids_ = false;
  bool has_position_ids_ = false;
  std::unique_ptr<ThreadPool> pool_;  // tokenization threads (the `threads` option, else one per core)
  // Test hook (WINNOW_TEST_OOM_ABOVE_ROWS): batches of more rows fail as out of memory. -1: off.
  long long inject_oom_above_rows_ = -1;
  size_t chunk_items_ = kChunkItems;  // test hook: WINNOW_TEST_CHUNK_ITEMS
  bool overlap_tokenization_ = false;  // GPU sessions; test hook: WINNOW_TEST_OVERLAP=0|1
  mutable std::mutex stats_mu_;
  mutable BatchStats stats_;
  std::unique_ptr<SharedBatches> shared_;  // batch_across_calls

 private:
  bool OnGpu() const;  // a session is open and runs on a GPU
  Status RunRowsFrom(const std::vector<const tok::Encoding*>& rows, size_t first, size_t count, size_t seq,
                     const std::vector<const char*>& outputs, const BatchConsumer& consume) const;
};

// Reads a float32 or float16 output tensor as float32: `data` points into the tensor (float32) or
// into `scratch` (converted float16). `shape` gets the tensor's shape. Other types: kOnnxInvalid.
Status OutputAsFloat(const Ort::Value& value, const std::string& name, std::vector<float>* scratch, const float** data,
                     std::vector<int64_t>* shape);

// Whether a failed run ran out of device memory (the caller may split the batch and retry).
bool IsOutOfMemory(const Status& status);


}  // namespace winnow::pipelines
