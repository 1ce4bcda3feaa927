// DynamoDB's JSON wire form of attribute values and items:
//   {"S": "text"} {"N": "1.5"} {"B": "<base64>"} {"BOOL": true}
//   {"NULL": true} {"M": {...}} {"L": [...]} {"SS": [...]} {"NS": [...]}
//   {"BS": [...]}
// Reading checks the JSON shape first (AWS answers SerializationException,
// worded as Coral words it) and then DynamoDB's value rules (a
// ValidationException), with AWS's messages as recorded by dynalite:
//   "Supplied AttributeValue is empty, must contain exactly one of the
//    supported datatypes", "One or more parameter values were invalid: An
//    number set  may not be empty", number range and precision errors, ...
// Since 2020 DynamoDB accepts empty S and B values outside keys and inside
// sets; key attributes are checked by the service.
// Stateless functions; thread-safe.
#pragma once

#include "core/status.h"
#include "json/json.h"
#include "json/writer.h"
#include "tables/attribute_value.h"

namespace riffle::tables {

// Which AWS exception a conversion error is.
enum class WireErrorKind {
  kValidation,     // ValidationException
  kSerialization,  // SerializationException (message key "Message")
};

// Converts one AttributeValue object. On error returns InvalidArgument with
// AWS's message and sets *kind (when given).
Result<AttributeValue> AttributeValueFromJson(const json::Value& value,
                                              WireErrorKind* kind = nullptr);

// Only the shape check (the SerializationException pass), so that an
// adapter can check every value of a request before validating any, as AWS
// does. Returns the message of the first error.
std::optional<std::string> CheckAttributeValueShape(const json::Value& value);

// Converts an object of name -> AttributeValue (an item, a key, or
// ExpressionAttributeValues). Errors as AttributeValueFromJson.
Result<Item> ItemFromJson(const json::Value& object,
                          WireErrorKind* kind = nullptr);

// Appends the wire form (numbers normalised, binaries in base64).
void WriteAttributeValue(json::Writer& w, const AttributeValue& value);
void WriteItem(json::Writer& w, const Item& item);
std::string AttributeValueToJson(const AttributeValue& value);
std::string ItemToJson(const Item& item);

// DynamoDB's rendering of a value inside messages, e.g. the BETWEEN bound
// "AttributeValue: {N:5}".
std::string AttributeValueForMessage(const AttributeValue& value);

}  // namespace riffle::tables
