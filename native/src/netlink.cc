#include "netlink.h"

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace pcocc {

SysError::SysError(int c, const std::string& what, bool withReason)
    : std::runtime_error(withReason ? what + ": " + strerror(c) : what), code(c) {}

static size_t align4(size_t n) { return (n + 3) & ~size_t(3); }

NlMsg::NlMsg(uint16_t type, uint16_t flags, const void* header, size_t headerLen) {
  buf_.resize(NLMSG_HDRLEN + align4(headerLen));
  auto* h = reinterpret_cast<nlmsghdr*>(buf_.data());
  h->nlmsg_type = type;
  h->nlmsg_flags = flags;
  memcpy(buf_.data() + NLMSG_HDRLEN, header, headerLen);
}

void NlMsg::raw(const void* data, size_t len) {
  size_t off = buf_.size();
  buf_.resize(off + align4(len), 0);
  memcpy(buf_.data() + off, data, len);
}

void NlMsg::put(uint16_t type, const void* data, size_t len) {
  size_t off = buf_.size();
  buf_.resize(off + align4(RTA_LENGTH(len)), 0);
  auto* a = reinterpret_cast<rtattr*>(buf_.data() + off);
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  if (len) memcpy(RTA_DATA(a), data, len);
}

size_t NlMsg::begin(uint16_t type) {
  size_t off = buf_.size();
  put(type | NLA_F_NESTED, nullptr, 0);
  return off;
}

void NlMsg::end(size_t off) {
  reinterpret_cast<rtattr*>(buf_.data() + off)->rta_len = uint16_t(buf_.size() - off);
}

Netlink::Netlink() {
  fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd_ < 0) throw SysError(errno, "netlink socket");
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    int e = errno;
    close(fd_);
    throw SysError(e, "netlink bind");
  }
  int one = 1;
  // Extended ACKs carry the kernel's human-readable reason for a refusal.
  setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
}

Netlink::~Netlink() { close(fd_); }

static std::string extAckMessage(const nlmsghdr* h) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  auto* err = reinterpret_cast<const nlmsgerr*>(NLMSG_DATA(h));
  size_t off = NLMSG_HDRLEN + sizeof(nlmsgerr);
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += err->msg.nlmsg_len - NLMSG_HDRLEN;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(h) + align4(off);
  const uint8_t* endp = reinterpret_cast<const uint8_t*>(h) + h->nlmsg_len;
  while (p + sizeof(nlattr) <= endp) {
    auto* a = reinterpret_cast<const nlattr*>(p);
    if (a->nla_len < sizeof(nlattr) || p + a->nla_len > endp) break;
    if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG)
      return std::string(reinterpret_cast<const char*>(p + NLA_HDRLEN));
    p += align4(a->nla_len);
  }
  return "";
}

void Netlink::request(NlMsg& msg, const std::string& what) {
  auto& b = msg.bytes();
  auto* h = reinterpret_cast<nlmsghdr*>(b.data());
  h->nlmsg_len = uint32_t(b.size());
  h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  h->nlmsg_seq = ++seq_;
  if (send(fd_, b.data(), b.size(), 0) < 0) throw SysError(errno, what);
  std::vector<uint8_t> rx(65536);
  for (;;) {
    ssize_t n = recv(fd_, rx.data(), rx.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SysError(errno, what);
    }
    for (auto* r = reinterpret_cast<nlmsghdr*>(rx.data()); NLMSG_OK(r, size_t(n)); r = NLMSG_NEXT(r, n)) {
      if (r->nlmsg_seq != seq_) continue;
      if (r->nlmsg_type == NLMSG_ERROR) {
        auto* e = reinterpret_cast<nlmsgerr*>(NLMSG_DATA(r));
        if (e->error == 0) return;
        std::string detail = extAckMessage(r);
        throw SysError(-e->error, detail.empty() ? what : what + " (" + detail + ")");
      }
    }
  }
}

std::vector<LinkInfo> Netlink::links() {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  NlMsg msg(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &ifi, sizeof ifi);
  auto& b = msg.bytes();
  auto* h = reinterpret_cast<nlmsghdr*>(b.data());
  h->nlmsg_len = uint32_t(b.size());
  h->nlmsg_seq = ++seq_;
  if (send(fd_, b.data(), b.size(), 0) < 0) throw SysError(errno, "link dump");
  std::vector<LinkInfo> out;
  std::vector<uint8_t> rx(1 << 16);
  for (;;) {
    ssize_t n = recv(fd_, rx.data(), rx.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SysError(errno, "link dump");
    }
    for (auto* r = reinterpret_cast<nlmsghdr*>(rx.data()); NLMSG_OK(r, size_t(n)); r = NLMSG_NEXT(r, n)) {
      if (r->nlmsg_seq != seq_) continue;
      if (r->nlmsg_type == NLMSG_DONE) return out;
      if (r->nlmsg_type == NLMSG_ERROR) {
        auto* e = reinterpret_cast<nlmsgerr*>(NLMSG_DATA(r));
        throw SysError(-e->error, "link dump");
      }
      if (r->nlmsg_type != RTM_NEWLINK) continue;
      auto* info = reinterpret_cast<ifinfomsg*>(NLMSG_DATA(r));
      LinkInfo li;
      li.index = info->ifi_index;
      li.flags = info->ifi_flags;
      int len = int(r->nlmsg_len - NLMSG_LENGTH(sizeof *info));
      for (auto* a = IFLA_RTA(info); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        switch (a->rta_type) {
          case IFLA_IFNAME: li.name = static_cast<const char*>(RTA_DATA(a)); break;
          case IFLA_MTU: li.mtu = *static_cast<int*>(RTA_DATA(a)); break;
          case IFLA_MASTER: li.master = *static_cast<int*>(RTA_DATA(a)); break;
          case IFLA_ADDRESS: li.mac = formatMac(static_cast<uint8_t*>(RTA_DATA(a)), RTA_PAYLOAD(a)); break;
          case IFLA_LINKINFO: {
            int ilen = int(RTA_PAYLOAD(a));
            for (auto* ia = static_cast<rtattr*>(RTA_DATA(a)); RTA_OK(ia, ilen); ia = RTA_NEXT(ia, ilen))
              if ((ia->rta_type & NLA_TYPE_MASK) == IFLA_INFO_KIND) li.kind = static_cast<const char*>(RTA_DATA(ia));
            break;
          }
        }
      }
      out.push_back(li);
    }
  }
}

std::string formatMac(const uint8_t* p, size_t len) {
  std::string s;
  char b[4];
  for (size_t i = 0; i < len; i++) {
    snprintf(b, sizeof b, i ? ":%02x" : "%02x", p[i]);
    s += b;
  }
  return s;
}

bool parseMac(const std::string& s, uint8_t out[6]) {
  unsigned v[6];
  char extra;
  if (sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &extra) != 6)
    return false;
  for (int i = 0; i < 6; i++) out[i] = uint8_t(v[i]);
  return true;
}

}  // namespace pcocc
