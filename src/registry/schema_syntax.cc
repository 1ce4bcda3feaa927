#include "registry/schema_syntax.h"

#include <fmt/format.h>

#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "registry/errors.h"

namespace riffle::registry {
namespace {

Status Invalid(int line, std::string_view what) {
  return Error(ErrorCode::kInvalidSchema,
               fmt::format("Invalid schema: protobuf line {}: {}", line, what));
}

}  // namespace

Status CheckProtobufSyntax(std::string_view text) {
  static const std::set<std::string, std::less<>> kTopLevel = {
      "syntax",  "edition", "package", "import", "option",
      "message", "enum",    "service", "extend"};
  std::vector<std::pair<char, int>> open;  // bracket and its line
  int line = 1;
  bool at_statement_start = true;
  bool saw_content = false;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      ++i;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      size_t end = text.find("*/", i + 2);
      if (end == std::string_view::npos) {
        return Invalid(line, "unterminated comment");
      }
      for (size_t j = i; j < end; ++j) line += text[j] == '\n';
      i = end + 2;
      continue;
    }
    if (c == '"' || c == '\'') {
      size_t j = i + 1;
      while (j < text.size() && text[j] != c && text[j] != '\n') {
        j += text[j] == '\\' ? 2 : 1;
      }
      if (j >= text.size() || text[j] != c) {
        return Invalid(line, "unterminated string literal");
      }
      i = j + 1;
      at_statement_start = false;
      continue;
    }
    if (c == '{' || c == '(' || c == '[' || c == '<') {
      open.emplace_back(c, line);
      at_statement_start = c == '{';
      ++i;
      continue;
    }
    if (c == '}' || c == ')' || c == ']' || c == '>') {
      char want = c == '}' ? '{' : c == ')' ? '(' : c == ']' ? '[' : '<';
      if (open.empty() || open.back().first != want) {
        return Invalid(line, fmt::format("unbalanced '{}'", c));
      }
      open.pop_back();
      at_statement_start = c == '}';
      ++i;
      continue;
    }
    if (c == ';') {
      at_statement_start = true;
      ++i;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < text.size() &&
             (std::isalnum(static_cast<unsigned char>(text[j])) ||
              text[j] == '_' || text[j] == '.')) {
        ++j;
      }
      std::string_view word = text.substr(i, j - i);
      if (at_statement_start && open.empty()) {
        if (!kTopLevel.count(word)) {
          return Invalid(line,
                         fmt::format("unexpected '{}' at top level", word));
        }
        saw_content = true;
      }
      at_statement_start = false;
      i = j;
      continue;
    }
    // Numbers, '=', ',', '-', '.', ... inside statements.
    if (at_statement_start && open.empty()) {
      return Invalid(line, fmt::format("unexpected '{}' at top level", c));
    }
    at_statement_start = false;
    ++i;
  }
  if (!open.empty()) {
    return Invalid(open.back().second,
                   fmt::format("'{}' is never closed", open.back().first));
  }
  if (!saw_content) return Invalid(line, "no definitions");
  return Status::Ok();
}

}  // namespace riffle::registry
