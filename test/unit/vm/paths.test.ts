import { describe, expect, it } from "vitest";
import { defaultVmStateDir, jobStateDir } from "../../../src/vm/job-state.js";
import { parseVmName, parseVmSet } from "../../../src/vm/paths.js";

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

  it("keeps each VM's state in its job's directory under root's and refuses odd job ids", () => {
    expect(defaultVmStateDir("42", 3)).toBe("/run/pcocc/vm-state/job-42/vm3");
    expect(defaultVmStateDir(42, 0, "/srv/state")).toBe("/srv/state/job-42/vm0");
    expect(jobStateDir(7)).toBe("/run/pcocc/vm-state/job-7");
    for (const bad of ["../x", "", "1/2", "1 ", "12345678901"])
      expect(() => defaultVmStateDir(bad, 0), bad).toThrow(/invalid job id/);
  });
});
