// registry::Service: a schema registry with Confluent Schema Registry's
// semantics and no protocol: subjects and their versions, global schema ids,
// references between schemas, soft and permanent deletes, compatibility
// levels (global and per subject, transitive or not) and modes.
//
// Semantics (Confluent's, https://docs.confluent.io/platform/current/
// schema-registry/develop/api.html):
// - Ids are global: a schema with the same type, text and references reuses
//   its id under any subject; posting a schema the subject already has
//   returns the existing version.
// - Versions count up past soft-deleted ones; compatibility is checked only
//   against versions not deleted; a soft-deleted version stays readable by
//   id; a permanent delete needs a soft delete first; a version that another
//   stored schema references cannot be deleted.
// - Ids are never reused: the id counter is persisted in the same atomic
//   write as the schema that takes it.
//
// Storage: everything lives in the kv store's "registry" family (layout in
// docs/formats/registry.md) and is mirrored in memory, so every read is a
// lookup under a shared lock and never touches the disk.
//
// Concurrency: thread-safe. Reads are synchronous and cheap (callable from a
// network thread). Writes are asynchronous: they are planned one at a time
// on the executor against a writer-side copy of the state that already
// holds every write in flight, written with one kv batch per group of
// queued writes (durable before the callbacks run), then applied to the
// state readers see. So a reader never sees a write that is not durable,
// and two registrations can never take the same id or version.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "avro/schema.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "registry/errors.h"
#include "storage/kv/kv.h"

namespace riffle::registry {

// Values reach disk: never renumber.
enum class SchemaType : uint8_t { kAvro = 0, kJson = 1, kProtobuf = 2 };
// "AVRO", "JSON", "PROTOBUF".
std::string_view SchemaTypeName(SchemaType type);
// Case-insensitive; nullopt for an unknown type.
std::optional<SchemaType> ParseSchemaType(std::string_view name);

// Values reach disk: never renumber.
enum class CompatibilityLevel : uint8_t {
  kNone = 0,
  kBackward = 1,
  kBackwardTransitive = 2,
  kForward = 3,
  kForwardTransitive = 4,
  kFull = 5,
  kFullTransitive = 6,
};
std::string_view CompatibilityLevelName(CompatibilityLevel level);
// Case-insensitive, as Confluent accepts "backward".
std::optional<CompatibilityLevel> ParseCompatibilityLevel(
    std::string_view name);

// Values reach disk: never renumber.
enum class Mode : uint8_t { kReadWrite = 0, kReadOnly = 1, kImport = 2 };
std::string_view ModeName(Mode mode);
// Case-sensitive upper case, as Confluent.
std::optional<Mode> ParseMode(std::string_view name);

// A named reference from one schema to a version of a subject.
struct Reference {
  std::string name;
  std::string subject;
  int version = 0;
  friend bool operator==(const Reference&, const Reference&) = default;
};

// One stored schema, shared by every subject version that uses its id.
// Immutable once built; safe to share across threads.
struct StoredSchema {
  int id = 0;
  SchemaType type = SchemaType::kAvro;
  // The schema text as served: for Avro the compact form of the parsed
  // schema (Confluent's normalized form when registered with normalize).
  std::string schema;
  std::vector<Reference> references;
  // AVRO only: the parsed schema, with its references resolved.
  std::shared_ptr<const avro::Schema> avro;
  // Identity for id reuse: type, normalized text and references.
  std::string identity;
};

struct SubjectVersion {
  std::string subject;
  int version = 0;
  int id = 0;
  bool deleted = false;
};

// A subject version with its schema.
struct VersionedSchema {
  SubjectVersion version;
  std::shared_ptr<const StoredSchema> schema;
};

// A schema as a client submits it.
struct SchemaInput {
  SchemaType type = SchemaType::kAvro;
  std::string schema;
  std::vector<Reference> references;
  // Compare and store the normalized form (Avro: Confluent's, which keeps
  // docs, defaults and properties; see NormalizedForm in service.cc).
  bool normalize = false;
};

struct RegisterRequest {
  std::string subject;
  SchemaInput input;
  // IMPORT mode only: the id and version to use.
  std::optional<int> id;
  std::optional<int> version;
};

// "latest" (or -1) or a version number.
struct VersionSpec {
  static VersionSpec Latest() { return VersionSpec{}; }
  static VersionSpec Number(int v) { return VersionSpec{v}; }
  // Confluent's parsing: "latest", "-1" or 1..2^31-1; else 42202.
  static Result<VersionSpec> Parse(std::string_view text);
  std::optional<int> number;  // nullopt: latest
};

struct CompatibilityReport {
  bool compatible = true;
  // Confluent-style descriptions of each incompatibility.
  std::vector<std::string> messages;
};

struct ServiceOptions {
  kv::Store* store = nullptr;      // not owned; outlives the Service
  ThreadPool* executor = nullptr;  // not owned; runs planned writes
  CompatibilityLevel default_compatibility = CompatibilityLevel::kBackward;
};

template <typename T>
using Callback = std::function<void(Result<T>)>;

class Service {
 public:
  // Loads the registry from the store (blocking: call at start-up).
  static Result<std::unique_ptr<Service>> Open(const ServiceOptions& options);
  // Waits until every queued write has completed and answered, so the
  // Service must be destroyed before its executor and its store (which must
  // still be running). Writes submitted meanwhile get 50002 (Unavailable).
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // ---- Reads: synchronous, in memory. ----

  // 40403 when no schema has that id (soft-deleted versions keep theirs).
  Result<std::shared_ptr<const StoredSchema>> GetSchemaById(int id) const;
  // Subjects with a live version (all with `deleted`; only those whose
  // versions are all soft-deleted with `deleted_only`), sorted.
  std::vector<std::string> ListSubjects(bool deleted, bool deleted_only,
                                        std::string_view prefix) const;
  // Version numbers of `subject`; 40401 when it has none (live ones unless
  // `deleted`).
  Result<std::vector<int>> ListVersions(std::string_view subject, bool deleted,
                                        bool deleted_only) const;
  // One version; soft-deleted ones only with `deleted`. 40401/40402.
  Result<VersionedSchema> GetVersion(std::string_view subject,
                                     VersionSpec version, bool deleted) const;
  // The version of `subject` holding this schema (POST /subjects/{s}).
  // 40401 when the subject has no versions, 40403 when none matches.
  Result<VersionedSchema> Lookup(std::string_view subject,
                                 const SchemaInput& input, bool deleted) const;
  // Every subject version using schema `id`. 40403 when unknown.
  Result<std::vector<SubjectVersion>> VersionsOfId(int id, bool deleted) const;
  // Ids of the schemas that reference subject/version. 40401/40402.
  Result<std::vector<int>> ReferencedBy(std::string_view subject,
                                        VersionSpec version) const;
  // Every subject version (GET /schemas), ordered by subject then version.
  std::vector<VersionedSchema> ListSchemas(std::string_view prefix,
                                           bool deleted,
                                           bool latest_only) const;
  // The highest id ever assigned (0 when none).
  int MaxId() const;

  CompatibilityLevel GlobalCompatibility() const;
  // The subject's own level; with `default_to_global` the global one when it
  // has none, else 40408.
  Result<CompatibilityLevel> SubjectCompatibility(std::string_view subject,
                                                  bool default_to_global) const;
  Mode GlobalMode() const;
  Result<Mode> SubjectMode(std::string_view subject,
                           bool default_to_global) const;

  // Would `input` be accepted as a new version of `subject`: against
  // `version`, or with nullopt against the versions the subject's level
  // selects. Errors: 40401/40402, 42201 (invalid schema, or a schema type
  // whose compatibility riffle cannot check yet).
  Result<CompatibilityReport> TestCompatibility(
      std::string_view subject, std::optional<VersionSpec> version,
      const SchemaInput& input) const;

  // ---- Writes: asynchronous; `done` runs once the write is durable (or
  // failed), on a kv or executor thread. ----

  struct Registered {
    int id = 0;
    int version = 0;
    std::shared_ptr<const StoredSchema> schema;
  };
  void Register(RegisterRequest request, Callback<Registered> done);
  // Soft (or permanent) delete of every version; returns their numbers.
  void DeleteSubject(std::string subject, bool permanent,
                     Callback<std::vector<int>> done);
  // Returns the deleted version's number.
  void DeleteVersion(std::string subject, VersionSpec version, bool permanent,
                     Callback<int> done);
  // `subject` nullopt: the global level. Returns the level set.
  void SetCompatibility(std::optional<std::string> subject,
                        CompatibilityLevel level,
                        Callback<CompatibilityLevel> done);
  // Removes a subject's level (40408 when it has none; 40401 for an unknown
  // subject) or resets the global one to the default; returns the previous.
  void DeleteCompatibility(std::optional<std::string> subject,
                           Callback<CompatibilityLevel> done);
  // IMPORT needs an empty registry (or subject) unless `force`.
  void SetMode(std::optional<std::string> subject, Mode mode, bool force,
               Callback<Mode> done);
  void DeleteMode(std::optional<std::string> subject, Callback<Mode> done);

 private:
  struct State;
  struct Planned;
  explicit Service(const ServiceOptions& options);
  Status Load();

  // Queues a write: `plan` runs on the executor, alone, against the
  // committed state; its batch is written, its apply step runs under the
  // exclusive lock, then `finish` answers.
  // False (and `plan` not run) once the Service is closing.
  bool Mutate(std::function<Result<Planned>(const State&)> plan);
  void RunNext();

  ServiceOptions options_;
  mutable std::shared_mutex mu_;  // guards state_
  // What readers see: only durable writes.
  std::unique_ptr<State> state_;
  // The writer's copy: state_ plus the group of writes being made durable.
  // Only the one RunNext in progress touches it (no lock). Writes are
  // planned and applied here at once, and applied to state_ again once
  // durable, so a group costs what it changes, not a copy of the registry.
  // Invariant: equal to *state_ whenever no group is in flight.
  std::unique_ptr<State> pending_;

  std::mutex queue_mu_;  // guards queue_, writing_ and closing_
  std::condition_variable idle_;
  std::vector<std::function<Result<Planned>(const State&)>> queue_;
  bool writing_ = false;
  bool closing_ = false;
};

}  // namespace riffle::registry
