// Items as plain JSON: DynamoDB's typed values unmarshalled the way
// lib-dynamodb's unmarshall does, except numbers (docs/read-api.md,
// "Items as JSON"):
//   S -> string, BOOL -> true/false, NULL -> null, M -> object, L -> array,
//   B -> base64 string, SS/BS -> arrays of strings (base64 for BS),
//   N and NS members -> a JSON number when every IEEE double reader (a
//   browser's JSON.parse) gets the exact decimal back, else a string.
// Stateless; thread-safe.
#pragma once

#include <string>

#include "json/writer.h"
#include "tables/attribute_value.h"
#include "tables/number.h"

namespace riffle::gateway {

// Whether `n` survives a trip through an IEEE 754 double and back to its
// shortest decimal: integers of magnitude up to 2^53, and any number of at
// most 15 significant digits (DBL_DIG) — every DynamoDB exponent lies
// inside the double range.
bool IsExactAsDouble(const tables::Number& n);

void WritePlainValue(json::Writer& w, const tables::AttributeValue& value);
void WritePlainItem(json::Writer& w, const tables::Item& item);
std::string PlainItemJson(const tables::Item& item);

}  // namespace riffle::gateway
