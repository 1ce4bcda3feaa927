// The stack file: one YAML document declaring streams, schemas, tables,
// functions, event-source mappings and read-API routes (docs/stack-file.md
// is the reference of every field). This is its parser: YAML in, a plain
// Stack out, with every error naming the file, the line and the field
// ("stack.yaml:12: tables.payments.partition_key.type: must be S, N or B").
// Applying a Stack is stack_apply.h's job.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "functions/function_config.h"
#include "gateway/routes.h"
#include "streams/service.h"
#include "tables/service.h"

namespace riffle::app {

struct StackStream {
  std::string name;
  std::optional<int> shards;  // required in provisioned mode
  streams::StreamMode mode = streams::StreamMode::kProvisioned;
  int retention_hours = 24;
};

struct StackSchema {
  std::string subject;
  std::filesystem::path file;  // absolute (resolved against the stack file)
  std::string schema;          // the file's text
  std::optional<std::string> compatibility;  // "BACKWARD", ...
};

struct StackTable {
  tables::TableSpec spec;          // name, keys, attributes, indexes
  std::optional<std::string> ttl;  // the TTL attribute, when enabled
};

struct StackFunction {
  functions::FunctionConfig config;  // name, runtime, handler, env, ...
  std::optional<std::filesystem::path> code;  // absolute directory
  std::optional<int> concurrency;             // reserved concurrency
};

struct StackMapping {
  std::string stream;  // the source stream's name
  std::string on_failure_stream;
  // function_name and options; `filters` are in config.filter_patterns as
  // the JSON texts Lambda takes (a YAML mapping is serialized compactly, a
  // string kept as written).
  functions::MappingConfig config;
};

struct Stack {
  std::filesystem::path file;
  std::vector<StackStream> streams;
  std::vector<StackSchema> schemas;
  std::vector<StackTable> tables;
  std::vector<StackFunction> functions;
  std::vector<StackMapping> mappings;
  gateway::Config read_api;  // routes and CORS
  // Example requests per route name (`routes.<name>.examples`): paths
  // below the http URL, shown by --print-help-on-ready as curl commands.
  std::map<std::string, std::vector<std::string>> route_examples;
  // The `read_api` and `routes` sections as canonical JSON (keys sorted,
  // every scalar a string): what riffle's routes endpoint takes, stores and
  // compares (docs/stack-file.md, "Routes"). "" when the file has neither
  // section.
  std::string routes_document;
  // The line of each item ("tables.payments", "mappings[0]"), so that an
  // error applying it can name the line as parse errors do.
  std::map<std::string, int> item_lines;
};

// Parses `text` as the stack file `file` (whose directory relative paths
// start from). InvalidArgument with "FILE:LINE: FIELD: why" on the first
// error: bad YAML, an unknown or missing field, a bad value, a reference to
// something the stack does not declare (a route's table, a mapping's
// function) when the stack could not work without it.
Result<Stack> ParseStack(const std::filesystem::path& file,
                         const std::string& text);
// Reads and parses `file`.
Result<Stack> LoadStack(const std::filesystem::path& file);

}  // namespace riffle::app
