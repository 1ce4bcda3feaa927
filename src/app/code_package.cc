#include "app/code_package.h"

#include <sys/stat.h>
#include <zip.h>

#include <algorithm>
#include <deque>
#include <fstream>
#include <sstream>
#include <vector>

namespace riffle::app {

namespace fs = std::filesystem;

namespace {

// Owns a libzip archive written to memory; closes it on destruction.
class MemoryZip {
 public:
  MemoryZip() = default;
  MemoryZip(const MemoryZip&) = delete;
  MemoryZip& operator=(const MemoryZip&) = delete;
  ~MemoryZip() {
    if (za_ != nullptr) zip_discard(za_);
    if (src_ != nullptr) zip_source_free(src_);
  }

  Status Open() {
    zip_error_t error;
    zip_error_init(&error);
    src_ = zip_source_buffer_create(nullptr, 0, 0, &error);
    if (src_ == nullptr) return Fail(&error);
    // Kept past zip_close, which writes the archive into it.
    zip_source_keep(src_);
    za_ = zip_open_from_source(src_, ZIP_TRUNCATE, &error);
    if (za_ == nullptr) return Fail(&error);
    return Status::Ok();
  }

  // Adds `data` (which must live until Finish) as `name`.
  Status Add(const std::string& name, const std::string& data, mode_t mode) {
    zip_source_t* s = zip_source_buffer(za_, data.data(), data.size(), 0);
    if (s == nullptr) return Fail(zip_get_error(za_));
    zip_int64_t i = zip_file_add(za_, name.c_str(), s, ZIP_FL_ENC_UTF_8);
    if (i < 0) {
      zip_source_free(s);
      return Fail(zip_get_error(za_));
    }
    auto index = static_cast<zip_uint64_t>(i);
    // DOS date 1980-01-01 ((0 << 9) | (1 << 5) | 1), time 00:00: fixed, and
    // free of the local time zone that a time_t would be converted in.
    constexpr zip_uint16_t kDosDate = (1 << 5) | 1;
    if (zip_file_set_dostime(za_, index, 0, kDosDate, 0) != 0 ||
        zip_file_set_external_attributes(
            za_, index, 0, ZIP_OPSYS_UNIX,
            static_cast<zip_uint32_t>(S_IFREG | (mode & 07777)) << 16) != 0 ||
        zip_set_file_compression(za_, index, ZIP_CM_DEFLATE, 0) != 0) {
      return Fail(zip_get_error(za_));
    }
    return Status::Ok();
  }

  Result<std::string> Finish() {
    if (zip_close(za_) != 0) return Fail(zip_get_error(za_));
    za_ = nullptr;
    zip_stat_t st;
    if (zip_source_open(src_) != 0) return Fail(zip_source_error(src_));
    zip_stat_init(&st);
    if (zip_source_stat(src_, &st) != 0) {
      zip_source_close(src_);
      return Fail(zip_source_error(src_));
    }
    std::string out(st.size, '\0');
    zip_int64_t n = zip_source_read(src_, out.data(), out.size());
    zip_source_close(src_);
    if (n < 0 || static_cast<zip_uint64_t>(n) != st.size)
      return Internal("zip: short read of the archive");
    return out;
  }

 private:
  static Status Fail(zip_error_t* error) {
    return Internal(std::string("zip: ") + zip_error_strerror(error));
  }

  zip_source_t* src_ = nullptr;
  zip_t* za_ = nullptr;
};

}  // namespace

Result<std::string> ZipDirectory(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return InvalidArgument(dir.string() + " is not a directory");
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(
           dir, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) files.push_back(it->path());
  }
  if (ec) return Internal("cannot list " + dir.string() + ": " + ec.message());
  if (files.empty())
    return InvalidArgument(dir.string() + " holds no file to deploy");
  std::vector<std::pair<std::string, fs::path>> named;
  for (const fs::path& f : files)
    named.emplace_back(f.lexically_relative(dir).generic_string(), f);
  std::sort(named.begin(), named.end());

  MemoryZip zip;
  RETURN_IF_ERROR(zip.Open());
  std::deque<std::string> contents;  // stable addresses until Finish
  for (const auto& [name, path] : named) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream data;
    data << in.rdbuf();
    if (!in) return Internal("cannot read " + path.string());
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
      return Internal("cannot stat " + path.string());
    contents.push_back(data.str());
    RETURN_IF_ERROR(zip.Add(name, contents.back(), st.st_mode));
  }
  return zip.Finish();
}

}  // namespace riffle::app
