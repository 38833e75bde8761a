import { describe, expect, it } from "vitest";
import { describeStepExit } from "../../../src/slurm/hypervisor-step.js";

describe("describeStepExit", () => {
  it("names the VM whose hypervisor failed first", () => {
    const tail = [
      "srun: error: node2: task 1: Killed",
      "srun: Terminating StepId=12.0",
      "slurmstepd-node1: error: *** STEP 12.0 ON node1 CANCELLED AT 2026-11-22T01:46:22 ***",
      "srun: error: node1: task 0: Terminated",
    ];
    expect(describeStepExit({ code: 137, signal: null }, tail)).toBe(
      "The cluster terminated unexpectedly: vm1 on node2: Killed (srun exit status 137)",
    );
  });
  it("recognises cancellation and time limits", () => {
    const cancelled = [
      "slurmstepd-node1: error: *** STEP 11.0 ON node1 CANCELLED AT 2026-11-22T01:46:22 ***",
    ];
    expect(describeStepExit({ code: 0, signal: null }, cancelled)).toBe(
      "The cluster was shut down: the job was cancelled",
    );
    const limit = [
      "slurmstepd-node1: error: *** STEP 3.0 ON node1 CANCELLED AT 2026-11-22T01:00:00 DUE TO TIME LIMIT ***",
    ];
    expect(describeStepExit({ code: 0, signal: null }, limit)).toBe(
      "The cluster was shut down: the job reached its time limit",
    );
  });
  it("falls back to pcocc's wording", () => {
    expect(describeStepExit({ code: 0, signal: null })).toBe("The cluster has shut down");
    expect(describeStepExit({ code: null, signal: "SIGKILL" })).toBe(
      "The cluster has been terminated due to a signal",
    );
    expect(describeStepExit({ code: 1, signal: null })).toBe(
      "The cluster terminated unexpectedly (srun exit status 1)",
    );
  });
});
