#include "pipelines/shared_batches.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "batching/batcher.h"

namespace winnow::pipelines {

struct SharedBatches::Ticket {
  const CallRows* call = nullptr;  // the caller's: touched only while !finished
  std::vector<const char*> outputs;
  size_t remaining = 0;  // rows not yet consumed
  bool planned = false;  // taken into a round (its leader finishes it)
  bool finished = false;
  Status status;
};

namespace {

bool SameOutputs(const std::vector<const char*>& a, const std::vector<const char*>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::string_view(a[i]) != std::string_view(b[i])) return false;
  return true;
}

size_t ElementBytes(ONNXTensorElementDataType type) {
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return 4;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: return 2;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return 8;
    default: return 0;
  }
}

}  // namespace

Status SliceRows(const BatchTensors& t, std::vector<Ort::Value>& results, size_t first, size_t count,
                 BatchTensors* sub_t, std::vector<Ort::Value>* sub_results) {
  const size_t seq = static_cast<size_t>(t.seq);
  sub_t->rows = static_cast<int64_t>(count);
  sub_t->seq = t.seq;
  auto take = [&](const std::vector<int64_t>& from, std::vector<int64_t>* to) {
    if (from.empty()) return to->clear();
    to->assign(from.begin() + first * seq, from.begin() + (first + count) * seq);
  };
  take(t.input_ids, &sub_t->input_ids);
  take(t.attention_mask, &sub_t->attention_mask);
  take(t.token_type_ids, &sub_t->token_type_ids);
  sub_results->clear();
  for (Ort::Value& v : results) {
    auto info = v.GetTensorTypeAndShapeInfo();
    std::vector<int64_t> shape = info.GetShape();
    const size_t bytes = ElementBytes(info.GetElementType());
    if (shape.empty() || shape[0] != t.rows || bytes == 0)
      return Status(codes::kOnnxInvalid, "an output's first dimension is not the batch's " + std::to_string(t.rows) +
                                             " rows (or its type is not a number): it cannot be shared between calls");
    const size_t row_bytes = t.rows > 0 ? info.GetElementCount() / static_cast<size_t>(t.rows) * bytes : 0;
    shape[0] = static_cast<int64_t>(count);
    auto* data = static_cast<uint8_t*>(v.GetTensorMutableRawData()) + first * row_bytes;
    sub_results->push_back(Ort::Value::CreateTensor(v.GetTensorMemoryInfo(), data, count * row_bytes, shape.data(),
                                                    shape.size(), info.GetElementType()));
  }
  return Status::Ok();
}

Status SharedBatches::Run(const CallRows& call, const BatchPlan& plan, const RunRowsFn& run) {
  auto ticket = std::make_shared<Ticket>();
  ticket->call = &call;
  ticket->outputs = *call.outputs;
  ticket->remaining = call.encodings->size();
  if (ticket->remaining == 0) return Status::Ok();
  std::unique_lock<std::mutex> lk(mu_);
  pending_.push_back(ticket);
  for (;;) {
    if (ticket->finished) return ticket->status;
    // A call cancelled before its round leaves at once (and never leads a round for the others).
    if (!ticket->planned && call.control->cancelled()) {
      pending_.erase(std::find(pending_.begin(), pending_.end(), ticket));
      return Cancelled();
    }
    if (!leading_ && !pending_.empty()) {
      leading_ = true;
      const auto round = TakeRound(plan.round_rows);
      lk.unlock();
      RunRound(round, plan, run);
      lk.lock();
      leading_ = false;
      cv_.notify_all();
      continue;
    }
    // The leader ends cancelled waiting calls between batches; the timeout only bounds a missed wake-up. A
    // system-clock deadline: libstdc++ waits on the steady clock with pthread_cond_clockwait, glibc 2.34, past the
    // prebuilds' glibc floor (2.28).
    cv_.wait_until(lk, std::chrono::system_clock::now() + std::chrono::milliseconds(50));
  }
}

void SharedBatches::EndCancelledWaiting() {
  std::lock_guard<std::mutex> lk(mu_);
  bool any = false;
  for (auto it = pending_.begin(); it != pending_.end();) {
    Ticket* t = it->get();
    if (t->call->control->cancelled()) {
      t->status = Cancelled();
      t->finished = true;
      t->call = nullptr;
      it = pending_.erase(it);
      any = true;
    } else {
      ++it;
    }
  }
  if (any) cv_.notify_all();
}

std::vector<std::shared_ptr<SharedBatches::Ticket>> SharedBatches::TakeRound(size_t round_rows) {
  std::vector<std::shared_ptr<Ticket>> round, rest;
  size_t rows = 0;
  for (auto& t : pending_) {
    const bool fits = round.empty() || (SameOutputs(t->outputs, round[0]->outputs) && rows + t->remaining <= round_rows);
    if (fits) {
      t->planned = true;
      rows += t->remaining;
      round.push_back(std::move(t));
    } else {
      rest.push_back(std::move(t));
    }
  }
  pending_ = std::move(rest);
  return round;
}

void SharedBatches::Finish(Ticket* t, Status status) {
  std::lock_guard<std::mutex> lk(mu_);
  if (t->finished) return;
  t->status = std::move(status);
  t->finished = true;
  t->call = nullptr;
  cv_.notify_all();
}

void SharedBatches::RunRound(const std::vector<std::shared_ptr<Ticket>>& round, const BatchPlan& plan,
                             const RunRowsFn& run) {
  // Nothing thrown here may leave the round's calls waiting, or the model without a leader.
  try {
    RunRoundBatches(round, plan, run);
  } catch (const std::bad_alloc&) {
    for (const auto& t : round) Finish(t.get(), Status(codes::kInternal, "out of memory"));
  } catch (const std::exception& e) {
    for (const auto& t : round) Finish(t.get(), Status(codes::kInternal, e.what()));
  }
  // Every row ran or its call ended: this only guards against a call left waiting forever.
  for (const auto& t : round) Finish(t.get(), Status(codes::kInternal, "a call's rows were left unrun"));
}

namespace {

// Runs fn, turning an exception into a status.
template <class Fn>
Status Guarded(Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return Status(codes::kInternal, "out of memory");
  } catch (const std::exception& e) {
    return Status(codes::kInternal, e.what());
  }
}

}  // namespace

void SharedBatches::RunRoundBatches(const std::vector<std::shared_ptr<Ticket>>& round, const BatchPlan& plan,
                                    const RunRowsFn& run) {
  // Row k of the round is row rows[k].second of call rows[k].first.
  std::vector<std::pair<size_t, size_t>> rows;
  std::vector<size_t> lengths;
  for (size_t c = 0; c < round.size(); ++c) {
    const auto& encodings = *round[c]->call->encodings;
    for (size_t i = 0; i < encodings.size(); ++i) {
      rows.emplace_back(c, i);
      lengths.push_back(encodings[i].size());
    }
  }
  const auto batches = batching::PlanBatches(lengths, plan.batch_rows, plan.token_budget, plan.bucket_cap, plan.batch_cost);
  std::vector<std::pair<size_t, size_t>> batch;  // this batch's rows, grouped by call
  std::vector<const tok::Encoding*> encodings;
  std::vector<size_t> items;
  std::vector<Status> failed(round.size());  // a call's error in this batch, ended once the batch is done with
  BatchTensors sub_t;
  std::vector<Ort::Value> sub_results;
  for (const auto& b : batches) {
    // Cancelled calls end here, in this round and among those waiting for the next.
    for (const auto& t : round)
      if (!t->finished && t->call->control->cancelled()) Finish(t.get(), Cancelled());
    EndCancelledWaiting();
    batch.clear();
    for (size_t k : b.indices)
      if (!round[rows[k].first]->finished) batch.push_back(rows[k]);
    if (batch.empty()) continue;
    // Each call's rows side by side, so that its share of the outputs is one block of rows.
    std::stable_sort(batch.begin(), batch.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    encodings.clear();
    for (const auto& [c, i] : batch) encodings.push_back(&(*round[c]->call->encodings)[i]);
    if (batch.front().first != batch.back().first) shared_.fetch_add(1, std::memory_order_relaxed);
    // A call whose consumer fails is ended only after the batch: a batch split after an out-of-memory error still
    // reads the rows of its second half, some of which may be that call's.
    auto consume = [&](size_t first, const BatchTensors& t, std::vector<Ort::Value>& results) -> Status {
      const size_t end = first + static_cast<size_t>(t.rows);
      for (size_t s = first; s < end;) {
        const size_t c = batch[s].first;
        size_t e = s;
        while (e < end && batch[e].first == c) ++e;
        Ticket* ticket = round[c].get();
        if (!ticket->finished && failed[c].ok()) {
          const CallRows& call = *ticket->call;
          Status st = Guarded([&]() -> Status {
            items.clear();
            for (size_t r = s; r < e; ++r) items.push_back(call.base + batch[r].second);
            if (e - s == static_cast<size_t>(t.rows)) {
              WINNOW_RETURN_IF_ERROR((*call.consume)(items.data(), t, results));
            } else {
              WINNOW_RETURN_IF_ERROR(SliceRows(t, results, s - first, e - s, &sub_t, &sub_results));
              WINNOW_RETURN_IF_ERROR((*call.consume)(items.data(), sub_t, sub_results));
            }
            *call.done += e - s;
            if (call.control->progress) call.control->progress(*call.done, call.total);
            return Status::Ok();
          });
          if (!st.ok()) {
            failed[c] = std::move(st);
          } else {
            ticket->remaining -= e - s;
            if (ticket->remaining == 0) Finish(ticket, Status::Ok());
          }
        }
        s = e;
      }
      return Status::Ok();
    };
    const Status st = Guarded([&] { return run(encodings, b.max_len, round[0]->outputs, consume); });
    for (const auto& [c, i] : batch) {
      if (!failed[c].ok()) Finish(round[c].get(), failed[c]);
      else if (!st.ok()) Finish(round[c].get(), st);
    }
  }
}


}  // namespace winnow::pipelines
