// Paging cursors of the read API: opaque to clients and tamper-evident.
//
// A cursor is base64url (no padding) of
//   version (1 byte, 1) | key (DynamoDB JSON of LastEvaluatedKey) | tag
// where tag is HMAC-SHA256(secret, "riffle-cursor\0" binding "\0" key),
// 32 bytes. `binding` is what the cursor is valid for (the route, its path
// parameters, the order and sort key conditions), so a cursor cannot be
// edited, forged or replayed on another account's listing. The secret is
// per data directory (DATA_DIR/gateway/cursor.key), so cursors survive
// restarts and are useless against another installation.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"
#include "tables/attribute_value.h"

namespace riffle::gateway {

// Immutable after construction; thread-safe.
class CursorCodec {
 public:
  explicit CursorCodec(std::string secret) : secret_(std::move(secret)) {}

  std::string Encode(std::string_view binding,
                     const tables::Item& last_key) const;
  // InvalidArgument ("malformed cursor" / "invalid cursor") for anything
  // this codec did not issue for `binding`.
  Result<tables::Item> Decode(std::string_view binding,
                              std::string_view cursor) const;

 private:
  std::string Tag(std::string_view binding, std::string_view key) const;

  std::string secret_;
};

// Reads the 32-byte secret at `path`, or creates it (random, mode 0600,
// written to a temporary file, synced and renamed) when it does not exist.
// Blocking: call at start-up.
Result<std::string> LoadOrCreateSecret(const std::filesystem::path& path);

// base64url without padding (RFC 4648 section 5), so cursors need no
// escaping in a query string.
std::string Base64UrlEncode(std::string_view data);
// nullopt for anything but canonical unpadded base64url.
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace riffle::gateway
