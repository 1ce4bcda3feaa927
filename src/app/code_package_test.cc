// The deterministic zip of a function's code directory (code_package.h):
// equal files give equal bytes whatever their timestamps, entries are
// sorted, and Unix modes survive.
#include "app/code_package.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <fstream>

#include "gtest/gtest.h"

namespace riffle::app {
namespace {

namespace fs = std::filesystem;

class CodePackageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("riffle_code_package_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "code" / "lib");
    Write("code/bootstrap", "#!/bin/sh\necho hi\n");
    fs::permissions(dir_ / "code" / "bootstrap", fs::perms(0755));
    Write("code/lib/b.txt", "b");
    Write("code/a.txt", "a");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }

  fs::path dir_;
};

TEST_F(CodePackageTest, Sha256Base64IsLambdasCodeSha256) {
  // SHA-256 of the empty string, base64.
  EXPECT_EQ(Sha256Base64(""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

TEST_F(CodePackageTest, SameFilesSameBytesWhateverTheirTimes) {
  auto first = ZipDirectory(dir_ / "code");
  ASSERT_TRUE(first.ok()) << first.status().message();
  ::sleep(1);
  Write("code/a.txt", "a");  // same content, new mtime
  auto second = ZipDirectory(dir_ / "code");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
  Write("code/a.txt", "A");
  auto third = ZipDirectory(dir_ / "code");
  ASSERT_TRUE(third.ok());
  EXPECT_NE(Sha256Base64(*first), Sha256Base64(*third));
}

TEST_F(CodePackageTest, EntriesSortedWithModesAndContents) {
  auto data = ZipDirectory(dir_ / "code");
  ASSERT_TRUE(data.ok());
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src =
      zip_source_buffer_create(data->data(), data->size(), 0, &error);
  ASSERT_NE(src, nullptr);
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY, &error);
  ASSERT_NE(za, nullptr);
  std::vector<std::string> names;
  for (zip_int64_t i = 0; i < zip_get_num_entries(za, 0); ++i)
    names.push_back(zip_get_name(za, static_cast<zip_uint64_t>(i), 0));
  EXPECT_EQ(names,
            (std::vector<std::string>{"a.txt", "bootstrap", "lib/b.txt"}));
  zip_uint8_t os = 0;
  zip_uint32_t attributes = 0;
  ASSERT_EQ(zip_file_get_external_attributes(za, 1, 0, &os, &attributes), 0);
  EXPECT_EQ(os, ZIP_OPSYS_UNIX);
  EXPECT_EQ((attributes >> 16) & 0777, 0755u);
  zip_file_t* f = zip_fopen_index(za, 2, 0);
  ASSERT_NE(f, nullptr);
  char buf[8] = {};
  EXPECT_EQ(zip_fread(f, buf, sizeof buf), 1);
  EXPECT_EQ(buf[0], 'b');
  zip_fclose(f);
  zip_close(za);
}

TEST_F(CodePackageTest, NotADirectoryOrEmpty) {
  EXPECT_EQ(ZipDirectory(dir_ / "missing").status().code(),
            StatusCode::kInvalidArgument);
  fs::create_directories(dir_ / "empty");
  EXPECT_EQ(ZipDirectory(dir_ / "empty").status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace riffle::app
