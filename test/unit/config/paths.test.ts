import { homedir, userInfo } from "node:os";
import { describe, expect, it } from "vitest";
import { expandPath } from "../../../src/config/index.js";

const ctx = {
  user: "alice",
  homedir: "/home/alice",
  vmRank: 3,
  clusterDir: "/home/alice/.pcocc/job_42",
  clusterUser: "bob",
  env: { SCRATCH: "/scratch/alice" },
};

describe("expandPath", () => {
  it("expands every variable", () => {
    expect(expandPath("%{homedir}/.pcocc/images", ctx)).toBe("/home/alice/.pcocc/images");
    expect(expandPath("/tmp/%{user}/vm%{vm_rank}", ctx)).toBe("/tmp/alice/vm3");
    expect(expandPath("%{clusterdir}/%{clusteruser}", ctx)).toBe("/home/alice/.pcocc/job_42/bob");
    expect(expandPath("%{env:SCRATCH}/img", ctx)).toBe("/scratch/alice/img");
  });
  it("treats %% as a literal percent and leaves a lone % alone", () => {
    expect(expandPath("/a/100%%/%{user}", ctx)).toBe("/a/100%/alice");
    expect(expandPath("/a/50%b", ctx)).toBe("/a/50%b");
    expect(expandPath("%%{user}", ctx)).toBe("%{user}");
  });
  it("expands a leading ~ after the variables", () => {
    expect(expandPath("~/images", ctx)).toBe("/home/alice/images");
    expect(expandPath("~", ctx)).toBe("/home/alice");
    expect(expandPath("/a/~/b", ctx)).toBe("/a/~/b");
  });
  it("defaults user and homedir to the current user", () => {
    expect(expandPath("%{user}:%{homedir}:%{clusteruser}")).toBe(
      `${userInfo().username}:${homedir()}:${userInfo().username}`,
    );
  });
  it("rejects unknown or unavailable variables with a clear error", () => {
    expect(() => expandPath("%{home}/x", ctx)).toThrow(
      "cannot expand path '%{home}/x': unknown variable %{home}",
    );
    expect(() => expandPath("%{env:NOPE}", ctx)).toThrow("environment variable NOPE is not set");
    expect(() => expandPath("%{vm_rank}", { user: "a" })).toThrow("%{vm_rank} is only known");
    expect(() => expandPath("%{clusterdir}", { user: "a" })).toThrow("%{clusterdir} is only known");
    expect(() => expandPath("/a/%{user", ctx)).toThrow("unterminated %{");
    expect(() => expandPath("~bob/x", ctx)).toThrow("~user paths are not supported");
  });
});
