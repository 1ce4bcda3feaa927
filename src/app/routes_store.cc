#include "app/routes_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "core/thread_pool.h"
#include "gateway/read_api.h"
#include "json/writer.h"

namespace riffle::app {
namespace {

namespace fs = std::filesystem;

// Writes `text` to `path` so that a crash leaves the old or the new file,
// never a torn one: a temporary file, fsync, rename, fsync of the
// directory.
Status WriteDurably(const fs::path& path, const std::string& text) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Internal("cannot write " + tmp.string());
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      return Internal("cannot write " + tmp.string());
    }
    done += static_cast<size_t>(n);
  }
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return Internal("cannot sync " + tmp.string());
  fs::rename(tmp, path, ec);
  if (ec)
    return Internal("cannot rename " + tmp.string() + ": " + ec.message());
  int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::Ok();
}

// A stack holding nothing but routes (and read_api settings).
Result<Stack> ParseRoutesDocument(const std::string& source,
                                  const std::string& document) {
  ASSIGN_OR_RETURN(Stack stack, ParseStack(source, document));
  if (!stack.streams.empty() || !stack.schemas.empty() ||
      !stack.tables.empty() || !stack.functions.empty() ||
      !stack.mappings.empty()) {
    return InvalidArgument(source +
                           ": a routes document holds only read_api and "
                           "routes");
  }
  return stack;
}

http::Response Message(int status, std::string_view message) {
  std::string body;
  json::Writer w(&body);
  w.BeginObject().Key("message").String(message);
  w.EndObject();
  return http::JsonResponse(status, std::move(body));
}

}  // namespace

RoutesStore::RoutesStore(gateway::ReadApi* read_api, fs::path file)
    : read_api_(read_api), file_(std::move(file)) {}

Status RoutesStore::Load() {
  std::error_code ec;
  if (!fs::exists(file_, ec)) return Status::Ok();
  std::ifstream in(file_, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return DataLoss("cannot read " + file_.string());
  auto stack = ParseRoutesDocument(file_.string(), text.str());
  if (!stack.ok()) return DataLoss(stack.status().message());
  if (Status s = read_api_->SetConfig(stack->read_api); !s.ok())
    return DataLoss(file_.string() + ": " + s.message());
  std::lock_guard l(mu_);
  document_ = stack->routes_document;
  return Status::Ok();
}

std::string RoutesStore::Document() const {
  std::lock_guard l(mu_);
  return document_;
}

Status RoutesStore::Set(const Stack& stack) {
  std::lock_guard l(mu_);
  RETURN_IF_ERROR(read_api_->SetConfig(stack.read_api));
  RETURN_IF_ERROR(WriteDurably(file_, stack.routes_document + "\n"));
  document_ = stack.routes_document;
  return Status::Ok();
}

Status RoutesStore::SetDocument(const std::string& document) {
  ASSIGN_OR_RETURN(Stack stack,
                   ParseRoutesDocument("routes document", document));
  if (stack.routes_document.empty())
    return InvalidArgument(
        "routes document: expected an object with read_api and/or routes");
  return Set(stack);
}

http::Handler RoutesStore::Wrap(http::Handler next, ThreadPool& blocking) {
  return [this, next = std::move(next), &blocking](http::Request req,
                                                   http::Responder respond) {
    if (req.path != kRoutesPath)
      return next(std::move(req), std::move(respond));
    if (req.method == "GET") {
      std::string doc = Document();
      return respond(http::JsonResponse(200, doc.empty() ? "{}" : doc));
    }
    if (req.method != "PUT") {
      http::Response r = Message(405, "use GET or PUT");
      r.SetHeader("allow", "GET, PUT");
      return respond(std::move(r));
    }
    auto shared = std::make_shared<http::Request>(std::move(req));
    blocking.Post([this, shared, respond = std::move(respond)] {
      Status s = SetDocument(shared->body);
      if (!s.ok()) {
        int status = s.code() == StatusCode::kInvalidArgument ? 400 : 500;
        return respond(Message(status, s.message()));
      }
      respond(http::JsonResponse(200, Document()));
    });
  };
}

}  // namespace riffle::app
