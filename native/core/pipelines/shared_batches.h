// What a model call and its batches share: progress and cancellation, a batch's padded tensors, the consumers of
// a batch's outputs, and SharedBatches, which runs the rows of concurrent calls on one model in shared batches.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace winnow::pipelines {

// Progress and cancellation for long calls. Both optional; progress is called from a worker thread.
struct RunControl {
  std::function<void(size_t done, size_t total)> progress;
  const std::atomic<bool>* cancel = nullptr;
  bool cancelled() const { return cancel && cancel->load(std::memory_order_relaxed); }
};

// Padded int64 tensors for one batch, [rows, seq] each.
struct BatchTensors {
  int64_t rows = 0, seq = 0;
  std::vector<int64_t> input_ids, attention_mask, token_type_ids;
};

// Statuses for cancelled calls.
inline Status Cancelled() { return Status("ABORTED", "the operation was aborted"); }

// A batch's outputs for rows [first, first + t.rows) of the rows it was asked to run (a batch split after an
// out-of-memory error is consumed a part at a time).
using BatchConsumer = std::function<Status(size_t first, const BatchTensors& t, std::vector<Ort::Value>& results)>;
// A call's share of a batch: row r of `t` (and of each result) is the call's item items[r].
using ItemConsumer = std::function<Status(const size_t* items, const BatchTensors& t, std::vector<Ort::Value>& results)>;

// One call's tokenized rows, waiting to run: item base + i is encodings[i]; after each batch holding some of them,
// *done grows by their number and control.progress(*done, total) is called.
struct CallRows {
  const std::vector<tok::Encoding>* encodings = nullptr;
  size_t base = 0, total = 0;
  size_t* done = nullptr;
  const std::vector<const char*>* outputs = nullptr;
  const ItemConsumer* consume = nullptr;
  const RunControl* control = nullptr;
};

// How rows are packed: as batching::PlanBatches takes them, and at most `round_rows` rows of waiting calls taken
// into one plan (a single call's rows always are).
struct BatchPlan {
  size_t batch_rows = 32, token_budget = 1024, bucket_cap = 0, round_rows = 4096, batch_cost = 0;
};

// Batching across calls. Concurrent calls on one model hand their rows to Run; whichever caller finds no one
// running becomes the leader: it takes every waiting call's rows (same outputs), plans length-sorted batches over all
// of them, runs the batches one at a time and hands each call its rows' outputs, then the next waiting caller leads.
// A call returns as soon as its own rows are done (or it was cancelled, or a batch holding its rows failed), except
// the leader, which returns when its round is done; a lone call runs exactly the batches it would run alone. A
// cancelled call ends before the next batch. A batch that fails fails every call with rows in it.
class SharedBatches {
 public:
  using RunRowsFn = std::function<Status(const std::vector<const tok::Encoding*>& rows, size_t seq,
                                         const std::vector<const char*>& outputs, const BatchConsumer& consume)>;
  // Blocks until the call's rows have run; `run` runs one batch (the model's RunRows).
  Status Run(const CallRows& call, const BatchPlan& plan, const RunRowsFn& run);

  // Batches that held rows of more than one call (counters, tests).
  uint64_t shared_batches() const { return shared_.load(std::memory_order_relaxed); }
  // Calls waiting for a round (tests).
  size_t waiting() {
    std::lock_guard<std::mutex> lk(mu_);
    return pending_.size();
  }

 private:
  struct Ticket;
  std::vector<std::shared_ptr<Ticket>> TakeRound(size_t round_rows);  // with mu_ held
  // Runs the round's batches and ends every call in it, whatever happens (an exception included).
  void RunRound(const std::vector<std::shared_ptr<Ticket>>& round, const BatchPlan& plan, const RunRowsFn& run);
  void RunRoundBatches(const std::vector<std::shared_ptr<Ticket>>& round, const BatchPlan& plan, const RunRowsFn& run);
  void Finish(Ticket* t, Status status);
  void EndCancelledWaiting();  // ends waiting calls whose cancel flag is set

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Ticket>> pending_;
  bool leading_ = false;
  std::atomic<uint64_t> shared_{0};
};

// Row views [first, first + count) of a batch's tensors and of each output (whose first dimension is the batch's
// rows): what one call sees of a batch it shares. INVALID when an output is not batch-major.
Status SliceRows(const BatchTensors& t, std::vector<Ort::Value>& results, size_t first, size_t count,
                 BatchTensors* sub_t, std::vector<Ort::Value>* sub_results);

}  // namespace winnow::pipelines
