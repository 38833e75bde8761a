import { describe, expect, it } from "vitest";
import { resolveOptions, satisfies } from "../../../src/lab/up.js";
import { PcoccError } from "../../../src/util/errors.js";

describe("lab up options", () => {
  it("defaults to two 4-CPU, 4 GiB nodes without PrologFlags", () => {
    expect(resolveOptions({})).toEqual({ nodes: 2, cpus: 4, memMiB: 4096, prologFlags: "" });
  });

  it("rejects impossible shapes and flags with a user error", () => {
    expect(() => resolveOptions({ nodes: 0 })).toThrow(PcoccError);
    expect(() => resolveOptions({ nodes: 65 })).toThrow(/nodes must be an integer from 1 to 64/);
    expect(() => resolveOptions({ cpus: 1.5 })).toThrow(/cpus/);
    expect(() => resolveOptions({ prologFlags: "Alloc\nEvil=1" })).toThrow(/PrologFlags/);
    expect(resolveOptions({ prologFlags: "Alloc,Contain" }).prologFlags).toBe("Alloc,Contain");
  });
});

describe("lab up idempotence", () => {
  const running = { nodes: 3, cpus: 2, memMiB: 2048, prologFlags: "Alloc" };
  it("accepts a running lab of any shape when nothing is asked", () => {
    expect(satisfies(running, {})).toBe(true);
    expect(satisfies(running, { images: false })).toBe(true);
  });
  it("restarts only for a shape that differs from what was asked", () => {
    expect(satisfies(running, { nodes: 3, prologFlags: "Alloc" })).toBe(true);
    expect(satisfies(running, { nodes: 2 })).toBe(false);
    expect(satisfies(running, { prologFlags: "" })).toBe(false);
  });
});
