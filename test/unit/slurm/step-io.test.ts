import { describe, expect, it } from "vitest";
import { stepIo } from "../../../src/slurm/remote.js";

describe("the I/O of a step that runs a verb on the VM's node", () => {
  it("asks srun for a pty only for a verb that wants one, with a terminal on stdin and stdout", () => {
    expect(stepIo(true, { stdin: true, stdout: true })).toBe("--pty");
    // `pcocc console vm1 | tail`, `pcocc console < file`
    expect(stepIo(true, { stdin: true, stdout: false })).toBe("-u");
    expect(stepIo(true, { stdin: false, stdout: true })).toBe("-u");
    expect(stepIo(true, {})).toBe("-u");
    // `pcocc console -l`, reset, save: never, even on a terminal
    expect(stepIo(false, { stdin: true, stdout: true })).toBe("-u");
  });
});
