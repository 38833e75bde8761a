// CPU affinity of one thread (a Linux tid) of the caller's own processes: what `taskset -p` does, without
// a process per thread. The kernel checks the permission (same user, or CAP_SYS_NICE) and the cpuset.
#include <napi.h>
#include <sched.h>
#include <sys/types.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace {

Napi::Error errnoError(Napi::Env env, const std::string& what, int err) {
  Napi::Error e = Napi::Error::New(env, what + ": " + std::strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  return e;
}

pid_t tidArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "tid must be a number");
  int64_t tid = info[0].As<Napi::Number>().Int64Value();
  if (tid < 0 || tid > 0x7fffffff) throw Napi::RangeError::New(info.Env(), "tid out of range");
  return static_cast<pid_t>(tid);
}

// getAffinity(tid: number): number[]   (tid 0 = the calling thread)
Napi::Value GetAffinity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t tid = tidArg(info);
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(tid, sizeof(set), &set) != 0) throw errnoError(env, "sched_getaffinity", errno);
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
    if (CPU_ISSET(cpu, &set)) out.Set(n++, Napi::Number::New(env, cpu));
  return out;
}

// setAffinity(tid: number, cpus: number[]): void
Napi::Value SetAffinity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t tid = tidArg(info);
  if (info.Length() < 2 || !info[1].IsArray()) throw Napi::TypeError::New(env, "cpus must be an array");
  auto cpus = info[1].As<Napi::Array>();
  if (cpus.Length() == 0) throw Napi::RangeError::New(env, "cpus must not be empty");
  cpu_set_t set;
  CPU_ZERO(&set);
  for (uint32_t i = 0; i < cpus.Length(); i++) {
    Napi::Value v = cpus.Get(i);
    if (!v.IsNumber()) throw Napi::TypeError::New(env, "cpus must be numbers");
    int64_t cpu = v.As<Napi::Number>().Int64Value();
    if (cpu < 0 || cpu >= CPU_SETSIZE) throw Napi::RangeError::New(env, "cpu out of range");
    CPU_SET(static_cast<int>(cpu), &set);
  }
  if (sched_setaffinity(tid, sizeof(set), &set) != 0) throw errnoError(env, "sched_setaffinity", errno);
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("getAffinity", Napi::Function::New(env, GetAffinity));
  exports.Set("setAffinity", Napi::Function::New(env, SetAffinity));
  return exports;
}

}  // namespace

NODE_API_MODULE(pcocc_cpu, Init)
