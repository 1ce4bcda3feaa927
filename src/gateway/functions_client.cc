#include "gateway/functions_client.h"

#include <utility>

#include "functions/service.h"

namespace riffle::gateway {

void LocalFunctionsClient::Invoke(
    const std::string& name, std::string payload,
    std::function<void(Result<FunctionReply>)> done) {
  functions_.Invoke(name, std::move(payload), /*client_context=*/"",
                    [done = std::move(done)](functions::InvokeResult r) {
                      if (!r.status.ok()) return done(std::move(r.status));
                      FunctionReply reply;
                      reply.payload = std::move(r.payload);
                      reply.function_error = !r.function_error.empty();
                      reply.request_id = std::move(r.request_id);
                      done(std::move(reply));
                    });
}

std::string LocalFunctionsClient::AccountId() const {
  return functions_.options().arn.account_id;
}

}  // namespace riffle::gateway
