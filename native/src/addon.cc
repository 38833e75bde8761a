// N-API entry point: `run(netnsPath, ops)` executes a batch of host network operations off the main thread
// and resolves with one result string per operation. Errors carry `errno` (a number) when a system call
// or netlink request failed.
#include <napi.h>

#include "netlink.h"
#include "ops.h"

namespace {

using pcocc::Op;
using pcocc::OpType;

OpType opType(const std::string& s) {
  static const std::pair<const char*, OpType> table[] = {
      {"linkAdd", OpType::LinkAdd},   {"linkDel", OpType::LinkDel},     {"linkSet", OpType::LinkSet},
      {"tapAdd", OpType::TapAdd},     {"addrAdd", OpType::AddrAdd},     {"routeAdd", OpType::RouteAdd},
      {"fdbAppend", OpType::FdbAppend}, {"linkList", OpType::LinkList}, {"netnsAdd", OpType::NetnsAdd},
      {"netnsDel", OpType::NetnsDel}, {"sysctl", OpType::Sysctl},       {"nft", OpType::Nft},
      {"spawn", OpType::Spawn}, {"txCsumOff", OpType::TxCsumOff}, {"linkDelGroup", OpType::LinkDelGroup},
      {"flockTry", OpType::FlockTry}};
  for (auto& [name, t] : table)
    if (s == name) return t;
  throw std::runtime_error("unknown operation " + s);
}

std::string str(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return "";
  if (!v.IsString()) throw std::runtime_error(std::string("operation field ") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

int num(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return -1;
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (!v.IsNumber()) throw std::runtime_error(std::string("operation field ") + key + " must be a number");
  return v.As<Napi::Number>().Int32Value();
}

// A uid or gid: an integer from 0 to 2^32 - 2 ((uid_t)-1 means "none" to the kernel); -1 when absent.
long long id(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return -1;
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d <= 4294967294.0) || d != double((long long)d))
    throw std::runtime_error(std::string("operation field ") + key + " must be an id from 0 to 4294967294");
  return (long long)d;
}

bool flag(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}

std::vector<std::string> strings(const Napi::Object& o, const char* key) {
  std::vector<std::string> out;
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return out;
  if (!v.IsArray()) throw std::runtime_error(std::string("operation field ") + key + " must be an array");
  auto a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsString()) throw std::runtime_error(std::string("operation field ") + key + " must hold strings");
    out.push_back(e.As<Napi::String>().Utf8Value());
  }
  return out;
}

Op parseOp(const Napi::Object& o) {
  Op op;
  op.type = opType(str(o, "op"));
  op.name = str(o, "name");
  op.kind = str(o, "kind");
  op.peer = str(o, "peer");
  op.peerNetns = str(o, "peerNetns");
  op.master = str(o, "master");
  op.netns = str(o, "netns");
  op.mac = str(o, "mac");
  op.local = str(o, "local");
  op.address = str(o, "address");
  op.dst = str(o, "dst");
  op.via = str(o, "via");
  op.dev = str(o, "dev");
  op.path = str(o, "path");
  op.value = str(o, "value");
  op.json = str(o, "json");
  op.mtu = num(o, "mtu");
  op.up = num(o, "up");
  op.vni = num(o, "vni");
  op.port = num(o, "port");
  op.srcPortMin = num(o, "srcPortMin");
  op.srcPortMax = num(o, "srcPortMax");
  op.fd = num(o, "fd");
  op.uid = id(o, "uid");
  op.gid = id(o, "gid");
  {
    Napi::Value g = o.Get("group");
    if (g.IsNumber()) op.group = g.As<Napi::Number>().Int64Value();
    else if (!g.IsUndefined()) throw std::runtime_error("operation field group must be a number");
  }
  op.onlink = flag(o, "onlink");
  op.ifExists = flag(o, "ifExists");
  op.mayExist = flag(o, "mayExist");
  op.argv = strings(o, "argv");
  op.env = strings(o, "env");
  return op;
}

class BatchWorker : public Napi::AsyncWorker {
 public:
  BatchWorker(Napi::Env env, std::string netns, std::vector<Op> ops)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), netns_(std::move(netns)),
        ops_(std::move(ops)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      results_ = pcocc::runBatch(netns_, ops_);
    } catch (const pcocc::SysError& e) {
      errno_ = e.code;
      SetError(e.what());
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    auto arr = Napi::Array::New(Env(), results_.size());
    for (size_t i = 0; i < results_.size(); i++) arr.Set(uint32_t(i), results_[i]);
    deferred_.Resolve(arr);
  }
  void OnError(const Napi::Error& e) override {
    Napi::Object err = e.Value();
    if (errno_) err.Set("errno", errno_);
    deferred_.Reject(err);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string netns_;
  std::vector<Op> ops_;
  std::vector<std::string> results_;
  int errno_ = 0;
};

Napi::Value Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsString() || !info[1].IsArray())
    throw Napi::TypeError::New(env, "run(netnsPath: string, ops: object[])");
  std::vector<Op> ops;
  auto arr = info[1].As<Napi::Array>();
  try {
    for (uint32_t i = 0; i < arr.Length(); i++) {
      Napi::Value v = arr.Get(i);
      if (!v.IsObject()) throw std::runtime_error("operations must be objects");
      ops.push_back(parseOp(v.As<Napi::Object>()));
    }
  } catch (const std::runtime_error& e) {
    throw Napi::TypeError::New(env, e.what());
  }
  auto* w = new BatchWorker(env, info[0].As<Napi::String>().Utf8Value(), std::move(ops));
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("run", Napi::Function::New(env, Run));
  return exports;
}

}  // namespace

NODE_API_MODULE(pcocc_net, Init)
