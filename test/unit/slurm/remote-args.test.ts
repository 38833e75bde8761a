import { describe, expect, it } from "vitest";
import {
  buildScpArgv,
  buildSshArgv,
  findScpVm,
  findSshDestination,
  parseNcArgs,
  parseRemoteArgs,
  SSH_DEFAULT_OPTIONS,
} from "../../../src/slurm/remote-args.js";

describe("parseRemoteArgs", () => {
  it("takes pcocc's options up to the first other argument", () => {
    expect(parseRemoteArgs(["-j", "12", "-p", "2222", "vm1", "-p", "5"], "-p")).toEqual({
      target: { jobId: "12" },
      port: 2222,
      rest: ["vm1", "-p", "5"],
    });
    expect(parseRemoteArgs(["-J", "mine", "--user", "bob", "--", "-v", "vm0"], "-p")).toEqual({
      target: { jobName: "mine", user: "bob" },
      port: undefined,
      rest: ["-v", "vm0"],
    });
  });
  it("rejects a bad port", () => {
    expect(() => parseRemoteArgs(["-P", "0", "x"], "-P")).toThrow(/Invalid port number 0/);
    expect(() => parseRemoteArgs(["-p", "abc", "x"], "-p")).toThrow(/Invalid port number abc/);
  });
});

describe("ssh arguments", () => {
  it("finds the destination after flags and valued options", () => {
    expect(findSshDestination(["-t", "-o", "X=1", "-i", "key", "vm3", "ls"])).toEqual({ index: 5, rank: 3 });
    expect(findSshDestination(["-vtp22", "root@vm12"])).toEqual({ index: 1, rank: 12 });
    expect(findSshDestination(["-tl", "bob", "vm0"])).toEqual({ index: 2, rank: 0 });
  });
  it("fails clearly on a non-VM destination", () => {
    expect(() => findSshDestination(["node1"])).toThrow(/Unable to parse vm name 'node1'/);
    expect(() => findSshDestination(["-t"])).toThrow(/no destination/);
  });
  it("rewrites the destination and adds the reverse-NAT port and host-key options", () => {
    expect(buildSshArgv(["-t", "root@vm1", "hostname"], "10.0.0.12", 60001)).toEqual([
      "-p",
      "60001",
      ...SSH_DEFAULT_OPTIONS,
      "-t",
      "root@10.0.0.12",
      "hostname",
    ]);
  });
});

describe("scp and nc arguments", () => {
  it("rewrites vmN: paths", () => {
    expect(findScpVm(["-r", "dir", "bob@vm2:/tmp/"])).toBe(2);
    expect(buildScpArgv(["f", "vm2:/tmp/"], "h", 61000)).toEqual([
      "-P",
      "61000",
      ...SSH_DEFAULT_OPTIONS,
      "f",
      "h:/tmp/",
    ]);
    expect(() => findScpVm(["vm1:a", "vm2:b"])).toThrow(/between two VMs/);
    expect(() => findScpVm(["a", "b"])).toThrow(/Unable to parse vm name/);
  });
  it("parses nc's VM and port, defaulting to 31337", () => {
    expect(parseNcArgs(["-v", "vm1", "80"])).toEqual({ ncOptions: ["-v"], rank: 1, port: 80 });
    expect(parseNcArgs(["vm0"])).toEqual({ ncOptions: [], rank: 0, port: 31337 });
    expect(() => parseNcArgs(["vm0", "99999"])).toThrow(/Invalid port number 99999/);
  });
});
