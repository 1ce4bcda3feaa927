#include "gateway/cursor.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "core/base64.h"
#include "json/json.h"
#include "tables/attribute_json.h"

namespace riffle::gateway {
namespace {

constexpr char kVersion = 1;
constexpr size_t kTagBytes = 32;
constexpr size_t kSecretBytes = 32;

}  // namespace

std::string Base64UrlEncode(std::string_view data) {
  std::string s = base64::Encode(data);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  std::string s(text);
  for (char& c : s) {
    if (c == '+' || c == '/' || c == '=') return std::nullopt;
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  if (s.size() % 4 == 1) return std::nullopt;
  while (s.size() % 4 != 0) s.push_back('=');
  auto out = base64::Decode(s);
  // Only the canonical spelling: unused low bits of the last character
  // must be zero, so one cursor has one text.
  if (out && Base64UrlEncode(*out) != text) return std::nullopt;
  return out;
}

std::string CursorCodec::Tag(std::string_view binding,
                             std::string_view key) const {
  std::string message = "riffle-cursor";
  message.push_back('\0');
  message.append(binding);
  message.push_back('\0');
  message.append(key);
  unsigned char tag[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       tag, &length);
  return std::string(reinterpret_cast<const char*>(tag), length);
}

std::string CursorCodec::Encode(std::string_view binding,
                                const tables::Item& last_key) const {
  std::string key = tables::ItemToJson(last_key);
  std::string raw(1, kVersion);
  raw += key;
  raw += Tag(binding, key);
  return Base64UrlEncode(raw);
}

Result<tables::Item> CursorCodec::Decode(std::string_view binding,
                                         std::string_view cursor) const {
  auto raw = Base64UrlDecode(cursor);
  if (!raw || raw->size() < 1 + kTagBytes + 2 || (*raw)[0] != kVersion) {
    return InvalidArgument("malformed cursor");
  }
  std::string_view all(*raw);
  std::string_view key = all.substr(1, all.size() - 1 - kTagBytes);
  std::string_view tag = all.substr(all.size() - kTagBytes);
  std::string expected = Tag(binding, key);
  // Constant time, so that response timing does not leak a valid tag.
  if (CRYPTO_memcmp(expected.data(), tag.data(), kTagBytes) != 0) {
    return InvalidArgument(
        "invalid cursor: it was not issued for this request");
  }
  // Issued by us: a failure below is a format change, still the client's
  // problem to solve by starting over.
  auto doc = json::Parse(key);
  if (!doc.ok() || !doc->is_object()) return InvalidArgument("invalid cursor");
  auto item = tables::ItemFromJson(*doc);
  if (!item.ok()) return InvalidArgument("invalid cursor");
  return std::move(item).value();
}

Result<std::string> LoadOrCreateSecret(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::string s((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
      if (s.size() != kSecretBytes) {
        return DataLoss(path.string() + " is not a 32-byte cursor secret");
      }
      return s;
    }
  }
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return Internal("cannot create " + path.parent_path().string());
  std::string secret(kSecretBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                 static_cast<int>(secret.size())) != 1) {
    return Internal("no random bytes for the cursor secret");
  }
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Internal("cannot write " + tmp.string());
  bool ok = ::write(fd, secret.data(), secret.size()) ==
                static_cast<ssize_t>(secret.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Internal("cannot write " + tmp.string());
  // Durable before use: a cursor handed out must verify after a crash.
  fs::rename(tmp, path, ec);
  if (ec) return Internal("cannot write " + path.string());
  int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_CLOEXEC);
  if (dir >= 0) {
    (void)::fsync(dir);
    ::close(dir);
  }
  return secret;
}

}  // namespace riffle::gateway
