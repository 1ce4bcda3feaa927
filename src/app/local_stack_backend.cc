#include "app/local_stack_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <future>

#include "app/code_package.h"
#include "app/routes_store.h"
#include "functions/service.h"
#include "registry/service.h"
#include "streams/service.h"
#include "tables/service.h"

namespace riffle::app {
namespace {

// The outcome of a call whose value is not needed.
template <typename T>
Status ToStatus(const Result<T>& r) {
  return r.ok() ? Status::Ok() : r.status();
}

// Waits for an asynchronous registry call.
template <typename T>
Result<T> Wait(std::function<void(registry::Callback<T>)> call) {
  auto p = std::make_shared<std::promise<Result<T>>>();
  auto f = p->get_future();
  call([p](Result<T> r) { p->set_value(std::move(r)); });
  return f.get();
}

}  // namespace

Result<std::optional<std::string>> LocalStackBackend::SubjectCompatibility(
    const std::string& subject) {
  auto level = t_.registry->SubjectCompatibility(subject, false);
  // Only "no level of its own" fails here (40408).
  if (!level.ok()) return std::optional<std::string>();
  return std::optional<std::string>(
      std::string(registry::CompatibilityLevelName(*level)));
}

Status LocalStackBackend::SetSubjectCompatibility(const std::string& subject,
                                                  const std::string& level) {
  auto parsed = registry::ParseCompatibilityLevel(level);
  if (!parsed) return InvalidArgument("unknown compatibility level " + level);
  auto r = Wait<registry::CompatibilityLevel>([&](auto done) {
    t_.registry->SetCompatibility(subject, *parsed, std::move(done));
  });
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::optional<SchemaRef>> LocalStackBackend::LookupSchema(
    const std::string& subject, const std::string& schema) {
  registry::SchemaInput input;
  input.schema = schema;
  auto found = t_.registry->Lookup(subject, input, false);
  // Not found (subject or schema) or not comparable: registering says
  // which, with the registry's own error.
  if (!found.ok()) return std::optional<SchemaRef>();
  return std::optional<SchemaRef>(
      SchemaRef{found->version.version, found->version.id});
}

Result<SchemaRef> LocalStackBackend::RegisterSchema(const std::string& subject,
                                                    const std::string& schema) {
  registry::RegisterRequest request;
  request.subject = subject;
  request.input.schema = schema;
  auto r = Wait<registry::Service::Registered>(
      [&](auto done) { t_.registry->Register(request, std::move(done)); });
  if (!r.ok()) return r.status();
  return SchemaRef{r->version, r->id};
}

Result<std::vector<std::string>> LocalStackBackend::TestCompatibility(
    const std::string& subject, const std::string& schema) {
  registry::SchemaInput input;
  input.schema = schema;
  ASSIGN_OR_RETURN(
      registry::CompatibilityReport report,
      t_.registry->TestCompatibility(subject, std::nullopt, input));
  if (report.compatible) return std::vector<std::string>();
  if (report.messages.empty()) report.messages.push_back("incompatible");
  return std::move(report.messages);
}

Result<std::optional<StreamState>> LocalStackBackend::DescribeStream(
    const std::string& name) {
  auto d = t_.streams->DescribeStream(name);
  if (!d.ok()) {
    if (d.status().code() == StatusCode::kNotFound)
      return std::optional<StreamState>();
    return d.status();
  }
  return std::optional<StreamState>(
      StreamState{d->arn, d->mode, d->open_shard_count, d->retention_hours});
}

Status LocalStackBackend::CreateStream(const StackStream& s) {
  return t_.streams->CreateStream(s.name, s.shards, s.mode, {});
}

Status LocalStackBackend::UpdateStreamMode(const std::string& name,
                                           streams::StreamMode mode) {
  return t_.streams->UpdateStreamMode(name, mode);
}

Status LocalStackBackend::UpdateShardCount(const std::string& name,
                                           int target) {
  // One call scales by at most a factor of two (as on AWS), so larger
  // changes go in steps, as the remote backend makes them.
  while (true) {
    ASSIGN_OR_RETURN(streams::StreamDescription d,
                     t_.streams->DescribeStream(name));
    int now = d.open_shard_count;
    if (now == target || now == 0) return Status::Ok();
    int step = std::clamp(target, (now + 1) / 2, now * 2);
    RETURN_IF_ERROR(ToStatus(t_.streams->UpdateShardCount(name, step)));
  }
}

Status LocalStackBackend::SetRetention(const std::string& name, int hours,
                                       bool increase) {
  return t_.streams->SetRetention(name, hours, increase);
}

Result<std::optional<TableState>> LocalStackBackend::DescribeTable(
    const std::string& name) {
  auto d = t_.tables->DescribeTable(name);
  if (!d.ok()) {
    if (d.status().code() == StatusCode::kNotFound)
      return std::optional<TableState>();
    return d.status();
  }
  return std::optional<TableState>(
      TableState{d->spec.key, d->spec.indexes, d->ttl});
}

Status LocalStackBackend::CreateTable(const tables::TableSpec& spec) {
  return ToStatus(t_.tables->CreateTable(spec));
}

Status LocalStackBackend::AddIndexes(
    const std::string& table, const std::vector<tables::KeyElement>& attributes,
    const std::vector<tables::IndexSpec>& indexes) {
  tables::Service::TableUpdate update;
  update.attributes = attributes;
  update.create_indexes = indexes;
  return ToStatus(t_.tables->UpdateTable(table, update));
}

Status LocalStackBackend::UpdateTimeToLive(const std::string& table,
                                           const tables::TimeToLive& ttl) {
  return ToStatus(t_.tables->UpdateTimeToLive(table, ttl));
}

Result<CodePackage> LocalStackBackend::PackageCode(
    const std::filesystem::path& dir) {
  // What the functions service would refuse (Code.Directory), with the
  // words ZipDirectory uses for the remote backend.
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return InvalidArgument(dir.string() + " is not a directory");
  // Runs in place: the service records the digest of the directory's path
  // (functions/service.cc, InstallCode).
  CodePackage p;
  p.directory = std::filesystem::absolute(dir).string();
  p.sha256 = Sha256Base64(p.directory);
  return p;
}

Result<std::optional<functions::FunctionConfig>> LocalStackBackend::GetFunction(
    const std::string& name) {
  auto f = t_.functions->GetFunction(name);
  if (!f.ok()) {
    if (f.status().code() == StatusCode::kNotFound)
      return std::optional<functions::FunctionConfig>();
    return f.status();
  }
  return std::optional<functions::FunctionConfig>(std::move(*f));
}

Status LocalStackBackend::CreateFunction(
    const functions::FunctionConfig& config, const CodePackage* code) {
  functions::FunctionCode c;
  if (code != nullptr) c.directory = code->directory;
  return ToStatus(t_.functions->CreateFunction(config, c));
}

Status LocalStackBackend::UpdateFunctionConfiguration(
    const std::string& name, const functions::FunctionUpdate& update) {
  return ToStatus(t_.functions->UpdateFunctionConfiguration(name, update));
}

Status LocalStackBackend::UpdateFunctionCode(const std::string& name,
                                             const CodePackage& code) {
  functions::FunctionCode c;
  c.directory = code.directory;
  return ToStatus(t_.functions->UpdateFunctionCode(name, c));
}

Status LocalStackBackend::PutFunctionConcurrency(const std::string& name,
                                                 std::optional<int> reserved) {
  return t_.functions->PutFunctionConcurrency(name, reserved);
}

Result<std::optional<functions::MappingConfig>> LocalStackBackend::FindMapping(
    const std::string& function, const std::string& source_arn) {
  auto found = t_.functions->ListMappings(function, source_arn);
  if (found.empty()) return std::optional<functions::MappingConfig>();
  return std::optional<functions::MappingConfig>(found.front().config);
}

Result<std::string> LocalStackBackend::CreateMapping(
    const functions::MappingConfig& config) {
  auto c = t_.functions->CreateMapping(config);
  if (!c.ok()) return c.status();
  return c->config.uuid;
}

Status LocalStackBackend::UpdateMapping(const functions::MappingConfig& want) {
  auto u =
      t_.functions->UpdateMapping(want.uuid, [&](functions::MappingConfig& c) {
        c.batch_size = want.batch_size;
        c.maximum_batching_window_seconds =
            want.maximum_batching_window_seconds;
        c.parallelization_factor = want.parallelization_factor;
        c.maximum_retry_attempts = want.maximum_retry_attempts;
        c.maximum_record_age_seconds = want.maximum_record_age_seconds;
        c.bisect_batch_on_function_error = want.bisect_batch_on_function_error;
        c.report_batch_item_failures = want.report_batch_item_failures;
        c.on_failure_destination = want.on_failure_destination;
        c.tumbling_window_seconds = want.tumbling_window_seconds;
        c.filter_patterns = want.filter_patterns;
        c.enabled = want.enabled;
        return Status::Ok();
      });
  return ToStatus(u);
}

Result<std::string> LocalStackBackend::RoutesDocument() {
  return t_.routes->Document();
}

Status LocalStackBackend::SetRoutes(const Stack& stack) {
  return t_.routes->Set(stack);
}

}  // namespace riffle::app
