// Reader/writer schema compatibility with the rules of Avro's Java
// SchemaCompatibility (what Confluent Schema Registry applies): can data
// written with `writer` always be read with `reader`? Every incompatibility
// is reported, each with the location in the reader schema as a JSON-pointer
// path ("/fields/1/type/items"), as Java reports it.
//
// The registry derives its levels from this one check: BACKWARD is
// Check(new, old), FORWARD is Check(old, new), FULL both; the transitive
// levels repeat it against every earlier version. Stateless and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "avro/schema.h"

namespace riffle::avro {

// Values are stable; the names are Java's SchemaIncompatibilityType.
enum class IncompatibilityType : uint8_t {
  kNameMismatch = 0,
  kFixedSizeMismatch = 1,
  kMissingEnumSymbols = 2,
  kReaderFieldMissingDefaultValue = 3,
  kTypeMismatch = 4,
  kMissingUnionBranch = 5,
};

// "NAME_MISMATCH", "READER_FIELD_MISSING_DEFAULT_VALUE", ...
std::string_view IncompatibilityTypeName(IncompatibilityType type);

struct Incompatibility {
  IncompatibilityType type;
  // JSON-pointer path in the reader schema, "/" for the root.
  std::string location;
  // Java's message: "reader type: INT not compatible with writer type:
  // STRING", the missing field's name, "[C, D]" for enum symbols, ...
  std::string message;
  // The schema fragments involved; they point into the checked schemas.
  const Node* reader = nullptr;
  const Node* writer = nullptr;

  // "TYPE_MISMATCH at /fields/0/type: reader type: ..."
  std::string ToString() const;
};

struct Compatibility {
  std::vector<Incompatibility> incompatibilities;
  bool compatible() const { return incompatibilities.empty(); }
};

Compatibility CheckCompatibility(const Schema& reader, const Schema& writer);
Compatibility CheckCompatibility(const Node& reader, const Node& writer);

}  // namespace riffle::avro
