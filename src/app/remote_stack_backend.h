// The StackBackend of `riffle apply`: a running server reached only
// through its public APIs, so it works against another machine, and for
// everything but routes against AWS and Confluent too:
//   Kinesis and DynamoDB (AWS JSON, SigV4) and Lambda (REST) on `aws`;
//   the Confluent registry REST API on `registry`;
//   riffle's routes endpoint (GET/PUT /_riffle/routes, routes_store.h) on
//   `http`, contacted only when the stack declares routes.
// Function code is sent as Lambda takes it, a zip (Code.ZipFile) made
// deterministically from the directory (code_package.h), and compared by
// CodeSha256. Every mutation waits until the resource is usable again
// (ACTIVE stream, table and index; Active function with a Successful last
// update; a mapping no longer Creating or Updating), as AWS needs between
// steps; riffle answers at once.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "app/stack_backend.h"
#include "client/aws_clients.h"
#include "client/registry_client.h"
#include "http/client.h"

namespace riffle::app {

struct RemoteTargets {
  client::AwsEndpoint aws;
  http::Url registry;
  http::Url http;
  std::string aws_url, registry_url, http_url;  // as given, for messages
  // The execution role of created functions: AWS requires one; riffle
  // ignores it.
  std::string role = "arn:aws:iam::000000000000:role/riffle-apply";
  // How long one resource may take to become usable again.
  std::chrono::milliseconds wait_timeout{std::chrono::minutes(10)};
};

// Owns its clients (connection pools). Not thread-safe: one apply at a
// time; every call blocks on the network.
class RemoteStackBackend : public StackBackend {
 public:
  explicit RemoteStackBackend(RemoteTargets targets);
  ~RemoteStackBackend() override;

  std::string Describe() const override;

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
  // Polls `ready` (true when done) with backoff until it is true or the
  // wait times out (DeadlineExceeded naming `what`).
  Status WaitUntil(const std::string& what,
                   const std::function<Result<bool>()>& ready);
  Status WaitStreamActive(const std::string& name);
  Status WaitTableActive(const std::string& name, const std::string& index);
  Status WaitFunctionReady(const std::string& name);
  Status WaitMappingSettled(const std::string& uuid);
  Result<json::Value> Kinesis(std::string_view op, const json::Value& body);
  Result<json::Value> Dynamo(std::string_view op, const json::Value& body);
  Result<json::Value> Lambda(std::string_view method, const std::string& target,
                             const json::Value& body = json::Value::Null());
  Result<http::ClientResponse> Routes(std::string_view method,
                                      std::string_view body);

  const RemoteTargets t_;
  std::unique_ptr<client::AwsJsonClient> kinesis_;
  std::unique_ptr<client::AwsJsonClient> dynamo_;
  std::unique_ptr<client::LambdaClient> lambda_;
  std::unique_ptr<client::RegistryClient> registry_;
  std::unique_ptr<http::Client> http_;
};

}  // namespace riffle::app
