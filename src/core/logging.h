// Process-wide logging through spdlog. Include this (not spdlog) so the
// logger's configuration stays in one place. Thread-safe.
#pragma once

#include <spdlog/spdlog.h>

namespace riffle::logging {

// Sets the level from a name ("debug", "info", "warn", "error"); call once
// at start-up.
void Init(const std::string& level);

}  // namespace riffle::logging

#define RLOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define RLOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define RLOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define RLOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
