// Event filtering for event-source mappings (FilterCriteria): EventBridge
// pattern syntax, as Lambda applies it to stream records
// (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html).
//
// A pattern is a JSON object. Each key must match (AND). A key's value is
// either an object (a pattern for the nested object) or a non-empty array
// of conditions, any of which may match (OR):
//   "x", 5, true, null                   exact value (numbers by value)
//   {"prefix": "ab"} {"suffix": ".png"}  strings only; either may take
//                                        {"equals-ignore-case": "ab"}
//   {"equals-ignore-case": "AbC"}        ASCII case-insensitive
//   {"wildcard": "a*b"}                  '*' matches any run of characters
//   {"anything-but": v | [v...] | {"prefix": s} | {"suffix": s}
//                    | {"equals-ignore-case": s | [s...]}}
//   {"numeric": [">", 0, "<=", 5]}       numbers only; one or two bounds,
//                                        or ["=", n]
//   {"exists": true | false}             presence of the field
// and "$or": [pattern, pattern, ...] at any level matches when one of the
// sub-patterns does. A field that is an array in the event matches when
// one of its elements does. A missing field matches only {"exists":
// false}. A mapping's FilterCriteria holds up to 5 patterns; a record is
// sent to the function when any of them matches.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "json/json.h"

namespace riffle::functions {

// One compiled pattern. Immutable once parsed, so safe to share across
// threads.
class FilterPattern {
 public:
  // InvalidArgument with Lambda's message ("Invalid filter pattern
  // definition.") when `pattern_json` is not a valid pattern.
  static Result<FilterPattern> Parse(std::string_view pattern_json);

  bool Matches(const json::Value& event) const;

  struct Condition;
  struct Node;

 private:
  std::shared_ptr<const Node> root_;
};

// Lambda's maximum number of filters per event-source mapping.
inline constexpr size_t kMaxFilters = 5;

// The FilterCriteria of a mapping: any pattern may match. An empty set
// matches everything. Immutable, thread-safe to read.
class FilterSet {
 public:
  static Result<FilterSet> Parse(const std::vector<std::string>& patterns);
  bool empty() const { return patterns_.empty(); }
  bool Matches(const json::Value& event) const;

 private:
  std::vector<FilterPattern> patterns_;
};

}  // namespace riffle::functions
