#include "avro/canonical.h"

#include <openssl/evp.h>

namespace riffle::avro {
namespace {

constexpr uint64_t kEmpty = 0xc15d213aa4d7a795ULL;

struct Crc64Table {
  uint64_t t[256];
  constexpr Crc64Table() : t() {
    for (int i = 0; i < 256; ++i) {
      uint64_t fp = static_cast<uint64_t>(i);
      for (int j = 0; j < 8; ++j) fp = (fp >> 1) ^ (kEmpty & -(fp & 1));
      t[i] = fp;
    }
  }
};
constexpr Crc64Table kTable;

template <size_t N>
std::array<uint8_t, N> Digest(const EVP_MD* md, std::string_view data) {
  std::array<uint8_t, N> out{};
  unsigned int len = 0;
  // EVP_Digest only fails on allocation failure; the zeroed array is the
  // (never observed) fallback.
  EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr);
  return out;
}

}  // namespace

uint64_t Crc64Avro(std::string_view data) {
  uint64_t fp = kEmpty;
  for (unsigned char c : data) fp = (fp >> 8) ^ kTable.t[(fp ^ c) & 0xff];
  return fp;
}

std::array<uint8_t, 16> Md5(std::string_view data) {
  return Digest<16>(EVP_md5(), data);
}

std::array<uint8_t, 32> Sha256(std::string_view data) {
  return Digest<32>(EVP_sha256(), data);
}

}  // namespace riffle::avro
