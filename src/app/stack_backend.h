// What applying a stack needs from the system it is applied to: describe,
// create and update, per kind of item, and nothing else. stack_apply.h
// decides what to do (order, diff, report, dry run) once, against this
// interface; two implementations carry it out:
//   - local_stack_backend.h: the in-process services (`riffle server
//     --stack`);
//   - remote_stack_backend.h: the public APIs over HTTP (`riffle apply`):
//     Kinesis, DynamoDB and Lambda (SigV4), the Confluent registry, and
//     riffle's routes endpoint.
//
// Contract of every method: NotFound is never used for "absent" (that is a
// nullopt); any error Status stops the apply. Mutations return once the
// change is complete and visible to the describe methods (the remote
// backend waits for ACTIVE where AWS needs it). Implementations need not be
// thread-safe: one apply calls them from one thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "app/stack_file.h"
#include "core/status.h"
#include "functions/function_config.h"
#include "functions/service.h"  // FunctionUpdate
#include "streams/service.h"
#include "tables/service.h"

namespace riffle::app {

// A schema as its subject holds it.
struct SchemaRef {
  int version = 0;
  int64_t id = 0;
};

// The parts of a stream that a stack declares, as they are.
struct StreamState {
  std::string arn;
  streams::StreamMode mode = streams::StreamMode::kProvisioned;
  int open_shards = 0;
  int retention_hours = 24;
};

// The parts of a table that a stack declares, as they are.
struct TableState {
  tables::KeySchema key;
  std::vector<tables::IndexSpec> indexes;  // name and key (GSIs and LSIs)
  tables::TimeToLive ttl;

  const tables::IndexSpec* FindIndex(std::string_view name) const;
};

// A function's code as a backend sends it: `sha256` is what GetFunction's
// CodeSha256 says once this code is installed, so that equal digests mean
// "unchanged".
struct CodePackage {
  std::string sha256;
  std::string zip;        // Code.ZipFile (remote)
  std::string directory;  // Code.Directory, riffle's run-in-place (local)
};

class StackBackend {
 public:
  virtual ~StackBackend() = default;

  // Where the report says the items are ("this server", a URL).
  virtual std::string Describe() const = 0;

  // Schema registry. The subject's own compatibility level (nullopt when
  // it has none and follows the global one).
  virtual Result<std::optional<std::string>> SubjectCompatibility(
      const std::string& subject) = 0;
  virtual Status SetSubjectCompatibility(const std::string& subject,
                                         const std::string& level) = 0;
  // nullopt when `subject` does not hold `schema` (or does not exist).
  virtual Result<std::optional<SchemaRef>> LookupSchema(
      const std::string& subject, const std::string& schema) = 0;
  virtual Result<SchemaRef> RegisterSchema(const std::string& subject,
                                           const std::string& schema) = 0;
  // Would RegisterSchema accept `schema` (the registry's own judgement,
  // under the subject's level as it is now)? Its reasons why not; empty
  // when it would or the subject has no version yet. An invalid schema is
  // an error, as registering it would be. Changes nothing.
  virtual Result<std::vector<std::string>> TestCompatibility(
      const std::string& subject, const std::string& schema) = 0;

  // Streams.
  virtual Result<std::optional<StreamState>> DescribeStream(
      const std::string& name) = 0;
  virtual Status CreateStream(const StackStream& stream) = 0;
  virtual Status UpdateStreamMode(const std::string& name,
                                  streams::StreamMode mode) = 0;
  virtual Status UpdateShardCount(const std::string& name, int shards) = 0;
  // `increase`: Increase- rather than DecreaseStreamRetentionPeriod.
  virtual Status SetRetention(const std::string& name, int hours,
                              bool increase) = 0;

  // Tables.
  virtual Result<std::optional<TableState>> DescribeTable(
      const std::string& name) = 0;
  virtual Status CreateTable(const tables::TableSpec& spec) = 0;
  // Adds global secondary indexes (backfilled); `attributes` are the
  // AttributeDefinitions they need.
  virtual Status AddIndexes(const std::string& table,
                            const std::vector<tables::KeyElement>& attributes,
                            const std::vector<tables::IndexSpec>& indexes) = 0;
  virtual Status UpdateTimeToLive(const std::string& table,
                                  const tables::TimeToLive& ttl) = 0;

  // Functions. PackageCode prepares `dir` for sending without changing
  // anything (the dry run calls it too, to compare digests).
  virtual Result<CodePackage> PackageCode(const std::filesystem::path& dir) = 0;
  virtual Result<std::optional<functions::FunctionConfig>> GetFunction(
      const std::string& name) = 0;
  // `code` is null for built-in runtimes, which take none.
  virtual Status CreateFunction(const functions::FunctionConfig& config,
                                const CodePackage* code) = 0;
  virtual Status UpdateFunctionConfiguration(
      const std::string& name, const functions::FunctionUpdate& update) = 0;
  virtual Status UpdateFunctionCode(const std::string& name,
                                    const CodePackage& code) = 0;
  // nullopt removes the reservation.
  virtual Status PutFunctionConcurrency(const std::string& name,
                                        std::optional<int> reserved) = 0;

  // Event-source mappings, identified by (function, source stream ARN).
  virtual Result<std::optional<functions::MappingConfig>> FindMapping(
      const std::string& function, const std::string& source_arn) = 0;
  // Returns the new mapping's UUID.
  virtual Result<std::string> CreateMapping(
      const functions::MappingConfig& config) = 0;
  // Sets every option of `config` on the mapping `config.uuid`.
  virtual Status UpdateMapping(const functions::MappingConfig& config) = 0;

  // Read-API routes: the routes document served now (Stack's
  // routes_document form; "" when none was ever applied), and replacing
  // it with the stack's.
  virtual Result<std::string> RoutesDocument() = 0;
  virtual Status SetRoutes(const Stack& stack) = 0;
};

}  // namespace riffle::app
