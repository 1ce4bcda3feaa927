// The stored forms of items and keys (docs/formats/tables.md):
//  - items in a compact binary encoding (type byte + varint lengths, numbers
//    one byte per two digits), decoded with a nesting limit so that a
//    corrupt record cannot exhaust the stack;
//  - key attributes (S, N, B) in an order-preserving, self-delimiting
//    encoding, so that a table's items sort by (partition, sort key) and a
//    Query is one range scan.
// Stateless functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "tables/attribute_value.h"

namespace riffle::tables {

// Appends the encoding of `item` to `*out`.
void EncodeItem(const Item& item, std::string* out);
// Decodes a whole record; DataLoss when it is malformed.
Result<Item> DecodeItem(std::string_view data);

// One value (any type), as inside an item.
void EncodeValue(const AttributeValue& value, std::string* out);
// Reads one value from the front of `*in`; false when malformed.
bool DecodeValue(std::string_view* in, AttributeValue* value, int depth = 0);

// Key values: S, N or B only (asserted). For two values a and b of the same
// type, the encoding of a sorts bytewise before that of b exactly when
// DynamoDB orders a before b, and no encoding is a prefix of another, so
// encodings can be concatenated into composite keys.
void EncodeKeyValue(const AttributeValue& value, std::string* out);
// Reads one key value of type `type` from the front of `*in`.
bool DecodeKeyValue(std::string_view* in, AttributeType type,
                    AttributeValue* value);

// Nesting deeper than this is rejected on decode (DynamoDB allows 32).
inline constexpr int kMaxDecodeDepth = 64;

}  // namespace riffle::tables
