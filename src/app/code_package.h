// A function's code directory as Lambda takes it: a zip file
// (Code.ZipFile), made deterministic so that the same files always give the
// same bytes, hence the same CodeSha256, and applying an unchanged
// directory again is recognised as unchanged.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"
#include "functions/function_config.h"

namespace riffle::app {

// Lambda's CodeSha256 of a zip file, as the function service computes it.
using functions::Sha256Base64;

// Zips every regular file under `dir` (symlinks followed), named by its
// path relative to `dir`. Deterministic: entries sorted by name, a fixed
// timestamp (1980-01-01 00:00, the zip format's epoch), Unix permission
// bits kept (a `bootstrap` must stay executable), deflate at the default
// level, no extra fields. The bytes can still differ between zlib versions.
// InvalidArgument when `dir` is not a directory or holds no file; Internal
// on a read or libzip failure.
Result<std::string> ZipDirectory(const std::filesystem::path& dir);

}  // namespace riffle::app
