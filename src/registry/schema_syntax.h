// Syntax checks for the schema types whose full model riffle does not have
// yet (PROTOBUF). Stateless and thread-safe.
#pragma once

#include <string_view>

#include "core/status.h"

namespace riffle::registry {

// A basic check of a .proto file: comments and string literals are skipped,
// braces, brackets and parentheses must balance, statements at the top level
// must start with a known keyword (syntax, edition, package, import, option,
// message, enum, service, extend), and at least one definition or a syntax
// statement must be present. Not a parser: a file that passes may still be
// rejected by protoc. InvalidArgument (42201) names the problem and line.
Status CheckProtobufSyntax(std::string_view text);

}  // namespace riffle::registry
