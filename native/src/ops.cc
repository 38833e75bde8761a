#include "ops.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/magic.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "netlink.h"

namespace pcocc {

namespace {

const char* kNetnsDir = "/run/netns";

struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

int openOrThrow(const std::string& path, int flags) {
  int fd = open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) throw SysError(errno, "open " + path);
  return fd;
}

int ifindex(const std::string& name) {
  unsigned idx = if_nametoindex(name.c_str());
  if (!idx) throw SysError(ENODEV, "no such link " + name);
  return int(idx);
}

in_addr parseIp(const std::string& s) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) throw std::runtime_error("invalid IPv4 address " + s);
  return a;
}

// "a.b.c.d/n" → address and prefix length.
std::pair<in_addr, int> parseCidr(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return {parseIp(s), 32};
  char* end = nullptr;
  long len = strtol(s.c_str() + slash + 1, &end, 10);
  if (*end || len < 0 || len > 32) throw std::runtime_error("invalid prefix in " + s);
  return {parseIp(s.substr(0, slash)), int(len)};
}

std::string jsonStr(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    o += c;
  }
  return o + "\"";
}

// Link attributes shared by "add" and "set": mtu, MAC, master, namespace, up/down.
void linkAttrs(NlMsg& m, const Op& op, std::unique_ptr<Fd>& nsFd) {
  if (op.mtu >= 0) m.putU32(IFLA_MTU, uint32_t(op.mtu));
  if (op.group > 0) m.putU32(IFLA_GROUP, uint32_t(op.group));
  if (!op.mac.empty()) {
    uint8_t mac[6];
    if (!parseMac(op.mac, mac)) throw std::runtime_error("invalid MAC address " + op.mac);
    m.put(IFLA_ADDRESS, mac, 6);
  }
  if (!op.master.empty()) m.putU32(IFLA_MASTER, uint32_t(ifindex(op.master)));
  if (!op.netns.empty()) {
    nsFd = std::make_unique<Fd>(openOrThrow(op.netns, O_RDONLY));
    m.putU32(IFLA_NET_NS_FD, uint32_t(nsFd->fd));
  }
}

ifinfomsg linkHeader(const Op& op, int index) {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  if (op.up >= 0) {
    ifi.ifi_change = IFF_UP;
    ifi.ifi_flags = op.up ? IFF_UP : 0;
  }
  return ifi;
}

void linkSet(Netlink& nl, const Op& op) {
  ifinfomsg ifi = linkHeader(op, ifindex(op.name));
  NlMsg m(RTM_NEWLINK, 0, &ifi, sizeof ifi);
  std::unique_ptr<Fd> nsFd;
  linkAttrs(m, op, nsFd);
  nl.request(m, "set link " + op.name);
}

void linkAdd(Netlink& nl, const Op& op) {
  ifinfomsg ifi = linkHeader(op, 0);
  NlMsg m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
  m.putStr(IFLA_IFNAME, op.name);
  std::unique_ptr<Fd> nsFd, peerNsFd;
  linkAttrs(m, op, nsFd);
  size_t info = m.begin(IFLA_LINKINFO);
  m.putStr(IFLA_INFO_KIND, op.kind);
  if (op.kind == "veth") {
    size_t data = m.begin(IFLA_INFO_DATA);
    size_t peer = m.begin(VETH_INFO_PEER);
    ifinfomsg pifi{};  // never IFF_UP: opening a veth end before its peer exists fails (ENOTCONN)
    m.raw(&pifi, sizeof pifi);
    m.putStr(IFLA_IFNAME, op.peer);
    if (op.mtu >= 0) m.putU32(IFLA_MTU, uint32_t(op.mtu));
    if (!op.peerNetns.empty()) {
      peerNsFd = std::make_unique<Fd>(openOrThrow(op.peerNetns, O_RDONLY));
      m.putU32(IFLA_NET_NS_FD, uint32_t(peerNsFd->fd));
    }
    m.end(peer);
    m.end(data);
  } else if (op.kind == "vxlan") {
    size_t data = m.begin(IFLA_INFO_DATA);
    m.putU32(IFLA_VXLAN_ID, uint32_t(op.vni));
    if (!op.local.empty()) {
      in_addr a = parseIp(op.local);
      m.put(IFLA_VXLAN_LOCAL, &a, 4);
    }
    m.putU16(IFLA_VXLAN_PORT, htons(uint16_t(op.port > 0 ? op.port : 4789)));
    m.putU8(IFLA_VXLAN_LEARNING, 0);
    if (op.srcPortMin > 0 && op.srcPortMax >= op.srcPortMin) {
      ifla_vxlan_port_range r{htons(uint16_t(op.srcPortMin)), htons(uint16_t(op.srcPortMax))};
      m.put(IFLA_VXLAN_PORT_RANGE, &r, sizeof r);
    }
    m.end(data);
  } else if (op.kind != "bridge" && op.kind != "dummy") {
    throw std::runtime_error("unsupported link kind " + op.kind);
  }
  m.end(info);
  try {
    nl.request(m, "add " + op.kind + " link " + op.name);
  } catch (const SysError& e) {
    if (e.code != EEXIST || !op.mayExist) throw;
    Op set = op;
    set.netns.clear();
    linkSet(nl, set);
  }
}

void linkDel(Netlink& nl, const Op& op) {
  unsigned idx = if_nametoindex(op.name.c_str());
  if (!idx) {
    if (op.ifExists) return;
    throw SysError(ENODEV, "delete link " + op.name);
  }
  ifinfomsg ifi{};
  ifi.ifi_index = int(idx);
  NlMsg m(RTM_DELLINK, 0, &ifi, sizeof ifi);
  try {
    nl.request(m, "delete link " + op.name);
  } catch (const SysError& e) {
    if (!(op.ifExists && e.code == ENODEV)) throw;
  }
}

// Every link of a device group in one request: the kernel unregisters them together (one RCU grace
// period instead of one per link), much faster than deleting them one by one.
void linkDelGroup(Netlink& nl, const Op& op) {
  if (op.group <= 0) throw std::runtime_error("link group must be positive");
  ifinfomsg ifi{};
  NlMsg m(RTM_DELLINK, 0, &ifi, sizeof ifi);
  m.putU32(IFLA_GROUP, uint32_t(op.group));
  try {
    nl.request(m, "delete link group " + std::to_string(op.group));
  } catch (const SysError& e) {
    if (e.code != ENODEV) throw;
  }
}

// A persistent tap that the job's user may open (QEMU attaches to it by name without privileges). Never
// without an owner: an ownerless persistent tap can be opened by any local user.
void tapAdd(Netlink& nl, const Op& op) {
  if (op.name.size() >= IFNAMSIZ) throw std::runtime_error("tap name too long: " + op.name);
  if (op.uid < 0) throw std::runtime_error("add tap " + op.name + ": no owner uid given");
  if (!op.mayExist && if_nametoindex(op.name.c_str())) throw SysError(EEXIST, "add tap " + op.name);
  Fd tun(openOrThrow("/dev/net/tun", O_RDWR));
  ifreq ifr{};
  strncpy(ifr.ifr_name, op.name.c_str(), IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (ioctl(tun.fd, TUNSETIFF, &ifr) < 0) throw SysError(errno, "add tap " + op.name);
  // until TUNSETPERSIST a new tap vanishes with this fd, so a failure here leaves nothing behind
  if (ioctl(tun.fd, TUNSETOWNER, (unsigned long)op.uid) < 0) throw SysError(errno, "tap owner " + op.name);
  if (op.gid >= 0 && ioctl(tun.fd, TUNSETGROUP, (unsigned long)op.gid) < 0)
    throw SysError(errno, "tap group " + op.name);
  if (ioctl(tun.fd, TUNSETPERSIST, 1L) < 0) throw SysError(errno, "persist tap " + op.name);
  Op set = op;
  set.netns.clear();
  if (set.mtu >= 0 || !set.master.empty() || set.up >= 0 || !set.mac.empty() || set.group > 0) linkSet(nl, set);
}

void addrAdd(Netlink& nl, const Op& op) {
  auto [addr, len] = parseCidr(op.address);
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = uint8_t(len);
  ifa.ifa_index = uint32_t(ifindex(op.dev));
  NlMsg m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, &ifa, sizeof ifa);
  m.put(IFA_LOCAL, &addr, 4);
  m.put(IFA_ADDRESS, &addr, 4);
  nl.request(m, "add address " + op.address + " to " + op.dev);
}

void routeAdd(Netlink& nl, const Op& op) {
  rtmsg rt{};
  rt.rtm_family = AF_INET;
  rt.rtm_table = RT_TABLE_MAIN;
  rt.rtm_protocol = RTPROT_BOOT;
  rt.rtm_type = RTN_UNICAST;
  rt.rtm_scope = op.via.empty() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  if (op.onlink) rt.rtm_flags |= RTNH_F_ONLINK;
  in_addr dst{};
  if (op.dst != "default") {
    auto c = parseCidr(op.dst);
    dst = c.first;
    rt.rtm_dst_len = uint8_t(c.second);
  }
  NlMsg m(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, &rt, sizeof rt);
  if (rt.rtm_dst_len) m.put(RTA_DST, &dst, 4);
  if (!op.via.empty()) {
    in_addr gw = parseIp(op.via);
    m.put(RTA_GATEWAY, &gw, 4);
  }
  if (!op.dev.empty()) m.putU32(RTA_OIF, uint32_t(ifindex(op.dev)));
  nl.request(m, "add route " + op.dst);
}

// Flood entry of a VXLAN device: broadcast and unknown unicast frames are sent to this peer too.
void fdbAppend(Netlink& nl, const Op& op) {
  ndmsg nd{};
  nd.ndm_family = AF_BRIDGE;
  nd.ndm_ifindex = ifindex(op.name);
  nd.ndm_state = NUD_NOARP | NUD_PERMANENT;
  nd.ndm_flags = NTF_SELF;
  NlMsg m(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_APPEND, &nd, sizeof nd);
  uint8_t zero[6] = {};
  m.put(NDA_LLADDR, zero, 6);
  in_addr d = parseIp(op.dst);
  m.put(NDA_DST, &d, 4);
  try {
    nl.request(m, "add fdb entry " + op.dst + " to " + op.name);
  } catch (const SysError& e) {
    if (!(e.code == EEXIST && op.mayExist)) throw;
  }
}

std::string linkList(Netlink& nl) {
  std::string o = "[";
  for (auto& l : nl.links()) {
    if (o.size() > 1) o += ",";
    o += "{\"name\":" + jsonStr(l.name) + ",\"index\":" + std::to_string(l.index) + ",\"kind\":" + jsonStr(l.kind) +
         ",\"master\":" + std::to_string(l.master) + ",\"up\":" + ((l.flags & IFF_UP) ? "true" : "false") +
         ",\"mtu\":" + std::to_string(l.mtu) + ",\"mac\":" + jsonStr(l.mac) + "}";
  }
  return o + "]";
}

// Userspace OVS reads ports with AF_PACKET and does not finish checksums left to offload: every device
// whose traffic enters OVS from a local stack must send complete checksums.
void txCsumOff(const Op& op) {
  Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (s.fd < 0) throw SysError(errno, "socket");
  ethtool_value ev{};
  ev.cmd = ETHTOOL_STXCSUM;
  ev.data = 0;
  ifreq ifr{};
  strncpy(ifr.ifr_name, op.name.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = reinterpret_cast<char*>(&ev);
  if (ioctl(s.fd, SIOCETHTOOL, &ifr) < 0) throw SysError(errno, "disable tx checksum offload on " + op.name);
}

bool validNetnsName(const std::string& n) {
  if (n.empty() || n.size() > 64 || n == "." || n == "..") return false;
  for (char c : n)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

// Like iproute2: /run/netns is a shared mount point so namespace mounts propagate to other mount namespaces.
void prepareNetnsDir() {
  mkdir(kNetnsDir, 0755);
  if (mount("", kNetnsDir, "none", MS_SHARED | MS_REC, nullptr) == 0) return;
  if (errno != EINVAL) throw SysError(errno, "mount --make-shared /run/netns");
  if (mount(kNetnsDir, kNetnsDir, "none", MS_BIND | MS_REC, nullptr) < 0) throw SysError(errno, "bind /run/netns");
  if (mount("", kNetnsDir, "none", MS_SHARED | MS_REC, nullptr) < 0)
    throw SysError(errno, "mount --make-shared /run/netns");
}

bool isNsMount(const std::string& path) {
  struct statfs sf;
  return statfs(path.c_str(), &sf) == 0 && sf.f_type == NSFS_MAGIC;
}

// The caller restores the thread's namespace after this (unshare moves the calling thread only).
void netnsAdd(const Op& op) {
  if (!validNetnsName(op.name)) throw std::runtime_error("invalid namespace name " + op.name);
  std::string path = std::string(kNetnsDir) + "/" + op.name;
  prepareNetnsDir();
  int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno != EEXIST) throw SysError(errno, "create " + path);
    if (isNsMount(path)) {
      if (op.mayExist) return;
      throw SysError(EEXIST, "create " + path);
    }
    // an unmounted placeholder is what a setup killed between create and mount leaves: take it over
    struct stat st;
    if (lstat(path.c_str(), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != 0)
      throw SysError(EEXIST, "create " + path);
  } else {
    close(fd);
  }
  if (unshare(CLONE_NEWNET) < 0 || mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) < 0) {
    int e = errno;
    unlink(path.c_str());
    throw SysError(e, "create network namespace " + op.name);
  }
}

void netnsDel(const Op& op) {
  if (!validNetnsName(op.name)) throw std::runtime_error("invalid namespace name " + op.name);
  std::string path = std::string(kNetnsDir) + "/" + op.name;
  if (umount2(path.c_str(), MNT_DETACH) < 0 && errno != EINVAL && !(errno == ENOENT && op.ifExists))
    throw SysError(errno, "unmount " + path);
  if (unlink(path.c_str()) < 0 && !(errno == ENOENT && op.ifExists)) throw SysError(errno, "remove " + path);
}

void sysctlWrite(const Op& op) {
  if (op.path.rfind("/proc/sys/net/", 0) != 0 || op.path.find("..") != std::string::npos)
    throw std::runtime_error("refusing sysctl path " + op.path);
  Fd f(openOrThrow(op.path, O_WRONLY));
  if (write(f.fd, op.value.data(), op.value.size()) < 0) throw SysError(errno, "write " + op.path);
}

// An exclusive flock on an open file, without waiting: "1" taken, "0" held by another open file. The kernel
// drops it with the last descriptor, so a dead holder never needs its lock taken over.
std::string flockTry(const Op& op) {
  if (op.fd < 0) throw std::runtime_error("flockTry needs a file descriptor");
  if (flock(op.fd, LOCK_EX | LOCK_NB) == 0) return "1";
  if (errno == EWOULDBLOCK) return "0";
  throw SysError(errno, "flock");
}

// fork + exec in the batch's namespace (the child inherits the calling thread's namespaces). Waits for the
// child: daemons such as dnsmasq report start-up failure through their first process's exit status.
std::string spawnWait(const Op& op) {
  if (op.argv.empty() || op.argv[0].empty() || op.argv[0][0] != '/')
    throw std::runtime_error("spawn needs an absolute program path");
  std::vector<char*> argv, envp;
  for (auto& a : op.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& e : op.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  int errPipe[2];
  if (pipe2(errPipe, O_CLOEXEC) < 0) throw SysError(errno, "pipe");
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(errPipe[0]);
    close(errPipe[1]);
    throw SysError(e, "fork");
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here: the parent is multi-threaded.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl{};
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, nullptr);
    setsid();
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(errPipe[1], 2);
    syscall(SYS_close_range, 3U, ~0U, 0U);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(errPipe[1]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  fcntl(errPipe[0], F_SETFL, O_NONBLOCK);
  std::string err;
  char buf[4096];
  ssize_t n;
  while (err.size() < 65536 && (n = read(errPipe[0], buf, sizeof buf)) > 0) err.append(buf, size_t(n));
  close(errPipe[0]);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return "{\"pid\":" + std::to_string(pid) + ",\"status\":" + std::to_string(code) + ",\"stderr\":" + jsonStr(err) +
         "}";
}

std::string opLabel(const Op& op) {
  static const char* names[] = {"linkAdd", "linkDel", "linkSet", "tapAdd", "addrAdd", "routeAdd",  "fdbAppend",
                                "linkList", "netnsAdd", "netnsDel", "sysctl", "nft",   "spawn", "txCsumOff", "linkDelGroup"};
  return names[int(op.type)];
}

}  // namespace

std::vector<std::string> runBatch(const std::string& netnsPath, const std::vector<Op>& ops) {
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) throw SysError(errno, "open own network namespace");
  Fd homeFd(home);
  std::unique_ptr<Fd> target;
  if (!netnsPath.empty()) {
    target = std::make_unique<Fd>(openOrThrow(netnsPath, O_RDONLY));
    if (setns(target->fd, CLONE_NEWNET) < 0) throw SysError(errno, "enter network namespace " + netnsPath);
  }
  int batchNs = target ? target->fd : home;
  // A pool thread must never go back to the pool in a foreign namespace: if that cannot be undone, stop.
  auto restore = [&](int fd) {
    if (setns(fd, CLONE_NEWNET) < 0) abort();
  };
  std::vector<std::string> results;
  try {
    std::unique_ptr<Netlink> nl;
    auto rt = [&]() -> Netlink& {
      if (!nl) nl = std::make_unique<Netlink>();
      return *nl;
    };
    for (const Op& op : ops) {
      std::string r;
      try {
        switch (op.type) {
          case OpType::LinkAdd: linkAdd(rt(), op); break;
          case OpType::LinkDel: linkDel(rt(), op); break;
          case OpType::LinkSet: linkSet(rt(), op); break;
          case OpType::TapAdd: tapAdd(rt(), op); break;
          case OpType::AddrAdd: addrAdd(rt(), op); break;
          case OpType::RouteAdd: routeAdd(rt(), op); break;
          case OpType::FdbAppend: fdbAppend(rt(), op); break;
          case OpType::LinkList: r = linkList(rt()); break;
          case OpType::NetnsAdd:
            try {
              netnsAdd(op);
            } catch (...) {
              restore(batchNs);
              throw;
            }
            restore(batchNs);
            break;
          case OpType::NetnsDel: netnsDel(op); break;
          case OpType::Sysctl: sysctlWrite(op); break;
          case OpType::Nft: r = runNft(op.json); break;
          case OpType::Spawn: r = spawnWait(op); break;
          case OpType::TxCsumOff: txCsumOff(op); break;
          case OpType::LinkDelGroup: linkDelGroup(rt(), op); break;
          case OpType::FlockTry: r = flockTry(op); break;
        }
      } catch (const SysError& e) {
        throw SysError(e.code, opLabel(op) + ": " + e.what(), false);
      } catch (const std::exception& e) {
        throw std::runtime_error(opLabel(op) + ": " + e.what());
      }
      results.push_back(r);
    }
  } catch (...) {
    if (target) restore(home);
    throw;
  }
  if (target) restore(home);
  return results;
}

}  // namespace pcocc
