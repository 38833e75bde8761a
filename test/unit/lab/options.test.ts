import { describe, expect, it } from "vitest";
import { resolveOptions } from "../../../src/lab/up.js";
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
