// The Confluent Schema Registry REST API v1 over registry::Service: every
// endpoint of Confluent's API reference
// (https://docs.confluent.io/platform/current/schema-registry/develop/api.html)
// that riffle implements, with its request and response shapes, query
// parameters, content negotiation and error replies
// ({"error_code": N, "message": "..."} and Confluent's HTTP status).
#pragma once

#include "http/message.h"
#include "registry/service.h"

namespace riffle::registry {

// The registry port's handler. `service` must outlive it. Thread-safe:
// reads answer on the calling (network) thread from memory; writes answer
// from the service's write path once durable. Unknown paths answer 404 and
// wrong methods 405 in Confluent's (Jersey's) error shape.
http::Handler MakeConfluentApi(Service& service);

}  // namespace riffle::registry
