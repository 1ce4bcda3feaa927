#include "streams/kinesis_api.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <memory>

#include "core/base64.h"
#include "core/clock.h"
#include "http/aws_input.h"
#include "json/writer.h"

namespace riffle::streams {
namespace {

using http::AwsError;
using http::AwsInput;
using http::AwsJsonCall;
using http::AwsJsonReply;
using json::Writer;

constexpr size_t kMaxRecordBytes = 1u << 20;
constexpr size_t kMaxPutRecordsBytes = 5u << 20;
constexpr size_t kMaxPutRecordsCount = 500;
constexpr int kMaxGetRecordsLimit = 10000;

constexpr std::string_view kStreamArnPattern =
    "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+";
constexpr std::string_view kNamePattern = "[a-zA-Z0-9_.-]+";

bool MatchesStreamArn(std::string_view arn) {
  // arn:aws[-partition]:kinesis:<region>:<12 digits>:stream/<name>
  if (arn.rfind("arn:aws", 0) != 0) return false;
  auto kinesis = arn.find(":kinesis:");
  if (kinesis == std::string_view::npos) return false;
  auto stream = arn.find(":stream/", kinesis);
  if (stream == std::string_view::npos || stream + 8 >= arn.size())
    return false;
  if (stream < 12 || arn[stream - 13] != ':') return false;
  for (size_t i = stream - 12; i < stream; ++i) {
    if (arn[i] < '0' || arn[i] > '9') return false;
  }
  for (size_t i = stream + 8; i < arn.size(); ++i) {
    if (std::isspace(static_cast<unsigned char>(arn[i]))) return false;
  }
  return true;
}

double EpochSeconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

// A client's epoch-seconds timestamp in ms, clamped to what int64 holds
// (converting an out-of-range double is undefined behaviour).
int64_t EpochSecondsToMillis(double seconds) {
  double ms = std::round(seconds * 1000);
  if (!(ms > -9.2e18)) return INT64_MIN / 2;  // also NaN
  if (ms > 9.2e18) return INT64_MAX / 2;
  return static_cast<int64_t>(ms);
}

// Everything an operation needs; shared by the operations of one API.
struct Context {
  Service& service;
  ThreadPool& blocking;
};

// Reads and validates StreamName/StreamARN. With `arn_allowed` either names
// the stream; CreateStream takes only a name.
std::optional<std::string> StreamNameOf(
    AwsInput& in, bool arn_allowed = true,
    std::string_view name_member = "StreamName") {
  const std::string* name = in.String(name_member);
  in.Length(name_member, name, 1, 128);
  in.Pattern(name_member, name, kNamePattern, http::MatchesNamePattern);
  const std::string* arn = arn_allowed ? in.String("StreamARN") : nullptr;
  in.Length("StreamARN", arn, 1, 2048);
  in.Pattern("StreamARN", arn, kStreamArnPattern, MatchesStreamArn);
  if (!arn_allowed) {
    in.Required(name_member, name != nullptr);
    if (name) return *name;
    return std::nullopt;
  }
  if (arn && MatchesStreamArn(*arn)) {
    std::string from_arn = arn->substr(arn->find(":stream/") + 8);
    return from_arn;
  }
  if (name) return *name;
  return std::nullopt;
}

// The stream an ARN-or-name request addresses, or the error to answer.
std::optional<AwsError> CheckStreamNamed(
    AwsInput& in, const std::optional<std::string>& name) {
  if (auto e = in.Error()) return e;
  if (!name) {
    return AwsError{"InvalidArgumentException",
                    "Either StreamName or StreamARN should be provided.", 400};
  }
  return std::nullopt;
}

void WriteHashRange(Writer& w, const HashKeyRange& r) {
  w.Key("HashKeyRange").BeginObject();
  w.Key("StartingHashKey").String(HashKeyToString(r.start));
  w.Key("EndingHashKey").String(HashKeyToString(r.end));
  w.EndObject();
}

void WriteShard(Writer& w, const ShardDescription& s) {
  w.BeginObject();
  w.Key("ShardId").String(s.shard_id);
  if (s.parent_shard_id) w.Key("ParentShardId").String(*s.parent_shard_id);
  if (s.adjacent_parent_shard_id)
    w.Key("AdjacentParentShardId").String(*s.adjacent_parent_shard_id);
  WriteHashRange(w, s.hash_range);
  w.Key("SequenceNumberRange").BeginObject();
  w.Key("StartingSequenceNumber").String(s.starting_sequence_number);
  if (s.ending_sequence_number)
    w.Key("EndingSequenceNumber").String(*s.ending_sequence_number);
  w.EndObject();
  w.EndObject();
}

// The members DescribeStream and DescribeStreamSummary share: retention,
// creation time, and the settings riffle does not vary (no enhanced
// monitoring, no server-side encryption).
void WriteRetentionAndSettings(Writer& w, const StreamDescription& d) {
  w.Key("RetentionPeriodHours").Int(d.retention_hours);
  w.Key("StreamCreationTimestamp").Double(EpochSeconds(d.created_ms));
  w.Key("EnhancedMonitoring")
      .BeginArray()
      .BeginObject()
      .Key("ShardLevelMetrics")
      .BeginArray()
      .EndArray()
      .EndObject()
      .EndArray();
  w.Key("EncryptionType").String("NONE");
}

void WriteMode(Writer& w, StreamMode mode) {
  w.Key("StreamModeDetails")
      .BeginObject()
      .Key("StreamMode")
      .String(StreamModeName(mode))
      .EndObject();
}

// Pagination tokens for ListStreams and ListShards: base64 of JSON, so that
// a client cannot mistake one for a name.
std::string MakeToken(const json::Value& v) {
  return base64::Encode(json::Serialize(v));
}
std::optional<json::Value> ReadToken(const std::string& token) {
  auto raw = base64::Decode(token);
  if (!raw) return std::nullopt;
  auto v = json::Parse(*raw);
  if (!v.ok() || !v->is_object()) return std::nullopt;
  return std::move(v).value();
}

class KinesisApi {
 public:
  explicit KinesisApi(Context ctx) : ctx_(ctx) {}

  http::AwsJsonService Build() {
    http::AwsJsonService api;
    api.target_prefix = "Kinesis_20131202";
    api.content_type = "application/x-amz-json-1.1";
    api.metrics_service = "kinesis";
    Add(api, "CreateStream", true, &KinesisApi::CreateStream);
    Add(api, "DeleteStream", true, &KinesisApi::DeleteStream);
    Add(api, "DescribeStream", false, &KinesisApi::DescribeStream);
    Add(api, "DescribeStreamSummary", false,
        &KinesisApi::DescribeStreamSummary);
    Add(api, "ListStreams", false, &KinesisApi::ListStreams);
    Add(api, "ListShards", false, &KinesisApi::ListShards);
    Add(api, "PutRecord", false, &KinesisApi::PutRecord);
    Add(api, "PutRecords", false, &KinesisApi::PutRecords);
    Add(api, "GetShardIterator", true, &KinesisApi::GetShardIterator);
    Add(api, "GetRecords", true, &KinesisApi::GetRecords);
    Add(api, "IncreaseStreamRetentionPeriod", true,
        &KinesisApi::IncreaseRetention);
    Add(api, "DecreaseStreamRetentionPeriod", true,
        &KinesisApi::DecreaseRetention);
    Add(api, "AddTagsToStream", true, &KinesisApi::AddTagsToStream);
    Add(api, "ListTagsForStream", false, &KinesisApi::ListTagsForStream);
    Add(api, "RemoveTagsFromStream", true, &KinesisApi::RemoveTagsFromStream);
    Add(api, "SplitShard", true, &KinesisApi::SplitShard);
    Add(api, "MergeShards", true, &KinesisApi::MergeShards);
    Add(api, "UpdateShardCount", true, &KinesisApi::UpdateShardCount);
    Add(api, "UpdateStreamMode", true, &KinesisApi::UpdateStreamMode);
    Add(api, "DescribeLimits", false, &KinesisApi::DescribeLimits);
    return api;
  }

 private:
  using Method = void (KinesisApi::*)(const json::Value& body,
                                      AwsJsonReply& reply);

  void Add(http::AwsJsonService& api, const char* name, bool blocking,
           Method method) {
    api.operations[name] = [this, blocking, method](AwsJsonCall call,
                                                    AwsJsonReply reply) {
      if (!blocking) {
        (this->*method)(call.body, reply);
        return;
      }
      // Control operations fsync metadata and GetRecords reads segments:
      // keep them off the network threads.
      auto shared = std::make_shared<std::pair<AwsJsonCall, AwsJsonReply>>(
          std::move(call), std::move(reply));
      ctx_.blocking.Post([this, method, shared] {
        (this->*method)(shared->first.body, shared->second);
      });
    };
  }

  static void Fail(AwsJsonReply& reply, const Status& s) {
    reply.Error(KinesisError(s));
  }

  // Replies with an input error and returns true if there is one.
  static bool Rejected(AwsJsonReply& reply,
                       const std::optional<AwsError>& error) {
    if (!error) return false;
    reply.Error(*error);
    return true;
  }

  static void Empty(AwsJsonReply& reply) { reply.Ok("{}"); }

  void CreateStream(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    auto name = StreamNameOf(in, /*arn_allowed=*/false);
    auto shard_count = in.Int("ShardCount");
    in.Range("ShardCount", shard_count, 1, 1000000);
    StreamMode mode = StreamMode::kProvisioned;
    if (const json::Value* details = in.Struct("StreamModeDetails")) {
      AwsInput d = in.Child(*details, "streamModeDetails");
      const std::string* m = d.String("StreamMode");
      d.Required("StreamMode", m != nullptr);
      d.Enum("StreamMode", m, {"PROVISIONED", "ON_DEMAND"});
      if (m && *m == "ON_DEMAND") mode = StreamMode::kOnDemand;
    }
    auto tags = ReadTags(in, "Tags", 0);
    if (Rejected(reply, in.Error())) return;
    if (mode == StreamMode::kProvisioned && !shard_count) {
      return reply.Error(
          {"InvalidArgumentException",
           "Shard count must be specified for the PROVISIONED stream mode.",
           400});
    }
    if (mode == StreamMode::kOnDemand && shard_count) {
      return reply.Error(
          {"InvalidArgumentException",
           "Shard count must not be specified for the ON_DEMAND stream mode.",
           400});
    }
    std::optional<int> count;
    if (shard_count) count = static_cast<int>(*shard_count);
    Status s = ctx_.service.CreateStream(*name, count, mode, tags);
    if (!s.ok()) return Fail(reply, s);
    Empty(reply);
  }

  std::map<std::string, std::string> ReadTags(AwsInput& in,
                                              std::string_view member,
                                              size_t min) {
    std::map<std::string, std::string> tags;
    const json::Value* map = in.Map(member);
    in.ListLength(member, map, min, 200);
    if (!map) return tags;
    for (const auto& [k, v] : map->members()) {
      if (!v.is_string()) {
        in.SerializationError("Unexpected value type in a map of strings");
        return tags;
      }
      if (k.empty() || k.size() > 128) {
        in.AddViolation(member, "'{...}'",
                        "Map keys must satisfy constraint: [Member must have "
                        "length less than "
                        "or equal to 128, Member must have length greater than "
                        "or equal to 1]");
      } else if (v.text().size() > 256) {
        in.AddViolation(member, "'{...}'",
                        "Map value must satisfy constraint: [Member must have "
                        "length less than "
                        "or equal to 256, Member must have length greater than "
                        "or equal to 0]");
      }
      tags[k] = v.text();
    }
    return tags;
  }

  void DeleteStream(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    auto name = StreamNameOf(in);
    in.Bool("EnforceConsumerDeletion");
    if (Rejected(reply, CheckStreamNamed(in, name))) return;
    Status s = ctx_.service.DeleteStream(*name);
    if (!s.ok()) return Fail(reply, s);
    Empty(reply);
  }

  void DescribeStream(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    auto name = StreamNameOf(in);
    auto limit = in.Int("Limit");
    in.Range("Limit", limit, 1, 10000);
    const std::string* start = in.String("ExclusiveStartShardId");
    in.Length("ExclusiveStartShardId", start, 1, 128);
    in.Pattern("ExclusiveStartShardId", start, kNamePattern,
               http::MatchesNamePattern);
    if (Rejected(reply, CheckStreamNamed(in, name))) return;
    auto d = ctx_.service.DescribeStream(*name);
    if (!d.ok()) return Fail(reply, d.status());
    size_t max = static_cast<size_t>(limit.value_or(100));
    std::optional<int> after;
    if (start) after = ShardIndexFromId(*start).value_or(-1);

    std::string out;
    Writer w(&out);
    w.BeginObject().Key("StreamDescription").BeginObject();
    w.Key("StreamName").String(d->name);
    w.Key("StreamARN").String(d->arn);
    w.Key("StreamStatus").String(StreamStatusName(d->status));
    WriteMode(w, d->mode);
    w.Key("Shards").BeginArray();
    size_t written = 0;
    bool more = false;
    for (const auto& s : d->shards) {
      if (after && ShardIndexFromId(s.shard_id).value_or(0) <= *after) continue;
      if (written == max) {
        more = true;
        break;
      }
      WriteShard(w, s);
      ++written;
    }
    w.EndArray();
    w.Key("HasMoreShards").Bool(more);
    WriteRetentionAndSettings(w, *d);
    w.EndObject().EndObject();
    reply.Ok(std::move(out));
  }

  void DescribeStreamSummary(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    auto name = StreamNameOf(in);
    if (Rejected(reply, CheckStreamNamed(in, name))) return;
    auto d = ctx_.service.DescribeStream(*name);
    if (!d.ok()) return Fail(reply, d.status());
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("StreamDescriptionSummary").BeginObject();
    w.Key("StreamName").String(d->name);
    w.Key("StreamARN").String(d->arn);
    w.Key("StreamStatus").String(StreamStatusName(d->status));
    WriteMode(w, d->mode);
    WriteRetentionAndSettings(w, *d);
    w.Key("OpenShardCount").Int(d->open_shard_count);
    w.Key("ConsumerCount").Int(0);
    w.EndObject().EndObject();
    reply.Ok(std::move(out));
  }

  void ListStreams(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    auto limit = in.Int("Limit");
    in.Range("Limit", limit, 1, 10000);
    const std::string* start = in.String("ExclusiveStartStreamName");
    in.Length("ExclusiveStartStreamName", start, 1, 128);
    in.Pattern("ExclusiveStartStreamName", start, kNamePattern,
               http::MatchesNamePattern);
    const std::string* token = in.String("NextToken");
    in.Length("NextToken", token, 1, 1048576);
    if (Rejected(reply, in.Error())) return;
    std::string after = start ? *start : "";
    if (token) {
      auto t = ReadToken(*token);
      const json::Value* last = t ? t->Find("after") : nullptr;
      if (!last || !last->is_string()) {
        return reply.Error({"InvalidArgumentException",
                            fmt::format("Invalid NextToken: {}", *token), 400});
      }
      after = last->text();
    }
    size_t max = static_cast<size_t>(limit.value_or(100));
    std::vector<StreamDescription> page;
    bool more = false;
    for (auto& d : ctx_.service.ListStreams()) {
      if (!after.empty() && d.name <= after) continue;
      if (page.size() == max) {
        more = true;
        break;
      }
      page.push_back(std::move(d));
    }
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("StreamNames").BeginArray();
    for (const auto& d : page) w.String(d.name);
    w.EndArray().Key("HasMoreStreams").Bool(more);
    w.Key("StreamSummaries").BeginArray();
    for (const auto& d : page) {
      w.BeginObject();
      w.Key("StreamName").String(d.name);
      w.Key("StreamARN").String(d.arn);
      w.Key("StreamStatus").String(StreamStatusName(d.status));
      WriteMode(w, d.mode);
      w.Key("StreamCreationTimestamp").Double(EpochSeconds(d.created_ms));
      w.EndObject();
    }
    w.EndArray();
    if (more && !page.empty()) {
      json::Value t = json::Value::Object();
      t.Set("after", json::Value::String(page.back().name));
      w.Key("NextToken").String(MakeToken(t));
    }
    w.EndObject();
    reply.Ok(std::move(out));
  }

  void ListShards(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    auto name = StreamNameOf(in);
    const std::string* token = in.String("NextToken");
    in.Length("NextToken", token, 1, 1048576);
    const std::string* start = in.String("ExclusiveStartShardId");
    in.Length("ExclusiveStartShardId", start, 1, 128);
    in.Pattern("ExclusiveStartShardId", start, kNamePattern,
               http::MatchesNamePattern);
    auto max_results = in.Int("MaxResults");
    in.Range("MaxResults", max_results, 1, 10000);
    in.Double("StreamCreationTimestamp");
    ShardFilter filter;
    if (const json::Value* f = in.Struct("ShardFilter")) {
      AwsInput fi = in.Child(*f, "shardFilter");
      const std::string* type = fi.String("Type");
      fi.Required("Type", type != nullptr);
      fi.Enum("Type", type,
              {"AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON",
               "AT_LATEST", "AT_TIMESTAMP", "FROM_TIMESTAMP"});
      const std::string* shard = fi.String("ShardId");
      fi.Length("ShardId", shard, 1, 128);
      auto ts = fi.Double("Timestamp");
      if (type) {
        static const std::map<std::string, ShardFilterType, std::less<>>
            kTypes = {{"AFTER_SHARD_ID", ShardFilterType::kAfterShardId},
                      {"AT_TRIM_HORIZON", ShardFilterType::kAtTrimHorizon},
                      {"FROM_TRIM_HORIZON", ShardFilterType::kFromTrimHorizon},
                      {"AT_LATEST", ShardFilterType::kAtLatest},
                      {"AT_TIMESTAMP", ShardFilterType::kAtTimestamp},
                      {"FROM_TIMESTAMP", ShardFilterType::kFromTimestamp}};
        if (auto it = kTypes.find(*type); it != kTypes.end())
          filter.type = it->second;
      }
      if (shard) filter.shard_id = *shard;
      if (ts) filter.timestamp_ms = EpochSecondsToMillis(*ts);
      if (in.ok() && filter.type == ShardFilterType::kAfterShardId && !shard) {
        return reply.Error({"InvalidArgumentException",
                            "Must specify ShardId in ShardFilter when the Type "
                            "is AFTER_SHARD_ID.",
                            400});
      }
      if (in.ok() &&
          (filter.type == ShardFilterType::kAtTimestamp ||
           filter.type == ShardFilterType::kFromTimestamp) &&
          !ts) {
        return reply.Error(
            {"InvalidArgumentException",
             "Must specify Timestamp in ShardFilter when the Type is "
             "AT_TIMESTAMP or FROM_TIMESTAMP.",
             400});
      }
    }
    if (Rejected(reply, in.Error())) return;
    std::optional<int> after;
    if (start) after = ShardIndexFromId(*start).value_or(-1);
    if (token) {
      if (name) {
        return reply.Error(
            {"InvalidArgumentException",
             "NextToken and StreamName cannot be provided together.", 400});
      }
      auto t = ReadToken(*token);
      const json::Value* stream = t ? t->Find("stream") : nullptr;
      const json::Value* last = t ? t->Find("after") : nullptr;
      if (!stream || !last || !last->AsInt64()) {
        return reply.Error(
            {"InvalidArgumentException", "Invalid ShardIterator.", 400});
      }
      name = stream->text();
      after = static_cast<int>(*last->AsInt64());
      if (const json::Value* f = t->Find("filter")) {
        int64_t type = f->AsInt64().value_or(-1);
        if (type < static_cast<int64_t>(ShardFilterType::kNone) ||
            type > static_cast<int64_t>(ShardFilterType::kFromTimestamp)) {
          return reply.Error(
              {"InvalidArgumentException", "Invalid NextToken.", 400});
        }
        filter.type = static_cast<ShardFilterType>(type);
        filter.timestamp_ms =
            t->Find("ts") ? t->Find("ts")->AsInt64().value_or(0) : 0;
        filter.shard_id = t->Find("shard") ? t->Find("shard")->text() : "";
      }
    } else if (Rejected(reply, CheckStreamNamed(in, name))) {
      return;
    }
    auto shards = ctx_.service.ListShards(*name, filter);
    if (!shards.ok()) return Fail(reply, shards.status());
    size_t max = static_cast<size_t>(max_results.value_or(1000));
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("Shards").BeginArray();
    size_t written = 0;
    int last_index = -1;
    bool more = false;
    for (const auto& s : *shards) {
      int index = ShardIndexFromId(s.shard_id).value_or(0);
      if (after && index <= *after) continue;
      if (written == max) {
        more = true;
        break;
      }
      WriteShard(w, s);
      last_index = index;
      ++written;
    }
    w.EndArray();
    if (more) {
      json::Value t = json::Value::Object();
      t.Set("stream", json::Value::String(*name));
      t.Set("after", json::Value::Number(int64_t{last_index}));
      t.Set("filter", json::Value::Number(int64_t(filter.type)));
      t.Set("ts", json::Value::Number(filter.timestamp_ms));
      t.Set("shard", json::Value::String(filter.shard_id));
      w.Key("NextToken").String(MakeToken(t));
    }
    w.EndObject();
    reply.Ok(std::move(out));
  }

  // Reads one record entry (PutRecord's body or a PutRecords member).
  static PutRecordInput ReadRecord(AwsInput& in, bool* hash_key_error,
                                   std::string* bad_key) {
    PutRecordInput r;
    auto data = in.Blob("Data");
    in.Required("Data", data.has_value());
    in.BlobLength("Data", data, 0, kMaxRecordBytes);
    const std::string* key = in.String("PartitionKey");
    in.Required("PartitionKey", key != nullptr);
    in.Length("PartitionKey", key, 1, 256);
    const std::string* explicit_key = in.String("ExplicitHashKey");
    in.Pattern(
        "ExplicitHashKey", explicit_key, "0|([1-9]\\d{0,38})",
        [](std::string_view s) { return http::MatchesDecimalPattern(s, 39); });
    if (data) r.data = std::move(*data);
    if (key) r.partition_key = *key;
    if (explicit_key && http::MatchesDecimalPattern(*explicit_key, 39)) {
      r.explicit_hash_key = ParseHashKey(*explicit_key);
      if (!r.explicit_hash_key && !*hash_key_error) {
        *hash_key_error = true;
        *bad_key = *explicit_key;
      }
    }
    return r;
  }

  static AwsError BadHashKey(const std::string& key) {
    return {
        "InvalidArgumentException",
        fmt::format(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: "
            "[0, 2^128-1]. Specified value was {}",
            key),
        400};
  }

  void PutRecord(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    auto name = StreamNameOf(in);
    bool bad_hash = false;
    std::string bad_key;
    PutRecordInput record = ReadRecord(in, &bad_hash, &bad_key);
    const std::string* ordering = in.String("SequenceNumberForOrdering");
    in.Pattern(
        "SequenceNumberForOrdering", ordering, "0|([1-9]\\d{0,128})",
        [](std::string_view s) { return http::MatchesDecimalPattern(s, 129); });
    if (Rejected(reply, CheckStreamNamed(in, name))) return;
    if (bad_hash) return reply.Error(BadHashKey(bad_key));
    // SequenceNumberForOrdering needs no work: appends to a shard are
    // already totally ordered by arrival.
    std::vector<PutRecordInput> records;
    records.push_back(std::move(record));
    auto shared_reply = std::make_shared<AwsJsonReply>(std::move(reply));
    ctx_.service.PutRecords(
        *name, std::move(records),
        [shared_reply](Result<std::vector<PutRecordOutcome>> r) {
          if (!r.ok()) return Fail(*shared_reply, r.status());
          const PutRecordOutcome& o = r->front();
          if (!o.status.ok()) return Fail(*shared_reply, o.status);
          std::string out;
          Writer w(&out);
          w.BeginObject().Key("ShardId").String(o.shard_id());
          w.Key("SequenceNumber").String(o.sequence_number.ToString());
          w.Key("EncryptionType").String("NONE").EndObject();
          shared_reply->Ok(std::move(out));
        });
  }

  void PutRecords(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    auto name = StreamNameOf(in);
    const json::Value* list = in.List("Records");
    in.Required("Records", list != nullptr);
    in.ListLength("Records", list, 1, kMaxPutRecordsCount);
    std::vector<PutRecordInput> records;
    bool bad_hash = false;
    std::string bad_key;
    size_t total = 0;
    if (list && list->items().size() <= kMaxPutRecordsCount) {
      records.reserve(list->items().size());
      for (size_t i = 0; i < list->items().size(); ++i) {
        const json::Value& item = list->items()[i];
        if (!item.is_object()) {
          in.SerializationError(
              "Unexpected value type in a list of structures");
          break;
        }
        AwsInput entry = in.ListMember(item, "records", i + 1);
        records.push_back(ReadRecord(entry, &bad_hash, &bad_key));
        total +=
            records.back().data.size() + records.back().partition_key.size();
      }
    }
    if (Rejected(reply, CheckStreamNamed(in, name))) return;
    if (bad_hash) return reply.Error(BadHashKey(bad_key));
    if (total > kMaxPutRecordsBytes) {
      return reply.Error(
          {"InvalidArgumentException",
           fmt::format("Records size exceeds 5 MB limit. Size: {} bytes",
                       total),
           400});
    }
    auto shared_reply = std::make_shared<AwsJsonReply>(std::move(reply));
    ctx_.service.PutRecords(
        *name, std::move(records),
        [shared_reply](Result<std::vector<PutRecordOutcome>> r) {
          if (!r.ok()) return Fail(*shared_reply, r.status());
          int failed = 0;
          for (const auto& o : *r) failed += !o.status.ok();
          std::string out;
          out.reserve(r->size() * 120 + 64);
          Writer w(&out);
          w.BeginObject().Key("FailedRecordCount").Int(failed);
          w.Key("Records").BeginArray();
          SequenceNumberFormatter seq;
          char shard_id[40];
          for (const auto& o : *r) {
            w.BeginObject();
            if (o.status.ok()) {
              w.Key("SequenceNumber").Raw(seq.Quoted(o.sequence_number));
              // "shardId-" and 12 digits, quoted: nothing to escape.
              int n =
                  std::snprintf(shard_id, sizeof shard_id, "\"shardId-%012d\"",
                                o.sequence_number.shard_index);
              w.Key("ShardId").Raw(
                  std::string_view(shard_id, static_cast<size_t>(n)));
            } else {
              AwsError e = KinesisError(o.status);
              w.Key("ErrorCode")
                  .String(e.type == "InternalFailure" ? "InternalFailure"
                                                      : e.type);
              w.Key("ErrorMessage").String(e.message);
            }
            w.EndObject();
          }
          w.EndArray().Key("EncryptionType").String("NONE").EndObject();
          shared_reply->Ok(std::move(out));
        });
  }

  void GetShardIterator(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    auto name = StreamNameOf(in);
    const std::string* shard = in.String("ShardId");
    in.Required("ShardId", shard != nullptr);
    in.Length("ShardId", shard, 1, 128);
    in.Pattern("ShardId", shard, kNamePattern, http::MatchesNamePattern);
    const std::string* type = in.String("ShardIteratorType");
    in.Required("ShardIteratorType", type != nullptr);
    // AWS lists the values in this order in its message.
    in.Enum("ShardIteratorType", type,
            {"AFTER_SEQUENCE_NUMBER", "LATEST", "AT_TIMESTAMP",
             "AT_SEQUENCE_NUMBER", "TRIM_HORIZON"});
    const std::string* seq = in.String("StartingSequenceNumber");
    in.Pattern(
        "StartingSequenceNumber", seq, "0|([1-9]\\d{0,128})",
        [](std::string_view s) { return http::MatchesDecimalPattern(s, 129); });
    auto ts = in.Double("Timestamp");
    if (Rejected(reply, CheckStreamNamed(in, name))) return;
    static const std::map<std::string, IteratorType, std::less<>> kTypes = {
        {"AT_SEQUENCE_NUMBER", IteratorType::kAtSequenceNumber},
        {"AFTER_SEQUENCE_NUMBER", IteratorType::kAfterSequenceNumber},
        {"TRIM_HORIZON", IteratorType::kTrimHorizon},
        {"LATEST", IteratorType::kLatest},
        {"AT_TIMESTAMP", IteratorType::kAtTimestamp}};
    IteratorType it = kTypes.find(*type)->second;
    if (it == IteratorType::kAtTimestamp && !ts) {
      return reply.Error(
          {"InvalidArgumentException",
           "Must specify timestampInMillis parameter for iterator of type "
           "AT_TIMESTAMP. Current request has no timestamp parameter.",
           400});
    }
    int64_t ts_ms = ts ? EpochSecondsToMillis(*ts) : 0;
    if (it == IteratorType::kAtTimestamp) {
      int64_t now = ctx_.service.options().now_ms();
      if (ts_ms > now) {
        return reply.Error(
            {"InvalidArgumentException",
             fmt::format(
                 "The timestampInMillis parameter cannot be greater than "
                 "the currentTimestampInMillis. timestampInMillis: {}, "
                 "currentTimestampInMillis: {}",
                 ts_ms, now),
             400});
      }
    }
    auto token = ctx_.service.GetShardIterator(*name, *shard, it,
                                               seq ? *seq : "", ts_ms);
    if (!token.ok()) return Fail(reply, token.status());
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("ShardIterator").String(*token).EndObject();
    reply.Ok(std::move(out));
  }

  void GetRecords(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    const std::string* iterator = in.String("ShardIterator");
    in.Required("ShardIterator", iterator != nullptr);
    in.Length("ShardIterator", iterator, 1, 512);
    auto limit = in.Int("Limit");
    in.Range("Limit", limit, 1, kMaxGetRecordsLimit);
    in.String("StreamARN");
    if (Rejected(reply, in.Error())) return;
    auto r = ctx_.service.GetRecords(
        *iterator, static_cast<int>(limit.value_or(kMaxGetRecordsLimit)));
    if (!r.ok()) return Fail(reply, r.status());
    std::string out;
    size_t estimate = 128;
    for (const auto& rec : r->records)
      estimate += rec.value.size() * 4 / 3 + rec.key.size() + 140;
    out.reserve(estimate);
    Writer w(&out);
    w.BeginObject().Key("Records").BeginArray();
    SequenceNumber seq = r->base;
    SequenceNumberFormatter formatter;
    for (const auto& rec : r->records) {
      seq.offset = rec.offset;
      w.BeginObject();
      w.Key("SequenceNumber").Raw(formatter.Quoted(seq));
      w.Key("ApproximateArrivalTimestamp")
          .Double(EpochSeconds(rec.timestamp_ms));
      w.Key("Data").Base64(rec.value);
      w.Key("PartitionKey").String(rec.key);
      w.EndObject();
    }
    w.EndArray();
    if (r->next_shard_iterator)
      w.Key("NextShardIterator").String(*r->next_shard_iterator);
    w.Key("MillisBehindLatest").Int(r->millis_behind_latest);
    if (!r->next_shard_iterator) {
      w.Key("ChildShards").BeginArray();
      for (const auto& c : r->child_shards) {
        w.BeginObject().Key("ShardId").String(c.shard_id);
        w.Key("ParentShards").BeginArray();
        for (const auto& p : c.parent_shards) w.String(p);
        w.EndArray();
        WriteHashRange(w, c.hash_range);
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
    reply.Ok(std::move(out));
  }

  void Retention(const json::Value& body, AwsJsonReply& reply, bool increase) {
    AwsInput in(body);
    auto name = StreamNameOf(in);
    auto hours = in.Int("RetentionPeriodHours");
    in.Required("RetentionPeriodHours", hours.has_value());
    in.Range("RetentionPeriodHours", hours, 1, 1000000);
    if (Rejected(reply, CheckStreamNamed(in, name))) return;
    Status s =
        ctx_.service.SetRetention(*name, static_cast<int>(*hours), increase);
    if (!s.ok()) return Fail(reply, s);
    Empty(reply);
  }
  void IncreaseRetention(const json::Value& body, AwsJsonReply& reply) {
    Retention(body, reply, true);
  }
  void DecreaseRetention(const json::Value& body, AwsJsonReply& reply) {
    Retention(body, reply, false);
  }

  void AddTagsToStream(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    auto name = StreamNameOf(in);
    const json::Value* present = in.Map("Tags");
    in.Required("Tags", present != nullptr);
    auto tags = ReadTags(in, "Tags", 1);
    if (Rejected(reply, CheckStreamNamed(in, name))) return;
    Status s = ctx_.service.AddTags(*name, tags);
    if (!s.ok()) return Fail(reply, s);
    Empty(reply);
  }

  void RemoveTagsFromStream(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    auto name = StreamNameOf(in);
    const json::Value* keys = in.List("TagKeys");
    in.Required("TagKeys", keys != nullptr);
    in.ListLength("TagKeys", keys, 1, 50);
    std::vector<std::string> names;
    if (keys) {
      for (const auto& k : keys->items()) {
        if (!k.is_string()) {
          in.SerializationError("Unexpected value type in a list of strings");
          break;
        }
        names.push_back(k.text());
      }
    }
    if (Rejected(reply, CheckStreamNamed(in, name))) return;
    Status s = ctx_.service.RemoveTags(*name, names);
    if (!s.ok()) return Fail(reply, s);
    Empty(reply);
  }

  void ListTagsForStream(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    auto name = StreamNameOf(in);
    const std::string* start = in.String("ExclusiveStartTagKey");
    in.Length("ExclusiveStartTagKey", start, 1, 128);
    auto limit = in.Int("Limit");
    in.Range("Limit", limit, 1, 50);
    if (Rejected(reply, CheckStreamNamed(in, name))) return;
    auto tags = ctx_.service.ListTags(*name);
    if (!tags.ok()) return Fail(reply, tags.status());
    size_t max = static_cast<size_t>(limit.value_or(50));
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("Tags").BeginArray();
    size_t written = 0;
    bool more = false;
    for (const auto& [k, v] : *tags) {
      if (start && k <= *start) continue;
      if (written == max) {
        more = true;
        break;
      }
      w.BeginObject().Key("Key").String(k).Key("Value").String(v).EndObject();
      ++written;
    }
    w.EndArray().Key("HasMoreTags").Bool(more).EndObject();
    reply.Ok(std::move(out));
  }

  const std::string* ShardIdMember(AwsInput& in, std::string_view member) {
    const std::string* id = in.String(member);
    in.Required(member, id != nullptr);
    in.Length(member, id, 1, 128);
    in.Pattern(member, id, kNamePattern, http::MatchesNamePattern);
    return id;
  }

  void SplitShard(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    auto name = StreamNameOf(in);
    const std::string* shard = ShardIdMember(in, "ShardToSplit");
    const std::string* key = in.String("NewStartingHashKey");
    in.Required("NewStartingHashKey", key != nullptr);
    in.Pattern(
        "NewStartingHashKey", key, "0|([1-9]\\d{0,38})",
        [](std::string_view s) { return http::MatchesDecimalPattern(s, 39); });
    if (Rejected(reply, CheckStreamNamed(in, name))) return;
    Status s = ctx_.service.SplitShard(*name, *shard, *key);
    if (!s.ok()) return Fail(reply, s);
    Empty(reply);
  }

  void MergeShards(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    auto name = StreamNameOf(in);
    const std::string* a = ShardIdMember(in, "ShardToMerge");
    const std::string* b = ShardIdMember(in, "AdjacentShardToMerge");
    if (Rejected(reply, CheckStreamNamed(in, name))) return;
    Status s = ctx_.service.MergeShards(*name, *a, *b);
    if (!s.ok()) return Fail(reply, s);
    Empty(reply);
  }

  void UpdateShardCount(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    auto name = StreamNameOf(in);
    auto target = in.Int("TargetShardCount");
    in.Required("TargetShardCount", target.has_value());
    in.Range("TargetShardCount", target, 1, 100000);
    const std::string* scaling = in.String("ScalingType");
    in.Required("ScalingType", scaling != nullptr);
    in.Enum("ScalingType", scaling, {"UNIFORM_SCALING"});
    if (Rejected(reply, CheckStreamNamed(in, name))) return;
    auto previous =
        ctx_.service.UpdateShardCount(*name, static_cast<int>(*target));
    if (!previous.ok()) return Fail(reply, previous.status());
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("StreamName").String(*name);
    w.Key("CurrentShardCount").Int(*previous);
    w.Key("TargetShardCount").Int(*target);
    w.Key("StreamARN").String(ctx_.service.StreamArn(*name));
    w.EndObject();
    reply.Ok(std::move(out));
  }

  void UpdateStreamMode(const json::Value& body, AwsJsonReply& reply) {
    AwsInput in(body);
    const std::string* arn = in.String("StreamARN");
    in.Required("StreamARN", arn != nullptr);
    in.Length("StreamARN", arn, 1, 2048);
    in.Pattern("StreamARN", arn, kStreamArnPattern, MatchesStreamArn);
    const json::Value* details = in.Struct("StreamModeDetails");
    in.Required("StreamModeDetails", details != nullptr);
    StreamMode mode = StreamMode::kProvisioned;
    if (details) {
      AwsInput d = in.Child(*details, "streamModeDetails");
      const std::string* m = d.String("StreamMode");
      d.Required("StreamMode", m != nullptr);
      d.Enum("StreamMode", m, {"PROVISIONED", "ON_DEMAND"});
      if (m && *m == "ON_DEMAND") mode = StreamMode::kOnDemand;
    }
    if (Rejected(reply, in.Error())) return;
    std::string name = arn->substr(arn->find(":stream/") + 8);
    Status s = ctx_.service.UpdateStreamMode(name, mode);
    if (!s.ok()) return Fail(reply, s);
    Empty(reply);
  }

  void DescribeLimits(const json::Value&, AwsJsonReply& reply) {
    Limits l = ctx_.service.DescribeLimits();
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("ShardLimit").Int(l.shard_limit);
    w.Key("OpenShardCount").Int(l.open_shard_count);
    w.Key("OnDemandStreamCount").Int(l.on_demand_stream_count);
    w.Key("OnDemandStreamCountLimit").Int(l.on_demand_stream_count_limit);
    w.EndObject();
    reply.Ok(std::move(out));
  }

  Context ctx_;
};

}  // namespace

http::AwsError KinesisError(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return {"InvalidArgumentException", status.message(), 400};
    case StatusCode::kNotFound:
      return {"ResourceNotFoundException", status.message(), 400};
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return {"ResourceInUseException", status.message(), 400};
    case StatusCode::kQuotaExceeded:
      return {"LimitExceededException", status.message(), 400};
    case StatusCode::kResourceExhausted:
      return {"ProvisionedThroughputExceededException", status.message(), 400};
    case StatusCode::kDeadlineExceeded:
      return {"ExpiredIteratorException", status.message(), 400};
    case StatusCode::kUnavailable:
      return {"ServiceUnavailable", status.message(), 503};
    default:
      return {"InternalFailure", status.message(), 500};
  }
}

http::AwsJsonService MakeKinesisApi(Service& service, ThreadPool& blocking) {
  // The API object lives as long as the operations that capture it.
  auto api = std::make_shared<KinesisApi>(Context{service, blocking});
  http::AwsJsonService built = api->Build();
  for (auto& [name, op] : built.operations) {
    op = [api, inner = std::move(op)](AwsJsonCall call, AwsJsonReply reply) {
      inner(std::move(call), std::move(reply));
    };
  }
  return built;
}

}  // namespace riffle::streams
