import { describe, expect, it } from "vitest";
import {
  ALLOC_OPTIONS,
  BATCH_OPTIONS,
  launchOptions,
  parseMountSpec,
  splitBatchArgs,
} from "../../../src/slurm/batch-args.js";

describe("splitBatchArgs", () => {
  it("keeps our options wherever they are and passes the rest to SLURM in order", () => {
    const s = splitBatchArgs(
      ["-N2", "-E", "probe.sh", "-c", "1", "--mount=d=/tmp", "-p", "debug", "tpl:2"],
      ALLOC_OPTIONS,
    );
    expect(s.definition).toBe("tpl:2");
    expect(s.passThrough).toEqual(["-N2", "-c", "1", "-p", "debug"]);
    expect(s.options).toEqual({ allocScript: "probe.sh", mount: ["d=/tmp"] });
  });
  it("accepts attached short values and repeated options", () => {
    const s = splitBatchArgs(["-Eprobe", "--image", "a=x", "--image=b=y", "t"], ALLOC_OPTIONS);
    expect(s.options).toEqual({ allocScript: "probe", image: ["a=x", "b=y"] });
  });
  it("passes everything after -- through", () => {
    const s = splitBatchArgs(["--", "-E", "x", "t:1"], ALLOC_OPTIONS);
    expect(s.passThrough).toEqual(["-E", "x"]);
    expect(s.options).toEqual({});
  });
  it("requires a definition as the last argument", () => {
    expect(() => splitBatchArgs([], ALLOC_OPTIONS)).toThrow(/missing cluster definition/);
    expect(() => splitBatchArgs(["tpl:2", "-N2"], ALLOC_OPTIONS)).toThrow(/last argument '-N2' is an option/);
    expect(() => splitBatchArgs(["-E", "tpl"], ALLOC_OPTIONS)).toThrow(/option -E needs a value/);
  });
  it("maps batch's -b and -E", () => {
    const o = launchOptions(splitBatchArgs(["-b", "in-vm.sh", "-E", "host.sh", "t"], BATCH_OPTIONS));
    expect(o).toEqual({
      script: "host.sh",
      batchScript: "in-vm.sh",
      mounts: [],
      images: [],
      restartDir: undefined,
      gate: undefined,
    });
  });
  it("takes --wait alone (all VMs) or --wait=ROLE, never a separate word", () => {
    expect(launchOptions(splitBatchArgs(["--wait", "t:2"], ALLOC_OPTIONS)).gate).toBe("all");
    expect(launchOptions(splitBatchArgs(["--wait=worker", "-N2", "t:2"], BATCH_OPTIONS)).gate).toBe("worker");
    expect(splitBatchArgs(["--wait", "-N2", "t"], ALLOC_OPTIONS).passThrough).toEqual(["-N2"]);
    expect(() => launchOptions(splitBatchArgs(["--wait=", "t"], ALLOC_OPTIONS))).toThrow(/invalid --wait=/);
  });
  it("takes -r as the checkpoint directory to restart from", () => {
    expect(launchOptions(splitBatchArgs(["-r", "/ckpt", "t"], ALLOC_OPTIONS)).restartDir).toBe("/ckpt");
  });
});

describe("parseMountSpec", () => {
  it("parses tag, path and options", () => {
    expect(parseMountSpec("data=/scratch/x,type=virtio-fs,readonly=yes")).toEqual({
      tag: "data",
      path: "/scratch/x",
      type: "virtio-fs",
      readonly: true,
    });
    expect(parseMountSpec("h=/home")).toEqual({ tag: "h", path: "/home" });
  });
  it("rejects what pcocc rejects", () => {
    expect(() => parseMountSpec("/home")).toThrow(/expected 'tag=path/);
    expect(() => parseMountSpec("a b=/x")).toThrow(/bad tag/);
    expect(() => parseMountSpec("t=")).toThrow(/empty path/);
    expect(() => parseMountSpec("t=/x,cache=none")).toThrow(/unknown --mount option 'cache=none'/);
    expect(() => parseMountSpec("t=/x,readonly=maybe")).toThrow(/unknown --mount option/);
  });
});
