import { describe, expect, it } from "vitest";
import { SETUP_ENV, setupCreateJobFromEnv, setupIdentityFromEnv } from "../../../src/job/index.js";

/** What the SPANK plugin gives node rank 1 of a 2-node, 4-task step. */
const env = (over: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => ({
  SLURM_JOB_ID: "42",
  SLURM_STEP_ID: "0",
  SLURM_JOB_UID: "1001",
  SLURM_JOB_GID: "1002",
  SLURM_JOB_USER: "alice",
  SLURM_NODEID: "1",
  SLURM_STEP_NUM_NODES: "2",
  PCOCC_STEP_LOCAL_TASKS: "2",
  PCOCC_STEP_TOTAL_TASKS: "4",
  SLURM_JOB_NODELIST: "node[1-2]",
  SLURM_TASKS_PER_NODE: "2(x2)",
  SLURM_STEP_TASKS_PER_NODE: "2(x2)",
  SPANK_PCOCC_SETUP: "default:4",
  ...over,
});

describe("the setup environment (SPANK plugin → pcocc internal setup)", () => {
  it("names every variable the plugin sets", () => {
    expect(Object.values(SETUP_ENV).sort()).toEqual(
      Object.keys(env({ SPANK_PCOCC_REQUEST_CRED: "x" }))
        .filter((k) => k !== "SLURM_TASKS_PER_NODE")
        .sort(),
    );
  });

  it("reads a valid job", () => {
    expect(setupCreateJobFromEnv(env())).toEqual({
      jobId: 42,
      stepId: 0,
      uid: 1001,
      gid: 1002,
      user: "alice",
      nodeRank: 1,
      nnodes: 2,
      nodes: ["node1", "node2"],
      vmsPerNode: [2, 2],
      resourceDefinition: "default:4",
      requestCred: undefined,
    });
    const uneven = { SLURM_STEP_TASKS_PER_NODE: "3,1", PCOCC_STEP_LOCAL_TASKS: "1" };
    expect(setupCreateJobFromEnv(env(uneven)).vmsPerNode).toEqual([3, 1]);
  });

  it("keeps uid and gid unsigned 32-bit, up to the largest valid id", () => {
    const big = setupIdentityFromEnv(env({ SLURM_JOB_UID: "3000000000", SLURM_JOB_GID: "4294967294" }));
    expect([big.uid, big.gid]).toEqual([3_000_000_000, 4_294_967_294]);
    expect(() => setupIdentityFromEnv(env({ SLURM_JOB_UID: "4294967295" }))).toThrow(/SLURM_JOB_UID/);
    expect(() => setupIdentityFromEnv(env({ SLURM_JOB_GID: "4294967296" }))).toThrow(/SLURM_JOB_GID/);
    expect(() => setupIdentityFromEnv(env({ SLURM_JOB_GID: "-1" }))).toThrow(/SLURM_JOB_GID/);
  });

  it("needs only slurmstepd's facts for delete, so a forged step cannot block the cleanup", () => {
    const forged = { SLURM_JOB_NODELIST: "x[", SLURM_STEP_TASKS_PER_NODE: "20000", SPANK_PCOCC_SETUP: "" };
    expect(setupIdentityFromEnv(env(forged))).toMatchObject({ jobId: 42, nodeRank: 1, uid: 1001 });
  });

  it.each([
    [{ SLURM_JOB_ID: "42; rm -rf /" }, /^SLURM_JOB_ID: invalid value/],
    [{ SLURM_JOB_ID: "-1" }, /^SLURM_JOB_ID: invalid value/],
    [{ SLURM_JOB_ID: "042" }, /^SLURM_JOB_ID: invalid value/],
    [{ SLURM_JOB_ID: "4294967296" }, /^SLURM_JOB_ID: invalid value/],
    [{ SLURM_JOB_ID: "4\n2" }, /^SLURM_JOB_ID: control character/],
    [{ SLURM_JOB_ID: "1".repeat(40) }, /^SLURM_JOB_ID: value too long/],
    [{ SLURM_JOB_UID: "0" }, /refusing to set up a job for root/],
    [{ SLURM_JOB_GID: undefined }, /^SLURM_JOB_GID is not set/],
    [{ SLURM_JOB_USER: "../root" }, /invalid user name/],
    [{ SLURM_JOB_USER: "alice\0" }, /control character/],
    [{ SLURM_JOB_USER: undefined }, /SLURM_JOB_USER is not set/],
    [{ SLURM_STEP_NUM_NODES: "0" }, /at least one node/],
    [{ SLURM_STEP_NUM_NODES: "5000" }, /^SLURM_STEP_NUM_NODES: invalid value/],
    [{ SLURM_NODEID: "2" }, /^SLURM_NODEID is 2 but the step has 2 nodes/],
  ])("refuses a hostile identity %o", (over, message) => {
    expect(() => setupIdentityFromEnv(env(over))).toThrow(message);
  });

  it.each([
    [{ SLURM_JOB_NODELIST: "node[1-2" }, /unbalanced brackets/],
    [{ SLURM_JOB_NODELIST: "node[1-999999]" }, /invalid range/],
    [{ SLURM_JOB_NODELIST: "no/de" }, /invalid characters/],
    [{ SLURM_JOB_NODELIST: "n1,n1" }, /a node listed twice/],
    [{ SLURM_JOB_NODELIST: `n${"[1-9]".repeat(40)}` }, /more than 4096 nodes/],
    [{ SLURM_STEP_TASKS_PER_NODE: "two" }, /^SLURM_STEP_TASKS_PER_NODE: invalid entry/],
    [{ SLURM_STEP_TASKS_PER_NODE: undefined, SLURM_TASKS_PER_NODE: undefined }, /is not set/],
    [{ SPANK_PCOCC_SETUP: "" }, /SPANK_PCOCC_SETUP is not set/],
    [{ SPANK_PCOCC_REQUEST_CRED: "secret" }, /invalid credential/],
    [{ PCOCC_STEP_LOCAL_TASKS: undefined }, /PCOCC_STEP_LOCAL_TASKS is not set/],
  ])("refuses a hostile value %o", (over, message) => {
    expect(() => setupCreateJobFromEnv(env(over))).toThrow(message);
  });
});

describe("the step's shape is cross-checked against slurmstepd", () => {
  /** A 1-node, 1-task step, as in the lab attack test. */
  const one = (over: Record<string, string>) =>
    env({
      SLURM_NODEID: "0",
      SLURM_STEP_NUM_NODES: "1",
      PCOCC_STEP_LOCAL_TASKS: "1",
      PCOCC_STEP_TOTAL_TASKS: "1",
      SLURM_JOB_NODELIST: "node1",
      SLURM_TASKS_PER_NODE: "1",
      SLURM_STEP_TASKS_PER_NODE: "1",
      ...over,
    });

  it("accepts the step as slurmstepd describes it", () => {
    expect(setupCreateJobFromEnv(one({})).vmsPerNode).toEqual([1]);
  });

  it.each([
    [
      { SLURM_STEP_TASKS_PER_NODE: "20000" },
      "this node's entry of SLURM_STEP_TASKS_PER_NODE is 20000 but slurmstepd says 1 (PCOCC_STEP_LOCAL_TASKS)",
    ],
    [
      { SLURM_STEP_TASKS_PER_NODE: "1(x2)" },
      "the node count of SLURM_STEP_TASKS_PER_NODE is 2 but slurmstepd says 1 (SLURM_STEP_NUM_NODES)",
    ],
    [
      { SLURM_JOB_NODELIST: "node[1-2]", SLURM_STEP_TASKS_PER_NODE: "1(x2)" },
      "the node count of SLURM_JOB_NODELIST is 2 but slurmstepd says 1 (SLURM_STEP_NUM_NODES)",
    ],
    [
      { SLURM_JOB_NODELIST: "n[1-4000]" },
      "the node count of SLURM_JOB_NODELIST is 4000 but slurmstepd says 1 (SLURM_STEP_NUM_NODES)",
    ],
    [
      { PCOCC_STEP_TOTAL_TASKS: "2" },
      "the task total of SLURM_STEP_TASKS_PER_NODE is 1 but slurmstepd says 2 (PCOCC_STEP_TOTAL_TASKS)",
    ],
  ])("refuses %o with one line naming the variable and both values", (over, line) => {
    expect(() => setupCreateJobFromEnv(one(over))).toThrow(`${line}: refusing the step`);
  });

  it("checks the total over every node, not only this one", () => {
    // node 1 of 2: its own entry (2) is right, node 0's is forged
    expect(() => setupCreateJobFromEnv(env({ SLURM_STEP_TASKS_PER_NODE: "20000,2" }))).toThrow(
      "the task total of SLURM_STEP_TASKS_PER_NODE is 20002 but slurmstepd says 4 (PCOCC_STEP_TOTAL_TASKS)",
    );
  });
});
