import { describe, expect, it } from "vitest";
import { defaultVmStateDir, parseVmName, parseVmSet } from "../../../src/vm/paths.js";

describe("VM names and state dirs", () => {
  it("parses pcocc VM sets", () => {
    expect(parseVmSet("vm0")).toEqual([0]);
    expect(parseVmSet("vm[0-3,5]")).toEqual([0, 1, 2, 3, 5]);
    expect(parseVmSet("vm7,vm[1-2]")).toEqual([1, 2, 7]);
    expect(() => parseVmSet("help")).toThrow(/invalid vm name help/);
    expect(() => parseVmSet("vm[3-1]")).toThrow(/invalid vm range/);
    expect(parseVmName("vm12")).toBe(12);
    expect(() => parseVmName("vmx")).toThrow(/invalid vm name/);
  });

  it("places state dirs like pcocc and refuses odd job ids", () => {
    expect(defaultVmStateDir("42", 3, { PCOCC_TMPDIR: "/scratch", TMPDIR: "/t" })).toBe(
      "/scratch/.pcocc_42_vm_3",
    );
    expect(defaultVmStateDir("42", 0, { TMPDIR: "/t" })).toBe("/t/.pcocc_42_vm_0");
    expect(defaultVmStateDir("42", 0, {})).toBe("/tmp/.pcocc_42_vm_0");
    expect(() => defaultVmStateDir("../x", 0, {})).toThrow(/invalid job id/);
  });
});
