// Standard base64 (RFC 4648, with padding), as AWS JSON protocols carry blobs.
// Stateless and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace riffle::base64 {

std::string Encode(std::string_view data);
void EncodeAppend(std::string_view data, std::string* out);
// nullopt when `text` is not valid base64 (wrong length, bad character or
// bad padding).
std::optional<std::string> Decode(std::string_view text);
// Length of the decoded form of valid `text`, without decoding.
size_t DecodedSize(std::string_view text);

}  // namespace riffle::base64
