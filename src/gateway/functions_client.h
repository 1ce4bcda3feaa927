// The functions client interface through which function routes invoke
// (DESIGN.md: the gateway reaches other services through client
// interfaces), and its in-process implementation over functions::Service.
// A remote implementation (Lambda's Invoke over HTTP) can take its place
// for a scaled-out read tier.
#pragma once

#include <functional>
#include <string>

#include "core/status.h"

namespace riffle::functions {
class Service;
}

namespace riffle::gateway {

// What one invocation returned.
struct FunctionReply {
  std::string payload;  // the response, or the error document
  // True when the handler failed (threw, timed out, crashed): `payload` is
  // then Lambda's {"errorType", "errorMessage"} document.
  bool function_error = false;
  std::string request_id;  // Lambda's request id, for the log
};

// Thread-safe. Invoke completes through its callback exactly once, from
// any thread (possibly before the call returns), and never blocks the
// calling thread: the gateway calls it from a network thread.
class FunctionsClient {
 public:
  virtual ~FunctionsClient() = default;

  // Runs function `name` with the JSON event `payload`. Not ok when the
  // function could not run at all (NotFound: no such function;
  // ResourceExhausted: throttled); a handler error is ok() with
  // function_error set.
  virtual void Invoke(const std::string& name, std::string payload,
                      std::function<void(Result<FunctionReply>)> done) = 0;
  // The account the functions run in (requestContext.accountId).
  virtual std::string AccountId() const = 0;
};

// Borrows `functions`, which must outlive it and every invocation in
// flight. Thread-safe.
class LocalFunctionsClient : public FunctionsClient {
 public:
  explicit LocalFunctionsClient(functions::Service& functions)
      : functions_(functions) {}

  void Invoke(const std::string& name, std::string payload,
              std::function<void(Result<FunctionReply>)> done) override;
  std::string AccountId() const override;

 private:
  functions::Service& functions_;
};

}  // namespace riffle::gateway
