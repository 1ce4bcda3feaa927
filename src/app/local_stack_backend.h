// The StackBackend of `riffle server --stack`: this process's services,
// called directly (no HTTP). Function code runs in place from the stack's
// directory (riffle's Code.Directory), so its digest is that of the
// directory's path, as the functions service records it.
#pragma once

#include "app/stack_apply.h"
#include "app/stack_backend.h"

namespace riffle::app {

// Borrows the services of `targets`, which must outlive it. Not
// thread-safe (one apply at a time); blocking (durable writes): call it off
// the network threads.
class LocalStackBackend : public StackBackend {
 public:
  explicit LocalStackBackend(const StackTargets& targets) : t_(targets) {}

  std::string Describe() const override { return "this server"; }

  Result<std::optional<std::string>> SubjectCompatibility(
      const std::string& subject) override;
  Status SetSubjectCompatibility(const std::string& subject,
                                 const std::string& level) override;
  Result<std::optional<SchemaRef>> LookupSchema(
      const std::string& subject, const std::string& schema) override;
  Result<SchemaRef> RegisterSchema(const std::string& subject,
                                   const std::string& schema) override;
  Result<std::vector<std::string>> TestCompatibility(
      const std::string& subject, const std::string& schema) override;

  Result<std::optional<StreamState>> DescribeStream(
      const std::string& name) override;
  Status CreateStream(const StackStream& stream) override;
  Status UpdateStreamMode(const std::string& name,
                          streams::StreamMode mode) override;
  Status UpdateShardCount(const std::string& name, int shards) override;
  Status SetRetention(const std::string& name, int hours,
                      bool increase) override;

  Result<std::optional<TableState>> DescribeTable(
      const std::string& name) override;
  Status CreateTable(const tables::TableSpec& spec) override;
  Status AddIndexes(const std::string& table,
                    const std::vector<tables::KeyElement>& attributes,
                    const std::vector<tables::IndexSpec>& indexes) override;
  Status UpdateTimeToLive(const std::string& table,
                          const tables::TimeToLive& ttl) override;

  Result<CodePackage> PackageCode(const std::filesystem::path& dir) override;
  Result<std::optional<functions::FunctionConfig>> GetFunction(
      const std::string& name) override;
  Status CreateFunction(const functions::FunctionConfig& config,
                        const CodePackage* code) override;
  Status UpdateFunctionConfiguration(
      const std::string& name,
      const functions::FunctionUpdate& update) override;
  Status UpdateFunctionCode(const std::string& name,
                            const CodePackage& code) override;
  Status PutFunctionConcurrency(const std::string& name,
                                std::optional<int> reserved) override;

  Result<std::optional<functions::MappingConfig>> FindMapping(
      const std::string& function, const std::string& source_arn) override;
  Result<std::string> CreateMapping(
      const functions::MappingConfig& config) override;
  Status UpdateMapping(const functions::MappingConfig& config) override;

  Result<std::string> RoutesDocument() override;
  Status SetRoutes(const Stack& stack) override;

 private:
  StackTargets t_;
};

}  // namespace riffle::app
