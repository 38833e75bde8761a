// Minimal rtnetlink client: one socket, synchronous request/ack, built for the small set of objects pcocc
// creates (links, addresses, routes, bridge FDB entries). The socket belongs to the network namespace of
// the thread that opens it, which is how operations are aimed at a namespace.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace pcocc {

// A failed system call or netlink request; `code` is the errno.
class SysError : public std::runtime_error {
 public:
  SysError(int code, const std::string& what, bool withReason = true);
  int code;
};

// Appends netlink attributes (nested ones through begin/end) to a request buffer.
class NlMsg {
 public:
  NlMsg(uint16_t type, uint16_t flags, const void* header, size_t headerLen);
  void put(uint16_t type, const void* data, size_t len);
  void putU8(uint16_t type, uint8_t v) { put(type, &v, 1); }
  void putU16(uint16_t type, uint16_t v) { put(type, &v, 2); }
  void putU32(uint16_t type, uint32_t v) { put(type, &v, 4); }
  void putStr(uint16_t type, const std::string& s) { put(type, s.c_str(), s.size() + 1); }
  size_t begin(uint16_t type);
  void end(size_t offset);
  // Raw bytes appended without an attribute header (veth peer's ifinfomsg).
  void raw(const void* data, size_t len);
  std::vector<uint8_t>& bytes() { return buf_; }

 private:
  std::vector<uint8_t> buf_;
};

struct LinkInfo {
  std::string name;
  int index = 0;
  std::string kind;
  int master = 0;
  unsigned flags = 0;
  int mtu = 0;
  std::string mac;
};

class Netlink {
 public:
  Netlink();
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;
  // Sends a request that expects an ACK; throws SysError on a negative ACK.
  void request(NlMsg& msg, const std::string& what);
  std::vector<LinkInfo> links();

 private:
  int fd_;
  uint32_t seq_ = 1;
};

std::string formatMac(const uint8_t* p, size_t len);
bool parseMac(const std::string& s, uint8_t out[6]);

}  // namespace pcocc
