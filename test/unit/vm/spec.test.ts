import { describe, expect, it } from "vitest";
import { mountsFromTemplate, parseVmSpec } from "../../../src/vm/spec.js";

const good = {
  rank: 2,
  name: "vm2",
  hostname: "vm2",
  stateDir: "/tmp/.pcocc_1_vm_2",
  vcpus: 1,
  memoryMiB: 512,
  nics: [],
  template: {},
};

describe("VM spec", () => {
  it("accepts a complete spec and names the first bad field otherwise", () => {
    expect(parseVmSpec(good, "spec.json").name).toBe("vm2");
    expect(() => parseVmSpec({ ...good, rank: -1 }, "spec.json")).toThrow("spec.json: rank must be");
    expect(() => parseVmSpec({ ...good, name: "x" }, "spec.json")).toThrow("name must be vmN");
    expect(() => parseVmSpec({ ...good, memoryMiB: "1G" }, "s")).toThrow(
      "memoryMiB must be a positive integer",
    );
    expect(() => parseVmSpec([], "s")).toThrow(/rank/);
    expect(() => parseVmSpec(null, "s")).toThrow(/JSON object/);
  });

  it("merges template mount points with --mount ones, the latter winning by tag", () => {
    const mounts = mountsFromTemplate(
      { "mount-points": { home: "/home/u", data: { path: "/data", readonly: true } } },
      [{ tag: "home", path: "/other", type: "virtio-fs" }],
    );
    expect(mounts).toEqual([
      { tag: "home", path: "/other", type: "virtio-fs" },
      { tag: "data", path: "/data", readonly: true, type: "virtio-9p" },
    ]);
  });
});
