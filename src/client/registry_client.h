// A Confluent Schema Registry REST v1 client (riffle's registry, Confluent's
// or any compatible one) with a cache of schemas by id: an id never changes
// meaning, so each is fetched once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "avro/schema.h"
#include "client/connection_pool.h"
#include "core/status.h"
#include "http/client.h"

namespace riffle::client {

struct RegisteredSchema {
  uint32_t id = 0;
  int version = 0;  // 0 when the reply does not say (Register)
  std::string subject;
  std::shared_ptr<const avro::Schema> schema;
};

// Owns a pool of connections and the cache. Thread-safe; calls block until
// the registry answers. Errors: the registry's error_code decides the code
// (404xx NotFound; 409 incompatible schema FailedPrecondition; 422xx
// InvalidArgument; 5xx and unreachable Unavailable), and the message
// carries it ("registry 40401: Subject 'x' not found.").
class RegistryClient {
 public:
  explicit RegistryClient(http::Url url, http::ClientOptions options = {});

  // POST /subjects/{subject}/versions: registers `schema_text` (or finds
  // it when the subject holds it already) and returns its id. Caches it.
  Result<RegisteredSchema> Register(const std::string& subject,
                                    const std::string& schema_text);
  // POST /subjects/{subject}: the id and version of `schema_text` under
  // `subject`; NotFound when it is not registered there.
  Result<RegisteredSchema> Lookup(const std::string& subject,
                                  const std::string& schema_text);
  // GET /subjects/{subject}/versions/latest. NotFound when the subject has
  // no schema.
  Result<RegisteredSchema> Latest(const std::string& subject);
  // GET /schemas/ids/{id}, cached. NotFound for an unknown id;
  // FailedPrecondition when the schema is not Avro.
  Result<std::shared_ptr<const avro::Schema>> GetById(uint32_t id);

  // POST /compatibility/subjects/{subject}/versions?verbose=true: would
  // the registry accept `schema_text` as a new version of `subject`, judged
  // as registering it would be (against the versions the subject's level
  // selects)? The registry's reasons why not; empty when it would, or when
  // the subject has no version yet. Changes nothing.
  Result<std::vector<std::string>> TestCompatibility(
      const std::string& subject, const std::string& schema_text);

  // GET /config/{subject} (the global config when `subject` is empty): the
  // compatibility level ("BACKWARD", ...). NotFound (Confluent's 40408)
  // when the subject has no config of its own.
  Result<std::string> GetCompatibility(const std::string& subject);
  // PUT /config/{subject} (global when empty) {"compatibility": level}.
  Status SetCompatibility(const std::string& subject, const std::string& level);

 private:
  // Sends a request; a non-2xx status becomes a Status (see the class).
  Result<std::string> Call(std::string_view method, const std::string& target,
                           std::string_view body);
  Result<RegisteredSchema> ParseReply(const std::string& body,
                                      const std::string& subject,
                                      std::shared_ptr<const avro::Schema> known,
                                      const std::string& what);
  void Remember(uint32_t id, std::shared_ptr<const avro::Schema> schema);

  ConnectionPool pool_;
  std::mutex mu_;
  std::map<uint32_t, std::shared_ptr<const avro::Schema>>
      by_id_;  // guarded by mu_
};

}  // namespace riffle::client
