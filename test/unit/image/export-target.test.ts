import { describe, expect, it } from "vitest";
import { exportTarget } from "../../../src/image/index.js";

describe("image export: destination format", () => {
  it("takes the file's suffix when -t is not given, raw otherwise", () => {
    expect(exportTarget("out.qcow2")).toEqual({ path: "out.qcow2", format: "qcow2" });
    expect(exportTarget("/tmp/disk.VMDK")).toEqual({ path: "/tmp/disk.VMDK", format: "vmdk" });
    expect(exportTarget("disk.img")).toEqual({ path: "disk.img", format: "raw" });
    expect(exportTarget("disk")).toEqual({ path: "disk", format: "raw" });
  });
  it("reads pcocc's FMT:path form, which must agree with -t", () => {
    expect(exportTarget("qcow2:/tmp/out.img")).toEqual({ path: "/tmp/out.img", format: "qcow2" });
    expect(exportTarget("vdi:x", "vdi")).toEqual({ path: "x", format: "vdi" });
    expect(() => exportTarget("qcow2:x", "raw")).toThrow(
      "Conflicting formats for qcow2:x: -t raw and prefix qcow2",
    );
  });
  it("lets -t win over the suffix, and keeps a colon that names no format in the path", () => {
    expect(exportTarget("out.qcow2", "raw")).toEqual({ path: "out.qcow2", format: "raw" });
    expect(exportTarget("a:b.qcow2")).toEqual({ path: "a:b.qcow2", format: "qcow2" });
  });
  it("refuses a malformed -t", () => {
    expect(() => exportTarget("x", "Q C")).toThrow("Invalid image format 'Q C'");
  });
});
