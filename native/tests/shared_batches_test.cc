#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "batching/batcher.h"
#include "pipelines/shared_batches.h"

namespace winnow::pipelines {
namespace {

// Call c's item i is a row of (i % 7) + 1 tokens, every token id c * 10000 + i: a row routed to the wrong call or
// item is seen at once.
std::vector<tok::Encoding> CallRowsOf(size_t c, size_t n) {
  std::vector<tok::Encoding> out(n);
  for (size_t i = 0; i < n; ++i) out[i].ids.assign(i % 7 + 1, static_cast<uint32_t>(c * 10000 + i));
  return out;
}

// A stand-in for the model's RunRows: fills the batch's input_ids (row r from rows[r], padded with -1), counts the
// batch, and hands it to `consume` whole, or in two halves when `split` is set (as after an out-of-memory error).
struct FakeModel {
  std::mutex mu;
  std::vector<size_t> batch_sizes;
  bool split = false;
  std::function<Status(const std::vector<const tok::Encoding*>&)> before;  // may fail the batch
  std::function<void()> between_halves;  // with split: called after the first half is consumed

  SharedBatches::RunRowsFn Fn() {
    return [this](const std::vector<const tok::Encoding*>& rows, size_t seq, const std::vector<const char*>&,
                  const BatchConsumer& consume) -> Status {
      if (before) WINNOW_RETURN_IF_ERROR(before(rows));
      {
        std::lock_guard<std::mutex> lk(mu);
        batch_sizes.push_back(rows.size());
      }
      auto part = [&](size_t first, size_t count) {
        BatchTensors t;
        t.rows = static_cast<int64_t>(count);
        t.seq = static_cast<int64_t>(seq);
        t.input_ids.assign(count * seq, -1);
        t.attention_mask.assign(count * seq, 0);
        for (size_t r = 0; r < count; ++r) {
          const auto& ids = rows[first + r]->ids;
          for (size_t k = 0; k < ids.size(); ++k) t.input_ids[r * seq + k] = ids[k];
        }
        std::vector<Ort::Value> none;
        return consume(first, t, none);
      };
      if (split && rows.size() > 1) {
        const size_t half = rows.size() / 2;
        WINNOW_RETURN_IF_ERROR(part(0, half));
        if (between_halves) between_halves();
        return part(half, rows.size() - half);
      }
      return part(0, rows.size());
    };
  }
};

// One call: its rows, what it saw, and its CallRows.
struct Call {
  size_t c;
  std::vector<tok::Encoding> encodings;
  std::vector<int> seen;  // times each item was consumed
  bool misrouted = false;
  size_t done = 0, last_progress = 0;
  std::atomic<bool> cancel{false};
  bool free_after_run = false;  // its rows are freed as soon as Run returns, as a pipeline frees its chunk
  std::atomic<bool> returned{false};
  std::vector<const char*> outputs = {"logits"};
  ItemConsumer consume;
  RunControl control;
  Status status;

  Call(size_t c_, size_t n) : c(c_), encodings(CallRowsOf(c_, n)), seen(n, 0) {
    consume = [this](const size_t* items, const BatchTensors& t, std::vector<Ort::Value>&) -> Status {
      for (int64_t r = 0; r < t.rows; ++r) {
        const size_t item = items[r];
        if (item >= seen.size() || t.input_ids[r * t.seq] != static_cast<int64_t>(c * 10000 + item)) misrouted = true;
        else ++seen[item];
      }
      return Status::Ok();
    };
    control.cancel = &cancel;
    control.progress = [this](size_t d, size_t) { last_progress = d; };
  }
  CallRows Rows() { return CallRows{&encodings, 0, encodings.size(), &done, &outputs, &consume, &control}; }
  void ExpectAllOnce() const {
    EXPECT_FALSE(misrouted) << "call " << c;
    for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 1) << "call " << c << " item " << i;
    EXPECT_EQ(done, encodings.size());
    EXPECT_EQ(last_progress, encodings.size());
  }
};

BatchPlan Plan() {
  BatchPlan p;
  p.batch_rows = 8;
  p.token_budget = 64;
  return p;
}

TEST(SharedBatches, ALoneCallRunsTheBatchesItWouldRunAlone) {
  SharedBatches shared;
  FakeModel model;
  Call call(1, 50);
  const CallRows rows = call.Rows();
  ASSERT_TRUE(shared.Run(rows, Plan(), model.Fn()).ok());
  call.ExpectAllOnce();
  std::vector<size_t> lengths;
  for (const auto& e : call.encodings) lengths.push_back(e.size());
  const auto plan = batching::PlanBatches(lengths, 8, 64);
  ASSERT_EQ(model.batch_sizes.size(), plan.size());
  for (size_t b = 0; b < plan.size(); ++b) EXPECT_EQ(model.batch_sizes[b], plan[b].indices.size());
  EXPECT_EQ(shared.shared_batches(), 0u);
}

// Runs calls 1..n-1 on threads of their own while call 0 leads: its first batch waits until every other call is
// waiting for a round, so that the next round holds them all.
void RunWhileFirstLeads(SharedBatches* shared, FakeModel* model, std::vector<std::unique_ptr<Call>>& calls,
                        const BatchPlan& plan, size_t expect_waiting = 0) {
  if (expect_waiting == 0) expect_waiting = calls.size() - 1;
  std::atomic<bool> held{false};
  auto first_batch = model->before;
  model->before = [&](const std::vector<const tok::Encoding*>& rows) -> Status {
    if (!held.exchange(true))
      while (shared->waiting() < expect_waiting) std::this_thread::yield();
    return first_batch ? first_batch(rows) : Status::Ok();
  };
  std::vector<std::thread> threads;
  std::vector<CallRows> rows;
  for (auto& c : calls) rows.push_back(c->Rows());
  auto run = [&](size_t i) {
    calls[i]->status = shared->Run(rows[i], plan, model->Fn());
    if (calls[i]->free_after_run) std::vector<tok::Encoding>().swap(calls[i]->encodings);
    calls[i]->returned = true;
  };
  threads.emplace_back([&] { run(0); });
  while (!held.load()) std::this_thread::yield();
  for (size_t i = 1; i < calls.size(); ++i) threads.emplace_back([&, i] { run(i); });
  for (auto& t : threads) t.join();
}

TEST(SharedBatches, ConcurrentCallsShareBatchesAndGetTheirOwnRows) {
  for (bool split : {false, true}) {
    SharedBatches shared;
    FakeModel model;
    model.split = split;
    std::vector<std::unique_ptr<Call>> calls;
    for (size_t c = 0; c < 8; ++c) calls.push_back(std::make_unique<Call>(c + 1, 5 + 7 * c));
    RunWhileFirstLeads(&shared, &model, calls, Plan());
    for (const auto& c : calls) {
      EXPECT_TRUE(c->status.ok()) << c->status.message();
      c->ExpectAllOnce();
    }
    EXPECT_GT(shared.shared_batches(), 0u);
    // Calls 1..7 ran as one round: fewer batches than each alone would need.
    size_t alone = 0;
    for (size_t c = 1; c < calls.size(); ++c) {
      std::vector<size_t> lengths;
      for (const auto& e : calls[c]->encodings) lengths.push_back(e.size());
      alone += batching::PlanBatches(lengths, 8, 64).size();
    }
    std::vector<size_t> first_lengths;
    for (const auto& e : calls[0]->encodings) first_lengths.push_back(e.size());
    EXPECT_LT(model.batch_sizes.size(), batching::PlanBatches(first_lengths, 8, 64).size() + alone);
  }
}

TEST(SharedBatches, ACancelledCallLeavesTheOthersWhole) {
  SharedBatches shared;
  FakeModel model;
  std::vector<std::unique_ptr<Call>> calls;
  for (size_t c = 0; c < 4; ++c) calls.push_back(std::make_unique<Call>(c + 1, 40));
  calls[2]->cancel = true;  // cancelled while it waits for a round: it leaves at once
  RunWhileFirstLeads(&shared, &model, calls, Plan(), 2);
  EXPECT_EQ(calls[2]->status.code(), "ABORTED");
  for (size_t c : {0, 1, 3}) {
    EXPECT_TRUE(calls[c]->status.ok());
    calls[c]->ExpectAllOnce();
  }
}

TEST(SharedBatches, CancelledInsideARoundStopsAtTheNextBatch) {
  SharedBatches shared;
  FakeModel model;
  std::vector<std::unique_ptr<Call>> calls;
  for (size_t c = 0; c < 3; ++c) calls.push_back(std::make_unique<Call>(c + 1, 60));
  // Call 2 (index 1) asks to stop once some of its rows ran in the shared round.
  Call* victim = calls[1].get();
  auto inner = victim->consume;
  victim->consume = [victim, inner](const size_t* items, const BatchTensors& t, std::vector<Ort::Value>& r) {
    victim->cancel = true;
    return inner(items, t, r);
  };
  RunWhileFirstLeads(&shared, &model, calls, Plan());
  EXPECT_EQ(victim->status.code(), "ABORTED");
  EXPECT_LT(victim->done, victim->encodings.size());
  for (size_t c : {0, 2}) {
    EXPECT_TRUE(calls[c]->status.ok());
    calls[c]->ExpectAllOnce();
  }
}

TEST(SharedBatches, AFailedBatchFailsOnlyTheCallsInIt) {
  SharedBatches shared;
  FakeModel model;
  std::vector<std::unique_ptr<Call>> calls;
  calls.push_back(std::make_unique<Call>(1, 10));
  calls.push_back(std::make_unique<Call>(2, 10));
  calls.push_back(std::make_unique<Call>(3, 10));
  // Call 3's rows are 30 tokens long: two to a batch (budget 64) with no other call's rows, and those batches fail.
  for (auto& e : calls[2]->encodings) e.ids.assign(30, e.ids[0]);
  model.before = [](const std::vector<const tok::Encoding*>& rows) -> Status {
    for (const auto* r : rows)
      if (r->ids[0] >= 30000) return Status("INFERENCE_FAILED", "injected");
    return Status::Ok();
  };
  RunWhileFirstLeads(&shared, &model, calls, Plan());
  EXPECT_EQ(calls[2]->status.code(), "INFERENCE_FAILED");
  for (size_t c : {0, 1}) {
    EXPECT_TRUE(calls[c]->status.ok()) << calls[c]->status.message();
    calls[c]->ExpectAllOnce();
  }
}

TEST(SharedBatches, AConsumerErrorEndsOnlyItsCall) {
  SharedBatches shared;
  FakeModel model;
  std::vector<std::unique_ptr<Call>> calls;
  for (size_t c = 0; c < 3; ++c) calls.push_back(std::make_unique<Call>(c + 1, 30));
  calls[1]->consume = [](const size_t*, const BatchTensors&, std::vector<Ort::Value>&) {
    return Status("ONNX_INVALID", "bad output");
  };
  RunWhileFirstLeads(&shared, &model, calls, Plan());
  EXPECT_EQ(calls[1]->status.code(), "ONNX_INVALID");
  for (size_t c : {0, 2}) {
    EXPECT_TRUE(calls[c]->status.ok());
    calls[c]->ExpectAllOnce();
  }
}

// A call whose consumer fails in the first half of a batch split after an out-of-memory error is ended only once the
// batch is done: the second half still reads its rows, which its caller frees as soon as Run returns (AddressSanitizer
// sees any read after that).
TEST(SharedBatches, AConsumerErrorInASplitBatchEndsItsCallAfterTheBatch) {
  SharedBatches shared;
  FakeModel model;
  model.split = true;
  std::vector<std::unique_ptr<Call>> calls;
  for (size_t c = 0; c < 4; ++c) calls.push_back(std::make_unique<Call>(c + 1, 24));
  for (auto& c : calls) c->free_after_run = true;
  calls[2]->consume = [](const size_t*, const BatchTensors&, std::vector<Ort::Value>&) {
    return Status("ONNX_INVALID", "bad output");
  };
  BatchPlan plan = Plan();
  plan.token_budget = 0;  // batches of 8 rows of all lengths: calls mixed on both sides of each split
  // Were the failing call ended mid-batch, its caller would return and free its rows before the second half is read:
  // give it the time to (a wait bounded in time, so that a correct implementation, whose caller cannot return yet,
  // only waits).
  model.between_halves = [&] {
    for (int i = 0; i < 20 && !calls[2]->returned; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  RunWhileFirstLeads(&shared, &model, calls, plan);
  EXPECT_EQ(calls[2]->status.code(), "ONNX_INVALID");
  for (size_t c : {0, 1, 3}) {
    EXPECT_TRUE(calls[c]->status.ok()) << calls[c]->status.message();
    EXPECT_FALSE(calls[c]->misrouted);
    EXPECT_EQ(calls[c]->done, 24u);
  }
}

// An exception inside a round (a batch that throws) ends the round's calls with INTERNAL and leaves the model
// usable: the next call leads its own round.
TEST(SharedBatches, AnExceptionInARoundEndsItsCallsAndTheNextCallRuns) {
  SharedBatches shared;
  FakeModel model;
  std::vector<std::unique_ptr<Call>> calls;
  for (size_t c = 0; c < 3; ++c) calls.push_back(std::make_unique<Call>(c + 1, 20));
  std::atomic<int> batches{0};
  model.before = [&](const std::vector<const tok::Encoding*>&) -> Status {
    if (++batches == 5) throw std::runtime_error("thrown by a batch");
    return Status::Ok();
  };
  RunWhileFirstLeads(&shared, &model, calls, Plan());
  size_t failed = 0;
  for (const auto& c : calls) {
    if (!c->status.ok()) {
      EXPECT_EQ(c->status.code(), "INTERNAL");
      ++failed;
    }
  }
  EXPECT_GE(failed, 1u);
  model.before = nullptr;
  Call after(9, 30);
  const CallRows rows = after.Rows();
  ASSERT_TRUE(shared.Run(rows, Plan(), model.Fn()).ok());
  after.ExpectAllOnce();
}

}  // namespace
}  // namespace winnow::pipelines
