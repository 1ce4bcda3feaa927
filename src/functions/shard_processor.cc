#include "functions/shard_processor.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "core/base64.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "functions/parallel_lanes.h"
#include "functions/process_runtime.h"
#include "functions/tumbling_window.h"
#include "json/json.h"
#include "json/writer.h"

namespace riffle::functions {

bool SequenceLess(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

ShardProcessor::ShardProcessor(ShardProcessorOptions options,
                               RecordSource& source, BatchInvoker& invoker,
                               CheckpointStore& checkpoints,
                               FailureDestination* destination,
                               std::optional<ShardCheckpoint> checkpoint)
    : options_(std::move(options)),
      source_(source),
      invoker_(invoker),
      checkpoints_(checkpoints),
      destination_(destination) {
  metrics::Labels mapping = {{"mapping", options_.mapping.uuid},
                             {"function", options_.mapping.function_name}};
  metrics::Registry& registry = metrics::Global();
  invocations_metric_ =
      &registry.GetCounter("riffle_function_mapping_invocations_total", mapping,
                           "Invocations by an event-source mapping");
  errors_metric_ = &registry.GetCounter(
      "riffle_function_mapping_errors_total", mapping,
      "Invocations by an event-source mapping that ended in a function error");
  metrics::Labels shard = mapping;
  shard.emplace_back("shard", options_.shard_id);
  iterator_age_metric_ = &registry.GetGauge(
      "riffle_function_mapping_iterator_age_ms", shard,
      "Age of the newest record of the last batch read, when it was read "
      "(0 once caught up): Lambda's IteratorAge");
  filtered_metric_ = &registry.GetCounter(
      "riffle_function_mapping_filtered_records_total", mapping,
      "Records that matched none of the mapping's FilterCriteria (skipped)");
  if (Result<FilterSet> f = FilterSet::Parse(options_.mapping.filter_patterns);
      f.ok()) {
    filters_ = std::move(*f);
  } else {
    // Validated when the mapping was created; a damaged stored pattern
    // must not send records the user meant to filter out.
    RLOG_ERROR("mapping {}: bad FilterCriteria ({}): no record will match",
               options_.mapping.uuid, f.status().ToString());
    filters_ =
        *FilterSet::Parse({R"({"riffle-invalid-filter": [{"exists": true}]})"});
  }
  if (checkpoint) {
    checkpoint_ = checkpoint->sequence_number;
    finished_ = checkpoint->shard_end;
  }
  if (options_.mapping.parallelization_factor > 1)
    lanes_ = std::make_unique<ParallelLanes>(
        options_, source, invoker, checkpoints, destination, checkpoint);
}

ShardProcessor::~ShardProcessor() = default;

Status ShardProcessor::EnsureIterator() {
  if (have_iterator_ || end_of_shard_) return Status::Ok();
  Result<std::string> it =
      !checkpoint_.empty()
          ? source_.GetIterator(options_.shard_id,
                                IteratorStart::kAfterSequence, checkpoint_, 0)
          : source_.GetIterator(options_.shard_id, options_.initial_start, "",
                                options_.initial_timestamp_ms);
  if (!it.ok()) return it.status();
  iterator_ = *it;
  have_iterator_ = true;
  return Status::Ok();
}

void ShardProcessor::Backoff() {
  int shift = std::min(retries_ > 0 ? retries_ - 1 : 0, 16);
  int64_t delay =
      std::min(options_.retry_backoff_ms << shift, options_.max_backoff_ms);
  next_step_ms_ = Now() + delay;
}

json::Value FilterView(const SourceRecord& r, const std::string& shard_id,
                       const std::string& event_source_arn,
                       const std::string& region) {
  using json::Value;
  Value kinesis = Value::Object();
  kinesis.Set("kinesisSchemaVersion", Value::String("1.0"));
  kinesis.Set("partitionKey", Value::String(r.partition_key));
  kinesis.Set("sequenceNumber", Value::String(r.sequence_number));
  kinesis.Set("approximateArrivalTimestamp",
              Value::NumberText(fmt::format("{}.{:03d}", r.arrival_ms / 1000,
                                            r.arrival_ms % 1000)));
  Value v = Value::Object();
  v.Set("kinesis", std::move(kinesis));
  v.Set("eventSource", Value::String("aws:kinesis"));
  v.Set("eventVersion", Value::String("1.0"));
  v.Set("eventID", Value::String(shard_id + ":" + r.sequence_number));
  v.Set("eventName", Value::String("aws:kinesis:record"));
  v.Set("awsRegion", Value::String(region));
  v.Set("eventSourceARN", Value::String(event_source_arn));
  if (Result<Value> data = json::Parse(r.data); data.ok())
    v.Set("data", std::move(*data));
  return v;
}

std::string ShardProcessor::Admit(std::vector<SourceRecord> records) {
  std::string skipped_first;
  for (auto& r : records) {
    if (filters_.empty() ||
        filters_.Matches(FilterView(r, options_.shard_id,
                                    options_.mapping.event_source_arn,
                                    options_.region))) {
      pending_.push_back(std::move(r));
      continue;
    }
    ++stats_.records_filtered;
    filtered_metric_->Add();
    if (pending_.empty()) {
      skipped_first = r.sequence_number;
    } else {
      skipped_after_[pending_.back().sequence_number] = r.sequence_number;
    }
  }
  return skipped_first;
}

Status ShardProcessor::AdvanceTo(const std::string& seq) {
  if (seq.empty() || !SequenceLess(checkpoint_, seq)) return Status::Ok();
  if (window_open_) {
    unsaved_ = true;  // saved when the window closes
  } else {
    RETURN_IF_ERROR(checkpoints_.Save(options_.shard_id, {seq, false}));
  }
  checkpoint_ = seq;
  return Status::Ok();
}

Status ShardProcessor::Commit(size_t n) {
  if (n == 0) return Status::Ok();
  std::string seq = pending_[n - 1].sequence_number;
  if (auto it = skipped_after_.find(seq); it != skipped_after_.end())
    seq = it->second;  // filtered-out records after it are done too
  if (window_open_) {
    // Saved when the window closes, so that a restart replays the whole
    // window and rebuilds its state. Records given up on (too old) before
    // any window opened are saved at once, as AdvanceTo does: no window
    // close may come to save them, and a restart would send their failure
    // records again.
    unsaved_ = true;
  } else {
    RETURN_IF_ERROR(checkpoints_.Save(options_.shard_id, {seq, false}));
  }
  checkpoint_ = seq;
  for (size_t i = 0; !skipped_after_.empty() && i < n; ++i)
    skipped_after_.erase(pending_[i].sequence_number);
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<long>(n));
  if (!pending_.empty()) first_pending_read_ms_ = Now();
  if (bisect_cap_ && !SequenceLess(checkpoint_, bisect_until_)) {
    bisect_cap_ = 0;  // past the batch that was split
    bisect_until_.clear();
  }
  retries_ = 0;
  invoke_count_ = 0;
  return Status::Ok();
}

std::string ShardProcessor::BuildEvent(size_t n) const {
  std::string out;
  out.reserve(256 * n);
  json::Writer w(&out);
  w.BeginObject().Key("Records").BeginArray();
  for (size_t i = 0; i < n; ++i) {
    const SourceRecord& r = pending_[i];
    w.BeginObject();
    w.Key("kinesis").BeginObject();
    w.Key("kinesisSchemaVersion").String("1.0");
    w.Key("partitionKey").String(r.partition_key);
    w.Key("sequenceNumber").String(r.sequence_number);
    w.Key("data").String(base64::Encode(r.data));
    w.Key("approximateArrivalTimestamp")
        .Raw(
            fmt::format("{}.{:03d}", r.arrival_ms / 1000, r.arrival_ms % 1000));
    w.EndObject();
    w.Key("eventSource").String("aws:kinesis");
    w.Key("eventVersion").String("1.0");
    w.Key("eventID").String(options_.shard_id + ":" + r.sequence_number);
    w.Key("eventName").String("aws:kinesis:record");
    w.Key("invokeIdentityArn").String(options_.role_arn);
    w.Key("awsRegion").String(options_.region);
    w.Key("eventSourceARN").String(options_.mapping.event_source_arn);
    w.EndObject();
  }
  w.EndArray();
  if (Tumbling()) {
    WriteWindowFields(w, {window_, window_state_, options_.shard_id,
                          options_.mapping.event_source_arn, false, false});
  }
  w.EndObject();
  return out;
}

StepResult ShardProcessor::CloseWindow() {
  const int64_t now = Now();
  std::string event;
  json::Writer w(&event);
  w.BeginObject().Key("Records").BeginArray().EndArray();
  WriteWindowFields(
      w, {window_, window_state_, options_.shard_id,
          options_.mapping.event_source_arn, true, window_terminated_early_});
  w.EndObject();
  BatchOutcome outcome = invoker_.Invoke(event);
  if (!outcome.status.ok()) {
    RLOG_WARN("mapping {} shard {}: cannot invoke: {}", options_.mapping.uuid,
              options_.shard_id, outcome.status.ToString());
    next_step_ms_ = now + options_.max_backoff_ms;
    return StepResult::kIdle;
  }
  ++stats_.invocations;
  invocations_metric_->Add();
  if (!outcome.function_error.empty()) {
    ++stats_.function_errors;
    errors_metric_->Add();
    ++retries_;
    const int max = options_.mapping.maximum_retry_attempts;
    if (max < 0 || retries_ <= max) {
      Backoff();
      return StepResult::kIdle;
    }
    // The window's records are done; only its result is lost. Said loudly,
    // never silently.
    RLOG_ERROR(
        "event-source mapping {}: giving up on the final invocation of window "
        "{} of {} after {} attempt(s); its state was {}",
        options_.mapping.uuid, WindowTimestamp(window_.start_ms),
        options_.shard_id, retries_, window_state_);
    metrics::Global()
        .GetCounter("riffle_function_mapping_failed_windows_total",
                    {{"mapping", options_.mapping.uuid}},
                    "Tumbling windows whose final invocation was given up on")
        .Add();
  }
  if (unsaved_) {
    if (Status s = checkpoints_.Save(options_.shard_id, {checkpoint_, false});
        !s.ok()) {
      RLOG_WARN("mapping {} shard {}: checkpoint: {}", options_.mapping.uuid,
                options_.shard_id, s.ToString());
      next_step_ms_ = now + options_.max_backoff_ms;
      return StepResult::kIdle;  // the final invocation is made again
    }
    unsaved_ = false;
  }
  window_open_ = false;
  window_terminated_early_ = false;
  window_state_ = "{}";
  retries_ = 0;
  invoke_count_ = 0;
  return StepResult::kProgress;
}

Status ShardProcessor::GiveUp(size_t n, std::string_view condition,
                              const BatchOutcome* last) {
  const SourceRecord& first = pending_[0];
  const SourceRecord& lastrec = pending_[n - 1];
  std::string out;
  json::Writer w(&out);
  w.BeginObject();
  w.Key("requestContext").BeginObject();
  w.Key("requestId").String(NewUuid());
  w.Key("functionArn").String(options_.function_arn);
  w.Key("condition").String(condition);
  w.Key("approximateInvokeCount").Int(invoke_count_);
  w.EndObject();
  w.Key("responseContext").BeginObject();
  w.Key("statusCode").Int(200);
  w.Key("executedVersion").String("$LATEST");
  w.Key("functionError")
      .String(last && !last->function_error.empty() ? last->function_error
                                                    : "");
  w.EndObject();
  w.Key("version").String("1.0");
  w.Key("timestamp").String(IsoTimestamp(Now()));
  w.Key("KinesisBatchInfo").BeginObject();
  w.Key("shardId").String(options_.shard_id);
  w.Key("startSequenceNumber").String(first.sequence_number);
  w.Key("endSequenceNumber").String(lastrec.sequence_number);
  w.Key("approximateArrivalOfFirstRecord")
      .String(IsoTimestamp(first.arrival_ms));
  w.Key("approximateArrivalOfLastRecord")
      .String(IsoTimestamp(lastrec.arrival_ms));
  w.Key("batchSize").Uint(n);
  w.Key("streamArn").String(options_.mapping.event_source_arn);
  w.EndObject();
  w.EndObject();

  if (destination_) {
    // The shard does not move on until the failure record is stored: that
    // is what makes "never dropped silently" hold across a crash.
    RETURN_IF_ERROR(destination_->Send(out));
    ++stats_.failure_records_sent;
  } else {
    RLOG_ERROR(
        "event-source mapping {}: giving up on {} record(s) of {} ({}) with "
        "no on-failure destination: {}",
        options_.mapping.uuid, n, options_.shard_id, condition, out);
  }
  metrics::Global()
      .GetCounter("riffle_function_mapping_failed_records_total",
                  {{"mapping", options_.mapping.uuid},
                   {"destination", destination_ ? "on_failure" : "log"}},
                  "Records an event-source mapping gave up on")
      .Add(n);
  stats_.records_failed += n;
  return Commit(n);
}

void ShardProcessor::Nudge() {
  if (lanes_) {
    lanes_->Nudge();
    return;
  }
  if (!waiting_for_records_) return;
  waiting_for_records_ = false;
  next_read_ms_ = 0;
  next_step_ms_ = 0;
}

StepResult ShardProcessor::Step() {
  if (lanes_) {
    StepResult r = lanes_->Step();
    stats_ = lanes_->stats();
    checkpoint_ = lanes_->checkpoint();
    next_step_ms_ = lanes_->next_step_ms();
    finished_ = r == StepResult::kFinished;
    return r;
  }
  if (finished_) {
    iterator_age_metric_->Set(0);
    return StepResult::kFinished;
  }
  waiting_for_records_ = false;
  int64_t now = Now();
  if (now < next_step_ms_) return StepResult::kIdle;
  const MappingConfig& m = options_.mapping;
  const size_t batch_size = static_cast<size_t>(std::max(1, m.batch_size));

  // Read more when the batch is not full.
  if (pending_.size() < batch_size && !end_of_shard_ && now >= next_read_ms_) {
    if (Status s = EnsureIterator(); !s.ok()) {
      RLOG_WARN("mapping {} shard {}: {}", m.uuid, options_.shard_id,
                s.ToString());
      next_step_ms_ = now + options_.max_backoff_ms;
      return StepResult::kIdle;
    }
    int limit = static_cast<int>(std::min<size_t>(
        std::max<size_t>(batch_size - pending_.size(), 1), 10000));
    Result<ReadResult> read = source_.Read(*iterator_, limit);
    if (!read.ok()) {
      // An expired iterator (or any read fault): start again from the
      // checkpoint, dropping what is pending (it is re-read).
      RLOG_WARN("mapping {} shard {}: read failed: {}", m.uuid,
                options_.shard_id, read.status().ToString());
      have_iterator_ = false;
      pending_.clear();
      skipped_after_.clear();
      next_step_ms_ = now + options_.poll_interval_ms;
      return StepResult::kIdle;
    }
    const bool was_empty = pending_.empty();
    const bool got_records = !read->records.empty();
    std::string skipped = Admit(std::move(read->records));
    if (was_empty && !pending_.empty()) first_pending_read_ms_ = now;
    if (Status s = AdvanceTo(skipped); !s.ok()) {
      // Re-read from the checkpoint: the skipped records are filtered
      // again.
      have_iterator_ = false;
      pending_.clear();
      skipped_after_.clear();
      next_step_ms_ = now + options_.max_backoff_ms;
      return StepResult::kIdle;
    }
    if (read->next_iterator) {
      iterator_ = std::move(read->next_iterator);
    } else {
      end_of_shard_ = true;
    }
    if (!got_records) next_read_ms_ = now + options_.poll_interval_ms;
    last_read_empty_ = !got_records;
    // Filtered-out records left the batch short: read on before invoking,
    // so that batches hold up to BatchSize matching records when the shard
    // has them (Lambda filters before it batches).
    if (!filters_.empty() && got_records && !end_of_shard_ &&
        pending_.size() < batch_size) {
      stats_.iterator_age_ms =
          pending_.empty() ? 0 : now - pending_.back().arrival_ms;
      iterator_age_metric_->Set(stats_.iterator_age_ms);
      return StepResult::kProgress;
    }
    stats_.iterator_age_ms =
        pending_.empty() ? 0 : now - pending_.back().arrival_ms;
    iterator_age_metric_->Set(stats_.iterator_age_ms);
  }

  if (window_open_) {
    // The window is over once a later record is pending, or when its time
    // has passed and the shard has nothing more (a record appended from
    // now on arrives after the window's end), or at the end of a closed
    // shard, or early when its state outgrew Lambda's limit.
    bool over = window_terminated_early_ ||
                (pending_.empty() ? end_of_shard_ || (last_read_empty_ &&
                                                      now >= window_.end_ms)
                                  : pending_[0].arrival_ms >= window_.end_ms);
    if (over) return CloseWindow();
  }

  if (pending_.empty()) {
    if (end_of_shard_) {
      if (!checkpoints_.Save(options_.shard_id, {checkpoint_, true}).ok()) {
        next_step_ms_ = now + options_.max_backoff_ms;
        return StepResult::kIdle;
      }
      finished_ = true;
      iterator_age_metric_->Set(0);
      return StepResult::kFinished;
    }
    next_step_ms_ = window_open_
                        ? std::min(next_read_ms_, std::max(window_.end_ms, now))
                        : next_read_ms_;
    waiting_for_records_ = true;
    return StepResult::kIdle;
  }

  // Records past their maximum age are not invoked.
  if (m.maximum_record_age_seconds >= 0) {
    int64_t oldest_allowed = now - int64_t{m.maximum_record_age_seconds} * 1000;
    size_t expired = 0;
    while (expired < pending_.size() &&
           pending_[expired].arrival_ms < oldest_allowed)
      ++expired;
    if (expired > 0) {
      if (!GiveUp(expired, "RecordAgeExceeded", nullptr).ok()) Backoff();
      return StepResult::kProgress;
    }
  }

  // Wait for a fuller batch while the window is open.
  if (pending_.size() < batch_size && !end_of_shard_ &&
      m.maximum_batching_window_seconds > 0) {
    int64_t window_end = first_pending_read_ms_ +
                         int64_t{m.maximum_batching_window_seconds} * 1000;
    if (now < window_end) {
      next_step_ms_ = std::min(window_end, now + options_.poll_interval_ms);
      return StepResult::kIdle;
    }
  }

  size_t n = std::min(pending_.size(), batch_size);
  if (bisect_cap_) n = std::min(n, bisect_cap_);
  if (Tumbling()) {
    if (!window_open_) {
      window_ = WindowOf(pending_[0].arrival_ms,
                         options_.mapping.tumbling_window_seconds);
      window_open_ = true;
      window_state_ = "{}";
    }
    // A batch never spans windows.
    size_t in_window = 0;
    while (in_window < n && pending_[in_window].arrival_ms < window_.end_ms)
      ++in_window;
    n = in_window;
  }
  BatchOutcome outcome;
  if (invoker_.AcceptsRecords() && !Tumbling()) {
    std::vector<const SourceRecord*> records(n);
    for (size_t i = 0; i < n; ++i) records[i] = &pending_[i];
    outcome = invoker_.InvokeRecords(records);
  } else {
    outcome = invoker_.Invoke(BuildEvent(n));
  }
  ++stats_.invocations;
  if (outcome.status.ok()) invocations_metric_->Add();
  if (!outcome.status.ok()) {
    // Throttled or not runnable: try the same batch later, uncounted.
    RLOG_WARN("mapping {} shard {}: cannot invoke: {}", m.uuid,
              options_.shard_id, outcome.status.ToString());
    next_step_ms_ = now + options_.max_backoff_ms;
    return StepResult::kIdle;
  }
  ++invoke_count_;

  size_t failed_from = n;  // index of the first failed record
  // One past the last record reported failed: what is given up once the
  // retries run out (the records after it reported success).
  size_t failed_through = n;
  bool failed = !outcome.function_error.empty();
  if (failed) {
    ++stats_.function_errors;
    errors_metric_->Add();
  }
  if (!failed && Tumbling()) {
    // The state is carried on also after a partial failure: the handler
    // returned it for the records it reported done.
    window_state_ = StateOfReply(outcome.payload);
    if (window_state_.size() > kMaxWindowStateBytes)
      window_terminated_early_ = true;
  }
  if (!failed && m.report_batch_item_failures) {
    Result<json::Value> reply = json::Parse(outcome.payload);
    const json::Value* items = reply.ok() && reply->is_object()
                                   ? reply->Find("batchItemFailures")
                                   : nullptr;
    if (items && items->is_array() && !items->items().empty()) {
      std::set<std::string_view> ids;
      bool valid = true;
      for (const json::Value& item : items->items()) {
        const json::Value* id =
            item.is_object() ? item.Find("itemIdentifier") : nullptr;
        if (!id || !id->is_string() || id->text().empty()) {
          valid = false;
          break;
        }
        ids.insert(id->text());
      }
      size_t lowest = n;
      size_t highest = 0;
      size_t found = 0;
      for (size_t i = 0; valid && i < n; ++i) {
        if (ids.count(pending_[i].sequence_number)) {
          lowest = std::min(lowest, i);
          highest = i;
          ++found;
        }
      }
      // Every identifier must name a record of this batch; otherwise the
      // whole batch failed.
      failed = true;
      if (!valid || found != ids.size()) {
        failed_from = 0;
      } else {
        failed_from = lowest;
        failed_through = highest + 1;
      }
    }
  }

  if (!failed) {
    if (!Commit(n).ok()) {
      Backoff();
      return StepResult::kIdle;
    }
    stats_.records_processed += n;
    return StepResult::kProgress;
  }

  // Records before the first failed one are done.
  if (failed_from > 0 && failed_from < n) {
    if (!Commit(failed_from).ok()) {
      Backoff();
      return StepResult::kIdle;
    }
    stats_.records_processed += failed_from;
    n -= failed_from;
    failed_through -= failed_from;
    invoke_count_ = 1;
  }

  if (m.bisect_batch_on_function_error && n > 1) {
    bisect_cap_ = std::max<size_t>(1, n / 2);
    if (bisect_until_.empty() ||
        SequenceLess(bisect_until_, pending_[n - 1].sequence_number))
      bisect_until_ = pending_[n - 1].sequence_number;
    return StepResult::kProgress;
  }
  ++retries_;
  if (m.maximum_retry_attempts >= 0 && retries_ > m.maximum_retry_attempts) {
    if (!GiveUp(std::min(n, failed_through), "RetryAttemptsExhausted", &outcome)
             .ok())
      Backoff();
    return StepResult::kProgress;
  }
  Backoff();
  return StepResult::kIdle;
}

}  // namespace riffle::functions
