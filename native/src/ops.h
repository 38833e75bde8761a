// Host network operations as plain data: parsed from JavaScript on the main thread, executed in order on a
// libuv worker thread (optionally switched into a network namespace for the whole batch).
#pragma once

#include <string>
#include <vector>

namespace pcocc {

enum class OpType {
  LinkAdd,
  LinkDel,
  LinkSet,
  TapAdd,
  AddrAdd,
  RouteAdd,
  FdbAppend,
  LinkList,
  NetnsAdd,
  NetnsDel,
  Sysctl,
  Nft,
  Spawn,
  TxCsumOff,
  LinkDelGroup,
  FlockTry,
};

struct Op {
  OpType type;
  std::string name, kind, peer, peerNetns, master, netns, mac, local, address, dst, via, dev, path, value, json;
  int mtu = -1, up = -1, vni = -1, port = -1;
  // Unsigned 32-bit ids (uid_t/gid_t) held wider so that -1 can mean "not given".
  long long uid = -1, gid = -1;
  long long group = -1;
  // VXLAN source-port range (IFLA_VXLAN_PORT_RANGE); -1: the kernel's default (the ephemeral range).
  int srcPortMin = -1, srcPortMax = -1;
  // flockTry: an open file descriptor of the caller's process.
  int fd = -1;
  bool onlink = false;
  // Idempotence: deleting something absent, or creating something present, is not an error.
  bool ifExists = false, mayExist = false;
  std::vector<std::string> argv, env;
};

// Runs `ops` in order; stops at the first failure (throws SysError or std::runtime_error naming the op).
// Returns one result string per op (JSON text for queries, exit status for spawn, "" otherwise).
std::vector<std::string> runBatch(const std::string& netnsPath, const std::vector<Op>& ops);

std::string runNft(const std::string& json);

}  // namespace pcocc
